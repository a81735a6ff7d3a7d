"""Updating a stack deployed from the template before the 2026-11-30 cutover deletes or replaces
none of its data: every table, the attachments bucket and every secret keeps its logical id, its
type, its retention policies and every property whose change makes CloudFormation replace it.

``stateful_resources_before_cutover.json`` holds those resources as the pre-cutover template
declared them (written once by ``stateful()`` from that template.yaml); the test reads the
current template the same way and compares. A resource may be added, never dropped or changed
in a way that replaces it; its retention may grow (Delete to Retain), never shrink.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.template import Template

SNAPSHOT = Path(__file__).with_name("stateful_resources_before_cutover.json")
# The resource types that hold data, and per type the properties CloudFormation cannot change in
# place (their update requires replacement: a new, empty resource).
REPLACED_ON_CHANGE = {
    "AWS::DynamoDB::Table": ("TableName", "KeySchema", "LocalSecondaryIndexes"),
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::SecretsManager::Secret": ("Name",),
}


def stateful(body: dict[str, Any]) -> dict[str, Any]:
    """The template's data-holding resources: type, policies and replacing properties (a table's
    key attributes with their types, which a replacement also follows from)."""
    found = {}
    for logical_id, resource in body["Resources"].items():
        kind = resource["Type"]
        if kind not in REPLACED_ON_CHANGE:
            continue
        properties = resource.get("Properties", {})
        entry: dict[str, Any] = {
            "Type": kind,
            "DeletionPolicy": resource.get("DeletionPolicy", "Delete"),
            "UpdateReplacePolicy": resource.get("UpdateReplacePolicy", "Delete"),
            **{name: properties.get(name) for name in REPLACED_ON_CHANGE[kind]},
        }
        if kind == "AWS::DynamoDB::Table":
            schemas = [
                properties["KeySchema"],
                *(i["KeySchema"] for i in properties.get("LocalSecondaryIndexes", [])),
            ]
            keys = {key["AttributeName"] for schema in schemas for key in schema}
            entry["KeyAttributeTypes"] = {
                a["AttributeName"]: a["AttributeType"]
                for a in properties["AttributeDefinitions"]
                if a["AttributeName"] in keys
            }
        found[logical_id] = entry
    return found


BEFORE = json.loads(SNAPSHOT.read_text())
NOW = stateful(Template.load().body)


def test_the_snapshot_holds_every_table_the_bucket_and_every_secret() -> None:
    assert sorted(BEFORE) == [
        "AttachmentsBucket",
        "ChatKitTable",
        "McpIntrospectionClientSecret",
        "OpenAIApiKeySecret",
        "TasksTable",
        "ThreadsTable",
        "TokenSigningSecret",
        "UsageTable",
        "UserTokenSecret",
    ]


@pytest.mark.parametrize("logical_id", sorted(BEFORE))
def test_no_stateful_resource_is_deleted_or_replaced(logical_id: str) -> None:
    assert logical_id in NOW, f"{logical_id} would be deleted"
    now, before = dict(NOW[logical_id]), dict(BEFORE[logical_id])
    # A policy may go from Delete to Retain (UsageTable did), never back.
    for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
        if before[policy] == "Retain":
            assert now[policy] == "Retain", f"{logical_id} would lose its {policy}: Retain"
        now.pop(policy), before.pop(policy)
    assert now == before, f"{logical_id} would be replaced"


@pytest.mark.parametrize(
    "logical_id", ["TasksTable", "ThreadsTable", "ChatKitTable", "UsageTable", "AttachmentsBucket"]
)
def test_the_users_data_is_retained_when_the_stack_goes(logical_id: str) -> None:
    assert (NOW[logical_id]["DeletionPolicy"], NOW[logical_id]["UpdateReplacePolicy"]) == ("Retain", "Retain")
