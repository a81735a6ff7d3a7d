"""GET|PUT|DELETE /api/chatkit/threads[/{thread_id}]: the signed-in user's ChatKit threads."""

from typing import Annotated

from fastapi import Body, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from chatkit_backend import limits, threads
from chatkit_backend.identity import Identity
from chatkit_backend.rest import create_app, lambda_handler, user_identity

settings = threads.ThreadsSettings.from_env()
app = create_app("ChatKit threads")


class ThreadOut(BaseModel):
    thread_id: str
    title: str | None
    created_at: str
    updated_at: str


class ThreadPageOut(BaseModel):
    threads: list[ThreadOut]
    next_cursor: str | None


class ThreadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=limits.THREAD_TITLE_MAX_CHARS)


@app.get("/api/chatkit/threads", response_model=ThreadPageOut)
def list_threads(
    identity: Annotated[Identity, Depends(user_identity)],
    limit: Annotated[int, Query(ge=1, le=limits.PAGE_LIMIT_MAX)] = limits.PAGE_LIMIT_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict:
    page = threads.list_threads(settings.table_name, identity.user_id, limit=limit, cursor=cursor)
    return page.to_dict()


@app.put("/api/chatkit/threads/{thread_id}", response_model=ThreadOut)
def put_thread(
    thread_id: str,
    identity: Annotated[Identity, Depends(user_identity)],
    body: Annotated[ThreadIn | None, Body()] = None,
) -> dict:
    thread = threads.upsert_thread(
        settings.table_name, identity.user_id, thread_id, title=body.title if body else None
    )
    return thread.to_dict()


@app.delete("/api/chatkit/threads/{thread_id}", status_code=204)
def delete_thread(thread_id: str, identity: Annotated[Identity, Depends(user_identity)]) -> Response:
    threads.delete_thread(settings.table_name, identity.user_id, thread_id)
    return Response(status_code=204)


handler = lambda_handler(app)
