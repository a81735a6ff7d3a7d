"""Lambda SnapStart: what a sandbox resumed from a snapshot must not share with its siblings.

With SnapStart, Lambda runs a function's init once, when a version is published, snapshots the
sandbox and resumes every new sandbox from that snapshot (docs/latency.md). Whatever init built
is then shared by all of them, so after a restore each sandbox replaces:

- its AWS clients (their connection pools and the credentials they resolved), via
  ``chatkit_backend.aws.clients.renew``;
- its OpenAI clients' connection pools, and every cached secret (a credential too), via the
  services' own ``restored`` methods, which the handlers register here;
- Python's ``random`` state, seeded once at import and so the same in every restored sandbox.
Ids and keys never come from ``random``: they come from ``os.urandom``/``secrets``/``uuid4`` at
the moment they are made, and those read the kernel's generator, which Lambda reseeds.

Hooks go into the registry of ``snapshot_restore_py``, the library Lambda's Python runtimes
include: the runtime runs them for a plain function. ChatKitFunction runs behind the Lambda Web
Adapter, a separate process that relays the two moments over HTTP instead; its app answers
those calls with ``before_snapshot()`` and ``after_restore()`` below, which run the same
registry in the runtime's order. Outside Lambda (tests, ``make dev``) the library is the pinned
PyPI copy, and the local stack calls the same two functions.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from chatkit_backend.observability.logs import logger

try:
    import snapshot_restore_py as _registry
except ImportError:  # pragma: no cover - Lambda's Python runtimes and requirements-dev.txt ship it
    _registry = None

_before: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
_after: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []


def register_before_snapshot(hook: Callable[[], Any]) -> Callable[[], Any]:
    """Run ``hook`` before Lambda snapshots the sandbox (in reverse order of registration)."""
    (_registry.register_before_snapshot if _registry else lambda f: _before.append((f, (), {})))(hook)
    return hook


def register_after_restore(hook: Callable[[], Any]) -> Callable[[], Any]:
    """Run ``hook`` when a sandbox resumes from the snapshot (in order of registration)."""
    (_registry.register_after_restore if _registry else lambda f: _after.append((f, (), {})))(hook)
    return hook


def before_snapshot() -> None:
    """What the runtime does before the snapshot: every before-snapshot hook, last registered first."""
    hooks = _registry.get_before_snapshot() if _registry else _before
    for hook, args, kwargs in reversed(hooks):
        hook(*args, **kwargs)


def after_restore() -> None:
    """What the runtime does after a restore: every after-restore hook, first registered first.

    A failing hook raises: Lambda (or the adapter, on a non-2xx answer) then fails the restore
    rather than serving requests from a sandbox that still holds the snapshot's clients.
    """
    hooks = _registry.get_after_restore() if _registry else _after
    for hook, args, kwargs in hooks:
        hook(*args, **kwargs)
    logger.info("restored from a SnapStart snapshot", extra={"hooks": len(hooks)})


def _reseed() -> None:
    random.seed()  # from os.urandom: this sandbox's own sequence


register_after_restore(_reseed)
