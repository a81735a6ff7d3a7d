"""Creates the template's tables, secrets and buckets in moto, and turns on the secrets' rotation
schedules, so local AWS matches the template.

Used by `make dev` (moto server), `make invoke` and `make bench` (an ephemeral one) and the
tests (in-process ``mock_aws``): one code path, so what the tests see is what a developer runs.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from typing import Any

from local.template import STACK_NAME, Template, TemplateError

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def create_resources(template: Template, clients: Any) -> dict[str, str]:
    """Create every table, secret and bucket of ``template``; returns and records their physical ids.

    ``clients(service)`` returns a boto3 client for the target AWS (moto).
    """
    physical_ids: dict[str, str] = {}
    for logical_id in template.resources_of_type("AWS::DynamoDB::Table"):
        physical_ids[logical_id] = _create_table(template, logical_id, clients("dynamodb"))
    for logical_id in template.resources_of_type("AWS::SecretsManager::Secret"):
        physical_ids[logical_id] = _create_secret(template, logical_id, clients("secretsmanager"))
    for logical_id in template.resources_of_type("AWS::S3::Bucket"):
        physical_ids[logical_id] = _create_bucket(template, logical_id, clients("s3"))
    template.physical_ids.update(physical_ids)
    for logical_id in template.resources_of_type("AWS::SecretsManager::RotationSchedule"):
        _schedule_rotation(template, logical_id, clients("secretsmanager"))
    return physical_ids


def physical_name(template: Template, logical_id: str) -> str:
    """The name of a table, bucket or secret of ``template``: its own, or one made from the stack's
    and its logical id (stable, so `make dev` always has the same names)."""
    kind = template.resources[logical_id]["Type"]
    props = template.properties(logical_id)
    if kind == "AWS::DynamoDB::Table":
        return str(props.get("TableName") or f"{STACK_NAME}-{logical_id}")
    if kind == "AWS::S3::Bucket":
        # Lower case and short, as S3 wants.
        return str(props.get("BucketName") or f"{STACK_NAME}-{logical_id}".lower()[:63])
    if kind == "AWS::SecretsManager::Secret":
        return str(props.get("Name") or f"{STACK_NAME}/{logical_id}")
    raise TemplateError(f"{logical_id}: the local stack names no {kind}")


def _create_bucket(template: Template, logical_id: str, s3: Any) -> str:
    """The bucket with the template's encryption, public access block, CORS and lifecycle rules.

    moto keeps them all and applies CORS (its server answers a browser's preflight and sets
    Access-Control-Allow-Origin from the bucket's rules once its global CORS is off, see
    ``local.emulator.stack``); it does not run lifecycle expiry or check presigned signatures.
    The bucket policy (TLS only) is not created: the local endpoint is plain http.
    """
    props = template.properties(logical_id)
    name = physical_name(template, logical_id)
    request: dict[str, Any] = {"Bucket": name}
    if template.region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": template.region}
    s3.create_bucket(**request)
    if "BucketEncryption" in props:
        # CloudFormation says ServerSideEncryptionByDefault where the S3 API says ApplyServerSideEncryptionByDefault.
        rules = [
            {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "CorsConfiguration" in props:
        cors_rules = [
            {
                key: rule[source]
                for key, source in (
                    ("AllowedOrigins", "AllowedOrigins"),
                    ("AllowedMethods", "AllowedMethods"),
                    ("AllowedHeaders", "AllowedHeaders"),
                    ("ExposeHeaders", "ExposedHeaders"),
                    ("MaxAgeSeconds", "MaxAge"),
                )
                if source in rule
            }
            for rule in props["CorsConfiguration"]["CorsRules"]
        ]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": cors_rules})
    if "LifecycleConfiguration" in props:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name,
            LifecycleConfiguration={
                "Rules": [_lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
            },
        )
    return name


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape in the S3 API's."""
    tags = [{"Key": t["Key"], "Value": t["Value"]} for t in rule.get("TagFilters", [])]
    if len(tags) == 1:
        rule_filter: dict[str, Any] = {"Tag": tags[0]}
    elif tags:
        rule_filter = {"And": {"Prefix": rule.get("Prefix", ""), "Tags": tags}}
    else:
        rule_filter = {"Prefix": rule.get("Prefix", "")}
    converted: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": rule_filter}
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return converted


def _create_table(template: Template, logical_id: str, dynamodb: Any) -> str:
    props = template.properties(logical_id)
    name = physical_name(template, logical_id)
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
                {
                    k: v
                    for k, v in index.items()
                    if k != "ProvisionedThroughput" or request["BillingMode"] == "PROVISIONED"
                }
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
    name = physical_name(template, logical_id)
    if "SecretString" in props:
        value = props["SecretString"]
    else:
        value = _generate(props.get("GenerateSecretString", {}), secretsmanager)
    created = secretsmanager.create_secret(
        Name=name, Description=props.get("Description", ""), SecretString=value
    )
    return created["ARN"]


def _schedule_rotation(template: Template, logical_id: str, secretsmanager: Any) -> None:
    """Turn rotation on as an AWS::SecretsManager::RotationSchedule does, without rotating.

    With ``RotateImmediatelyOnUpdate: false`` CloudFormation calls RotateSecret with
    ``RotateImmediately=False``: Secrets Manager stages a pending copy of the current value, runs
    the function's testSecret on it and takes AWSPENDING off again. moto stages the copy and
    records the schedule, then fails to find the function in its own Lambda (ours run here, not
    in moto); AWSPENDING is taken off as Secrets Manager would. The testSecret call itself is
    not made: `make rotate` and the rotation fixtures run the function.

    moto counts rotation as enabled only with AutomaticallyAfterDays, so a ``rate(N days)``
    schedule is given to it in that form.
    """
    props = template.properties(logical_id)
    if props.get("RotateImmediatelyOnUpdate", True) not in (False, "false"):
        raise TemplateError(
            f"{logical_id}: the local stack runs rotation schedules with RotateImmediatelyOnUpdate: false only"
        )
    secret_id = props["SecretId"]
    token = str(uuid.uuid4())
    try:
        secretsmanager.rotate_secret(
            SecretId=secret_id,
            ClientRequestToken=token,
            RotationLambdaARN=props["RotationLambdaARN"],
            RotationRules={
                "AutomaticallyAfterDays": _rotation_days(logical_id, props.get("RotationRules") or {})
            },
            RotateImmediately=False,
        )
    except secretsmanager.exceptions.ResourceNotFoundException:
        pass  # moto looked for the rotation function in its own Lambda service
    secretsmanager.update_secret_version_stage(
        SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=token
    )


def _rotation_days(logical_id: str, rules: dict[str, Any]) -> int:
    """Days between rotations: AutomaticallyAfterDays, or a ``rate(N days)`` / ``rate(N hours)`` ScheduleExpression."""
    if "AutomaticallyAfterDays" in rules:
        return int(rules["AutomaticallyAfterDays"])
    rate = re.fullmatch(
        r"rate\((\d+) (day|days|hour|hours)\)", str(rules.get("ScheduleExpression", "")).strip()
    )
    if rate is None:
        raise TemplateError(
            f"{logical_id}: the local stack reads rotation schedules as rate(N days) or AutomaticallyAfterDays"
        )
    count = int(rate.group(1))
    return count if rate.group(2).startswith("day") else max(1, math.ceil(count / 24))


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
