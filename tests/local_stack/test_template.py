"""template.yaml declares the routes, tables and guards the README describes, and SAM turns it
into the intended resources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from local.template import TEMPLATE_PATH, Template

TEMPLATE = Template.load()
RESOURCES = TEMPLATE.resources
FUNCTIONS = [
    "AuthorizerFunction",
    "HealthFunction",
    "SessionFunction",
    "ThreadsFunction",
    "McpFunction",
    "ChatKitFunction",
    "RotationFunction",
    "ImportHostedThreadsFunction",
    "UserDataFunction",
]


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
        return transform(
            body, {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}, NoManagedPolicies()
        )["Resources"]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def test_each_load_owns_its_body_and_a_changed_file_is_read_again(tmp_path: Path) -> None:
    """The decoded file is kept (a test run loads the template thousands of times): what one
    caller changes in its body stays its own, and a file that changed is decoded anew."""
    mine = Template.load()
    mine.body["Resources"].clear()
    assert Template.load().resources == RESOURCES

    copy = tmp_path / "template.yaml"
    copy.write_text(TEMPLATE_PATH.read_text())
    assert Template.load(path=copy).body == TEMPLATE.body
    copy.write_text(TEMPLATE_PATH.read_text().replace("Description: >", "Description: >\n  Changed.", 1))
    assert Template.load(path=copy).body["Description"].startswith("Changed.")


def test_every_route_has_its_own_function_with_the_lambda_runtime() -> None:
    globals_ = TEMPLATE.body["Globals"]["Function"]
    assert (globals_["Runtime"], globals_["Architectures"], globals_["Tracing"]) == (
        "python3.13",
        ["arm64"],
        "Active",
    )
    assert "POWERTOOLS_SERVICE_NAME" in globals_["Environment"]["Variables"]
    assert sorted(of_type(RESOURCES, "AWS::Serverless::Function")) == sorted(FUNCTIONS)
    routes = {(r.method, r.path): r.function for r in TEMPLATE.routes()}
    assert routes[("GET", "/health")] == "HealthFunction"
    assert routes[("POST", "/api/chatkit/session")] == "SessionFunction"
    assert routes[("GET", "/api/chatkit/threads")] == "ThreadsFunction"
    assert routes[("PUT", "/api/chatkit/threads/{thread_id}")] == "ThreadsFunction"
    assert routes[("DELETE", "/api/chatkit/threads/{thread_id}")] == "ThreadsFunction"
    assert {m for (m, p), f in routes.items() if p == "/mcp"} == {"POST", "GET", "DELETE"}


def test_public_routes_are_health_the_preflight_and_mcp_which_checks_its_own_tokens() -> None:
    public = {r.route_key: r.function for r in TEMPLATE.routes() if not r.authorized}
    # OPTIONS /chatkit: the CORS preflight, which browsers send without a token. /mcp answers its
    # own 401s (with WWW-Authenticate) and serves its OAuth Protected Resource Metadata.
    assert public == {
        "GET /health": "HealthFunction",
        "OPTIONS /chatkit": "ChatKitFunction",
        "POST /mcp": "McpFunction",
        "GET /mcp": "McpFunction",
        "DELETE /mcp": "McpFunction",
        "GET /.well-known/oauth-protected-resource/mcp": "McpFunction",
        "GET /.well-known/oauth-protected-resource": "McpFunction",
    }


def test_mcp_function_reads_the_user_token_keys_the_authorizer_reads() -> None:
    """The same user-token settings and keys; not TokenSigningSecret: /mcp refuses a chat session's
    token by its audience, without reading a key."""
    authorizer = TEMPLATE.body["Resources"]["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    mcp = TEMPLATE.body["Resources"]["McpFunction"]["Properties"]["Environment"]["Variables"]
    user_keys = {name: value for name, value in authorizer.items() if name != "TOKEN_SIGNING_SECRET_ARN"}
    assert {name: mcp[name] for name in user_keys} == user_keys
    assert "TOKEN_SIGNING_SECRET_ARN" not in mcp
    [granted] = [
        s
        for s in RESOURCES["McpFunction"]["Properties"]["Policies"][0]["Statement"]
        if s["Action"] == "secretsmanager:GetSecretValue"
    ]
    assert {"Ref": "UserTokenSecret"} in granted["Resource"]
    assert {"Ref": "TokenSigningSecret"} not in granted["Resource"]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, ""),
        ({"JwtIssuer": "https://app.example/api/auth"}, "https://app.example/api/auth"),
        (
            {"JwtIssuer": "https://app.example", "McpAuthorizationServer": "https://auth.example/api/auth"},
            "https://auth.example/api/auth",
        ),
    ],
)
def test_the_mcp_authorization_server_defaults_to_the_jwt_issuer(
    settings: dict[str, str], expected: str
) -> None:
    assert (
        Template.load(settings).functions()["McpFunction"].environment["MCP_AUTHORIZATION_SERVER"] == expected
    )


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("McpAuthorizationServer", "http://auth.example/api/auth"),
        ("McpResourceUrl", "https://api.example/mcp?x=1"),
        ("McpResourceUrl", "ftp://api.example/mcp"),
        ("McpReadScope", 'tasks "read"'),
        ("McpWriteScope", "a\\b"),
    ],
)
def test_mcp_oauth_parameters_refuse_what_cannot_work(parameter: str, value: str) -> None:
    from local.template import TemplateError

    with pytest.raises(TemplateError, match=parameter):
        Template.load({parameter: value})


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
    assert api["paths"]["/api/chatkit/session"]["post"]["security"] == [{"JwtAuthorizer": []}]
    assert api["paths"]["/mcp"]["post"]["security"] == [{"NONE": []}]
    assert api["paths"]["/.well-known/oauth-protected-resource/mcp"]["get"]["security"] == [{"NONE": []}]
    # EnableFunctionDefaultPermissions: API Gateway may invoke the authorizer.
    permissions = [
        p
        for p in of_type(transformed, "AWS::Lambda::Permission").values()
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


@pytest.mark.parametrize("table", ["TasksTable", "ThreadsTable", "ChatKitTable", "UsageTable"])
def test_tables_are_on_demand_recoverable_encrypted_and_retained(table: str) -> None:
    resource = RESOURCES[table]
    assert resource["Type"] == "AWS::DynamoDB::Table"
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = resource["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    sort_key = (
        "sk" if table in ("ChatKitTable", "UsageTable") else table.replace("sTable", "").lower() + "_id"
    )
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["user_id", sort_key]


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
            # A wildcard action would let a grant look used whichever call it served.
            assert not [a for a in actions if "*" in a or "?" in a], f"{function} has a wildcard action"
            assert "dynamodb:Scan" not in actions, f"{function} may scan a table"


def test_alarms_and_outputs() -> None:
    alarms = of_type(RESOURCES, "AWS::CloudWatch::Alarm")
    metrics = {a["Properties"].get("MetricName") for a in alarms.values()}
    assert "5xx" in metrics
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    stacked = [
        m["MetricStat"]["Metric"]["MetricName"]
        for a in alarms.values()
        for m in a["Properties"].get("Metrics", [])
        if "MetricStat" in m
    ]
    assert {"Errors", "Throttles"} <= set(stacked)
    assert {"ApiUrl", "McpUrl", "TasksTableName", "ThreadsTableName"} <= set(TEMPLATE.body["Outputs"])


def test_rotation_is_scheduled_after_its_permission() -> None:
    schedule = RESOURCES["TokenSigningSecretRotation"]
    assert schedule["DependsOn"] == "RotationFunctionInvokePermission"
    assert schedule["Properties"]["RotationRules"]["ScheduleExpression"].startswith("rate(")


def test_chatkit_streams_through_a_regional_rest_api_behind_the_same_authorizer(
    transformed: dict[str, Any],
) -> None:
    route = next(r for r in TEMPLATE.routes() if r.route_key == "POST /chatkit")
    assert (route.function, route.api, route.streaming, route.authorized) == (
        "ChatKitFunction",
        "rest",
        True,
        True,
    )
    spec = TEMPLATE.rest_authorizer()
    assert spec is not None and (spec.function, spec.identity_headers, spec.reauthorize_every) == (
        "AuthorizerFunction",
        ("authorization",),
        60,
    )
    api = transformed["ChatKitApi"]["Properties"]
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    post = api["Body"]["paths"]["/chatkit"]["post"]
    # ResponseTransferMode RESPONSE_STREAM: STREAM mode and Lambda's response-streaming invoke path.
    assert post["x-amazon-apigateway-integration"]["responseTransferMode"] == "STREAM"
    timeout_ms = post["x-amazon-apigateway-integration"]["timeoutInMillis"]
    assert timeout_ms == RESOURCES["ChatKitFunction"]["Properties"]["Timeout"] * 1000 > 29_000
    assert (
        "/2021-11-15/functions/${ChatKitFunctionAliaslive}/response-streaming-invocations"
        in post["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    )
    assert post["security"] == [{"JwtRestAuthorizer": []}]
    deployed = api["Body"]["components"]["securitySchemes"]["JwtRestAuthorizer"][
        "x-amazon-apigateway-authorizer"
    ]
    assert (deployed["type"], deployed["identitySource"], deployed["authorizerResultTtlInSeconds"]) == (
        "request",
        "method.request.header.Authorization",
        60,
    )
    permissions = [p["Properties"] for p in of_type(transformed, "AWS::Lambda::Permission").values()]
    assert any(
        p["FunctionName"] == {"Ref": "ChatKitFunctionAliaslive"}
        and p["Principal"] == "apigateway.amazonaws.com"
        for p in permissions
    )


def test_chatkit_function_runs_behind_the_lambda_web_adapter_in_streaming_mode(
    transformed: dict[str, Any],
) -> None:
    props = transformed["ChatKitFunction"]["Properties"]
    assert props["Handler"] == "run.sh"
    # Layer 30 is Lambda Web Adapter 1.1.0, the first published layer that relays SnapStart's hooks.
    assert {
        "Fn::Sub": "arn:aws:lambda:${AWS::Region}:753240598075:layer:LambdaAdapterLayerArm64:30"
    } in props["Layers"]
    env = props["Environment"]["Variables"]
    assert (env["AWS_LAMBDA_EXEC_WRAPPER"], env["AWS_LWA_INVOKE_MODE"]) == (
        "/opt/bootstrap",
        "response_stream",
    )
    from chatkit_backend.chat.app import SNAPSTART_HOOKS

    hooks = (env["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"], env["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"])
    assert hooks == ("/snapstart/before-checkpoint", "/snapstart/after-restore") and set(hooks) == set(
        SNAPSTART_HOOKS
    )
    script = TEMPLATE.functions()["ChatKitFunction"].code_dir / "run.sh"
    assert script.stat().st_mode & 0o111, "the adapter executes run.sh: it must be executable"
    assert "AWS_LWA_PORT" in script.read_text() and "uvicorn app:app" in script.read_text()
    assert {"ChatKitUrl", "ChatKitTableName"} <= set(TEMPLATE.body["Outputs"])


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({"JwtJwksUrl": "https://app.example/api/auth/jwks"}, "JwtIssuer"),
        (
            {"JwtJwksUrl": "https://app.example/api/auth/jwks", "JwtIssuer": "https://app.example"},
            "JwtAudience",
        ),
    ],
)
def test_a_jwks_without_issuer_or_audience_is_refused_before_deploying(
    settings: dict[str, str], missing: str
) -> None:
    from local.template import TemplateError

    with pytest.raises(TemplateError, match=f"{missing} is required"):
        Template.load(settings)
    complete = {
        "JwtJwksUrl": "https://app.example/api/auth/jwks",
        "JwtIssuer": "https://app.example",
        "JwtAudience": "https://app.example",
    }
    assert Template.load(complete).parameters["JwtAudience"] == "https://app.example"


def test_the_attachments_bucket_is_private_encrypted_and_forgets_unsent_files() -> None:
    bucket = RESOURCES["AttachmentsBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    [encryption] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    [cors] = props["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedOrigins"] == {"Ref": "AllowedOrigins"} and "PUT" in cors["AllowedMethods"]
    assert {"content-type", "x-amz-tagging"} <= set(cors["AllowedHeaders"])
    expiring = [r for r in props["LifecycleConfiguration"]["Rules"] if "TagFilters" in r]
    assert expiring == [
        {
            "Id": "expire-files-never-sent",
            "Status": "Enabled",
            "ExpirationInDays": 1,
            "TagFilters": [{"Key": "chatkit-attachment", "Value": "pending"}],
        }
    ]
    [tls_only] = RESOURCES["AttachmentsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert tls_only["Effect"] == "Deny" and tls_only["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    assert RESOURCES["ChatKitTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }
    assert "AttachmentsBucketName" in TEMPLATE.body["Outputs"]


def test_chatkit_function_reaches_only_the_users_prefix_of_the_bucket() -> None:
    props = RESOURCES["ChatKitFunction"]["Properties"]
    env = props["Environment"]["Variables"]
    assert env["ATTACHMENTS_BUCKET"] == {"Ref": "AttachmentsBucket"}
    assert (env["ATTACHMENT_MAX_BYTES"], env["TRANSCRIPTION_MODEL"]) == (
        {"Ref": "AttachmentMaxBytes"},
        {"Ref": "TranscriptionModel"},
    )
    [s3] = [s for s in props["Policies"][0]["Statement"] if any(a.startswith("s3:") for a in s["Action"])]
    assert sorted(s3["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"]
    assert s3["Resource"] == {"Fn::Sub": "${AttachmentsBucket.Arn}/users/*"}
    parameters = TEMPLATE.body["Parameters"]
    assert parameters["TranscriptionModel"]["Default"] == "gpt-4o-mini-transcribe"
    assert parameters["AttachmentMaxBytes"]["MaxValue"] == 20 * 1024 * 1024


def test_the_hosted_import_may_write_chatkit_table_and_read_the_openai_key_only(
    transformed: dict[str, Any],
) -> None:
    function = RESOURCES["ImportHostedThreadsFunction"]["Properties"]
    assert "Events" not in function  # invoked by hand (sam remote invoke), never by a route
    assert function["Timeout"] == 900
    statements = [s for policy in function["Policies"] for s in policy["Statement"]]
    granted = {
        (action, str(s["Resource"]))
        for s in statements
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert granted == {
        ("secretsmanager:GetSecretValue", str({"Ref": "OpenAIApiKeySecret"})),
        ("dynamodb:GetItem", str({"Fn::GetAtt": ["ChatKitTable", "Arn"]})),
        ("dynamodb:BatchWriteItem", str({"Fn::GetAtt": ["ChatKitTable", "Arn"]})),
    }
    role = transformed["ImportHostedThreadsFunctionRole"]["Properties"]
    # Beyond its inline policy, only what SAM adds for every function: logs and X-Ray (Tracing: Active).
    assert sorted(role["ManagedPolicyArns"]) == sorted(
        [
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        ]
    )


def alarm_on(namespace: str, metric: str, dimension: Any) -> dict[str, Any]:
    """The one alarm watching ``metric`` of the resource ``dimension`` names."""
    found = [
        a["Properties"]
        for a in of_type(RESOURCES, "AWS::CloudWatch::Alarm").values()
        if (a["Properties"].get("Namespace"), a["Properties"].get("MetricName")) == (namespace, metric)
        and dimension in [d["Value"] for d in a["Properties"]["Dimensions"]]
    ]
    assert len(found) == 1, f"{len(found)} alarms on {namespace} {metric} of {dimension}"
    return found[0]


def test_both_apis_alarm_on_5xx_and_latency() -> None:
    assert alarm_on("AWS/ApiGateway", "5xx", {"Ref": "HttpApi"})["Statistic"] == "Sum"
    assert alarm_on("AWS/ApiGateway", "Latency", {"Ref": "HttpApi"})["ExtendedStatistic"] == "p95"
    # REST API metrics are keyed by the API's name and stage: the alarm names the same ones.
    rest_name = RESOURCES["ChatKitApi"]["Properties"]["Name"]
    rest_5xx = alarm_on("AWS/ApiGateway", "5XXError", rest_name)
    assert {"Name": "Stage", "Value": {"Ref": "Stage"}} in rest_5xx["Dimensions"]
    assert RESOURCES["ChatKitApi"]["Properties"]["StageName"] == {"Ref": "Stage"}
    assert alarm_on("AWS/ApiGateway", "Latency", rest_name)["ExtendedStatistic"] == "p95"


def test_chatkit_function_alarms_on_errors_and_on_duration_near_its_timeout() -> None:
    function = {"Ref": "ChatKitFunction"}
    assert alarm_on("AWS/Lambda", "Errors", function)["Threshold"] == 1
    duration = alarm_on("AWS/Lambda", "Duration", function)
    timeout_ms = RESOURCES["ChatKitFunction"]["Properties"]["Timeout"] * 1000
    assert timeout_ms / 2 < duration["Threshold"] < timeout_ms


def test_the_rest_api_deploys_no_implicit_stage_named_stage(transformed: dict[str, Any]) -> None:
    stages = of_type(transformed, "AWS::ApiGateway::Stage")
    assert [s["Properties"]["StageName"] for s in stages.values()] == [{"Ref": "Stage"}]
    for deployment in of_type(transformed, "AWS::ApiGateway::Deployment").values():
        assert "StageName" not in deployment["Properties"], "SAM's extra stage 'Stage' is back"


@pytest.mark.parametrize("table", sorted(of_type(RESOURCES, "AWS::DynamoDB::Table")))
def test_every_table_is_deletion_protected_in_prod(table: str) -> None:
    assert RESOURCES[table]["Properties"]["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}
    assert TEMPLATE.body["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}


def test_chatkit_function_may_reserve_concurrency_so_chats_cannot_starve_the_authorizer() -> None:
    reserved = RESOURCES["ChatKitFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": [
            "HasChatKitReservedConcurrency",
            {"Ref": "ChatKitReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }
    # The authorizer itself reserves nothing: a reservation is also a ceiling, and every request needs it.
    assert "ReservedConcurrentExecutions" not in RESOURCES["AuthorizerFunction"]["Properties"]
    assert (
        Template.load({"ChatKitReservedConcurrency": "50"}).properties("ChatKitFunction")[
            "ReservedConcurrentExecutions"
        ]
        == "50"
    )


def test_the_openai_key_is_no_parameter_and_its_secret_starts_empty() -> None:
    parameters = TEMPLATE.body["Parameters"]
    assert not [name for name, spec in parameters.items() if spec.get("NoEcho") or "apikey" in name.lower()]
    assert RESOURCES["OpenAIApiKeySecret"]["Properties"] == {
        "Description": RESOURCES["OpenAIApiKeySecret"]["Properties"]["Description"],
        "SecretString": '{"api_key":""}',
    }


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_is_watched_for_errors_and_throttles(metric: str) -> None:
    """A function added later without an alarm would fail silently at 3 a.m.: each one is named."""
    watched = []
    for alarm in of_type(RESOURCES, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m] + [props]
        watched += [
            d["Value"] for s in stats if s.get("MetricName") == metric for d in s.get("Dimensions", [])
        ]
    for function in of_type(RESOURCES, "AWS::Serverless::Function"):
        assert {"Ref": function} in watched, f"no {metric} alarm watches {function}"
    # A summing alarm adds every one of its inputs.
    for alarm in of_type(RESOURCES, "AWS::CloudWatch::Alarm").values():
        metrics = alarm["Properties"].get("Metrics", [])
        total = next((m for m in metrics if m.get("ReturnData")), None)
        if total is not None and "(" not in total["Expression"]:  # a sum, not a rate
            assert set(total["Expression"].replace(" ", "").split("+")) == {
                m["Id"] for m in metrics if "MetricStat" in m
            }


SNAPSTARTED = ["ChatKitFunction", "SessionFunction"]


@pytest.mark.parametrize("function", SNAPSTARTED)
def test_snapstarted_functions_are_invoked_through_their_published_alias(
    transformed: dict[str, Any], function: str
) -> None:
    props = transformed[function]["Properties"]
    assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    # SnapStart's limits (docs/latency.md): no EFS, no ephemeral storage over 512 MB, no provisioned concurrency.
    assert "FileSystemConfigs" not in props and props.get("EphemeralStorage", {"Size": 512})["Size"] <= 512
    alias = transformed[f"{function}Aliaslive"]
    assert alias["Type"] == "AWS::Lambda::Alias" and "ProvisionedConcurrencyConfig" not in alias["Properties"]
    version = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    assert transformed[version]["Type"] == "AWS::Lambda::Version"
    # Every route of the function invokes the alias, and API Gateway may invoke exactly that.
    uris = [
        json.dumps(operation["x-amazon-apigateway-integration"]["uri"])
        for api in (transformed["HttpApi"], transformed["ChatKitApi"])
        for path in api["Properties"]["Body"]["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict)
        and function in json.dumps(operation.get("x-amazon-apigateway-integration", {}).get("uri", ""))
    ]
    assert uris and all(f"${{{function}Aliaslive}}" in uri for uri in uris)
    permissions = [p["Properties"] for p in of_type(transformed, "AWS::Lambda::Permission").values()]
    targets = [p["FunctionName"] for p in permissions if function in json.dumps(p["FunctionName"])]
    assert targets and all(target == {"Ref": f"{function}Aliaslive"} for target in targets)


def test_the_authorizer_and_the_other_functions_keep_their_unqualified_arns(
    transformed: dict[str, Any],
) -> None:
    # The authorizer is not snapshotted: both APIs still call the function itself.
    http = transformed["HttpApi"]["Properties"]["Body"]["components"]["securitySchemes"]["JwtAuthorizer"]
    rest = transformed["ChatKitApi"]["Properties"]["Body"]["components"]["securitySchemes"][
        "JwtRestAuthorizer"
    ]
    for scheme in (http, rest):
        assert "AuthorizerFunction" in json.dumps(scheme["x-amazon-apigateway-authorizer"]["authorizerUri"])
        assert "Alias" not in json.dumps(scheme["x-amazon-apigateway-authorizer"]["authorizerUri"])
    for function in set(FUNCTIONS) - set(SNAPSTARTED):
        assert (
            "SnapStart" not in transformed[function]["Properties"]
            and f"{function}Aliaslive" not in transformed
        )


def granted(function: str) -> set[tuple[str, str]]:
    """(action, resource) pairs of a function's inline policies."""
    statements = [s for policy in RESOURCES[function]["Properties"]["Policies"] for s in policy["Statement"]]
    return {
        (action, json.dumps(resource, sort_keys=True))
        for s in statements
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        for resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    }


def ref(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def test_the_session_function_reads_the_signing_key_and_queries_the_chats_index_only() -> None:
    assert granted("SessionFunction") == {
        ("secretsmanager:GetSecretValue", ref({"Ref": "TokenSigningSecret"})),
        ("dynamodb:Query", ref({"Fn::Sub": "${ChatKitTable.Arn}/index/by_order"})),
    }
    env = RESOURCES["SessionFunction"]["Properties"]["Environment"]["Variables"]
    assert env["CHATKIT_TABLE"] == {"Ref": "ChatKitTable"}
    # The widget's api.url: the REST API's /chatkit, the very URL of the ChatKitUrl output.
    assert env["CHATKIT_URL"] == TEMPLATE.body["Outputs"]["ChatKitUrl"]["Value"]
    assert env["CHATKIT_SESSION_SECONDS"] == {"Ref": "ChatKitSessionSeconds"}
    lifetime = TEMPLATE.body["Parameters"]["ChatKitSessionSeconds"]
    assert (lifetime["Default"], lifetime["MinValue"], lifetime["MaxValue"]) == (600, 1, 600)


def test_the_threads_function_reads_and_deletes_the_chats_records_and_files_only() -> None:
    table, index = {"Fn::GetAtt": ["ChatKitTable", "Arn"]}, {"Fn::Sub": "${ChatKitTable.Arn}/index/by_order"}
    assert granted("ThreadsFunction") == {
        ("dynamodb:Query", ref(table)),
        ("dynamodb:Query", ref(index)),
        ("dynamodb:DeleteItem", ref(table)),
        ("dynamodb:BatchWriteItem", ref(table)),
        ("s3:DeleteObject", ref({"Fn::Sub": "${AttachmentsBucket.Arn}/users/*"})),
    }


def test_no_function_writes_threads_table_and_the_data_export_still_covers_it() -> None:
    for function in FUNCTIONS:
        env = RESOURCES[function]["Properties"].get("Environment", {}).get("Variables", {})
        policies = json.dumps(RESOURCES[function]["Properties"].get("Policies", []))
        reaches = "THREADS_TABLE" in env or "ThreadsTable" in policies
        assert reaches == (function == "UserDataFunction"), function
    user_data = {action for action, resource in granted("UserDataFunction") if "ThreadsTable" in resource}
    assert user_data == {"dynamodb:Query", "dynamodb:BatchWriteItem"}


def test_nothing_of_agent_builder_is_left_to_configure() -> None:
    parameters = set(TEMPLATE.body["Parameters"])
    assert not {
        name
        for name in parameters
        if "Workflow" in name or name.startswith(("ChatKitHistory", "ChatKitFileUpload"))
    }
    assert (
        not {"ChatKitAutomaticThreadTitling", "ChatKitRateLimitPerMinute", "OpenAITimeoutSeconds"}
        & parameters
    )
    text = TEMPLATE_PATH.read_text()
    for word in ("CHATKIT_WORKFLOW", "mcp_token", "MCP token"):
        assert word not in text


def test_locally_the_apis_urls_are_the_gateways() -> None:
    template = Template.load()
    assert template.functions()["SessionFunction"].environment["CHATKIT_URL"] == (
        "https://chatkit-backend-local-ChatKitApi.execute-api.us-east-1.amazonaws.com/dev/chatkit"
    )

    template.gateway_url = "http://127.0.0.1:3100"

    # The local gateway serves the REST API's routes without the stage, beside the HTTP API's.
    assert (
        template.functions()["SessionFunction"].environment["CHATKIT_URL"] == "http://127.0.0.1:3100/chatkit"
    )
    assert template.resolve(TEMPLATE.body["Outputs"]["ApiUrl"]["Value"]) == "http://127.0.0.1:3100"
