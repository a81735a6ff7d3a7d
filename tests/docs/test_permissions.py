"""docs/deploy.md's Permissions tables name exactly the grants template.yaml gives each function
(as SAM translates it, policy templates expanded), with a reason for each."""

from __future__ import annotations

import re
from pathlib import Path

from local.emulator.iam import function_roles, grants
from local.template import Template

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
ROW = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \| (.*?) \|$")


def documented() -> dict[str, list[tuple[str, str, str]]]:
    """Each function heading of the Permissions section, with its rows (action, resource, why)."""
    section = DEPLOY.read_text().split("\n## Permissions\n", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, list[tuple[str, str, str]]] = {}
    function = None
    for line in section.splitlines():
        if line.startswith("### "):
            function = line[4:].strip()
            tables[function] = []
        elif function and (row := ROW.match(line)):
            tables[function].append(row.groups())
    return tables


def test_every_function_has_its_grants_documented_and_nothing_else() -> None:
    roles = function_roles(Template.load(), resolve=False)
    tables = documented()
    assert sorted(tables) == sorted(roles)
    for function, role in roles.items():
        granted = sorted((g.action, g.resource) for g in grants(role) if not g.managed)
        rows = tables[function]
        assert sorted((action, resource) for action, resource, _ in rows) == granted, function
        assert len(rows) == len(set(rows)), f"{function}: a row appears twice"
        assert all(why.strip() for _, _, why in rows), f"{function}: a grant without its reason"


def test_the_managed_policies_sam_attaches_are_the_two_the_section_names() -> None:
    section = DEPLOY.read_text().split("\n## Permissions\n", 1)[1]
    for role in function_roles(Template.load(), resolve=False).values():
        managed = {p.name for p in role.policies if p.managed}
        assert managed == {"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"}
        assert all(f"`{name}`" in section for name in managed)
