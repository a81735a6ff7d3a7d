"""The local stack's DynamoDB serializer (local/emulator/moto_dynamodb.py) answers exactly what moto's own
does: every read that returns items, and the errors that carry one, over every attribute type,
compared body for body on one moto app with either serializer installed."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.test import Client

from local.emulator import moto_dynamodb

TABLE = "Speedups"
REGION = "us-east-1"

# Every attribute type DynamoDB has, nested and at the edges (empty strings, sets of one, false,
# nested empties, bytes that are not UTF-8, numbers as DynamoDB writes them).
ITEM: dict[str, Any] = {
    "pk": {"S": "user-1"},
    "sk": {"S": "item-001"},
    "s": {"S": 'héllo "quoted" \n line'},
    "empty_s": {"S": ""},
    "n": {"N": "-12.50"},
    "big_n": {"N": "12345678901234567890"},
    "b": {"B": base64.b64encode(b"\x00\xff\xfe binary").decode()},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [base64.b64encode(b"\x01").decode(), base64.b64encode(b"\x02\x03").decode()]},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "null": {"NULL": True},
    "m": {
        "M": {
            "inner": {"S": "x"},
            "deeper": {"M": {"l": {"L": [{"N": "1"}, {"BOOL": False}, {"NULL": True}, {"M": {}}]}}},
            "empty_m": {"M": {}},
        }
    },
    "l": {"L": [{"S": "one"}, {"L": []}, {"B": base64.b64encode(b"\x10").decode()}, {"SS": ["z"]}]},
}


def _items() -> Iterator[dict[str, Any]]:
    yield ITEM
    for index in range(2, 32):
        yield {
            "pk": {"S": "user-1"},
            "sk": {"S": f"item-{index:03}"},
            "order_key": {"N": str(index)},
            "data": {"S": json.dumps({"type": "assistant_message", "text": "x" * index})},
        }
    yield {"pk": {"S": "user-2"}, "sk": {"S": "item-001"}, "data": {"S": "someone else's"}}


class _Moto:
    """One in-process moto app, spoken to as botocore does (JSON 1.0, X-Amz-Target)."""

    def __init__(self) -> None:
        self.client = Client(DomainDispatcherApplication(create_backend_app))

    def call(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = self.client.post(
            "/",
            data=json.dumps(body),
            headers={
                "X-Amz-Target": f"DynamoDB_20120810.{operation}",
                "Content-Type": "application/x-amz-json-1.0",
                "Authorization": (
                    f"AWS4-HMAC-SHA256 Credential=test/20261128/{REGION}/dynamodb/aws4_request, "
                    "SignedHeaders=host, Signature=0"
                ),
            },
        )
        return response.status_code, json.loads(response.data)


@pytest.fixture
def moto() -> Iterator[_Moto]:
    # A fresh moto backend, whatever other tests left in this process's moto state.
    from moto.dynamodb import dynamodb_backends

    dynamodb_backends[_account()][REGION].reset()
    server = _Moto()
    status, _ = server.call(
        "CreateTable",
        {
            "TableName": TABLE,
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    assert status == 200
    for item in _items():
        assert server.call("PutItem", {"TableName": TABLE, "Item": item})[0] == 200
    yield server
    moto_dynamodb.uninstall()
    dynamodb_backends[_account()][REGION].reset()


def _account() -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    return DEFAULT_ACCOUNT_ID


KEY = {"pk": {"S": "user-1"}, "sk": {"S": "item-001"}}
MISSING = {"pk": {"S": "nobody"}, "sk": {"S": "none"}}

# Reads, and requests that change nothing yet answer items (a failed condition, a write of the
# same item that returns the old one): each is sent twice, once per serializer.
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("GetItem", {"TableName": TABLE, "Key": KEY}),
    ("GetItem", {"TableName": TABLE, "Key": MISSING}),
    ("GetItem", {"TableName": TABLE, "Key": KEY, "ProjectionExpression": "m.deeper, l[2], s"}),
    (
        "Query",
        {
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "user-1"}},
        },
    ),
    (
        "Query",
        {
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "user-1"}},
            "ProjectionExpression": "sk, order_key, #d",
            "ExpressionAttributeNames": {"#d": "data"},
            "ScanIndexForward": False,
            "Limit": 10,
            "ReturnConsumedCapacity": "TOTAL",
        },
    ),
    (
        "Query",
        {
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "nobody"}},
        },
    ),
    ("Scan", {"TableName": TABLE}),
    (
        "BatchGetItem",
        {"RequestItems": {TABLE: {"Keys": [KEY, MISSING, {"pk": {"S": "user-2"}, "sk": {"S": "item-001"}}]}}},
    ),
    (
        "TransactGetItems",
        {
            "TransactItems": [
                {"Get": {"TableName": TABLE, "Key": KEY}},
                {"Get": {"TableName": TABLE, "Key": MISSING}},
            ]
        },
    ),
    ("PutItem", {"TableName": TABLE, "Item": ITEM, "ReturnValues": "ALL_OLD"}),
    (
        "UpdateItem",
        {
            "TableName": TABLE,
            "Key": KEY,
            "UpdateExpression": "SET n = :n",
            "ExpressionAttributeValues": {":n": {"N": "-12.50"}},
            "ReturnValues": "ALL_NEW",
        },
    ),
    (
        "PutItem",
        {
            "TableName": TABLE,
            "Item": ITEM,
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    ),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": KEY,
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            ]
        },
    ),
    ("GetItem", {"TableName": "NoSuchTable", "Key": KEY}),
    (
        "Query",
        {
            "TableName": TABLE,
            "KeyConditionExpression": "nope = :p",
            "ExpressionAttributeValues": {":p": {"S": "x"}},
        },
    ),
]


@pytest.mark.parametrize(
    ("operation", "body"), REQUESTS, ids=[f"{i:02}-{op}" for i, (op, _) in enumerate(REQUESTS)]
)
def test_the_local_stack_answers_what_moto_answers(moto: _Moto, operation: str, body: dict[str, Any]) -> None:
    moto_dynamodb.uninstall()
    expected = moto.call(operation, body)
    moto_dynamodb.install()
    answered = moto.call(operation, body)
    assert answered == expected
    if (
        operation == "GetItem"
        and body["TableName"] == TABLE
        and body["Key"] == KEY
        and "ProjectionExpression" not in body
    ):
        assert expected[1]["Item"] == ITEM  # the comparison is over real items, not two empty answers


def test_a_page_of_history_comes_back_as_it_was_written(moto: _Moto) -> None:
    moto_dynamodb.install()
    status, page = moto.call(
        "Query",
        {
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "user-1"}},
        },
    )
    assert status == 200
    assert page["Count"] == 31
    assert page["Items"] == [item for item in _items() if item["pk"]["S"] == "user-1"]


def test_the_speedup_is_what_serves_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """serve_moto installs it before its server answers anything."""
    import local.emulator.stack

    installed: list[bool] = []
    monkeypatch.setattr(moto_dynamodb, "install", lambda: installed.append(True))
    started: list[bool] = []

    class _Server:
        def start(self) -> None:
            started.append(bool(installed))

        def get_host_and_port(self) -> tuple[str, int]:
            return "127.0.0.1", 1

    monkeypatch.setattr(local.emulator.stack, "_moto_server", lambda port: _Server())
    monkeypatch.setattr("sys.argv", ["serve_moto", "0"])
    monkeypatch.setattr("sys.stdin", _EmptyInput())
    local.emulator.stack.serve_moto()
    assert started == [True]


class _EmptyInput:
    def read(self) -> str:
        return ""


def test_what_the_speedup_overrides_is_still_motos_to_override() -> None:
    """It overrides one private method of moto's serializer and registers itself in moto's table
    of per-service serializers: if a new moto renames either, this fails (the byte-for-byte
    comparisons above would still pass, on moto's generic path, and the speedup would be gone)."""
    import inspect

    from moto.core import serialize

    overridden = next(
        vars(kind)["_serialize_type_structure"]
        for kind in serialize.JSONSerializer.__mro__
        if "_serialize_type_structure" in vars(kind)
    )
    assert list(inspect.signature(overridden).parameters) == ["self", "serialized", "value", "shape", "key"]
    moto_dynamodb.install()
    try:
        assert serialize.get_serializer_class("dynamodb", "json") is moto_dynamodb.DynamoDBSerializer
    finally:
        moto_dynamodb.uninstall()
    assert serialize.get_serializer_class("dynamodb", "json") is not moto_dynamodb.DynamoDBSerializer
