"""A function as a sandbox resumed from its SnapStart snapshot runs it.

The measured import is the function's init, which SnapStart runs once, at publish time, and
keeps in the snapshot. The first call then does what a restored sandbox does before and during
its first request: the after-restore hooks (Lambda runs them before the invoke, inside the
restore) and the request itself. So the "1st call" column is what a restored sandbox still pays.

BENCH_RESTORED_MODULE names the module whose ``handler`` to call: ``app`` (a plain function's
handler module) or ``chatkit_asgi`` (ChatKitFunction's app, called as the adapter calls it).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

_handler = importlib.import_module(os.environ["BENCH_RESTORED_MODULE"]).handler  # the measured import (init)

from chatkit_backend.aws import snapstart

_restored = False


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _restored
    if not _restored:
        snapstart.after_restore()
        _restored = True
    return _handler(event, context)
