"""samconfig.toml against template.yaml: prod names every setting a production deploy needs, and
a CHANGE_ME left in stops the deploy through the template's Rule, naming the parameter."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from local.template import ROOT, Template, TemplateError

CONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text())
TEMPLATE = Template.load()
# What a real production deploy would put in place of each CHANGE_ME.
REAL_VALUES = {
    "AllowedOrigins": "https://app.example.com,https://www.app.example.com",
    "JwtJwksUrl": "https://app.example.com/api/auth/jwks",
    "JwtIssuer": "https://app.example.com",
    "JwtAudience": "https://app.example.com",
    "AlarmEmail": "oncall@example.com",
}


def overrides(environment: str) -> dict[str, str]:
    """parameter_overrides of ``environment``, read as SAM CLI reads its list of Key=Value."""
    items = CONFIG[environment]["deploy"]["parameters"]["parameter_overrides"]
    assert isinstance(items, list), "a list keeps one parameter per line, each with its comment"
    pairs = [item.partition("=") for item in items]
    return {key: value.strip('"') for key, _, value in pairs}


def guarded_parameters() -> set[str]:
    """The parameters the NoChangeMeLeft rule checks."""
    refs: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Ref" in node:
                refs.add(node["Ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(TEMPLATE.body["Rules"]["NoChangeMeLeft"])
    return refs


PROD = overrides("prod")
CHANGE_ME = sorted(name for name, value in PROD.items() if value == "CHANGE_ME")


def test_both_environments_name_only_template_parameters() -> None:
    declared = set(TEMPLATE.body["Parameters"])
    for environment in ("default", "prod"):
        assert set(overrides(environment)) <= declared, environment


def test_dev_deploys_as_it_is() -> None:
    template = Template.load(overrides("default"))
    assert template.parameters["Stage"] == "dev"


def test_prod_lists_every_setting_a_production_deploy_needs() -> None:
    assert PROD["Stage"] == "prod"
    assert CHANGE_ME == sorted(REAL_VALUES)
    # Everything the guided prompt used to offer empty, and the reason for a prod stack.
    assert {
        "AllowedOrigins",
        "JwtJwksUrl",
        "JwtIssuer",
        "JwtAudience",
        "AlarmEmail",
        "ChatKitReservedConcurrency",
    } <= set(PROD)
    # The key is not a parameter at all (it goes into OpenAIApiKeySecret).
    assert not any("key" in name.lower() for name in PROD)


def test_every_change_me_is_guarded_by_the_rule() -> None:
    assert set(CHANGE_ME) <= guarded_parameters()


@pytest.mark.parametrize("left", CHANGE_ME)
def test_a_change_me_left_in_fails_the_deploy_naming_it(left: str) -> None:
    settings = {**PROD, **{name: value for name, value in REAL_VALUES.items() if name != left}}
    with pytest.raises(TemplateError, match=f"rule NoChangeMeLeft: {left} is still CHANGE_ME"):
        Template.load(settings)


def test_one_change_me_among_several_origins_is_caught() -> None:
    settings = {**PROD, **REAL_VALUES, "AllowedOrigins": "https://app.example.com,CHANGE_ME"}
    with pytest.raises(TemplateError, match="AllowedOrigins is still CHANGE_ME"):
        Template.load(settings)


def test_prod_with_its_values_filled_in_deploys_with_the_guards_on() -> None:
    template = Template.load({**PROD, **REAL_VALUES})
    assert template.parameters["AllowedOrigins"] == ["https://app.example.com", "https://www.app.example.com"]
    for table in template.resources_of_type("AWS::DynamoDB::Table"):
        assert template.properties(table)["DeletionProtectionEnabled"] is True, table
    assert template.properties("ChatKitFunction")["ReservedConcurrentExecutions"] == "100"


def test_dev_keeps_tables_deletable_and_reserves_nothing() -> None:
    template = Template.load(overrides("default"))
    for table in template.resources_of_type("AWS::DynamoDB::Table"):
        assert template.properties(table)["DeletionProtectionEnabled"] is False, table
    assert "ReservedConcurrentExecutions" not in template.properties("ChatKitFunction")
