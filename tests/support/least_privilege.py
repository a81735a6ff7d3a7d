"""Least privilege, proven by the suite: every AWS call a function made is allowed by its own role,
and, on a full run (``--least-privilege=full``, as `make test` runs), every grant was used.

Calls are recorded per function while the tests run (``local.emulator.aws_calls``): in-process by the
function tests (``invoke`` and the ChatKit app run under ``aws_calls.running``), and by the local
stack's moto for every sandbox (``local.emulator.iam_enforcement``), each process into its own file. When
the session ends, the distinct calls are evaluated once each by a dedicated IAM simulator,
@cloud-copilot/iam-simulate (tests/support/iam_simulate), against each function's role as SAM
translates template.yaml (``local.emulator.iam``). The local stack's own evaluator (``local.emulator.iam.allows``)
must give the same verdict on every one of them.

- A call its role does not allow fails the session, naming the function, the action and the
  resource.
- On a full run, a grant (one action on one resource pattern of an Allow statement) that no
  call used fails it too, unless ``NEEDED_WITHOUT_A_CALL`` says why it is needed.

A run of a few tests checks their calls only: unused grants are a whole-suite question.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local.emulator import aws_calls
from local.emulator.aws_calls import Call
from local.emulator.iam import Grant, Role, allows, function_roles, grants, translate
from local.template import ACCOUNT_ID, Template
from tests.support import node

SIMULATOR = Path(__file__).resolve().parent / "iam_simulate"


# Grants that no call of the suite can use, and why each is needed all the same: managed policies
# by name, and single grants as (function, action, resource as the template writes it).
NEEDED_WITHOUT_A_CALL: dict[str | tuple[str, str, str], str] = {
    "AWSLambdaBasicExecutionRole": "Lambda's runtime writes the function's logs with it, not the function's code",
    "AWSXrayWriteOnlyAccess": "Lambda's X-Ray integration sends the function's traces with it (Tracing: Active)",
}


@dataclass
class Report:
    """What the check found: calls refused, grants unused, and exemptions that no longer apply."""

    calls: int = 0
    problems: list[str] = field(default_factory=list)


def check(
    calls: set[Call], roles: dict[str, Role], *, unused: bool, as_written: dict[Grant, str] | None = None
) -> Report:
    """Evaluate ``calls`` against ``roles``; with ``unused``, also name the grants no call used
    (``as_written``: grants' resources as the template writes them, for the exemptions)."""
    report = Report(calls=len(calls))
    ordered = sorted(calls)
    unknown = sorted({call.function for call in ordered if call.function not in roles})
    report.problems += [
        f"{function}: calls recorded for a function the template does not have" for function in unknown
    ]
    ordered = [call for call in ordered if call.function in roles]
    verdicts = simulate(ordered, roles)
    used: set[tuple[str, str, int, str, str]] = set()
    for call, verdict in zip(ordered, verdicts, strict=True):
        request = call.request
        described = f"{request.action} on {request.resource}" + "".join(
            f" ({key}={value})" for key, value in request.context
        )
        if verdict["result"] == "Error":
            report.problems.append(f"{call.function}: {described} cannot be simulated: {verdict['errors']}")
            continue
        allowed = verdict["result"] == "Allowed"
        if not allowed:
            report.problems.append(
                f"{call.function}: {described} is not allowed by its role {roles[call.function].name}"
            )
        if allows(roles[call.function].policies, request) != allowed:
            report.problems.append(
                f"{call.function}: {described}: the local stack's evaluator (local.emulator.iam.allows) "
                f"says {'denied' if allowed else 'allowed'}, the simulator {verdict['result']}"
            )
        for statement in verdict["used"]:
            for action in statement["actions"]:
                for resource in statement["resources"]:
                    used.add((call.function, statement["policy"], statement["statement"], action, resource))
    if unused:
        report.problems += unused_grants(roles, used, as_written or {})
    return report


def unused_grants(
    roles: dict[str, Role], used: set[tuple[str, str, int, str, str]], as_written: dict[Grant, str]
) -> list[str]:
    """The grants no call used and ``NEEDED_WITHOUT_A_CALL`` does not explain, and its stale entries."""
    problems = []
    exempted: set[str | tuple[str, str, str]] = set()
    for role in roles.values():
        for grant in grants(role):
            if (grant.function, grant.policy, grant.statement, grant.action, grant.resource) in used:
                continue
            written = (grant.function, grant.action, as_written.get(grant, grant.resource))
            reason = next((key for key in (grant.policy, written) if key in NEEDED_WITHOUT_A_CALL), None)
            if reason is not None:
                exempted.add(reason)
                continue
            problems.append(
                f"{grant.function}: {grant.action} on {written[2]} is granted "
                f"({grant.policy}, statement {grant.statement}) but no call of the suite used it"
            )
    for stale in sorted(set(NEEDED_WITHOUT_A_CALL) - exempted, key=str):
        problems.append(f"NEEDED_WITHOUT_A_CALL[{stale!r}] exempts no unused grant: remove it")
    return problems


def template_roles(template: Template | None = None) -> tuple[dict[str, Role], dict[Grant, str]]:
    """Each function's role as SAM deploys ``template`` (template.yaml), named as recorded calls
    name resources, and each of their grants' resource as the template writes it
    (``TasksTable/index/by_status``)."""
    template = template or Template.load()
    template.physical_ids = aws_calls.canonical_physical_ids(template)
    translated = translate(template)
    roles = function_roles(template, translated)
    written = function_roles(template, translated, resolve=False)
    as_written = {
        grant: unresolved.resource
        for function, role in roles.items()
        for grant, unresolved in zip(grants(role), grants(written[function]), strict=True)
    }
    return roles, as_written


def simulate(calls: list[Call], roles: dict[str, Role]) -> list[dict[str, Any]]:
    """iam-simulate's verdict on each call, in order (one node process for all of them)."""
    node.npm_ci(SIMULATOR)
    request = {
        "account": ACCOUNT_ID,
        "roles": {
            role.function: {
                "principal": role.principal,
                "policies": [{"name": p.name, "document": p.document} for p in role.policies],
            }
            for role in roles.values()
        },
        "requests": [
            {
                "function": call.function,
                "action": call.request.action,
                "resource": call.request.resource,
                "context": dict(call.request.context),
            }
            for call in calls
        ],
    }
    done = subprocess.run(
        ["node", "simulate.mjs"],
        cwd=SIMULATOR,
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"iam-simulate failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout)


# ---- the pytest plugin --------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--least-privilege",
        choices=("calls", "full", "off"),
        default="calls",
        help="check recorded AWS calls against each function's role (calls), and that every grant "
        "was used (full: the whole suite, as `make test` runs it); off records nothing",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--least-privilege") == "off":
        return
    if not hasattr(config, "workerinput"):
        # Set before pytest-xdist starts its workers and before any test starts the local stack,
        # so that every process records into this session's directory.
        os.environ[aws_calls.LOG_DIR_VARIABLE] = tempfile.mkdtemp(prefix="aws-calls-")
    log = aws_calls.log_from_environment()
    if log is not None:
        aws_calls.install(log)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    mode = config.getoption("--least-privilege")
    log = aws_calls.log_from_environment()
    if mode == "off" or hasattr(config, "workerinput") or log is None:
        return
    calls = aws_calls.read(log.directory)
    if not calls and mode != "full":
        return
    problem = node.node_problem()
    if problem is not None:
        if os.environ.get("CI") == "true":
            config.stash[_REPORT] = Report(len(calls), [f"{problem} (CI=true: the check may not be skipped)"])
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        else:
            config.stash[_REPORT] = Report(len(calls), [])
            config.stash[_SKIPPED] = problem
        return
    roles, as_written = template_roles()
    report = check(calls, roles, unused=mode == "full", as_written=as_written)
    config.stash[_REPORT] = report
    if report.problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_REPORT = pytest.StashKey[Report]()
_SKIPPED = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    report = config.stash.get(_REPORT, None)
    if report is None:
        return
    skipped = config.stash.get(_SKIPPED, None)
    if skipped:
        terminalreporter.write_line(f"least privilege: not checked: {skipped}", yellow=True)
        return
    if not report.problems:
        terminalreporter.write_line(
            f"least privilege: {report.calls} distinct AWS calls, each allowed by its function's role "
            f"(recorded in {os.environ.get(aws_calls.LOG_DIR_VARIABLE)})"
        )
        return
    terminalreporter.section("least privilege", sep="=", red=True, bold=True)
    for line in report.problems:
        terminalreporter.write_line(line, red=True)
