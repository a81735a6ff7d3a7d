"""`make invoke FN=<LogicalId> EVENT=<file>`: one function, one event, in this process.

As `sam local invoke -e` does, without Docker: the function runs with its template environment
against the running `make dev` stack's AWS when one is up (as SAM uses your account), else
against an ephemeral moto with the template's resources. The handler's result is printed as
JSON on stdout; the function's own logs go to stderr. Exit 0 when the handler returned.

A rotation function (one a RotationSchedule names) gets Secrets Manager's part played around
it: a createSecret for an unknown token is staged first, as RotateSecret would, and AWSPENDING
leaves the new version after finishSecret; so events/rotation/ runs in order as one rotation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from local.emulator.rotate import play_secrets_manager_after, play_secrets_manager_before
from local.emulator.runtime import LambdaContext, error_payload, function_environment, load_handler
from local.emulator.stack import LocalAws, running_stack_state, store_openai_api_key
from local.template import Template, TemplateError


def prepare(template: Template) -> tuple[LocalAws, str]:
    """The AWS to run against, and a sentence saying which one it is."""
    state = running_stack_state()
    if state is not None:
        template.physical_ids.update(state["resources"])
        template.gateway_url = state["url"]
        return LocalAws(
            state["aws_endpoint_url"], state["region"]
        ), f"the running local stack ({state['url']})"
    from local.emulator.resources import create_resources

    aws = LocalAws.start(template.region)
    create_resources(template, aws.client)
    aws.enforce(template)
    store_openai_api_key(template, aws, dict(os.environ))
    return aws, "an ephemeral AWS (moto) with the template's resources; start `make dev` to share one"


def invoke(logical_id: str, event: dict[str, Any]) -> tuple[bool, Any]:
    template = Template.from_environment(dict(os.environ))
    functions = template.functions()
    if logical_id not in functions:
        raise TemplateError(
            f"no function {logical_id} in template.yaml; functions: {', '.join(sorted(functions))}"
        )
    aws, where = prepare(template)
    print(f"invoking {logical_id} against {where}", file=sys.stderr)
    spec = template.functions()[logical_id]
    rotation = logical_id in rotation_functions(template)
    if rotation:
        _say(
            play_secrets_manager_before(
                aws.client("secretsmanager"), event, LambdaContext(spec, aws.region).invoked_function_arn
            )
        )
    os.environ.clear()
    os.environ.update(function_environment(spec, aws.environment(logical_id), aws.region))
    # Handlers log to stdout (Powertools does), which here belongs to the result alone.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            handler = load_handler(spec)
            result = handler(event, LambdaContext(spec, aws.region))
        except Exception as exc:  # noqa: BLE001 - reported as Lambda reports a handler's error
            return False, error_payload(exc)
    if rotation:
        _say(play_secrets_manager_after(aws.client("secretsmanager"), event))
    return True, result


def rotation_functions(template: Template) -> set[str]:
    """The functions a RotationSchedule of the template has Secrets Manager call."""
    functions = set()
    for resource in template.resources_of_type("AWS::SecretsManager::RotationSchedule").values():
        arn = resource.get("Properties", {}).get("RotationLambdaARN")
        if isinstance(arn, dict) and "Fn::GetAtt" in arn:
            target = arn["Fn::GetAtt"]
            functions.add(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return functions


def _say(note: str) -> None:
    if note:
        print(note, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__.splitlines()[0])
    parser.add_argument("function", help="LogicalId in template.yaml, e.g. HealthFunction")
    parser.add_argument("event", type=Path, help="event file, e.g. events/health/ok.json")
    args = parser.parse_args(argv)
    try:
        event = json.loads(args.event.read_text())
    except (OSError, ValueError) as exc:
        print(f"cannot read event {args.event}: {exc}", file=sys.stderr)
        return 2
    try:
        returned, result = invoke(args.function, event)
    except TemplateError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str))
    return 0 if returned else 1


if __name__ == "__main__":
    sys.exit(main())
