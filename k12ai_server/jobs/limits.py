"""What one job and one user may hold (README, "Limits"), and each job's share of the CPU."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class JobLimits:
    # Jobs running at once; more wait queued.
    max_running: int
    # Jobs one user may run at once; the user's others wait queued while other users' jobs go first.
    max_running_per_user: int
    # A job still running this long after it started is stopped and fails; 0 is no limit.
    time_limit_s: float
    stop_grace_s: float
    # Threads each job's PyTorch and BLAS use (the spec's cpu_threads).
    cpu_threads: int


# With Ray the cluster places jobs and holds the rest PENDING (k12ai shows them queued with Ray's
# reason): k12ai's own slots only bound what one server tracks.
CLUSTER_RUNNING_JOBS = 1000


def running_slots(configured: int, runner: str) -> int:
    """``--max-running-jobs``, or by default: this host's cores, or CLUSTER_RUNNING_JOBS with Ray."""
    if configured > 0:
        return configured
    return CLUSTER_RUNNING_JOBS if runner == "ray" else os.cpu_count() or 1


def default_per_user(max_running: int) -> int:
    """All slots but one: a user alone on the host still runs in parallel, and one slot stays for others."""
    return max(1, max_running - 1)


def cpu_share(*, host_cpus: int, max_running: int, runner_cpus: float = 0.0) -> int:
    """Threads for one job: the runner's CPU limit if it has one, else the host's cores over the slots."""
    if runner_cpus > 0:
        return max(1, math.floor(min(runner_cpus, host_cpus)))
    return max(1, host_cpus // max(1, max_running))
