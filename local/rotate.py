"""`make rotate`: one full rotation of the running local stack's TokenSigningSecret.

It plays Secrets Manager's part around RotationFunction's handler: stage an empty AWSPENDING
version named by a new ClientRequestToken, call the handler with createSecret, setSecret,
testSecret and finishSecret in that order, then take AWSPENDING off the new current version.
Tokens minted before the rotation keep passing the authorizer (AWSPREVIOUS); run it twice and
they stop.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from typing import Any

from local.running_stack import RunningStack, StackNotRunning, lambda_context, load_handler, running_stack

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
ROTATION_DAYS = 30


def begin_rotation(secretsmanager: Any, secret_id: str, rotation_lambda_arn: str) -> str:
    """Enable rotation and stage an empty AWSPENDING version, as RotateSecret does before it calls the function.

    moto's RotateSecret records exactly that and then looks for the function in its own Lambda
    service, where ours does not run; the "not found" that follows is expected and ignored.
    """
    token = str(uuid.uuid4())
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
    secretsmanager.update_secret_version_stage(SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=token)


def rotate_once(
    secretsmanager: Any,
    secret_id: str,
    handler: Callable[[dict[str, Any], Any], Any],
    rotation_lambda_arn: str,
    context: Any = None,
) -> str:
    """One rotation through ``handler``; returns the new AWSCURRENT version id."""
    token = begin_rotation(secretsmanager, secret_id, rotation_lambda_arn)
    for step in STEPS:
        handler({"Step": step, "SecretId": secret_id, "ClientRequestToken": token}, context)
    end_rotation(secretsmanager, secret_id, token)
    return token


def main() -> int:
    try:
        stack: RunningStack = running_stack()
        secret_id = stack.physical_id("TokenSigningSecret")
        function_name = stack.resources.get("RotationFunction", "RotationFunction")
    except StackNotRunning as problem:
        print(f"make rotate: {problem}", file=sys.stderr)
        return 1
    stack.use_for_aws()
    secretsmanager = stack.client("secretsmanager")
    before = secretsmanager.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    old_current = next(version for version, stages in before.items() if "AWSCURRENT" in stages)

    rotation = load_handler("rotation")
    lambda_arn = f"arn:aws:lambda:{stack.region}:123456789012:function:{function_name}"
    new_current = rotate_once(secretsmanager, secret_id, rotation.handler, lambda_arn, lambda_context(function_name))

    print(
        f"TokenSigningSecret rotated: AWSCURRENT {new_current}, AWSPREVIOUS {old_current}. "
        "MCP tokens minted before now keep working until they expire or the next rotation.",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
