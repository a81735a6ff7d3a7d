"""`make dev` holds each function to its own role: a role that lost an action its function uses
fails the call with AWS's own AccessDeniedException, as the first deploy would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.emulator.iam import listed
from local.template import Template
from tests.support.chat import call_tool
from tests.support.local_stack import start_stack

pytestmark = pytest.mark.integration


def without(function: str, action: str) -> dict[str, Any]:
    """template.yaml, decoded, with ``action`` taken out of ``function``'s policies."""
    template = Template.load()
    for policy in template.resources[function]["Properties"]["Policies"]:
        for statement in policy["Statement"]:
            statement["Action"] = [a for a in listed(statement["Action"]) if a != action]
    return template.body


def test_a_function_whose_role_lost_an_action_gets_access_denied(tmp_path: Path) -> None:
    planted = tmp_path / "template.json"
    planted.write_text(json.dumps(without("McpFunction", "dynamodb:PutItem")))
    # Its calls are this planted role's, not the template's: not recorded for the suite's check.
    with start_stack({"LOCAL_TEMPLATE": str(planted), "LOCAL_CALL_LOG_DIR": ""}) as stack:
        token = stack.user_token("alice")

        refused = call_tool(stack.url, token, "add_task", {"title": "Buy milk"})
        listed_tasks = call_tool(stack.url, token, "list_tasks", {})

        # The tool reports a failure it did not expect (as it would in AWS) and logs why.
        assert refused.status_code == 200 and refused.json()["result"]["isError"] is True, refused.text
        assert "failed unexpectedly" in refused.json()["result"]["content"][0]["text"]
        assert stack.wait_for_log("AccessDeniedException")
        log = stack.log()
        assert "AccessDeniedException" in log
        assert (
            "assumed-role/chatkit-backend-local-McpFunctionRole/McpFunction is not authorized to perform: "
            "dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/chatkit-backend-local-TasksTable"
        ) in log
        # What the role still allows goes on working, and nothing was written.
        assert listed_tasks.status_code == 200
        assert listed_tasks.json()["result"]["structuredContent"]["tasks"] == []
        scan = stack.client("dynamodb").scan(TableName=stack.physical_id("TasksTable"))
        assert scan["Items"] == []
