"""template.yaml declares what DESIGN.md asks for, and SAM turns it into the intended resources."""

from __future__ import annotations

from typing import Any

import pytest
from samtranslator.translator.transform import transform

from local.template import TEMPLATE_PATH, Template

TEMPLATE = Template.load()
RESOURCES = TEMPLATE.resources
FUNCTIONS = ["AuthorizerFunction", "HealthFunction", "SessionFunction", "ThreadsFunction", "McpFunction", "RotationFunction"]


class NoManagedPolicies:
    """The template uses inline policies only, so SAM never needs to look a managed policy up."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    """The CloudFormation SAM would deploy (the translator `sam build`/`sam deploy` use)."""
    from cfnlint.decode import decode

    body, _ = decode(str(TEMPLATE_PATH))
    for resource in body["Resources"].values():  # what `sam package` does to local code paths
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = f"s3://artifacts/{resource['Properties'][key].strip('/')}.zip"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the translator asks boto3 for a region
        return transform(body, {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}, NoManagedPolicies())["Resources"]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def test_every_route_has_its_own_function_with_the_lambda_runtime() -> None:
    globals_ = TEMPLATE.body["Globals"]["Function"]
    assert (globals_["Runtime"], globals_["Architectures"], globals_["Tracing"]) == ("python3.13", ["arm64"], "Active")
    assert "POWERTOOLS_SERVICE_NAME" in globals_["Environment"]["Variables"]
    assert sorted(of_type(RESOURCES, "AWS::Serverless::Function")) == sorted(FUNCTIONS)
    routes = {(r.method, r.path): r.function for r in TEMPLATE.routes()}
    assert routes[("GET", "/health")] == "HealthFunction"
    assert routes[("POST", "/api/chatkit/session")] == "SessionFunction"
    assert routes[("GET", "/api/chatkit/threads")] == "ThreadsFunction"
    assert routes[("PUT", "/api/chatkit/threads/{thread_id}")] == "ThreadsFunction"
    assert routes[("DELETE", "/api/chatkit/threads/{thread_id}")] == "ThreadsFunction"
    assert {m for (m, p), f in routes.items() if p == "/mcp"} == {"POST", "GET", "DELETE"}


def test_only_health_is_public() -> None:
    public = {r.route_key for r in TEMPLATE.routes() if not r.authorized}
    assert public == {"GET /health"}


def test_the_authorizer_is_wired_as_design_says(transformed: dict[str, Any]) -> None:
    spec = TEMPLATE.authorizer()
    assert spec is not None
    assert (spec.function, spec.payload_version, spec.simple_responses) == ("AuthorizerFunction", "2.0", True)
    assert spec.identity_headers == ("authorization",) and spec.reauthorize_every == 60
    # SAM writes HTTP API authorizers into the API's OpenAPI body.
    api = transformed["HttpApi"]["Properties"]["Body"]
    deployed = api["components"]["securitySchemes"]["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert deployed["type"] == "request" and deployed["enableSimpleResponses"] is True
    assert deployed["authorizerPayloadFormatVersion"] == "2.0"
    assert deployed["authorizerResultTtlInSeconds"] == 60
    assert deployed["identitySource"] == ["$request.header.Authorization"]
    assert api["paths"]["/health"]["get"]["security"] == [{"NONE": []}]
    assert api["paths"]["/mcp"]["post"]["security"] == [{"JwtAuthorizer": []}]
    # EnableFunctionDefaultPermissions: API Gateway may invoke the authorizer.
    permissions = [
        p for p in of_type(transformed, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}
    ]
    assert permissions and permissions[0]["Properties"]["Principal"] == "apigateway.amazonaws.com"


def test_api_has_cors_throttling_and_access_logs() -> None:
    props = RESOURCES["HttpApi"]["Properties"]
    assert props["CorsConfiguration"]["AllowOrigins"] == {"Ref": "AllowedOrigins"}
    assert set(props["DefaultRouteSettings"]) == {"ThrottlingBurstLimit", "ThrottlingRateLimit"}
    assert "$context.authorizer.error" in props["AccessLogSettings"]["Format"]
    log_group = props["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
    assert RESOURCES[log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


@pytest.mark.parametrize("table", ["TasksTable", "ThreadsTable"])
def test_tables_are_on_demand_recoverable_encrypted_and_retained(table: str) -> None:
    resource = RESOURCES[table]
    assert resource["Type"] == "AWS::DynamoDB::Table"
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = resource["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["user_id", table.replace("sTable", "").lower() + "_id"]


def test_secrets_and_the_shared_layer() -> None:
    assert "GenerateSecretString" in RESOURCES["TokenSigningSecret"]["Properties"]
    assert RESOURCES["OpenAIApiKeySecret"]["Type"] == "AWS::SecretsManager::Secret"
    layer = RESOURCES["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert layer["Properties"]["ContentUri"] == "layers/shared/python/"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_logs_with_retention_and_least_privilege(function: str) -> None:
    props = RESOURCES[function]["Properties"]
    log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert RESOURCES[log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    for policy in props.get("Policies", []):
        for statement in policy["Statement"]:
            assert statement["Resource"] != "*", f"{function} has a wildcard resource"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a.endswith(":*") or a == "dynamodb:Scan" for a in actions)


def test_alarms_and_outputs() -> None:
    alarms = of_type(RESOURCES, "AWS::CloudWatch::Alarm")
    metrics = {a["Properties"].get("MetricName") for a in alarms.values()}
    assert "5xx" in metrics
    stacked = [m["MetricStat"]["Metric"]["MetricName"] for a in alarms.values() for m in a["Properties"].get("Metrics", []) if "MetricStat" in m]
    assert {"Errors", "Throttles"} <= set(stacked)
    assert {"ApiUrl", "McpUrl", "TasksTableName", "ThreadsTableName"} <= set(TEMPLATE.body["Outputs"])


def test_rotation_is_scheduled_after_its_permission() -> None:
    schedule = RESOURCES["TokenSigningSecretRotation"]
    assert schedule["DependsOn"] == "RotationFunctionInvokePermission"
    assert schedule["Properties"]["RotationRules"]["ScheduleExpression"].startswith("rate(")


@pytest.mark.parametrize(
    ("settings", "missing"),
    [({"JwtJwksUrl": "https://app.example/api/auth/jwks"}, "JwtIssuer"),
     ({"JwtJwksUrl": "https://app.example/api/auth/jwks", "JwtIssuer": "https://app.example"}, "JwtAudience")],
)
def test_a_jwks_without_issuer_or_audience_is_refused_before_deploying(settings: dict[str, str], missing: str) -> None:
    from local.template import TemplateError

    with pytest.raises(TemplateError, match=f"{missing} is required"):
        Template.load(settings)
    complete = {"JwtJwksUrl": "https://app.example/api/auth/jwks", "JwtIssuer": "https://app.example", "JwtAudience": "https://app.example"}
    assert Template.load(complete).parameters["JwtAudience"] == "https://app.example"
