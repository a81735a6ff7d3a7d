"""RotationFunction against moto: the four steps, their retries, failures, and what tokens see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from chatkit_backend.auth import rotation as rotation_logic

from local.emulator.rotate import STEPS, begin_rotation, end_rotation, rotate_once
from tests.support.auth import (
    SecretsStack,
    authorizer,
    captured_logs,
    lambda_context,
    load_function,
    rest_api_event,
    signing_secrets,
)
from tests.support.auth_cases import session_token

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:RotationFunction"


@dataclass
class Rotation:
    stack: SecretsStack
    function: Any
    monkeypatch: Any

    @property
    def secret_id(self) -> str:
        return self.stack.token_signing_secret_arn

    @property
    def secretsmanager(self) -> Any:
        return self.stack.client

    def call(self, step: str, token: str) -> None:
        self.function.handler(
            {"Step": step, "SecretId": self.secret_id, "ClientRequestToken": token},
            lambda_context("RotationFunction"),
        )

    def rotate(self) -> str:
        return rotate_once(
            self.secretsmanager,
            self.secret_id,
            self.function.handler,
            LAMBDA_ARN,
            lambda: lambda_context("RotationFunction"),
        )

    def stages(self) -> dict[str, list[str]]:
        return self.secretsmanager.describe_secret(SecretId=self.secret_id)["VersionIdsToStages"]

    def value(self, stage: str) -> str:
        return self.stack.value(self.secret_id, stage)

    def current_version(self) -> str:
        return next(version for version, labels in self.stages().items() if "AWSCURRENT" in labels)

    def authorizes(self, token: str) -> bool:
        """Whether a brand-new authorizer container lets the session token through to POST /chatkit."""
        handler = authorizer(self.monkeypatch, self.stack.env())
        answer = handler.handler(rest_api_event(f"Bearer {token}"), None)
        return answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"


@pytest.fixture
def rotation(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Rotation:
    for name, value in aws.function_env("RotationFunction").items():
        monkeypatch.setenv(name, value)
    return Rotation(signing_secrets(aws), load_function("rotation"), monkeypatch)


def test_full_rotation_moves_current_to_a_new_long_random_key_and_keeps_the_old_one_as_previous(
    rotation: Rotation,
) -> None:
    old_key, old_version = rotation.value("AWSCURRENT"), rotation.current_version()

    with captured_logs() as logs:
        new_version = rotation.rotate()

    new_key = rotation.value("AWSCURRENT")
    assert rotation.current_version() == new_version != old_version
    assert new_key != old_key and len(new_key.encode()) >= 32
    assert rotation.value("AWSPREVIOUS") == old_key
    assert rotation.stages()[new_version] == ["AWSCURRENT"]
    steps = [record["step"] for record in logs.records() if "step" in record]
    assert steps == list(STEPS)
    assert old_key not in logs.text and new_key not in logs.text


def test_every_step_called_twice_gives_the_same_rotation(rotation: Rotation) -> None:
    old_key = rotation.value("AWSCURRENT")
    token = begin_rotation(rotation.secretsmanager, rotation.secret_id, LAMBDA_ARN)

    rotation.call("createSecret", token)
    pending = rotation.stack.client.get_secret_value(SecretId=rotation.secret_id, VersionStage="AWSPENDING")[
        "SecretString"
    ]
    rotation.call("createSecret", token)
    assert (
        rotation.stack.client.get_secret_value(SecretId=rotation.secret_id, VersionStage="AWSPENDING")[
            "SecretString"
        ]
        == pending
    )
    for step in ("setSecret", "setSecret", "testSecret", "testSecret"):
        rotation.call(step, token)
    assert rotation.value("AWSCURRENT") == old_key, "nothing moves before finishSecret"
    rotation.call("finishSecret", token)
    rotation.call("finishSecret", token)
    end_rotation(rotation.secretsmanager, rotation.secret_id, token)

    assert rotation.value("AWSCURRENT") == pending
    assert rotation.value("AWSPREVIOUS") == old_key
    assert rotation.current_version() == token


@pytest.mark.parametrize("failing_step", ["createSecret", "testSecret"])
def test_a_failed_step_leaves_current_as_it_was_and_the_next_attempt_completes(
    rotation: Rotation, monkeypatch: pytest.MonkeyPatch, failing_step: str
) -> None:
    old_key, old_version = rotation.value("AWSCURRENT"), rotation.current_version()
    minted_before = session_token("alice", old_key, 600)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected failure")

    target = {"createSecret": "new_signing_key", "testSecret": "mint_session_token"}[failing_step]
    token = begin_rotation(rotation.secretsmanager, rotation.secret_id, LAMBDA_ARN)
    with monkeypatch.context() as patch:
        patch.setattr(rotation_logic, target, broken)
        with pytest.raises(RuntimeError, match="injected failure"):
            for step in STEPS:
                rotation.call(step, token)

    assert rotation.current_version() == old_version
    assert rotation.value("AWSCURRENT") == old_key
    assert rotation.authorizes(minted_before)

    for step in STEPS:
        rotation.call(step, token)
    end_rotation(rotation.secretsmanager, rotation.secret_id, token)

    assert rotation.current_version() == token
    assert rotation.value("AWSPREVIOUS") == old_key
    assert rotation.authorizes(minted_before)


def test_a_pending_key_that_does_not_verify_fails_the_test_step(rotation: Rotation) -> None:
    old_version = rotation.current_version()
    token = begin_rotation(rotation.secretsmanager, rotation.secret_id, LAMBDA_ARN)
    rotation.secretsmanager.put_secret_value(
        SecretId=rotation.secret_id,
        ClientRequestToken=token,
        SecretString="short",
        VersionStages=["AWSPENDING"],
    )

    with pytest.raises(rotation_logic.RotationError, match="shorter than 256 bits"):
        rotation.call("testSecret", token)

    assert rotation.current_version() == old_version


def test_the_configuration_test_secrets_manager_runs_when_a_schedule_is_set_passes(
    rotation: Rotation,
) -> None:
    """RotateImmediatelyOnUpdate: false makes Secrets Manager run testSecret alone on a pending copy
    of the current key; a failure there would fail the deployment of the RotationSchedule."""
    old_version = rotation.current_version()
    token = "0d7c1f9e-5b1a-4a53-9a0e-3f4b2c1d0e9f"
    with pytest.raises(rotation.secretsmanager.exceptions.ResourceNotFoundException):
        rotation.secretsmanager.rotate_secret(
            SecretId=rotation.secret_id,
            ClientRequestToken=token,
            RotationLambdaARN=LAMBDA_ARN,
            RotationRules={"AutomaticallyAfterDays": 30},
            RotateImmediately=False,
        )

    rotation.call("testSecret", token)

    assert rotation.current_version() == old_version


def test_a_token_minted_before_one_rotation_still_passes_the_authorizer(rotation: Rotation) -> None:
    minted_before = session_token("alice", rotation.value("AWSCURRENT"), 600)

    rotation.rotate()

    assert rotation.authorizes(minted_before)
    assert rotation.authorizes(session_token("alice", rotation.value("AWSCURRENT"), 600))


def test_two_rotations_make_a_token_minted_before_the_first_invalid(rotation: Rotation) -> None:
    minted_before = session_token("alice", rotation.value("AWSCURRENT"), 600)

    rotation.rotate()
    minted_between = session_token("alice", rotation.value("AWSCURRENT"), 600)
    rotation.rotate()

    assert not rotation.authorizes(minted_before)
    assert rotation.authorizes(minted_between)


def test_a_warm_authorizer_refuses_the_old_key_once_it_has_read_the_new_one(rotation: Rotation) -> None:
    handler = authorizer(rotation.monkeypatch, rotation.stack.env())

    def allowed(token: str) -> bool:
        answer = handler.handler(rest_api_event(f"Bearer {token}"), None)
        return answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"

    minted_before = session_token("alice", rotation.value("AWSCURRENT"), 600)
    assert allowed(minted_before)

    rotation.rotate()
    rotation.rotate()
    fresh = session_token("alice", rotation.value("AWSCURRENT"), 600)

    assert allowed(fresh), "newer key accepted at once"
    assert not allowed(minted_before)


def bad_events(rotation: Rotation, token: str) -> list[tuple[dict[str, Any], str]]:
    return [
        (
            {"Step": "dropSecret", "SecretId": rotation.secret_id, "ClientRequestToken": token},
            "not a rotation event",
        ),
        ({"Step": "createSecret", "ClientRequestToken": token}, "not a rotation event"),
        ({"Step": "createSecret", "SecretId": rotation.secret_id}, "not a rotation event"),
        (
            {
                "Step": "createSecret",
                "SecretId": rotation.secret_id,
                "ClientRequestToken": "11111111-2222-3333-4444-555555555555",
            },
            "not a version of this secret",
        ),
    ]


@pytest.mark.parametrize("case", range(4), ids=["unknown-step", "no-secret", "no-token", "unknown-token"])
def test_events_that_are_not_a_staged_rotation_are_refused_and_change_nothing(
    rotation: Rotation, case: int
) -> None:
    token = begin_rotation(rotation.secretsmanager, rotation.secret_id, LAMBDA_ARN)
    before = rotation.stages()
    event, message = bad_events(rotation, token)[case]

    with pytest.raises(rotation_logic.RotationError, match=message):
        rotation.function.handler(event, lambda_context("RotationFunction"))

    assert rotation.stages() == before


def test_the_template_schedule_turns_rotation_on_without_rotating(rotation: Rotation) -> None:
    """TokenSigningSecretRotation (RotateImmediatelyOnUpdate: false) as the local AWS sets it up."""
    described = rotation.secretsmanager.describe_secret(SecretId=rotation.secret_id)

    assert described["RotationEnabled"] is True
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert described["RotationLambdaARN"].endswith("RotationFunction")
    assert [labels for labels in rotation.stages().values() if labels] == [["AWSCURRENT"]]


def test_rotation_is_refused_on_a_secret_without_rotation_enabled(rotation: Rotation) -> None:
    rotation.secretsmanager.cancel_rotate_secret(SecretId=rotation.secret_id)
    version, before = rotation.current_version(), rotation.stages()

    with pytest.raises(rotation_logic.RotationError, match="not enabled"):
        rotation.call("createSecret", version)

    assert rotation.stages() == before
