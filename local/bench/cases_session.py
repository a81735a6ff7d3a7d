"""POST /api/chatkit/session, and what each function on the request path imports.

A session is a Secrets Manager read (cached after the first), an HS256 token and one DynamoDB
Query (the user's newest thread), all against the bench's moto: no upstream call. The floor peer
does the same work with nothing around it; the gap is what FastAPI, Mangum, Powertools and the
identity checks cost. The session is made for a user with threads, so the Query returns one.
"""

from __future__ import annotations

import json

from local.bench.runner import Bench, Case
from local.template import ROOT, Template

SESSION = "session POST /api/chatkit/session (secret, token, newest thread)"
IMPORTS = "imports: fastapi only in Session/Threads, openai only in the hosted import"
EVENT = "events/session/create.json"


def store_threads(bench: Bench) -> None:
    """Give the event's user a few threads in ChatKitTable, as the chat stores them."""
    table = bench.template.physical_ids["ChatKitTable"]
    user_id = json.loads((ROOT / EVENT).read_text())["requestContext"]["authorizer"]["lambda"]["user_id"]
    for day in range(1, 4):
        thread_id = f"thr_bench{day}"
        created = f"2026-12-0{day}T09:00:00.000000"
        data = {"id": thread_id, "title": f"Day {day}", "created_at": created, "status": {"type": "active"}}
        bench.aws.client("dynamodb").put_item(
            TableName=table,
            Item={
                "user_id": {"S": user_id},
                "sk": {"S": f"thread#{thread_id}"},
                "order_key": {"S": f"thread#{created}#{thread_id}"},
                "thread_id": {"S": thread_id},
                "data": {"S": json.dumps(data)},
            },
        )


def first_fixture(folder: str) -> str | None:
    """The function's first events/ fixture, so each function gets an event of its own shape."""
    fixtures = sorted((ROOT / "events" / folder).glob("*.json"))
    return str(fixtures[0].relative_to(ROOT)) if fixtures else None


CASES = [
    Case(
        SESSION,
        "SessionFunction (ours)",
        "SessionFunction",
        EVENT,
        baseline=True,
        iterations=200,
        prepare=store_threads,
        note="cold = import (FastAPI, PyJWT, botocore) + first session (secret read, token, Query)",
    ),
    Case(
        SESSION,
        "the same work, bare handler (the floor)",
        "local/bench/peers/session_floor.py:handler",
        EVENT,
        iterations=200,
        prepare=store_threads,
        function_env="SessionFunction",
        note="boto3 + PyJWT, no framework: ours warm − this warm = FastAPI, Mangum, Powertools, checks",
    ),
]

# One row per function on the request path (routes and the authorizer), each on its own first
# fixture. RotationFunction runs off the request path, on Secrets Manager's schedule; its imports
# are checked by tests/functions/test_function_imports.py. ChatKitFunction is a web app behind
# the Lambda Web Adapter, not a handler: its cold start has its own rows (cases_chatkit.py).
TEMPLATE = Template.load()
ON_REQUEST_PATH = {route.function for route in TEMPLATE.routes()} | {
    authorizer.function for authorizer in [TEMPLATE.authorizer()] if authorizer
}
for logical_id, spec in sorted(TEMPLATE.functions().items()):
    event = first_fixture(spec.folder)
    if event is not None and logical_id in ON_REQUEST_PATH and not spec.web_adapter:
        CASES.append(
            Case(
                IMPORTS,
                logical_id,
                logical_id,
                event,
                baseline=logical_id == "HealthFunction",
                iterations=20,
            )
        )
