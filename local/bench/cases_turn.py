"""One warm chat turn: what the server adds to the model's own time, the DynamoDB round trips it
waits for, and what the same turn would take in AWS.

A turn is what most turns of a todo chat are: the model calls ``list_tasks`` (the user has two
tasks to do and one done, so every turn's widget lists three), then answers. The model is an instant Responses stand-in in this process (local/standins/openai.py), so the
rows differ only by what sits between the client and the model. In the same run, on one stack
started for this group with OPENAI_BASE_URL pointing at the stand-in:

- the direct-SDK floor: the turn's two model calls (the tool call, then the answer, streamed),
  exactly as the agent sent them (instructions, history, tools), replayed straight from the
  ``openai`` SDK, client built once, right after each of our turns;
- the same floor with ``input`` and ``tools`` sent as given (through ``extra_body``), as
  ChatKitFunction sends them (chat/responses_client.py): the SDK without its walk over the two
  lists, so that what ChatKitFunction saves by skipping it is not counted as a cut of its own work;
- ours: ``threads.add_user_message`` through the local gateway and ChatKitFunction's sandbox
  (DynamoDB on moto, the tool run in process), read to the stream's end on a kept-alive
  connection;
- ours in process: the same request on a thread of its own, to ChatKitFunction's ASGI app loaded
  in this process and called as the Lambda Web Adapter calls it (``local.emulator.runtime.load_handler``),
  against the same moto and stand-in: what the function's own code adds, without the gateway's
  hop and the sandbox pool;
- the turn's DynamoDB round trips alone: the requests of the round trips the in-process turn
  waited for, recorded as botocore built them, replayed from this process on the same moto, those
  the turn sent together again together.

What the in-process turn waited for DynamoDB is the time when one of its requests was under way
(botocore's before-call to after-call), the event loop sat idle (in ``select``) and no model call
was under way (the stand-in's spans): a request that goes out while the agent prepares or makes a
model call (the user's message, written meanwhile) costs the turn nothing. A round trip the turn
waited for is a group of requests sent together during most of which it waited so. Then:

- **the server's own work** = the in-process turn − its DynamoDB wait − the floor sent as given,
  turn by turn (target: at most 10 ms);
- **the round trips** it waited for (target: 2, plus 1 per tool call: the turn here has one);
- **the modelled latency in AWS** = the server's own work + those round trips × DynamoDB's
  published in-region latency (``DYNAMODB_ROUND_TRIP_MS``, docs/latency.md says where it is from),
  beside the turn through `make dev` (which waits for moto instead).

The DynamoDB requests of one extra turn are counted by moto's request recorder (every request
that reached DynamoDB, retries included), the tool call's among them.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import inspect
import json
import os
import secrets
import selectors
import statistics
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from local import sse
from local.bench.load import LOAD_CALLS_PER_MINUTE, LoadGroup, Row, dev_stack, user_tokens

if TYPE_CHECKING:
    from local.template import FunctionSpec

GROUP = "chat turn through make dev: list_tasks + answer (instant Responses stand-in)"
TURNS = 40
WARM_UP = 5
OWN_WORK_TARGET_MS = 10
TURN_BUDGET = 6  # DynamoDB requests a turn may make, plus one per tool call
ROUND_TRIP_TARGET = 2  # round trips a turn may wait for, plus one per tool call
# AWS: "For most atomic operations, such as GetItem and PutItem, an average latency is in
# single-digit milliseconds" (AWS re:Post Knowledge Center, read 2026-12-06; docs/latency.md):
# the model takes the top of that range for every round trip, Query and BatchWriteItem included.
DYNAMODB_ROUND_TRIP_MS = 10.0


def modelled_ms(own_ms: float, round_trips: float) -> float:
    """A request's time in AWS: the server's own work + the DynamoDB round trips it waits for, each
    at ``DYNAMODB_ROUND_TRIP_MS``."""
    return own_ms + round_trips * DYNAMODB_ROUND_TRIP_MS


def turn_group(turns: int = TURNS) -> LoadGroup:
    def measure(url: str, tokens_for: Callable[[list[str]], dict[str, str]]) -> list[Row]:
        from local.standins.openai import call, fake_responses, text

        # One user's 45 turns in well under a minute: over a real user's per-minute limit, lifted.
        limits = {"CHATKIT_MESSAGES_PER_MINUTE": str(LOAD_CALLS_PER_MINUTE)}
        with (
            fake_responses() as model,
            _environment(OPENAI_BASE_URL=model.url, **limits),
            dev_stack() as state,
        ):
            key = f"sk-bench-{secrets.token_hex(12)}"
            _store_openai_key(state, key)
            token = user_tokens(state, ["bench-turn"])["bench-turn"]
            answer = "You have two tasks to do and one done."

            def script_turn() -> None:
                model.script(call("list_tasks"), text(answer, pieces=1, pause=0))

            local = _InProcess(state, model)
            for user in ("bench-turn", local.USER):
                local.seed_tasks(user)
            chat = _Chat(state["url"], token)
            script_turn()
            thread_id = chat.create("What is on my list?")
            script_turn()
            local_thread = local.create("What is on my list?")
            floor_client = _FloorClient(model.url, key)
            ours: list[float] = []
            floor: list[float] = []
            floor_as_given: list[float] = []
            dynamodb_alone: list[float] = []
            alone = _DynamoDBAlone(state)
            in_process: list[_Turn] = []
            own_work: list[float] = []
            for index in range(WARM_UP + turns):
                # Ours, the same two model requests replayed from the SDK, then ours in process:
                # the same machine moment for the rows.
                script_turn()
                sent = len(model.requests)
                took = chat.turn(thread_id, "And now?")
                script_turn()
                replayed = floor_client.replay(model.requests[sent : sent + 2])
                script_turn()
                replayed_as_given = floor_client.replay(model.requests[sent : sent + 2], as_given=True)
                script_turn()
                here = local.turn(local_thread, "And now?")
                replayed_requests = alone.replay(here.waited_rounds)
                if index >= WARM_UP:
                    ours.append(took)
                    floor.append(replayed)
                    floor_as_given.append(replayed_as_given)
                    in_process.append(here)
                    own_work.append(here.took_ms - here.waited_ms - replayed_as_given)
                    dynamodb_alone.append(replayed_requests)
            floor_client.close()
            local.close()
            alone.close()
            script_turn()
            requests, tool_calls = _counted_turn(state, chat, thread_id)
            chat.close()

        floor_p50, here_p50 = statistics.median(floor), statistics.median(t.took_ms for t in in_process)
        as_given_p50, ours_p50 = statistics.median(floor_as_given), statistics.median(ours)
        alone_p50, own_p50 = statistics.median(dynamodb_alone), statistics.median(own_work)
        waited = [len(t.waited_rounds) for t in in_process]
        waited_p50 = statistics.median(waited)
        last = in_process[-1]
        counted = ", ".join(f"{name} ×{count}" for name, count in sorted(requests.items()))
        total = sum(requests.values())
        modelled = [modelled_ms(own, len(t.waited_rounds)) for own, t in zip(own_work, in_process)]
        return [
            Row(
                GROUP,
                "openai SDK: the two model calls alone (floor)",
                floor_p50,
                _p99(floor),
                baseline=True,
                note="the turn's own two Responses requests (history, tools and all), replayed with responses.create",
            ),
            Row(
                GROUP,
                "openai SDK, input and tools sent as given",
                as_given_p50,
                _p99(floor_as_given),
                note="the same two requests, input and tools through extra_body as ChatKitFunction sends them",
            ),
            Row(
                GROUP,
                "the turn's DynamoDB round trips alone (moto)",
                alone_p50,
                _p99(dynamodb_alone),
                note=(
                    f"the requests of the round trips the in-process turn waited for ({_shape(last.waited_rounds)}), "
                    f"replayed with boto3 on the stack's moto ({alone.refused} of all replays refused by a condition)"
                ),
            ),
            Row(
                GROUP,
                "ChatKitFunction app in process (no gateway)",
                here_p50,
                _p99([t.took_ms for t in in_process]),
                note=(
                    f"the app as the adapter calls it, no gateway: waiting for DynamoDB (moto) "
                    f"{statistics.median(t.waited_ms for t in in_process):.1f} ms a turn (p50); its requests: "
                    f"{_shape(last.rounds)}"
                ),
            ),
            Row(
                GROUP,
                "the server's own work (in process)",
                own_p50,
                _p99(own_work),
                note=(
                    f"turn by turn: in process − its DynamoDB wait − the floor sent as given "
                    f"(target ≤ {OWN_WORK_TARGET_MS} ms)"
                ),
            ),
            Row(
                GROUP,
                "DynamoDB round trips the turn waits for",
                waited_p50,
                max(waited),
                unit="round trips",
                note=(
                    f"{dict(sorted(Counter(waited).items()))} (round trips: turns); target ≤ {ROUND_TRIP_TARGET} "
                    f"+ 1 per tool call (this turn makes {tool_calls})"
                ),
            ),
            Row(
                GROUP,
                "ChatKitFunction threads.add_user_message",
                ours_p50,
                _p99(ours),
                note=(
                    f"through make dev: {ours_p50 - as_given_p50:.1f} ms over the SDK sending as it does, "
                    f"{ours_p50 - as_given_p50 - alone_p50:.1f} ms over that and the DynamoDB round trips alone, "
                    f"{ours_p50 - here_p50:.1f} ms of it the gateway's hop and the sandbox pool; "
                    f"DynamoDB requests in one turn: {total} ({counted}); {tool_calls} for the tool call, "
                    f"{total - tool_calls} for the turn (budget {TURN_BUDGET})"
                ),
            ),
            Row(
                GROUP,
                "modelled in AWS: own work + round trips",
                statistics.median(modelled),
                _p99(modelled),
                note=(
                    f"the server's own work + the round trips it waits for × {DYNAMODB_ROUND_TRIP_MS:.0f} ms "
                    f"(DynamoDB's published single-digit ms, at its top; +{waited_p50:.0f} ms per ms more); "
                    f"beside {ours_p50 - as_given_p50:.1f} ms through make dev on moto (its p50 − the floor sent as "
                    "given); the model and API Gateway not counted"
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
    from local.emulator.stack import LocalAws

    aws = LocalAws(state["aws_endpoint_url"], state["region"])
    aws.client("secretsmanager").put_secret_value(
        SecretId=state["resources"]["OpenAIApiKeySecret"], SecretString=json.dumps({"api_key": key})
    )


class _IdleTimed(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The loop's selector, recording (began, ended) of each wait in ``idle``: when the loop sits idle."""

    def __init__(self, idle: Spans) -> None:
        super().__init__()
        self._spans = idle

    def select(self, timeout: float | None = None) -> Any:
        began = time.perf_counter()
        try:
            return super().select(timeout)
        finally:
            self._spans.append((began, time.perf_counter()))


class _FloorClient:
    """The openai SDK alone (client built once), sending exactly the requests the agent sent."""

    def __init__(self, base_url: str, key: str) -> None:
        import openai

        self.client = openai.OpenAI(api_key=key, base_url=base_url, max_retries=0)
        self.accepted = set(inspect.signature(self.client.responses.create).parameters)

    def replay(self, requests: list[dict[str, Any]], as_given: bool = False) -> float:
        """The time to make ``requests`` and read their streams; ``as_given``: input and tools
        through ``extra_body``, as ChatKitFunction's client sends them."""
        # ChatKitFunction's own list (its module is importable once _InProcess loaded the function).
        from chatkit_backend.chat.responses_client import AS_GIVEN

        sent_as_is = AS_GIVEN if as_given else ()
        started = time.perf_counter()
        for request in requests:
            known = {k: v for k, v in request.items() if k in self.accepted and k not in sent_as_is}
            extra = {k: v for k, v in request.items() if k not in known}
            for _ in self.client.responses.create(**known, extra_body=extra or None):
                pass
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.client.close()


@dataclass
class LoadedFunction:
    """A function's handler loaded in this process, its environment in ``os.environ``."""

    spec: FunctionSpec
    handler: Callable[[dict[str, Any], Any], Any]
    environ_before: dict[str, str]

    def restore_environment(self) -> None:
        """``os.environ`` as it was before the function's environment went in."""
        os.environ.clear()
        os.environ.update(self.environ_before)


def load_function(state: dict[str, Any], logical_id: str, loop: Any = None) -> LoadedFunction:
    """``logical_id``'s handler loaded in this process (``local.emulator.runtime.load_handler``; a
    web app's events on ``loop``) on the stack in ``state``, with the function's environment and
    the stack's AWS in ``os.environ`` (the function reads some of it per request) until
    ``restore_environment``."""
    from local.emulator.resources import FAKE_CREDENTIALS
    from local.emulator.runtime import function_environment, load_handler
    from local.template import Template

    # The variables `make dev` was started with (the stand-in's URL, the lifted limits).
    template = Template.from_environment(dict(os.environ))
    template.physical_ids = dict(state["resources"])
    spec = template.functions()[logical_id]
    # LocalAws(...).environment(), written out: importing local.emulator.stack (moto, boto3) would
    # add some 10 MB to the memory group's probe process, whose peak RSS it reports.
    aws = {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": state["aws_endpoint_url"],
        "AWS_DEFAULT_REGION": state["region"],
    }
    before = dict(os.environ)
    os.environ.update(function_environment(spec, aws, state["region"]))
    try:
        return LoadedFunction(spec, load_handler(spec, loop), before)
    except BaseException:
        os.environ.clear()
        os.environ.update(before)
        raise


class DynamoDBRecorder:
    """The app's DynamoDB requests as botocore builds them, and when each was under way
    (``requests``; whoever reads them clears the list first)."""

    def __init__(self, clients: tuple[Any, ...]) -> None:
        self.clients = clients  # kept: their ids key the recorder
        self.requests: list[_Request] = []
        for client in clients:
            events = client.meta.events
            events.register("before-parameter-build.dynamodb", self._building)
            events.register("before-call.dynamodb", self._started)
            events.register("after-call.dynamodb", self._finished)

    @staticmethod
    def _building(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        # The call's own keyword arguments, not copied: nothing changes them once they are sent.
        context["bench_request"] = (model.name, params)

    @staticmethod
    def _started(context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()

    def _finished(self, context: dict[str, Any], **_: Any) -> None:
        operation, params = context["bench_request"]
        began = context.get("bench_started", time.perf_counter())
        self.requests.append(_Request(operation, params, began, time.perf_counter()))


_recorders: dict[tuple[int, ...], DynamoDBRecorder] = {}


def dynamodb_recorder() -> DynamoDBRecorder:
    """The recorder on the app's DynamoDB clients (the store's and the tools', and the usage
    limits' fail-fast one), once per client: the clients are cached for the process, and a second
    recorder on them would time every request again."""
    # The app's own module, imported by load_function.
    from chatkit_backend.aws import clients as aws_clients

    clients = tuple(aws_clients.client("dynamodb", fail_fast=fail_fast) for fail_fast in (False, True))
    key = tuple(id(client) for client in clients)
    if key not in _recorders:
        _recorders[key] = DynamoDBRecorder(clients)
    return _recorders[key]


class _InProcess:
    """ChatKitFunction's ASGI app in this process, called as the Lambda Web Adapter calls it, on
    the stack's moto and the stand-in; its DynamoDB requests timed on botocore's events, its event
    loop's idle time on the loop's selector. ``model``: the stand-in, whose spans tell the model
    calls apart (None when it runs in another process: a turn's waits then all count)."""

    USER = "bench-turn-in-process"

    def __init__(self, state: dict[str, Any], model: Any) -> None:
        self._idle: Spans = []
        # The loop every event runs on, over a selector that records when the loop sits idle.
        self._function = load_function(
            state, "ChatKitFunction", asyncio.SelectorEventLoop(_IdleTimed(self._idle))
        )
        self.handler = self._function.handler
        self.model = model
        self.recorder = dynamodb_recorder()

    def _post(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        from local.emulator.events import rest_request_context

        headers = {"content-type": "application/json"}
        context = rest_request_context("POST", "/chatkit", "/chatkit", "dev", headers, "127.0.0.1")
        context["authorizer"] = {"principalId": self.USER, "user_id": self.USER, "token_use": "user"}
        event = {
            "httpMethod": "POST",
            "path": "/chatkit",
            "headers": headers,
            "body": json.dumps(body),
            "requestContext": context,
        }
        # The handler's call only: building the event and reading the stream are the client's work.
        began = time.perf_counter()
        result = self.handler(event, None)
        self.last_call = (began, time.perf_counter())
        # What the last request streamed back (the cost group's data transfer out).
        self.last_body_bytes = len(result["body"].encode())
        return _events(result["statusCode"], result["body"].encode())

    def create(self, message: str) -> str:
        events = self._post({"type": "threads.create", "params": {"input": _message(message)}})
        return str(events[0]["thread"]["id"])

    @staticmethod
    def seed_tasks(user_id: str) -> None:
        """What a user of a todo app has: two tasks to do (one with a description), one done."""
        from chatkit_backend.tasks.service import TaskService

        tasks = TaskService(os.environ["TASKS_TABLE"])
        tasks.add_task(user_id, "Buy milk", "2 litres")
        tasks.add_task(user_id, "Call mom", None)
        tasks.complete_task(user_id, tasks.add_task(user_id, "Pay rent", None).task_id)

    def turn(self, thread_id: str, message: str) -> _Turn:
        requests = self.recorder.requests
        requests.clear()
        self._idle.clear()
        self._post(
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": _message(message)},
            }
        )
        started, ended = self.last_call
        spans = self.model.spans if self.model is not None else []
        model = _merged(span for span in spans if started <= span[0] <= ended)
        # Waiting for DynamoDB: a request under way, the loop idle, and no model call under way.
        waiting = _without(
            _overlap(_merged((r.began, r.ended) for r in requests), _merged(self._idle)), model
        )
        rounds = _rounds(requests)
        waited = [
            batch
            for batch in rounds
            if 2 * _length(_overlap(_merged([_span(batch)]), waiting)) > _length([_span(batch)])
        ]
        return _Turn((ended - started) * 1000, _length(waiting) * 1000, rounds, waited)

    def close(self) -> None:
        self._function.restore_environment()


Spans = list[tuple[float, float]]


@dataclass
class _Request:
    """One DynamoDB request of a turn: its operation and parameters as botocore built them, and when
    it was under way (perf_counter seconds)."""

    operation: str
    params: dict[str, Any]
    began: float
    ended: float


@dataclass
class _Turn:
    """One in-process turn: its time, its DynamoDB wait (ms), its requests by round trip, and the
    round trips it waited for."""

    took_ms: float
    waited_ms: float
    rounds: list[list[_Request]]
    waited_rounds: list[list[_Request]]


def _rounds(requests: list[_Request]) -> list[list[_Request]]:
    """``requests`` in round trips: a request that began before every earlier one had ended went
    out together with them."""
    rounds: list[list[_Request]] = []
    reached = float("-inf")
    for request in sorted(requests, key=lambda r: r.began):
        if rounds and request.began < reached:
            rounds[-1].append(request)
        else:
            rounds.append([request])
        reached = max(reached, request.ended)
    return rounds


def _span(batch: list[_Request]) -> tuple[float, float]:
    return min(r.began for r in batch), max(r.ended for r in batch)


def _shape(rounds: list[list[_Request]]) -> str:
    """Round trips as their operations, e.g. "GetItem+Query, PutItem"."""
    return ", ".join("+".join(sorted(r.operation for r in batch)) for batch in rounds) or "none"


def _merged(spans: Iterable[tuple[float, float]]) -> Spans:
    """Time spans as disjoint, sorted spans covering the same moments."""
    merged: Spans = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def _overlap(a: Spans, b: Spans) -> Spans:
    """The moments in both (each disjoint and sorted)."""
    both: Spans = []
    i = j = 0
    while i < len(a) and j < len(b):
        begin, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if begin < end:
            both.append((begin, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return both


def _without(a: Spans, b: Spans) -> Spans:
    """The moments of ``a`` not in ``b`` (each disjoint and sorted)."""
    left: Spans = []
    for begin, end in a:
        for cut_begin, cut_end in b:
            if cut_end <= begin or cut_begin >= end:
                continue
            if cut_begin > begin:
                left.append((begin, cut_begin))
            begin = max(begin, cut_end)
            if begin >= end:
                break
        if begin < end:
            left.append((begin, end))
    return left


def _length(spans: Spans) -> float:
    return sum(end - begin for begin, end in spans)


class _DynamoDBAlone:
    """A turn's DynamoDB requests replayed with boto3 on the stack's moto, round by round, the
    requests of a round together (threads, as the function sends them). The writes put the same
    items again; a write refused by its condition still made its round trip, and is counted."""

    def __init__(self, state: dict[str, Any]) -> None:
        from local.emulator.stack import LocalAws

        self.client = LocalAws(state["aws_endpoint_url"], state["region"]).client("dynamodb")
        self.pool = ThreadPoolExecutor(max_workers=4)
        self.refused = 0

    def replay(self, rounds: list[list[_Request]]) -> float:
        started = time.perf_counter()
        for batch in rounds:
            for refused in self.pool.map(self._send, batch):
                self.refused += refused
        return (time.perf_counter() - started) * 1000

    def _send(self, request: _Request) -> bool:
        from botocore import xform_name
        from botocore.exceptions import ClientError
        from chatkit_backend.aws.clients import is_condition_failure

        try:
            getattr(self.client, xform_name(request.operation))(**request.params)
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            return True
        return False

    def close(self) -> None:
        self.pool.shutdown()


def _events(status: int, raw: bytes) -> list[dict[str, Any]]:
    """The SSE events of a turn's answer; an error unless it ended with the answer."""
    if status != 200:
        raise RuntimeError(f"POST /chatkit answered {status}: {raw[:300]!r}")
    events = sse.parse(raw)
    if (
        not events
        or events[-1].get("type") != "thread.item.done"
        or any(e.get("type") == "error" for e in events)
    ):
        raise RuntimeError(f"the turn did not finish with its answer: {[e.get('type') for e in events]}")
    return events


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
        return _events(response.status, response.read())

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
