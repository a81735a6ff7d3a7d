"""GET /api/chatkit/threads, DELETE /api/chatkit/threads/{thread_id}: the signed-in user's
ChatKit threads (ChatKitTable), as ``threads.list`` and ``threads.delete`` on POST /chatkit see
them. PUT, which recorded hosted threads, answers 410 Gone."""

from typing import Annotated

from chatkit_backend import limits
from chatkit_backend.auth.identity import Identity
from chatkit_backend.chat.threads import PUT_GONE, ThreadPage, ThreadService, ThreadsSettings
from chatkit_backend.http.fastapi_app import create_app, lambda_handler, user_identity
from fastapi import Depends, Query, Response
from fastapi.responses import JSONResponse

# Built once per container, at start-up: the settings, then the service that uses them.
settings = ThreadsSettings.from_env()
service = ThreadService(settings)
app = create_app("ChatKit threads")


@app.get("/api/chatkit/threads", response_model=ThreadPage)
def list_threads(
    identity: Annotated[Identity, Depends(user_identity)],
    limit: Annotated[int, Query(ge=1, le=limits.PAGE_LIMIT_MAX)] = limits.PAGE_LIMIT_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=limits.CURSOR_MAX_CHARS)] = None,
) -> ThreadPage:
    return service.list_threads(identity.user_id, limit=limit, cursor=cursor)


@app.put("/api/chatkit/threads/{thread_id}")
def put_thread(thread_id: str, identity: Annotated[Identity, Depends(user_identity)]) -> JSONResponse:
    return JSONResponse({"detail": PUT_GONE}, status_code=410)


@app.delete("/api/chatkit/threads/{thread_id}", status_code=204)
def delete_thread(thread_id: str, identity: Annotated[Identity, Depends(user_identity)]) -> Response:
    service.delete_thread(identity.user_id, thread_id)
    return Response(status_code=204)


handler = lambda_handler(app)
