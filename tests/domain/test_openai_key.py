"""The OpenAI key is read from OpenAIApiKeySecret, and until a real one is there every route that
needs it answers 503 naming the secret to set (never a 502 from OpenAI refusing a placeholder)."""

from __future__ import annotations

import json

import pytest
from chatkit_backend.aws.secrets import SecretCache
from chatkit_backend.errors import NotConfigured
from chatkit_backend.openai_api.key import openai_api_key, secret_name

from local.emulator.stack import OPENAI_KEY_SECRET
from tests.conftest import AwsResources


def stored(aws: AwsResources, value: str) -> str:
    secret_id = aws.physical_id(OPENAI_KEY_SECRET)
    aws.client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=value)
    return secret_id


def test_the_stack_creates_the_secret_without_a_key(aws: AwsResources) -> None:
    value = aws.client("secretsmanager").get_secret_value(SecretId=aws.physical_id(OPENAI_KEY_SECRET))
    assert json.loads(value["SecretString"]) == {"api_key": ""}


@pytest.mark.parametrize(
    "value",
    [
        '{"api_key":""}',
        '{"api_key":"   "}',
        '{"api_key":"sk-..."}',  # the example of docs/deploy.md's command, pasted as it is
        '{"api_key":"CHANGE_ME"}',
        '{"api_key": null}',
        '{"api_key": 42}',
        "{}",
        "[]",
        "sk-not-json",
    ],
    ids=["empty", "blank", "docs-example", "change-me", "null", "number", "no-field", "list", "not-json"],
)
def test_no_usable_key_is_not_configured_and_names_the_secret(aws: AwsResources, value: str) -> None:
    secret_id = stored(aws, value)
    with pytest.raises(NotConfigured) as raised:
        openai_api_key(SecretCache(), secret_id)
    detail = raised.value.detail
    assert detail.startswith("The server is not configured: the OpenAI API key is not set.")
    assert f"Put it in the secret {secret_name(secret_id)} (the stack's OpenAIApiKeySecret)" in detail
    assert "123456789012" not in detail and "arn:" not in detail  # the caller sees no account id


def test_a_secret_with_no_value_yet_is_not_configured(aws: AwsResources) -> None:
    created = aws.client("secretsmanager").create_secret(Name="created-without-a-value")
    with pytest.raises(NotConfigured, match="Put it in the secret created-without-a-value "):
        openai_api_key(SecretCache(), created["ARN"])


def test_a_key_is_read_and_trimmed(aws: AwsResources) -> None:
    key = "sk-test-" + "x" * 20
    assert openai_api_key(SecretCache(), stored(aws, json.dumps({"api_key": f" {key}\n"}))) == key


@pytest.mark.parametrize(
    ("secret_id", "name"),
    [
        (
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:chatkit-prod-OpenAIApiKeySecret-Ab12Cd34Ef56-XyZ123",
            "chatkit-prod-OpenAIApiKeySecret-Ab12Cd34Ef56",
        ),
        ("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:a/b-c-AbCdEf", "a/b-c"),
        ("plain-name", "plain-name"),
    ],
)
def test_the_secret_is_named_as_put_secret_value_takes_it(secret_id: str, name: str) -> None:
    assert secret_name(secret_id) == name
