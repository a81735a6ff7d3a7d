"""What the FastAPI functions (session, threads) share: identity, error shapes, the Lambda entry.

Only functions that serve FastAPI import this module, so the others pay nothing for it.
Domain errors leave as ``http.responses.error_answer`` shapes them for every HTTP surface: JSON
``{"detail": "..."}`` with the status ``http.responses.STATUS_BY_ERROR`` assigns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mangum import Mangum
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from chatkit_backend.auth import identity
from chatkit_backend.auth.identity import Identity
from chatkit_backend.errors import AuthenticationRequired, DependencyUnavailable, DomainError, Forbidden
from chatkit_backend.http.responses import error_answer, status_for
from chatkit_backend.observability.logs import REQUEST_ID_PATH, log_dependency_failure, logger

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def create_app(title: str) -> FastAPI:
    """A FastAPI app with this project's error shapes; no docs routes, the API Gateway routes are the API."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RequireIdentity)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    return app


class RequireIdentity:
    """ASGI middleware answering 401/403 before anything reads the body, so a caller without a
    user identity learns only that (API Gateway's authorizer already stops most of them in AWS)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                signed_in_user(scope)
            except (AuthenticationRequired, Forbidden) as error:
                await error_json(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def signed_in_user(scope: Scope) -> Identity:
    """The user the authorizer vouched for, with a user token (``auth.identity.user_identity``)."""
    return identity.user_identity(scope.get("aws.event") or {})


def user_identity(request: Request) -> Identity:
    """FastAPI dependency: the signed-in user (already checked by ``RequireIdentity``)."""
    return signed_in_user(request.scope)


def lambda_handler(app: FastAPI) -> LambdaHandler:
    """The Lambda entry for ``app``. Lifespan is off: Mangum would run it on every invocation,
    so start-up work happens at module import instead."""
    adapter = Mangum(app, lifespan="off")

    @logger.inject_lambda_context(correlation_id_path=REQUEST_ID_PATH)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return adapter(event, context)

    return handler


def error_json(error: DomainError) -> JSONResponse:
    status, body, headers = error_answer(error)
    return JSONResponse(body, status_code=status, headers=headers)


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    if isinstance(error, DependencyUnavailable):
        log_dependency_failure(error)
    elif not isinstance(error, AuthenticationRequired):
        logger.info("request refused", extra={"error": type(error).__name__, "status": status_for(error)})
    return error_json(error)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # One sentence naming each bad field, without echoing the values sent.
    problems = []
    for item in error.errors()[:5]:
        location = tuple(item.get("loc", ()))
        if item.get("type") == "json_invalid" or location == ("body",):
            problems.append("the body must be a JSON object sent with Content-Type: application/json")
            continue
        where = ".".join(str(part) for part in location if part != "body")
        problems.append(f"{where}: {item.get('msg', 'is not valid')}")
    sentence = "; ".join(dict.fromkeys(problems))
    return JSONResponse({"detail": f"The request is not valid: {sentence}."}, status_code=422)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unexpected error")
    return JSONResponse({"detail": "Internal server error."}, status_code=500)
