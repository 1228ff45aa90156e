"""How many earlier trainings a project keeps: a limit by count and by size, oldest removed first.

Applied when a training is admitted, so a project holds at most ``keep_runs`` run
folders with the new one, and the earlier ones at most ``keep_bytes``. The run whose
model is the project's latest ``model.tar.gz`` is never removed, nor a live training's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Mapping, Set
from dataclasses import dataclass
from pathlib import Path

from k12ai_contract.jobs import JobKind
from k12ai_contract.model_origin import read_model_origin
from k12ai_contract.rundir import ProjectDir
from k12ai_server.jobs.model import JobIdentity
from k12ai_server.jobs.store import JobStore

log = logging.getLogger(__name__)

# A project with more jobs than this orders the rest of its run folders by their age on disk.
_JOBS_READ = 10_000


@dataclass(frozen=True, kw_only=True)
class RetentionPolicy:
    # Run folders a project keeps, the new training's included; 0: no limit.
    keep_runs: int = 20
    # Bytes the earlier run folders of a project may take; 0: no limit.
    keep_bytes: int = 0


class RunRetention:
    def __init__(self, jobs: JobStore, policy: RetentionPolicy) -> None:
        self._jobs = jobs
        self._policy = policy

    async def make_room(self, ident: JobIdentity, cache_dir: Path) -> None:
        """Before a training of ``ident`` starts: remove the project's oldest runs beyond the limits."""
        if not (self._policy.keep_runs or self._policy.keep_bytes):
            return
        jobs = self._jobs.query(user=ident.user, service_uuid=ident.service_uuid, limit=_JOBS_READ)
        trainings = [j for j in jobs if j.identity.kind is JobKind.TRAIN]
        created = {j.job_id: j.created_at for j in trainings}
        live = {j.job_id for j in trainings if not j.state.is_terminal()}
        removed = await asyncio.to_thread(prune_runs, ProjectDir(cache_dir), self._policy, created, live)
        if removed:
            log.info("run retention removed %d run(s) of %s: %s", len(removed), cache_dir, ", ".join(removed))


def prune_runs(
    project: ProjectDir, policy: RetentionPolicy, created: Mapping[str, int], protected: Set[str]
) -> list[str]:
    """Removes run folders, oldest first, until the limits hold; returns their job ids."""
    if not project.runs.is_dir():
        return []
    latest = read_model_origin(project.latest_archive)
    keep = set(protected) | ({latest.job_id} if latest else set())
    runs = sorted(
        (created.get(path.name, _mtime_ms(path)), path) for path in project.runs.iterdir() if path.is_dir()
    )
    sizes = {path: _tree_bytes(path) for _, path in runs}
    count, total = len(runs), sum(sizes.values())
    removed: list[str] = []
    for _, path in runs:
        over_count = policy.keep_runs and count >= policy.keep_runs
        over_bytes = policy.keep_bytes and total > policy.keep_bytes
        if not (over_count or over_bytes):
            break
        if path.name in keep:
            continue
        shutil.rmtree(path, ignore_errors=True)
        count, total = count - 1, total - sizes[path]
        removed.append(path.name)
    return removed


def _mtime_ms(path: Path) -> int:
    return path.stat().st_mtime_ns // 1_000_000


def _tree_bytes(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(folder) / name).stat().st_size
            except FileNotFoundError:
                continue
    return total
