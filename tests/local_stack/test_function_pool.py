"""A function's sandboxes behave as Lambda's do: one invocation each, more as invocations overlap
(up to the limit), a crash or timeout replaces only that sandbox, and a cold start never holds
up the warm ones. Real sandbox processes, running a small handler written for the test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local.emulator.runtime import FunctionPool, Invocation, WorkerPool, concurrency_limit
from local.template import FunctionSpec

HANDLER = """
import os, time

# A slow init once the marker file exists: the cold start of every later sandbox.
if os.path.exists(os.environ["SLOW_INIT_MARKER"]):
    time.sleep(3)


def handler(event, context):
    if event.get("crash"):
        os._exit(1)
    time.sleep(event.get("sleep", 0))
    if event.get("hold"):
        open(event["hold"] + ".running", "w").close()
        while os.path.exists(event["hold"]):  # busy until the test lets go
            time.sleep(0.01)
    return {"pid": os.getpid()}
"""
PATIENCE = 60  # seconds to wait for a sandbox to start on a loaded machine


@pytest.fixture
def spec(tmp_path: Path) -> FunctionSpec:
    code = tmp_path / "function"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    return FunctionSpec(
        logical_id="TestFunction",
        code_dir=code,
        handler="app.handler",
        layer_dirs=(),
        environment={"SLOW_INIT_MARKER": str(tmp_path / "slow-init")},
        timeout=2,
        memory_mb=128,
    )


@pytest.fixture
def pool(spec: FunctionSpec) -> Iterator[FunctionPool]:
    started = FunctionPool(spec, {**spec.environment}, "us-east-1", limit=2)
    yield started
    started.stop()


def until(condition: Any) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.01)


@dataclass
class Held:
    """An invocation in a thread that stays busy in its sandbox until ``let_go``."""

    pool: FunctionPool
    hold: Path
    outcomes: list[Invocation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.hold.touch()
        self.thread = threading.Thread(
            target=lambda: self.outcomes.append(self.pool.invoke({"hold": str(self.hold)}))
        )
        self.thread.start()

    @property
    def running(self) -> bool:
        return Path(f"{self.hold}.running").exists()

    def let_go(self) -> int:
        self.hold.unlink()
        self.thread.join(timeout=PATIENCE)
        return pid(self.outcomes[0])


def pid(outcome: Invocation) -> int:
    assert outcome.error is None, outcome.error
    return int(outcome.result["pid"])


def test_overlapping_invocations_get_their_own_sandboxes_up_to_the_limit(
    pool: FunctionPool, tmp_path: Path
) -> None:
    first, second = Held(pool, tmp_path / "first"), Held(pool, tmp_path / "second")
    until(lambda: first.running and second.running)
    third = Held(pool, tmp_path / "third")
    until(lambda: pool.waiting == 1)

    assert pool.size == 2 and not third.running
    pids = {first.let_go(), second.let_go()}
    until(lambda: third.running)
    assert third.let_go() in pids and len(pids) == 2 and pool.size == 2


def test_a_crash_replaces_only_that_sandbox(pool: FunctionPool, tmp_path: Path) -> None:
    busy = Held(pool, tmp_path / "busy")
    until(lambda: busy.running)
    crashed = pool.invoke({"crash": True})
    survivor = busy.let_go()

    assert crashed.error is not None and crashed.error["errorType"] == "Runtime.ExitError"
    # Both at once: one runs in the survivor's process still, the other in a fresh process.
    both = [Held(pool, tmp_path / "one"), Held(pool, tmp_path / "two")]
    until(lambda: all(held.running for held in both))
    pids = {held.let_go() for held in both}
    assert survivor in pids and len(pids) == 2


def test_a_timeout_ends_the_sandbox_and_the_next_invocation_gets_a_fresh_one(pool: FunctionPool) -> None:
    before = pid(pool.invoke({}))

    timed_out = pool.invoke({"sleep": 5})
    after = pid(pool.invoke({}))

    assert timed_out.error is not None and timed_out.error["errorType"] == "Sandbox.Timedout"
    assert after != before and pool.size == 1


def test_a_cold_start_does_not_hold_up_the_warm_sandbox(
    pool: FunctionPool, spec: FunctionSpec, tmp_path: Path
) -> None:
    warm = pid(pool.invoke({}))
    Path(spec.environment["SLOW_INIT_MARKER"]).touch()  # from now on a new sandbox takes 3 s to start
    busy = Held(pool, tmp_path / "busy")
    until(lambda: busy.running)
    finished: list[str] = []
    cold = threading.Thread(target=lambda: (pool.invoke({}), finished.append("cold")))
    cold.start()
    until(lambda: pool.size == 2)

    assert busy.let_go() == warm
    # The warm sandbox is free again while the new one still starts: it serves at once.
    assert pid(pool.invoke({})) == warm
    finished.append("warm again")
    cold.join(timeout=PATIENCE)
    assert finished == ["warm again", "cold"]


def test_waiting_requests_are_served_first_come_first_served() -> None:
    pool: WorkerPool[Any] = WorkerPool("Test", lambda: object(), limit=1)
    only = pool.acquire()
    order: list[int] = []

    def request(n: int) -> None:
        worker = pool.acquire()
        order.append(n)
        pool.release(worker)

    threads = []
    for n in range(5):
        threads.append(threading.Thread(target=request, args=(n,)))
        threads[-1].start()
        until(lambda n=n: pool.waiting == n + 1)
    pool.release(only)
    for thread in threads:
        thread.join(timeout=10)

    assert order == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(("raw", "limit"), [("", 8), ("1", 1), ("32", 32)])
def test_the_limit_comes_from_local_function_concurrency(raw: str, limit: int) -> None:
    assert concurrency_limit({"LOCAL_FUNCTION_CONCURRENCY": raw}) == limit


@pytest.mark.parametrize("raw", ["0", "-1", "eight", "2.5"])
def test_a_limit_that_is_no_whole_number_above_zero_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="LOCAL_FUNCTION_CONCURRENCY"):
        concurrency_limit({"LOCAL_FUNCTION_CONCURRENCY": raw})
