"""POST /api/chatkit/session: a chat session for the signed-in user (calling again is the refresh)."""

from typing import Annotated

from chatkit_backend.auth import tokens
from chatkit_backend.auth.identity import Identity
from chatkit_backend.aws import clients as aws
from chatkit_backend.aws import snapstart
from chatkit_backend.chat.sessions import SessionService, SessionSettings
from chatkit_backend.http.fastapi_app import create_app, lambda_handler, user_identity
from fastapi import Body, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

# Built once per container, at start-up (where SnapStart's snapshot holds it): settings, the
# secret cache and the AWS clients. A sandbox restored from the snapshot renews clients and
# secrets (chatkit_backend.aws.snapstart).
settings = SessionSettings.from_env()
service = SessionService(settings)
aws.prepare("secretsmanager", "dynamodb")
snapstart.register_after_restore(service.restored)
# The token library loads lazily (McpFunction's cold start); here the snapshot should hold it.
tokens.load_now()
app = create_app("ChatKit sessions")


class SessionRequest(BaseModel):
    """No fields: the session is the caller's; a body, if sent, must be ``{}``."""

    model_config = ConfigDict(extra="forbid")


class SessionResponse(BaseModel):
    client_secret: str
    expires_at: int
    chatkit_url: str
    thread_id: str | None


@app.post("/api/chatkit/session", status_code=201, response_model=SessionResponse)
def create_session(
    identity: Annotated[Identity, Depends(user_identity)],
    body: Annotated[SessionRequest | None, Body()] = None,
) -> JSONResponse:
    session = service.create_session(identity.user_id)
    # The client secret is a credential: no cache may keep it.
    return JSONResponse(session.to_dict(), status_code=201, headers={"cache-control": "no-store"})


handler = lambda_handler(app)
