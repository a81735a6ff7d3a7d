"""The hosted-thread import: items imported per second, beside what reading and writing alone cost.

A stand-in for OpenAI's ChatKit threads API (local/standins/openai.py) runs in the bench
process for the whole run. It serves THREADS threads of ITEMS items of every kind but client
tool calls, and lists them under new ids on each call (``fresh_generations``), so every call is
a first import of all of them, written to ChatKitTable in the bench's moto. The second group
adds a delay to every answer, standing in for OpenAI's round trip, which is what a real run's
time is made of: docs/migration.md turns its rows into time per 1,000 threads.
"""

from __future__ import annotations

import atexit
import json
import secrets
from contextlib import ExitStack

from local.bench.runner import Bench, Case
from local.standins.openai import CARD, HostedChatKit, hosted_chatkit, input_text, reply
from local.template import STACK_NAME

THREADS, ITEMS = 20, 25
ROUND_TRIP_SECONDS = 0.15
API_KEY = f"sk-bench-{secrets.token_hex(12)}"  # generated per run, known only to the stand-ins' callers


# The bench process holds the stand-ins open until it exits. They are closed at exit, while
# their server threads still run: left to the interpreter's shutdown, closing one waits for a
# thread that is already gone and the bench never exits.
SERVING = ExitStack()
atexit.register(SERVING.close)


def seeded(latency: float) -> HostedChatKit:
    hosted = SERVING.enter_context(hosted_chatkit(API_KEY, latency=latency, fresh_generations=True))
    for index in range(THREADS):
        at = 1_793_000_000 + index * 600
        thread_id = hosted.add_thread(f"bench-user-{index % 5}", f"Thread {index}", at)
        for position in range(ITEMS):
            at += position % 2
            if position % 8 == 5:
                hosted.add_item(thread_id, "widget", at, widget=json.dumps(CARD))
            elif position % 8 == 6:
                hosted.add_item(
                    thread_id,
                    "task",
                    at,
                    task_type="custom",
                    heading="Called add_task",
                    summary="Buy milk, 2 litres",
                )
            elif position % 8 == 7:
                hosted.add_item(
                    thread_id,
                    "task_group",
                    at,
                    tasks=[{"type": "thought", "heading": "Planning", "summary": "Check the list first"}],
                )
            elif position % 2 == 0:
                words = f"Please add item {position} to my list, and remind me about it tomorrow morning before work."
                hosted.add_item(
                    thread_id,
                    "user_message",
                    at,
                    content=[input_text(words)],
                    attachments=[],
                    inference_options=None,
                )
            else:
                hosted.add_item(
                    thread_id,
                    "assistant_message",
                    at,
                    content=[reply(f"Added item {position}. I will remind you tomorrow at 8:00.")],
                )
    return hosted


# Started on import: cases are plain data, and the stand-ins must outlive every probe process.
LOOPBACK = seeded(0.0)
ROUND_TRIP = seeded(ROUND_TRIP_SECONDS)
WORK = (THREADS * ITEMS, "items")
EVENT = "events/import_hosted_threads/all_users.json"
TABLE = {"CHATKIT_TABLE": f"{STACK_NAME}-ChatKitTable"}
FAST = f"hosted import: {THREADS} threads × {ITEMS} items a call (stand-in on loopback)"
SLOW = f"hosted import: {THREADS} threads × {ITEMS} items a call, {ROUND_TRIP_SECONDS * 1000:.0f} ms per OpenAI answer"


def store_api_key(bench: Bench) -> None:
    bench.aws.client("secretsmanager").put_secret_value(
        SecretId=bench.template.physical_ids["OpenAIApiKeySecret"],
        SecretString=json.dumps({"api_key": API_KEY}),
    )


def rows(group: str, stand_in: HostedChatKit, iterations: int) -> list[Case]:
    upstream = {"OPENAI_BASE_URL": stand_in.url}
    peer = {**upstream, **TABLE, "OPENAI_API_KEY": API_KEY, "IMPORT_CONCURRENCY": "4"}
    cases = [
        Case(
            group,
            "ImportHostedThreadsFunction (ours)",
            "ImportHostedThreadsFunction",
            EVENT,
            env=upstream,
            baseline=True,
            iterations=iterations,
            prepare=store_api_key,
            work=WORK,
            note="a call: list threads, 4 threads at a time: read the mark, the thread, the items; convert; BatchWriteItem",
        ),
        Case(
            group,
            "read floor: SDK listing only, 4 at a time",
            "local/bench/peers/import_read_floor.py:handler",
            EVENT,
            env=peer,
            iterations=iterations,
            work=WORK,
            note="what OpenAI's answers cost; ours minus this = conversion + DynamoDB",
        ),
    ]
    if stand_in is LOOPBACK:
        cases.append(
            Case(
                group,
                "write floor: BatchWriteItem of our records only",
                "local/bench/peers/import_write_floor.py:handler",
                EVENT,
                env=peer,
                iterations=iterations,
                work=WORK,
                sys_path=("layers/shared/python",),
                note="the same records, prebuilt, 4 writers; ours minus this = reading, converting, checking",
            )
        )
    else:
        cases.append(
            Case(
                group,
                "ours, one thread at a time (IMPORT_CONCURRENCY=1)",
                "ImportHostedThreadsFunction",
                EVENT,
                env={**upstream, "IMPORT_CONCURRENCY": "1"},
                iterations=iterations,
                prepare=store_api_key,
                work=WORK,
            )
        )
    return cases


CASES = [*rows(FAST, LOOPBACK, iterations=8), *rows(SLOW, ROUND_TRIP, iterations=3)]
