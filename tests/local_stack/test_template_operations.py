"""template.yaml's operations parts: per-user limits, the user-data routes, the usage table."""

from __future__ import annotations

from typing import Any

from local.template import ENV_TO_PARAMETER, Template

TEMPLATE = Template.load()
RESOURCES = TEMPLATE.resources


def granted(function: str) -> set[tuple[str, str]]:
    statements = [s for policy in RESOURCES[function]["Properties"]["Policies"] for s in policy["Statement"]]
    return {
        (action, str(resource))
        for s in statements
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        for resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    }


def arn(logical_id: str) -> str:
    return str({"Fn::GetAtt": [logical_id, "Arn"]})


def test_limits_are_parameters_with_the_issues_defaults_and_make_dev_names() -> None:
    parameters = TEMPLATE.body["Parameters"]
    for name, default, env in [
        ("ChatKitMessagesPerMinute", 20, "CHATKIT_MESSAGES_PER_MINUTE"),
        ("ChatKitDailyTokenBudget", 200000, "CHATKIT_DAILY_TOKEN_BUDGET"),
        ("McpCallsPerMinute", 120, "MCP_CALLS_PER_MINUTE"),
    ]:
        assert (parameters[name]["Type"], parameters[name]["Default"], parameters[name]["MinValue"]) == (
            "Number",
            default,
            1,
        )
        assert ENV_TO_PARAMETER[env] == name
    functions = TEMPLATE.functions()
    chatkit, mcp = functions["ChatKitFunction"].environment, functions["McpFunction"].environment
    assert (chatkit["CHATKIT_MESSAGES_PER_MINUTE"], chatkit["CHATKIT_DAILY_TOKEN_BUDGET"]) == ("20", "200000")
    assert mcp["MCP_CALLS_PER_MINUTE"] == "120"
    assert (
        Template.load({"ChatKitMessagesPerMinute": "3"})
        .functions()["ChatKitFunction"]
        .environment["CHATKIT_MESSAGES_PER_MINUTE"]
        == "3"
    )


def test_the_usage_table_expires_its_counters_and_is_updated_only() -> None:
    props: dict[str, Any] = RESOURCES["UsageTable"]["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["user_id", "sk"]
    assert props["BillingMode"] == "PAY_PER_REQUEST" and props["SSESpecification"] == {"SSEEnabled": True}
    assert {g for g in granted("ChatKitFunction") if "UsageTable" in g[1]} == {
        ("dynamodb:UpdateItem", arn("UsageTable")),
        ("dynamodb:DeleteItem", arn("UsageTable")),  # a refused turn's count, given back
    }
    assert {g for g in granted("McpFunction") if "UsageTable" in g[1]} == {
        ("dynamodb:UpdateItem", arn("UsageTable"))
    }


def test_user_data_routes_sit_behind_the_authorizer_and_reach_only_the_users_partitions() -> None:
    routes = {r.route_key: r for r in TEMPLATE.routes()}
    for key in ("GET /api/me/export", "DELETE /api/me"):
        assert (
            routes[key].function == "UserDataFunction"
            and routes[key].authorized
            and routes[key].api == "http"
        )
    assert RESOURCES["UserDataFunction"]["Properties"]["Timeout"] < 30  # API Gateway's HTTP API limit
    tables = ("TasksTable", "ThreadsTable", "ChatKitTable", "UsageTable")
    dynamodb = {g for g in granted("UserDataFunction") if g[0].startswith("dynamodb:")}
    assert dynamodb == {
        (action, arn(t)) for action in ("dynamodb:Query", "dynamodb:BatchWriteItem") for t in tables
    }


def test_the_dashboard_shows_traffic_errors_latency_per_route_tokens_per_day_and_refusals() -> None:
    body = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    import json

    widgets = json.loads(body)["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    for words in ("Traffic", "Errors", "Latency per route", "Tokens per day", "Limit refusals"):
        assert any(words in title for title in titles), words
    latency = next(w for w in widgets if "Latency" in w["properties"]["title"])["properties"]
    assert latency["stat"] == "p95"
    routed = {m[3] for m in latency["metrics"]}
    assert {
        f"${{{f}}}"
        for f in (
            "HealthFunction",
            "SessionFunction",
            "ThreadsFunction",
            "McpFunction",
            "ChatKitFunction",
            "UserDataFunction",
        )
    } <= routed
    tokens = next(w for w in widgets if "Tokens" in w["properties"]["title"])["properties"]
    assert tokens["period"] == 86400 and [m[1] for m in tokens["metrics"]] == ["TokensIn", "TokensOut"]


def test_alarms_on_the_openai_error_rate_and_on_refusal_spikes_read_the_emitted_metrics() -> None:
    from chatkit_backend.observability import metrics

    documented = metrics.__doc__ or ""
    for alarm, names in (
        ("OpenAIErrorRateAlarm", {"OpenAIErrors", "ChatTurns"}),
        ("LimitRefusalsAlarm", {"LimitRefusals"}),
    ):
        props = RESOURCES[alarm]["Properties"]
        read = {q["MetricStat"]["Metric"]["MetricName"] for q in props["Metrics"] if "MetricStat" in q}
        assert read == names and all(name in documented for name in names)
        assert {q["MetricStat"]["Metric"]["Namespace"] for q in props["Metrics"] if "MetricStat" in q} == {
            "ChatKitBackend"
        }
        assert (
            props["AlarmActions"] == [{"Ref": "AlarmTopic"}] and props["TreatMissingData"] == "notBreaching"
        )
    limits = {
        d["Value"]
        for q in RESOURCES["LimitRefusalsAlarm"]["Properties"]["Metrics"]
        if "MetricStat" in q
        for d in q["MetricStat"]["Metric"]["Dimensions"]
        if d["Name"] == "limit"
    }
    assert limits == {"messages_per_minute", "daily_tokens", "mcp_calls_per_minute"}
