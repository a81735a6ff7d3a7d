"""GET|PUT|DELETE /api/chatkit/threads[/{thread_id}]: the signed-in user's ChatKit threads."""

from typing import Annotated

from chatkit_backend import limits
from chatkit_backend.fastapi_app import create_app, lambda_handler, user_identity
from chatkit_backend.identity import Identity
from chatkit_backend.threads import Thread, ThreadPage, ThreadService, ThreadsSettings
from fastapi import Body, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

# Built once per container, at start-up: the settings, then the service that uses them.
settings = ThreadsSettings.from_env()
service = ThreadService(settings.table_name)
app = create_app("ChatKit threads")


class ThreadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=limits.THREAD_TITLE_MAX_CHARS)


@app.get("/api/chatkit/threads", response_model=ThreadPage)
def list_threads(
    identity: Annotated[Identity, Depends(user_identity)],
    limit: Annotated[int, Query(ge=1, le=limits.PAGE_LIMIT_MAX)] = limits.PAGE_LIMIT_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=limits.CURSOR_MAX_CHARS)] = None,
) -> ThreadPage:
    return service.list_threads(identity.user_id, limit=limit, cursor=cursor)


@app.put("/api/chatkit/threads/{thread_id}", response_model=Thread)
def put_thread(
    thread_id: str,
    identity: Annotated[Identity, Depends(user_identity)],
    body: Annotated[ThreadIn | None, Body()] = None,
) -> Thread:
    return service.upsert_thread(identity.user_id, thread_id, title=body.title if body else None)


@app.delete("/api/chatkit/threads/{thread_id}", status_code=204)
def delete_thread(thread_id: str, identity: Annotated[Identity, Depends(user_identity)]) -> Response:
    service.delete_thread(identity.user_id, thread_id)
    return Response(status_code=204)


handler = lambda_handler(app)
