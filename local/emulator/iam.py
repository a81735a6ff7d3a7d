"""Each function's IAM role as SAM deploys it, and an evaluator of its policies.

``function_roles`` translates template.yaml with SAM's own translator (aws-sam-translator, the
one `sam build`/`sam deploy` run), so each role holds exactly what SAM generates: the inline
policies (SAM policy templates expanded) and the managed policies it attaches
(AWSLambdaBasicExecutionRole; AWSXrayWriteOnlyAccess for ``Tracing: Active``). A managed policy's
document comes from the copy moto ships (``moto.iam.aws_managed_policies``, pinned with moto in
constraints.txt). Intrinsic functions are resolved against the local stack's resources.

``allows`` evaluates a role's identity policies for one request as IAM does (an explicit Deny
wins, else some Allow must match action, resource and conditions). It is what the local stack
enforces (``local.emulator.iam_enforcement``); the test suite checks it against a dedicated simulator
(@cloud-copilot/iam-simulate) on every request the suite records.

``grants`` lists what a role allows, one (action, resource) pair at a time: the unit the suite's
unused-grant check and docs/deploy.md's Permissions tables use.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from local.emulator.aws_calls import IamRequest
from local.template import ACCOUNT_ID, STACK_NAME, Template, TemplateError


@dataclass(frozen=True)
class Policy:
    name: str  # the inline policy's PolicyName, or the managed policy's name
    document: dict[str, Any]
    managed: bool = False


@dataclass(frozen=True)
class Role:
    function: str
    name: str  # the role's logical id
    policies: tuple[Policy, ...]

    @property
    def principal(self) -> str:
        """The ARN a function's calls are made as: its role, assumed by Lambda for the function."""
        return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{STACK_NAME}-{self.name}/{self.function}"


@dataclass(frozen=True, order=True)
class Grant:
    """One action on one resource pattern that an Allow statement of a role grants."""

    function: str
    policy: str
    statement: int  # 1-based, in its policy
    action: str
    resource: str
    managed: bool = False


# ---- the roles SAM deploys ------------------------------------------------------------------
def translate(template: Template) -> dict[str, Any]:
    """The CloudFormation SAM deploys for ``template`` (code locations as `sam package` leaves them)."""
    import logging
    import os

    from samtranslator.translator.transform import transform

    # It warns that its feature toggles have no configuration: SAM CLI's translation has none either.
    logging.getLogger("samtranslator.feature_toggle.feature_toggle").setLevel(logging.ERROR)

    body = copy.deepcopy(template.body)
    for resource in body["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if isinstance(resource.get("Properties", {}).get(key), str):
                resource["Properties"][key] = f"s3://artifacts/{resource['Properties'][key].strip('/')}.zip"
    # The translator asks boto3 for a region when it needs one.
    os.environ.setdefault("AWS_DEFAULT_REGION", template.region)
    return transform(
        body, {"AWS::Region": template.region, "AWS::AccountId": ACCOUNT_ID}, _ManagedPolicyNames()
    )


class _ManagedPolicyNames:
    """Managed policy names to ARNs, for SAM's ``Policies: [<name>]`` shorthand."""

    def load(self) -> dict[str, str]:
        return {name: _managed_arn(name, entry["Path"]) for name, entry in _managed_policies().items()}


def _managed_arn(name: str, path: str) -> str:
    return f"arn:aws:iam::aws:policy{path}{name}"


@cache
def _managed_policies() -> dict[str, dict[str, Any]]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def managed_policy(arn: str) -> Policy:
    """The AWS managed policy ``arn`` names, as moto's copy of AWS's documents has it."""
    found = re.fullmatch(r"arn:aws:iam::aws:policy(/.*/|/)([\w+=,.@-]+)", arn)
    entry = _managed_policies().get(found.group(2)) if found else None
    if found is None or entry is None or entry["Path"] != found.group(1):
        raise TemplateError(f"{arn}: no such AWS managed policy in moto's copy of them")
    return Policy(found.group(2), entry["Document"], managed=True)


def function_roles(
    template: Template, translated: dict[str, Any] | None = None, *, resolve: bool = True
) -> dict[str, Role]:
    """Every function's role as SAM generates it, its policies resolved against ``template``'s
    physical ids (or as written, without ``resolve``). Pass ``translated``
    (``translate(template)``) to reuse one translation."""
    translated = translated or translate(template)
    resources = translated["Resources"]
    resolver = Template(
        body=translated,
        parameters=template.parameters,
        physical_ids=template.physical_ids,
        region=template.region,
    )
    roles = {}
    for function in template.resources_of_type("AWS::Serverless::Function"):
        role_ref = resources[function]["Properties"].get("Role", {})
        role_id = role_ref.get("Fn::GetAtt", [None])[0] if isinstance(role_ref, dict) else None
        if role_id not in resources:
            raise TemplateError(f"{function}: its Role is not one SAM generates from Policies")
        props = resources[role_id]["Properties"]
        inline = [
            Policy(
                str(p["PolicyName"]),
                resolver.resolve(p["PolicyDocument"]) if resolve else p["PolicyDocument"],
            )
            for p in props.get("Policies", [])
        ]
        managed = [managed_policy(str(arn)) for arn in resolver.resolve(props.get("ManagedPolicyArns", []))]
        roles[function] = Role(function, role_id, tuple(inline + managed))
    return roles


def grants(role: Role) -> list[Grant]:
    """Every (action, resource) pair the role's Allow statements grant (a resource not resolved
    is written as ``short`` writes it)."""
    found = []
    for policy in role.policies:
        for number, statement in enumerate(_statements(policy.document), start=1):
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement or "NotResource" in statement:
                raise TemplateError(f"{role.function}: {policy.name} grants with NotAction/NotResource")
            resources = statement.get("Resource")
            for action in listed(statement.get("Action")):
                for resource in resources if isinstance(resources, list) else [resources]:
                    written = resource if isinstance(resource, str) else short(resource)
                    found.append(Grant(role.function, policy.name, number, action, written, policy.managed))
    return found


# ---- evaluation -----------------------------------------------------------------------------
def allows(policies: Sequence[Policy], request: IamRequest) -> bool:
    """Whether identity policies ``policies`` allow ``request``: no Deny statement matches it and
    an Allow statement does (same account, no resource policy, as a function's calls are)."""
    context = dict(request.context)
    allowed = False
    for policy in policies:
        for statement in _statements(policy.document):
            if _applies(statement, request, context):
                if statement.get("Effect") == "Deny":
                    return False
                allowed = True
    return allowed


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def listed(value: Any) -> list[str]:
    """A policy element's values (a string or a list of them) as a list."""
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _applies(statement: dict[str, Any], request: IamRequest, context: dict[str, str]) -> bool:
    if "Action" in statement:
        action_matches = any(_action_matches(p, request.action) for p in listed(statement["Action"]))
    else:
        action_matches = not any(_action_matches(p, request.action) for p in listed(statement["NotAction"]))
    if not action_matches:
        return False
    if "Resource" in statement:
        resource_matches = any(_arn_matches(p, request.resource) for p in listed(statement["Resource"]))
    else:
        resource_matches = not any(
            _arn_matches(p, request.resource) for p in listed(statement["NotResource"])
        )
    return resource_matches and _conditions_hold(statement.get("Condition", {}), context)


def _wildcard(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` any one; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE | re.DOTALL) is not None


def _action_matches(pattern: str, action: str) -> bool:
    return _wildcard(pattern, action, case_sensitive=False)


def _arn_matches(pattern: str, arn: str) -> bool:
    """ARNs match segment by segment (partition, service, region, account), then the resource."""
    if pattern == "*":
        return True
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(actual) == 6 and all(
        _wildcard(w, a) for w, a in zip(wanted, actual, strict=True)
    )


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    return all(
        _condition_holds(operator, key, listed(values), context)
        for operator, keys in conditions.items()
        for key, values in keys.items()
    )


def _condition_holds(operator: str, key: str, wanted: list[str], context: dict[str, str]) -> bool:
    if operator.startswith(("ForAnyValue:", "ForAllValues:")):
        raise TemplateError(f"condition operator {operator} is not evaluated locally")
    present = key in context
    if operator == "Null":
        return (not present) == (wanted[0].lower() == "true")
    base = operator.removesuffix("IfExists")
    if not present:
        return operator.endswith("IfExists") or "Not" in base
    value = context[key]
    test = _OPERATORS.get(base.replace("Not", ""))
    if test is None:
        raise TemplateError(f"condition operator {operator} is not evaluated locally")
    matched = any(test(w, value) for w in wanted)
    return not matched if "Not" in base else matched


def _number(text: str) -> float:
    return float(text)


_OPERATORS = {
    "StringEquals": lambda wanted, value: wanted == value,
    "StringEqualsIgnoreCase": lambda wanted, value: wanted.lower() == value.lower(),
    "StringLike": lambda wanted, value: _wildcard(wanted, value),
    "ArnEquals": lambda wanted, value: wanted == value,
    "ArnLike": _arn_matches,
    "Bool": lambda wanted, value: wanted.lower() == value.lower(),
    "NumericEquals": lambda wanted, value: _number(value) == _number(wanted),
    "NumericLessThan": lambda wanted, value: _number(value) < _number(wanted),
    "NumericLessThanEquals": lambda wanted, value: _number(value) <= _number(wanted),
    "NumericGreaterThan": lambda wanted, value: _number(value) > _number(wanted),
    "NumericGreaterThanEquals": lambda wanted, value: _number(value) >= _number(wanted),
}


def short(value: Any) -> str:
    """A resource as the template writes it, for people: ``TasksTable``, ``AttachmentsBucket/users/*``."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return str(arg)
        if key == "Fn::GetAtt":
            return str(arg[0] if isinstance(arg, list) else arg.split(".")[0])
        if key == "Fn::Sub" and isinstance(arg, str):
            return re.sub(r"\$\{([\w:]+)(?:\.Arn)?\}", r"\1", arg)
    return str(value)
