"""`make scan` names a broken rule: checkov over SAM's translation of the template, with every
suppression giving its reason."""

from __future__ import annotations

import os

import pytest

from local.build.scan import scan, scanned_template, unexplained_suppressions
from local.template import ROOT, Template

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def require_checkov() -> None:
    """`make test` builds .venv-checkov (make scan) before pytest runs; elsewhere, say how."""
    if CHECKOV.exists():
        return
    problem = "checkov is not installed: run `make scan` once (it builds .venv-checkov)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem} (CI=true: this test may not be skipped)")
    pytest.skip(problem)


def test_generated_resources_carry_the_suppressions_of_the_resource_they_come_from() -> None:
    scanned = scanned_template(Template.load())["Resources"]
    assert scanned["ChatKitApiStage"]["Metadata"]["checkov"] == scanned["ChatKitApi"]["Metadata"]["checkov"]
    assert scanned["McpFunction"]["Type"] == "AWS::Lambda::Function"
    assert "checkov" in scanned["McpFunction"]["Metadata"]


def test_every_suppression_in_the_template_says_why() -> None:
    assert unexplained_suppressions(Template.load()) == []


def test_a_broken_rule_is_named_with_its_resource() -> None:
    require_checkov()
    template = Template.load()
    resources = template.resources
    del resources["TasksTable"]["Properties"]["PointInTimeRecoverySpecification"]
    resources["McpFunction"]["Properties"]["Policies"][0]["Statement"].append(
        {"Effect": "Allow", "Action": "*", "Resource": "*"}  # administrator
    )
    resources["AlarmTopic"]["Metadata"]["checkov"]["skip"][0]["comment"] = ""

    problems, _ = scan(template, CHECKOV)

    assert "TasksTable: CKV_AWS_28 Ensure DynamoDB point in time recovery (backup) is enabled" in problems
    # Found on the role SAM generates from the function's Policies.
    assert any(p.startswith("McpFunctionRole: CKV_AWS_62 ") for p in problems), problems
    assert "AlarmTopic: suppresses CKV_AWS_26 without a comment saying why" in problems
    # Nothing else: the suppression without a reason still suppresses, the scan's own rule names it.
    assert {p.split(":", 1)[0] for p in problems} == {"TasksTable", "McpFunctionRole", "AlarmTopic"}
