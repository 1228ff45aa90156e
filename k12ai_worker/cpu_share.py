"""A job's share of the host's cores (the spec's ``cpu_threads``): concurrent jobs do not oversubscribe them.

BLAS (OpenBLAS, MKL), OpenMP and PyTorch size their thread pools when they load,
from these variables: ``limit_threads`` runs before anything numeric is imported.
``threads_report`` says, at the end, what the pools that did load really used.
"""

from __future__ import annotations

import os
import sys
from typing import Any

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def limit_threads(threads: int) -> None:
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


def threads_report(threads: int) -> dict[str, Any]:
    """An ``info`` payload: the share, and the threads of each native pool this job loaded."""
    from threadpoolctl import threadpool_info

    used: dict[str, int] = {}
    for pool in threadpool_info():
        used[str(pool.get("internal_api"))] = int(pool.get("num_threads") or 0)
    torch = sys.modules.get("torch")
    if torch is not None:
        used["torch"] = int(torch.get_num_threads())
    shown = ", ".join(f"{name} {count}" for name, count in sorted(used.items())) or "no native pool loaded"
    return {"message": f"CPU share {threads} thread(s): {shown}", "cpu_threads": threads, "threads": used}
