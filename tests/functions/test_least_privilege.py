"""The least-privilege check fails on a planted mistake, naming it: a role that lost an action
its function uses, and a grant its function never uses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.emulator import aws_calls
from local.emulator.aws_calls import Call, CallLog
from local.emulator.iam import listed
from local.template import Template
from tests.support import least_privilege, node
from tests.support.mcp_client import call

TASKS_TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/chatkit-backend-local-TasksTable"


def planted(change: Callable[[dict[str, Any]], None]) -> Template:
    """template.yaml with ``change`` made to its resources."""
    template = Template.load()
    change(template.resources)
    return template


def statement_granting(resources: dict[str, Any], function: str, action: str) -> dict[str, Any]:
    """The statement of ``function``'s policies whose Action lists ``action``."""
    return next(
        statement
        for policy in resources[function]["Properties"]["Policies"]
        for statement in policy["Statement"]
        if action in listed(statement["Action"])
    )


def add_task_calls(invoke: Any, tmp_path: Path) -> set[Call]:
    """The AWS calls McpFunction makes to add a task, recorded as the suite records them."""
    with aws_calls.recording(CallLog(tmp_path)) as log:
        reply = call(invoke, "add_task", {"title": "Buy milk"})
    assert reply.result["isError"] is False
    return log.calls()


def test_a_call_whose_action_the_role_lost_is_named_with_function_action_and_resource(
    invoke: Any, tmp_path: Path
) -> None:
    node.require_node()
    calls = add_task_calls(invoke, tmp_path)

    def without_put_item(resources: dict[str, Any]) -> None:
        statement = statement_granting(resources, "McpFunction", "dynamodb:PutItem")
        statement["Action"] = [a for a in listed(statement["Action"]) if a != "dynamodb:PutItem"]

    assert least_privilege.check(calls, least_privilege.template_roles()[0], unused=False).problems == []
    roles, _ = least_privilege.template_roles(planted(without_put_item))
    problems = least_privilege.check(calls, roles, unused=False).problems
    assert problems == [
        f"McpFunction: dynamodb:PutItem on {TASKS_TABLE} is not allowed by its role McpFunctionRole"
    ]


def test_a_grant_no_call_uses_is_named(invoke: Any, tmp_path: Path) -> None:
    node.require_node()
    calls = add_task_calls(invoke, tmp_path)

    def with_scan(resources: dict[str, Any]) -> None:
        statement = statement_granting(resources, "McpFunction", "dynamodb:PutItem")
        statement["Action"] = [*listed(statement["Action"]), "dynamodb:Scan"]

    def unused(template: Template | None) -> set[str]:
        roles, as_written = least_privilege.template_roles(template)
        return set(least_privilege.check(calls, roles, unused=True, as_written=as_written).problems)

    planted_only = unused(planted(with_scan)) - unused(None)
    assert planted_only
    for problem in planted_only:
        assert problem.startswith("McpFunction: dynamodb:Scan on TasksTable")
        assert "is granted (McpFunctionRolePolicy0, statement" in problem
        assert problem.endswith("but no call of the suite used it")
