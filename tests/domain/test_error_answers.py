"""One function answers a domain error on every HTTP surface: same status, body and headers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chatkit_backend import errors
from chatkit_backend.chat.server import error_reply
from chatkit_backend.http.fastapi_app import error_json
from chatkit_backend.http.responses import error_answer, json_response

# Each kind of domain error, and what a caller must see for it.
CASES: list[tuple[errors.DomainError, int, str | None]] = [
    (errors.InvalidInput("title must not be empty."), 422, None),
    (errors.AuthenticationRequired(), 401, None),
    (errors.Forbidden("This route takes the user's sign-in token."), 403, None),
    (errors.TaskNotFound("01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404, None),
    (errors.ThreadNotFound("thr_1"), 404, None),
    (errors.Conflict("changed meanwhile"), 409, None),
    (errors.PayloadTooLarge("The request is over 1024 KiB."), 413, None),
    (errors.UnsupportedMediaType("send JSON"), 415, None),
    (errors.RateLimited("slow down", retry_after=7), 429, "7"),
    (errors.RateLimited("slow down"), 429, None),
    (errors.NotConfigured("TASKS_TABLE"), 503, None),
    (errors.DependencyUnavailable("dynamodb", "ThrottlingException"), 503, "5"),
    (errors.UpstreamRejected("OpenAI refused the key"), 502, None),
    (errors.UpstreamUnavailable("OpenAI failed"), 502, None),
    (errors.UpstreamTimeout("OpenAI did not answer"), 504, None),
]


def fastapi_route(error: errors.DomainError) -> tuple[int, Any, dict[str, str]]:
    response = error_json(error)
    return response.status_code, json.loads(response.body), dict(response.headers)


def chatkit_app(error: errors.DomainError) -> tuple[int, Any, dict[str, str]]:
    reply = error_reply(error)
    return reply.status, json.loads(reply.body), reply.headers


def lambda_payload(error: errors.DomainError) -> tuple[int, Any, dict[str, str]]:
    response = json_response(*error_answer(error))
    return response["statusCode"], json.loads(response["body"]), response["headers"]


@pytest.mark.parametrize("surface", [fastapi_route, chatkit_app, lambda_payload])
@pytest.mark.parametrize(("error", "status", "retry_after"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_every_surface_answers_the_same_status_detail_and_retry_after(
    surface: Any, error: errors.DomainError, status: int, retry_after: str | None
) -> None:
    got_status, body, headers = surface(error)
    assert (got_status, body) == (status, {"detail": error.detail})
    assert headers.get("retry-after") == retry_after
    assert headers["content-type"] == "application/json"
