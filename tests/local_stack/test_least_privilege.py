"""The least-privilege check's parts: what IAM sees of a call, the roles SAM deploys, the local
evaluator against the simulator, and the check itself failing on planted mistakes."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from local.emulator.aws_calls import Call, IamRequest, canonical, iam_requests
from local.emulator.iam import Policy, Role, allows, function_roles, grants, managed_policy
from local.template import ACCOUNT_ID, Template
from tests.support import least_privilege, node

TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/Tasks"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:app/key-AbC123"
BUCKET = "arn:aws:s3:::files"


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        ("dynamodb", "PutItem", {"TableName": "Tasks", "Item": {}}, [("dynamodb:PutItem", TABLE)]),
        (
            "dynamodb",
            "Query",
            {"TableName": "Tasks", "IndexName": "by_status"},
            [("dynamodb:Query", f"{TABLE}/index/by_status")],
        ),
        ("dynamodb", "Query", {"TableName": TABLE}, [("dynamodb:Query", TABLE)]),  # an ARN as the name
        (
            "dynamodb",
            "BatchWriteItem",
            {"RequestItems": {"Tasks": [], "Threads": []}},
            [
                ("dynamodb:BatchWriteItem", TABLE),
                ("dynamodb:BatchWriteItem", TABLE.replace("Tasks", "Threads")),
            ],
        ),
        (
            "dynamodb",
            "TransactWriteItems",
            {
                "TransactItems": [
                    {"Put": {"TableName": "Tasks"}},
                    {"ConditionCheck": {"TableName": "Tasks"}},
                ]
            },
            [("dynamodb:ConditionCheckItem", TABLE), ("dynamodb:PutItem", TABLE)],
        ),
        (
            "secretsmanager",
            "GetSecretValue",
            {"SecretId": SECRET},
            [("secretsmanager:GetSecretValue", SECRET)],
        ),
        (
            "secretsmanager",
            "GetSecretValue",
            {"SecretId": "app/key"},
            # Named by its name, a secret is still its ARN to IAM (the recorder's canonical one).
            [
                (
                    "secretsmanager:GetSecretValue",
                    f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:app/key-000000",
                )
            ],
        ),
        (
            "s3",
            "GetObject",
            {"Bucket": "files", "Key": "users/a/1"},
            [("s3:GetObject", f"{BUCKET}/users/a/1")],
        ),
        (
            "s3",
            "HeadObject",
            {"Bucket": "files", "Key": "users/a/1"},
            [("s3:GetObject", f"{BUCKET}/users/a/1")],
        ),
        (
            "s3",
            "PutObject",
            {"Bucket": "files", "Key": "users/a/1", "Tagging": "state=pending"},
            [("s3:PutObject", f"{BUCKET}/users/a/1"), ("s3:PutObjectTagging", f"{BUCKET}/users/a/1")],
        ),
        (
            "s3",
            "DeleteObjects",
            {"Bucket": "files", "Delete": {"Objects": [{"Key": "users/a/2"}, {"Key": "users/a/1"}]}},
            [("s3:DeleteObject", f"{BUCKET}/users/a/1"), ("s3:DeleteObject", f"{BUCKET}/users/a/2")],
        ),
    ],
)
def test_a_call_is_what_iam_authorizes(
    service: str, operation: str, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert [(r.action, r.resource) for r in iam_requests(service, operation, params)] == expected


def test_a_listing_carries_its_prefix_as_the_condition_key_s3_prefix() -> None:
    [listing] = iam_requests("s3", "ListObjectsV2", {"Bucket": "files", "Prefix": "users/a/"})
    assert listing == IamRequest("s3:ListBucket", BUCKET, (("s3:prefix", "users/a/"),))


def test_secrets_are_named_without_their_random_suffix_so_every_stack_names_them_alike() -> None:
    assert canonical(SECRET) == SECRET.removesuffix("-AbC123") + "-000000"
    assert canonical(TABLE) == TABLE


def test_each_role_is_what_sam_generates_with_the_managed_policies_it_attaches() -> None:
    roles = function_roles(Template.load())
    assert set(roles) == set(Template.load().functions())
    health = roles["HealthFunction"]
    assert [p.name for p in health.policies] == ["AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"]
    assert all(p.managed for p in health.policies)
    mcp_grants = {(g.action, g.resource) for g in grants(roles["McpFunction"]) if not g.managed}
    assert (
        "dynamodb:PutItem",
        "arn:aws:dynamodb:us-east-1:123456789012:table/chatkit-backend-local-TasksTable",
    ) in {(a, r) for a, r in mcp_grants}


def test_managed_policies_come_from_a_pinned_copy_and_an_unknown_one_is_refused() -> None:
    basic = managed_policy("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    assert basic.document["Statement"][0]["Action"] == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]
    with pytest.raises(Exception, match="no such AWS managed policy"):
        managed_policy("arn:aws:iam::aws:policy/NoSuchPolicy")


def _policy(*statements: dict[str, Any]) -> Policy:
    return Policy("p", {"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_QUERY = {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": [TABLE, f"{TABLE}/index/*"]}
# Policies and requests where an evaluator could go wrong: wildcards, case, segments, Deny,
# NotAction/NotResource, conditions present, absent, negated and IfExists.
EVALUATOR_CASES: list[tuple[Policy, IamRequest]] = [
    (_policy(ALLOW_QUERY), IamRequest("dynamodb:Query", TABLE)),
    (_policy(ALLOW_QUERY), IamRequest("dynamodb:Query", f"{TABLE}/index/by_status")),
    (_policy(ALLOW_QUERY), IamRequest("dynamodb:Query", TABLE + "2")),
    (_policy(ALLOW_QUERY), IamRequest("dynamodb:Scan", TABLE)),
    (_policy({**ALLOW_QUERY, "Action": "DynamoDB:query"}), IamRequest("dynamodb:Query", TABLE)),
    (_policy({**ALLOW_QUERY, "Action": "dynamodb:Get*"}), IamRequest("dynamodb:GetItem", TABLE)),
    (_policy({**ALLOW_QUERY, "Action": "dynamodb:Get?tem"}), IamRequest("dynamodb:GetItem", TABLE)),
    (
        _policy({**ALLOW_QUERY, "Resource": "arn:aws:dynamodb:*:*:table/Tas?s"}),
        IamRequest("dynamodb:Query", TABLE),
    ),
    (
        _policy({**ALLOW_QUERY, "Resource": "arn:aws:dynamodb:us-east-1:*:table/tasks"}),
        IamRequest("dynamodb:Query", TABLE),
    ),
    (_policy({**ALLOW_QUERY, "Resource": "*"}), IamRequest("dynamodb:Query", TABLE)),
    (
        _policy(ALLOW_QUERY, {"Effect": "Deny", "Action": "dynamodb:*", "Resource": f"{TABLE}/index/*"}),
        IamRequest("dynamodb:Query", f"{TABLE}/index/by_status"),
    ),
    (
        _policy({"Effect": "Allow", "NotAction": "dynamodb:Scan", "Resource": TABLE}),
        IamRequest("dynamodb:Query", TABLE),
    ),
    (
        _policy({"Effect": "Allow", "Action": "dynamodb:Query", "NotResource": f"{TABLE}/index/*"}),
        IamRequest("dynamodb:Query", f"{TABLE}/index/by_status"),
    ),
    (
        _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/users/*"}),
        IamRequest("s3:GetObject", f"{BUCKET}/users/a/1"),
    ),
    (
        _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/users/*"}),
        IamRequest("s3:GetObject", f"{BUCKET}/other/1"),
    ),
]
LIST_USERS = {
    "Effect": "Allow",
    "Action": "s3:ListBucket",
    "Resource": BUCKET,
    "Condition": {"StringLike": {"s3:prefix": "users/*"}},
}
EVALUATOR_CASES += [
    (_policy(LIST_USERS), IamRequest("s3:ListBucket", BUCKET, (("s3:prefix", "users/a/"),))),
    (_policy(LIST_USERS), IamRequest("s3:ListBucket", BUCKET, (("s3:prefix", "other/"),))),
    (_policy(LIST_USERS), IamRequest("s3:ListBucket", BUCKET)),
    (
        _policy({**LIST_USERS, "Condition": {"StringNotLike": {"s3:prefix": "secret/*"}}}),
        IamRequest("s3:ListBucket", BUCKET),
    ),
    (
        _policy({**LIST_USERS, "Condition": {"StringLikeIfExists": {"s3:prefix": "users/*"}}}),
        IamRequest("s3:ListBucket", BUCKET),
    ),
    (
        _policy({**LIST_USERS, "Condition": {"StringEquals": {"s3:prefix": ["a/", "users/a/"]}}}),
        IamRequest("s3:ListBucket", BUCKET, (("s3:prefix", "users/a/"),)),
    ),
    (
        _policy({**LIST_USERS, "Condition": {"Null": {"s3:prefix": "true"}}}),
        IamRequest("s3:ListBucket", BUCKET, (("s3:prefix", "users/a/"),)),
    ),
]


def test_the_local_evaluator_decides_as_the_simulator_does() -> None:
    """The local stack enforces local.emulator.iam.allows; iam-simulate is the reference (the suite also
    compares them on every call it records)."""
    node.require_node()
    roles = {f"F{i}": Role(f"F{i}", f"F{i}Role", (policy,)) for i, (policy, _) in enumerate(EVALUATOR_CASES)}
    calls = [Call(f"F{i}", request) for i, (_, request) in enumerate(EVALUATOR_CASES)]
    verdicts = least_privilege.simulate(calls, roles)
    ours = [allows(roles[call.function].policies, call.request) for call in calls]
    theirs = [verdict["result"] == "Allowed" for verdict in verdicts]
    assert [v["result"] for v in verdicts].count("Error") == 0, verdicts
    assert ours == theirs
    assert True in ours and False in ours


def test_moto_iam_emulation_is_not_exact_enough_to_enforce_roles() -> None:
    """Why the local stack enforces roles itself (local/emulator/iam_enforcement.py): moto authorizes a
    DynamoDB request against the resource '*', so a role allowed GetItem on one table is refused
    there too, with a generic 403 instead of DynamoDB's AccessDeniedException."""

    @mock_aws
    @set_initial_no_auth_action_count(3)
    def get_item_on_the_allowed_table() -> Any:
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="function")
        key = iam.create_access_key(UserName="function")["AccessKey"]
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE}],
        }
        iam.put_user_policy(UserName="function", PolicyName="p", PolicyDocument=json.dumps(document))
        dynamodb = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        with pytest.raises(dynamodb.exceptions.ClientError) as refused:
            dynamodb.get_item(TableName="Tasks", Key={"user_id": {"S": "a"}})
        return refused.value.response

    response = get_item_on_the_allowed_table()
    assert response["Error"]["Code"] == "403"  # not AccessDeniedException, and the call was allowed
