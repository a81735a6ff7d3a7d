"""One warm chat turn through `make dev`: what the server adds to the model's own time, and the
DynamoDB requests the turn makes.

A turn is what most turns of a todo chat are: the model calls ``list_tasks``, then answers. The
model is an instant Responses stand-in in this process (tests/support/fake_responses_api.py), so the
rows differ only by what sits between the client and the model. In the same run, on one stack
started for this group with OPENAI_BASE_URL pointing at the stand-in:

- the direct-SDK floor: the turn's two model calls (the tool call, then the answer, streamed),
  exactly as the agent sent them (instructions, history, tools), replayed straight from the
  ``openai`` SDK, client built once, right after each of our turns;
- ours: ``threads.add_user_message`` through the local gateway and ChatKitFunction's sandbox
  (DynamoDB on moto, the tool run in process), read to the stream's end on a kept-alive
  connection.

Ours p50 minus the floor's p50 is the server's per-turn overhead (target: at most 35 ms). The
DynamoDB requests of one extra turn are counted by moto's request recorder (every request that
reached DynamoDB, retries included), the tool call's among them.
"""

from __future__ import annotations

import base64
import http.client
import inspect
import json
import os
import secrets
import statistics
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local.bench.load import LoadGroup, Row, dev_stack, user_tokens

GROUP = "chat turn through make dev: list_tasks + answer (instant Responses stand-in)"
TURNS = 40
WARM_UP = 5
OVERHEAD_TARGET_MS = 35
TURN_BUDGET = 6  # DynamoDB requests a turn may make, plus one per tool call


def turn_group(turns: int = TURNS) -> LoadGroup:
    def measure(url: str, tokens_for: Callable[[list[str]], dict[str, str]]) -> list[Row]:
        from tests.support.fake_responses_api import call, fake_responses, text

        with fake_responses() as model, _environment(OPENAI_BASE_URL=model.url), dev_stack() as state:
            key = f"sk-bench-{secrets.token_hex(12)}"
            _store_openai_key(state, key)
            token = user_tokens(state, ["bench-turn"])["bench-turn"]
            answer = "You have no tasks yet."

            def script_turn() -> None:
                model.script(call("list_tasks"), text(answer, pieces=1, pause=0))

            chat = _Chat(state["url"], token)
            script_turn()
            thread_id = chat.create("What is on my list?")
            floor_client = _FloorClient(model.url, key)
            ours: list[float] = []
            floor: list[float] = []
            for index in range(WARM_UP + turns):
                # Ours, then the same two model requests replayed from the SDK: the same machine
                # moment for both rows.
                script_turn()
                sent = len(model.requests)
                took = chat.turn(thread_id, "And now?")
                script_turn()
                replayed = floor_client.replay(model.requests[sent : sent + 2])
                if index >= WARM_UP:
                    ours.append(took)
                    floor.append(replayed)
            floor_client.close()
            script_turn()
            requests, tool_calls = _counted_turn(state, chat, thread_id)
            chat.close()

        overhead = statistics.median(ours) - statistics.median(floor)
        counted = ", ".join(f"{name} ×{count}" for name, count in sorted(requests.items()))
        total = sum(requests.values())
        return [
            Row(
                GROUP,
                "openai SDK: the two model calls alone (floor)",
                statistics.median(floor),
                _p99(floor),
                baseline=True,
                note="the turn's own two Responses requests (history, tools and all), replayed with responses.create",
            ),
            Row(
                GROUP,
                "ChatKitFunction threads.add_user_message",
                statistics.median(ours),
                _p99(ours),
                note=(
                    f"server overhead {overhead:.1f} ms a turn (p50 − floor p50; target ≤ {OVERHEAD_TARGET_MS} ms); "
                    f"DynamoDB requests in one turn: {total} ({counted}); {tool_calls} for the tool call, "
                    f"{total - tool_calls} for the turn (budget {TURN_BUDGET})"
                ),
            ),
        ]

    return LoadGroup(GROUP, measure)


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


@contextmanager
def _environment(**values: str) -> Iterator[Path]:
    """``values`` in this process's environment (which `make dev` inherits) for the block, and
    moto's request recorder writing into a folder of its own."""
    folder = Path(tempfile.mkdtemp(prefix="bench-turn-"))
    values = {**values, "MOTO_RECORDER_FILEPATH": str(folder / "requests.jsonl")}
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield folder
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _store_openai_key(state: dict[str, Any], key: str) -> None:
    from local.stack import LocalAws

    aws = LocalAws(state["aws_endpoint_url"], state["region"])
    aws.client("secretsmanager").put_secret_value(
        SecretId=state["resources"]["OpenAIApiKeySecret"], SecretString=json.dumps({"api_key": key})
    )


class _FloorClient:
    """The openai SDK alone (client built once), sending exactly the requests the agent sent."""

    def __init__(self, base_url: str, key: str) -> None:
        import openai

        self.client = openai.OpenAI(api_key=key, base_url=base_url, max_retries=0)
        self.accepted = set(inspect.signature(self.client.responses.create).parameters)

    def replay(self, requests: list[dict[str, Any]]) -> float:
        started = time.perf_counter()
        for request in requests:
            known = {k: v for k, v in request.items() if k in self.accepted}
            extra = {k: v for k, v in request.items() if k not in self.accepted}
            for _ in self.client.responses.create(**known, extra_body=extra or None):
                pass
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.client.close()


class _Chat:
    """POST /chatkit on one kept-alive connection, each stream read to its end."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port or 80, timeout=60
        )
        self.headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}

    def _post(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        self.connection.request("POST", "/chatkit", body=json.dumps(body), headers=self.headers)
        response = self.connection.getresponse()
        raw = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST /chatkit answered {response.status}: {raw[:300]!r}")
        events = [
            json.loads(block[len(b"data: ") :]) for block in raw.split(b"\n\n") if block.startswith(b"data: ")
        ]
        if (
            not events
            or events[-1].get("type") != "thread.item.done"
            or any(e.get("type") == "error" for e in events)
        ):
            raise RuntimeError(f"the turn did not finish with its answer: {[e.get('type') for e in events]}")
        return events

    def create(self, message: str) -> str:
        events = self._post({"type": "threads.create", "params": {"input": _message(message)}})
        return str(events[0]["thread"]["id"])

    def turn(self, thread_id: str, message: str) -> float:
        started = time.perf_counter()
        self._post(
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": _message(message)},
            }
        )
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.connection.close()


def _message(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}


def _counted_turn(state: dict[str, Any], chat: _Chat, thread_id: str) -> tuple[Counter[str], int]:
    """One more turn with moto's recorder on: DynamoDB's operations, and those on TasksTable."""
    aws = state["aws_endpoint_url"]

    def recorder(action: str) -> bytes:
        method = "GET" if action == "download-recording" else "POST"
        with urllib.request.urlopen(
            urllib.request.Request(f"{aws}/moto-api/recorder/{action}", method=method), timeout=10
        ) as reply:
            return reply.read()

    recorder("reset-recording")
    recorder("start-recording")
    try:
        chat.turn(thread_id, "One more time?")
    finally:
        recorder("stop-recording")
    operations: Counter[str] = Counter()
    tool_calls = 0
    tasks_table = state["resources"]["TasksTable"]
    for line in recorder("download-recording").splitlines():
        entry = json.loads(line)
        target = {k.lower(): v for k, v in entry["headers"].items()}.get("x-amz-target", "")
        if not target.startswith("DynamoDB_"):
            continue
        operations[target.split(".", 1)[1]] += 1
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode()
        tool_calls += f'"{tasks_table}"' in body
    return operations, tool_calls


CASES: list = []
LOAD_GROUPS = [turn_group()]
