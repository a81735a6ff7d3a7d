"""POST /api/chatkit/session against a local OpenAI stand-in, and what each function imports.

The stand-in (local/fake_chatkit_sessions.py) runs in the bench process for the whole run; every probe
reaches it over loopback, so the upstream call costs the same for every row and the gaps are
the functions' own.
"""

from __future__ import annotations

import json
import secrets

from local.bench.runner import Bench, Case
from local.fake_chatkit_sessions import FakeChatKitSessions
from local.template import ROOT, Template

# Started on import: cases are plain data, and the stand-in must outlive every probe process.
STAND_IN = FakeChatKitSessions().start()
API_KEY = f"sk-bench-{secrets.token_hex(12)}"  # generated per run, known only to the stand-in's caller
UPSTREAM = {"OPENAI_BASE_URL": STAND_IN.url, "CHATKIT_WORKFLOW_ID": "wf_bench"}
SESSION = "session POST /api/chatkit/session (local OpenAI stand-in)"
IMPORTS = "imports: openai only in SessionFunction, fastapi only in Session/Threads"


def store_api_key(bench: Bench) -> None:
    """Put the run's key where SessionFunction reads it, as an operator would."""
    bench.aws.client("secretsmanager").put_secret_value(
        SecretId=bench.template.physical_ids["OpenAIApiKeySecret"],
        SecretString=json.dumps({"api_key": API_KEY}),
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
        "events/session/create.json",
        env=UPSTREAM,
        baseline=True,
        iterations=100,
        prepare=store_api_key,
        note="cold = import (FastAPI, openai, botocore) + first session (secrets read, client, MCP token)",
    ),
    Case(
        SESSION,
        "openai SDK call alone (the upstream floor)",
        "local/bench/peers/openai_session.py:handler",
        "events/session/create.json",
        env={**UPSTREAM, "OPENAI_API_KEY": API_KEY},
        iterations=100,
        note="ours warm − this row's warm = what SessionFunction adds over the upstream call",
    ),
    Case(
        SESSION,
        "seed route: new OpenAI client per request",
        "local/bench/peers/seed_session.py:handler",
        "events/session/create.json",
        env={**UPSTREAM, "OPENAI_API_KEY": API_KEY},
        iterations=100,
        note="the FastAPI version this replaces (its report's code), on Mangum",
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
                env=UPSTREAM if logical_id == "SessionFunction" else {},
                baseline=logical_id == "HealthFunction",
                iterations=20,
                prepare=store_api_key if logical_id == "SessionFunction" else None,
            )
        )
