"""Rotation of TokenSigningSecret through Secrets Manager's four steps, as AWS's rotation template does it.

Secrets Manager first stages an empty AWSPENDING version named by the ClientRequestToken, then
calls the rotation function once per step, retrying a failed step. Every step here is safe to
run twice:

- createSecret puts a new random key as AWSPENDING, unless this token's version already has one;
- setSecret has nothing to do: the key lives only in Secrets Manager, verifiers read it there;
- testSecret signs a session token with the pending key and verifies it as the authorizer would;
- finishSecret moves AWSCURRENT to the new version (Secrets Manager moves AWSPREVIOUS along).

Until finishSecret succeeds AWSCURRENT is untouched, so a failure anywhere leaves the session
function minting with the old key and the next attempt completes the rotation. The authorizer
accepts AWSCURRENT and AWSPREVIOUS, so a token minted just before the rotation keeps working.
Logs name the step, the secret and the version, never key material.
"""

from __future__ import annotations

import secrets
from typing import Any

from chatkit_backend.auth.tokens import SigningKeys, TokenRejected, TokenVerifier, mint_session_token
from chatkit_backend.aws.clients import client
from chatkit_backend.aws.secrets import CURRENT, PENDING, SecretVersion
from chatkit_backend.observability.logs import logger

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
# 48 random bytes (384 bits) as URL-safe text: well over HS256's 256-bit minimum, and a plain string
# like the 64-character key CloudFormation generated at deploy time.
KEY_BYTES = 48
MIN_KEY_BYTES = 32


class RotationError(Exception):
    """The rotation cannot go on; Secrets Manager marks the step failed and retries it later."""


def rotate(event: dict[str, Any]) -> None:
    """Run the step Secrets Manager asked for (``Step``, ``SecretId``, ``ClientRequestToken``).

    A failed step is logged (its name and the error, never key material) and raised, so Secrets
    Manager marks it failed and retries it.
    """
    try:
        _rotate(event)
    except Exception as error:
        logger.error(
            "rotation step failed",
            extra={"step": event.get("Step"), "error": type(error).__name__, "detail": str(error)},
        )
        raise


def _rotate(event: dict[str, Any]) -> None:
    step = event.get("Step")
    secret_id = event.get("SecretId")
    token = event.get("ClientRequestToken")
    if step not in STEPS or not isinstance(secret_id, str) or not isinstance(token, str):
        raise RotationError(
            f"not a rotation event: Step must be one of {', '.join(STEPS)}, with SecretId and ClientRequestToken"
        )
    log = {"step": step, "secret_id": secret_id, "version_id": token}

    secretsmanager = client("secretsmanager")
    metadata = secretsmanager.describe_secret(SecretId=secret_id)
    if not metadata.get("RotationEnabled"):
        raise RotationError("rotation is not enabled on this secret")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise RotationError("the ClientRequestToken is not a version of this secret")
    if CURRENT in stages[token]:
        logger.info("version is already AWSCURRENT: nothing to do", extra=log)
        return
    if PENDING not in stages[token]:
        raise RotationError("the version is not staged AWSPENDING")

    if step == "createSecret":
        step_create_secret(secretsmanager, secret_id, token, log)
    elif step == "setSecret":
        logger.info("setSecret: nothing to set, the key is read from Secrets Manager by its users", extra=log)
    elif step == "testSecret":
        step_test_secret(secretsmanager, secret_id, token, log)
    else:
        step_finish_secret(secretsmanager, secret_id, token, stages, log)


def step_create_secret(secretsmanager: Any, secret_id: str, token: str, log: dict[str, str]) -> None:
    # Always name the stage: an unstaged read may return another version (moto does, after a move).
    secretsmanager.get_secret_value(SecretId=secret_id, VersionStage=CURRENT)
    try:
        secretsmanager.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)
    except secretsmanager.exceptions.ResourceNotFoundException:
        secretsmanager.put_secret_value(
            SecretId=secret_id,
            ClientRequestToken=token,
            SecretString=new_signing_key(),
            VersionStages=[PENDING],
        )
        logger.info("createSecret: new signing key staged as AWSPENDING", extra=log)
        return
    logger.info("createSecret: AWSPENDING already holds a key for this version, kept", extra=log)


def step_test_secret(secretsmanager: Any, secret_id: str, token: str, log: dict[str, str]) -> None:
    # No "differs from AWSCURRENT" check: when a schedule is set up without rotating at once,
    # Secrets Manager tests the configuration with testSecret on a pending copy of the current key.
    pending = secretsmanager.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)[
        "SecretString"
    ]
    if len(pending.encode()) < MIN_KEY_BYTES:
        raise RotationError("the pending key is shorter than 256 bits")
    probe = mint_session_token("rotation-test", pending, 60).token
    # The authorizer's own session-token path, over the key in hand: what it will accept once
    # this key is AWSCURRENT is exactly what is tested here.
    verifier = TokenVerifier(
        session_keys=SigningKeys(secret_id, _KeyInHand(token, pending), stages=(PENDING,)),
        user_keys=None,
        jwks=None,
    )
    try:
        verified = verifier.verify(probe)
    except TokenRejected as rejection:
        raise RotationError(
            f"the authorizer would refuse tokens signed with the pending key ({rejection.reason})"
        ) from None
    if (verified.user_id, verified.token_use) != ("rotation-test", "session"):
        raise RotationError("a token signed with the pending key did not verify as a session token")
    logger.info("testSecret: the pending key signs and verifies a session token", extra=log)


class _KeyInHand:
    """The pending version as the verifier's key source, without reading the secret again."""

    def __init__(self, version_id: str, value: str) -> None:
        self._version = SecretVersion(version_id=version_id, value=value)

    def get(self, secret_id: str, stage: str = CURRENT, *, force: bool = False) -> SecretVersion | None:
        return self._version if stage == PENDING else None


def step_finish_secret(
    secretsmanager: Any, secret_id: str, token: str, stages: dict[str, list[str]], log: dict[str, str]
) -> None:
    current_version = next((version for version, labels in stages.items() if CURRENT in labels), None)
    move: dict[str, str] = {"SecretId": secret_id, "VersionStage": CURRENT, "MoveToVersionId": token}
    if current_version is not None:
        move["RemoveFromVersionId"] = current_version
    secretsmanager.update_secret_version_stage(**move)
    logger.info(
        "finishSecret: AWSCURRENT moved to the new version",
        extra={**log, "previous_version_id": current_version},
    )


def new_signing_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)
