"""SnapStart: what a sandbox restored from its snapshot still pays, for each snapshotted function.

Two rows per function, on the same event:
- the cold start without SnapStart (ours): a fresh process imports the function (its init) and
  serves the first request;
- restored from a snapshot (``peers/restored.py``): the init is the snapshot's (the import
  column, paid once at publish time), and the first call runs the after-restore hooks and then
  the request. Its "1st call" column is what a user waits for in a new sandbox, beside the
  cold row's import + 1st call.
"""

from local.bench.cases_chatkit import CHATKIT_ENV
from local.bench.cases_session import store_threads
from local.bench.runner import Case

CHATKIT = "SnapStart: ChatKitFunction's first request (threads.list), cold vs restored"
SESSION = "SnapStart: SessionFunction's first request, cold vs restored"
RESTORED = "local/bench/peers/restored.py:handler"
RESTORED_NOTE = "import = init, in the snapshot; 1st call = after-restore hooks + the request: what a restored sandbox pays"

CASES = [
    Case(
        CHATKIT,
        "ChatKitFunction cold, no SnapStart (ours)",
        "local/bench/peers/chatkit_asgi.py:handler",
        "events/chatkit/threads_list.json",
        env=CHATKIT_ENV,
        baseline=True,
        iterations=20,
        sys_path=("functions/chatkit", "layers/shared/python"),
        function_env="ChatKitFunction",
        note="a new sandbox without SnapStart pays import + 1st call",
    ),
    Case(
        CHATKIT,
        "ChatKitFunction restored from its snapshot",
        RESTORED,
        "events/chatkit/threads_list.json",
        env={**CHATKIT_ENV, "BENCH_RESTORED_MODULE": "chatkit_asgi"},
        iterations=20,
        sys_path=("local/bench/peers", "functions/chatkit", "layers/shared/python"),
        function_env="ChatKitFunction",
        note=RESTORED_NOTE,
    ),
    Case(
        SESSION,
        "SessionFunction cold, no SnapStart (ours)",
        "SessionFunction",
        "events/session/create.json",
        baseline=True,
        iterations=20,
        prepare=store_threads,
        note="a new sandbox without SnapStart pays import + 1st call (secret read, token, Query)",
    ),
    Case(
        SESSION,
        "SessionFunction restored from its snapshot",
        RESTORED,
        "events/session/create.json",
        env={"BENCH_RESTORED_MODULE": "app"},
        iterations=20,
        prepare=store_threads,
        sys_path=("functions/session", "layers/shared/python"),
        function_env="SessionFunction",
        note=RESTORED_NOTE,
    ),
]
