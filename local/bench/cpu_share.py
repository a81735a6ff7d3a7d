"""A share of one CPU for a measured process, as Lambda gives a function a share by its memory.

Lambda allocates CPU in proportion to the memory configured: at 1,769 MB a function has the
equivalent of one vCPU (one vCPU-second of credit per second), below that a fraction of one
(AWS Lambda Developer Guide, "Configure Lambda function memory"; read 2026-12-06).

Here the share is a CFS bandwidth quota on a cgroup of its own that the measured process joins
before it starts (cgroup v2 ``cpu.max``, or cgroup v1 ``cpu.cfs_quota_us``; root is needed):
``quota = share x period``. What it models: a process that may run ``share`` of each period,
and is throttled for the rest of a period once it has used that, as a process under Lambda's
share is. What it does not: Lambda's own period and scheduler (AWS does not publish them; a short
burst that fits in one period runs at full speed here and may there too), the host's CPU (this
machine's cores, not Graviton2), and any other machine load beyond the process's own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Lambda: 1,769 MB of memory is one vCPU.
MB_PER_VCPU = 1769
# The quota is enforced per period; a short one throttles a burst sooner (see the docstring).
PERIOD_US = 20_000
V2_ROOT = Path("/sys/fs/cgroup")
V1_ROOT = Path("/sys/fs/cgroup/cpu")


class CpuShareUnavailable(RuntimeError):
    """This machine gives no writable cgroup CPU controller (not root, or none mounted)."""


def share_of(memory_mb: int) -> float:
    """The CPU share Lambda gives ``memory_mb`` of memory (over 1,769 MB: more than one vCPU)."""
    return memory_mb / MB_PER_VCPU


@contextmanager
def cpu_share(share: float) -> Iterator[Callable[[], None]]:
    """A cgroup limited to ``share`` of a CPU, for the block; yields a ``preexec_fn`` for
    ``subprocess`` that moves the starting child into it."""
    group, procs = _create(share)
    try:
        yield lambda: procs.write_text(str(os.getpid()))
    finally:
        group.rmdir()


def _create(share: float) -> tuple[Path, Path]:
    quota = max(1000, round(share * PERIOD_US))
    name = f"bench-{uuid.uuid4().hex[:8]}"
    controllers = V2_ROOT / "cgroup.controllers"
    try:
        if controllers.is_file() and "cpu" in controllers.read_text().split():
            group = V2_ROOT / name
            group.mkdir()
            (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            return group, group / "cgroup.procs"
        if (V1_ROOT / "cpu.cfs_quota_us").is_file():
            group = V1_ROOT / name
            group.mkdir()
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
            return group, group / "cgroup.procs"
    except OSError as error:
        raise CpuShareUnavailable(f"cannot create a CPU-limited cgroup: {error}") from None
    raise CpuShareUnavailable("no cgroup CPU controller is mounted (cgroup v2 cpu.max or v1 cpu)")
