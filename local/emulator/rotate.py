"""`make rotate`: one full rotation of the running local stack's TokenSigningSecret.

It plays Secrets Manager's part around RotationFunction's handler: stage an empty AWSPENDING
version named by a new ClientRequestToken, call the handler with createSecret, setSecret,
testSecret and finishSecret in that order, then take AWSPENDING off the new current version.
Tokens minted before the rotation keep passing the authorizer (AWSPREVIOUS); run it twice and
they stop.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from typing import Any

from local.emulator.runtime import LambdaContext, function_environment, load_handler
from local.emulator.stack import LocalAws, running_stack_state
from local.template import Template

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
ROTATION_DAYS = 30


def begin_rotation(
    secretsmanager: Any, secret_id: str, rotation_lambda_arn: str, token: str | None = None
) -> str:
    """Enable rotation and stage an empty AWSPENDING version, as RotateSecret does before it calls the function.

    moto's RotateSecret records exactly that and then looks for the function in its own Lambda
    service, where ours does not run; the "not found" that follows is expected and ignored.
    """
    token = token or str(uuid.uuid4())
    try:
        secretsmanager.rotate_secret(
            SecretId=secret_id,
            ClientRequestToken=token,
            RotationLambdaARN=rotation_lambda_arn,
            RotationRules={"AutomaticallyAfterDays": ROTATION_DAYS},
        )
    except secretsmanager.exceptions.ResourceNotFoundException:
        pass
    stages = secretsmanager.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    if stages.get(token) != ["AWSPENDING"]:
        raise RuntimeError("Secrets Manager did not stage the new version as AWSPENDING")
    return token


def end_rotation(secretsmanager: Any, secret_id: str, token: str) -> None:
    """What Secrets Manager does after a successful finishSecret: AWSPENDING leaves the new version."""
    secretsmanager.update_secret_version_stage(
        SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=token
    )


def play_secrets_manager_before(secretsmanager: Any, event: dict[str, Any], rotation_lambda_arn: str) -> str:
    """What Secrets Manager does before it sends ``event`` to the rotation function, for `make invoke`.

    Secrets Manager calls createSecret only after RotateSecret has staged the request token's
    version as AWSPENDING, so a createSecret event for a token the secret does not know yet
    (a fixture's) is staged first. Returns what was done, for stderr ("" for nothing).
    """
    if event.get("Step") != "createSecret" or not {"SecretId", "ClientRequestToken"} <= set(event):
        return ""
    stages = secretsmanager.describe_secret(SecretId=event["SecretId"])["VersionIdsToStages"]
    if event["ClientRequestToken"] in stages:
        return ""
    begin_rotation(secretsmanager, event["SecretId"], rotation_lambda_arn, event["ClientRequestToken"])
    return f"staged version {event['ClientRequestToken']} as AWSPENDING, as RotateSecret does before createSecret"


def play_secrets_manager_after(secretsmanager: Any, event: dict[str, Any]) -> str:
    """What Secrets Manager does after a finishSecret that made the version AWSCURRENT: it takes
    AWSPENDING off it. Returns what was done, for stderr ("" for nothing)."""
    if event.get("Step") != "finishSecret" or not {"SecretId", "ClientRequestToken"} <= set(event):
        return ""
    token = event["ClientRequestToken"]
    labels = secretsmanager.describe_secret(SecretId=event["SecretId"])["VersionIdsToStages"].get(token, [])
    if "AWSCURRENT" not in labels or "AWSPENDING" not in labels:
        return ""
    end_rotation(secretsmanager, event["SecretId"], token)
    return f"took AWSPENDING off version {token}, as Secrets Manager does after finishSecret"


def rotate_once(
    secretsmanager: Any,
    secret_id: str,
    handler: Callable[[dict[str, Any], Any], Any],
    rotation_lambda_arn: str,
    new_context: Callable[[], Any] = lambda: None,
) -> str:
    """One rotation through ``handler``, one invocation (with its own context) per step; returns
    the new AWSCURRENT version id."""
    token = begin_rotation(secretsmanager, secret_id, rotation_lambda_arn)
    for step in STEPS:
        handler({"Step": step, "SecretId": secret_id, "ClientRequestToken": token}, new_context())
    end_rotation(secretsmanager, secret_id, token)
    return token


def main() -> int:
    state = running_stack_state()
    if state is None:
        print(
            "make rotate: no local stack is running; start one with `make dev` (in another terminal) first",
            file=sys.stderr,
        )
        return 1
    aws = LocalAws(state["aws_endpoint_url"], state["region"])
    template = Template.load({k: v for k, v in (state.get("parameters") or {}).items() if isinstance(v, str)})
    template.physical_ids.update(state["resources"])
    spec = template.functions()["RotationFunction"]
    secret_id = state["resources"]["TokenSigningSecret"]
    secretsmanager = aws.client("secretsmanager")
    before = secretsmanager.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    old_current = next(version for version, stages in before.items() if "AWSCURRENT" in stages)

    # Run the handler as its Lambda would: its template environment, against the stack's AWS.
    os.environ.clear()
    os.environ.update(function_environment(spec, aws.environment(spec.logical_id), aws.region))
    handler = load_handler(spec)
    lambda_arn = LambdaContext(spec, aws.region).invoked_function_arn
    new_current = rotate_once(
        secretsmanager, secret_id, handler, lambda_arn, lambda: LambdaContext(spec, aws.region)
    )

    print(
        f"TokenSigningSecret rotated: AWSCURRENT is now version {new_current}, AWSPREVIOUS {old_current}. "
        "Session tokens minted before keep passing until they expire or the next rotation.",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
