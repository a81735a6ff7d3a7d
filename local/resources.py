"""Creates the template's tables and secrets in moto, so local AWS matches the template.

Used by `make dev` (moto server), `make invoke` and `make bench` (an ephemeral one) and the
tests (in-process ``mock_aws``): one code path, so what the tests see is what a developer runs.
"""

from __future__ import annotations

import json
from typing import Any

from local.template import STACK_NAME, Template

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def create_resources(template: Template, clients: Any) -> dict[str, str]:
    """Create every table and secret of ``template``; returns and records their physical ids.

    ``clients(service)`` returns a boto3 client for the target AWS (moto).
    """
    physical_ids: dict[str, str] = {}
    for logical_id in template.resources_of_type("AWS::DynamoDB::Table"):
        physical_ids[logical_id] = _create_table(template, logical_id, clients("dynamodb"))
    for logical_id in template.resources_of_type("AWS::SecretsManager::Secret"):
        physical_ids[logical_id] = _create_secret(template, logical_id, clients("secretsmanager"))
    template.physical_ids.update(physical_ids)
    return physical_ids


def _create_table(template: Template, logical_id: str, dynamodb: Any) -> str:
    props = template.properties(logical_id)
    name = props.get("TableName") or f"{STACK_NAME}-{logical_id}"
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    for key in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
        if props.get(key):
            request[key] = [
                {k: v for k, v in index.items() if k != "ProvisionedThroughput" or request["BillingMode"] == "PROVISIONED"}
                for index in props[key]
            ]
    if props.get("StreamSpecification"):
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    dynamodb.create_table(**request)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    return name


def _create_secret(template: Template, logical_id: str, secretsmanager: Any) -> str:
    props = template.properties(logical_id)
    name = props.get("Name") or f"{STACK_NAME}/{logical_id}"
    if "SecretString" in props:
        value = props["SecretString"]
    else:
        value = _generate(props.get("GenerateSecretString", {}), secretsmanager)
    created = secretsmanager.create_secret(Name=name, Description=props.get("Description", ""), SecretString=value)
    return created["ARN"]


def _generate(spec: dict[str, Any], secretsmanager: Any) -> str:
    """GenerateSecretString as CloudFormation does it, through Secrets Manager's own generator."""
    options = {
        key: spec[key]
        for key in (
            "PasswordLength",
            "ExcludeCharacters",
            "ExcludeNumbers",
            "ExcludePunctuation",
            "ExcludeUppercase",
            "ExcludeLowercase",
            "IncludeSpace",
            "RequireEachIncludedType",
        )
        if key in spec
    }
    password = secretsmanager.get_random_password(**options)["RandomPassword"]
    if "GenerateStringKey" in spec:
        document = json.loads(spec.get("SecretStringTemplate", "{}"))
        document[spec["GenerateStringKey"]] = password
        return json.dumps(document)
    return password
