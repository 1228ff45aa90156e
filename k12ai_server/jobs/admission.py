"""Which queued jobs may start now: run slots, a cap per user, and GPUs that are never shared.

Jobs start in the order they were admitted, except that a job waits while its user
already runs ``max_per_user`` jobs (so one user cannot hold every slot while others
wait: the others' jobs go first), and a GPU job that finds too few GPUs free holds
back every later GPU job (GPU jobs keep their order; CPU jobs may pass them).
"""

from __future__ import annotations

from collections import Counter

from k12ai_server.jobs.gpus import GpuAllocator
from k12ai_server.jobs.model import Job


class Admission:
    def __init__(self, *, gpus: GpuAllocator, max_running: int, max_per_user: int) -> None:
        self._gpus = gpus
        self._max_running = max_running
        self._max_per_user = max_per_user
        self._queue: list[Job] = []
        # job id -> user, of every job holding a run slot.
        self._running: dict[str, str] = {}

    @property
    def queued(self) -> int:
        return len(self._queue)

    def enqueue(self, job: Job) -> int:
        """Queue the job; its place in the queue (1 is next)."""
        self._queue.append(job)
        return len(self._queue)

    def dequeue(self, job_id: str) -> bool:
        """Take a queued job out of the queue; False if it was not queued."""
        for i, job in enumerate(self._queue):
            if job.job_id == job_id:
                del self._queue[i]
                return True
        return False

    def is_queued(self, job_id: str) -> bool:
        return any(job.job_id == job_id for job in self._queue)

    def claim(self, job: Job) -> None:
        """A re-adopted job holds its slot and its GPUs again."""
        self._running[job.job_id] = job.identity.user
        self._gpus.claim(job.job_id, job.devices)

    def release(self, job_id: str) -> None:
        self._running.pop(job_id, None)
        self._gpus.release(job_id)

    def take(self) -> list[tuple[Job, tuple[int, ...]]]:
        """The queued jobs that start now, each with its GPUs; they hold their slots from here on."""
        started: list[tuple[Job, tuple[int, ...]]] = []
        per_user = Counter(self._running.values())
        gpu_queue_blocked = False
        for job in list(self._queue):
            if len(self._running) >= self._max_running:
                break
            if per_user[job.identity.user] >= self._max_per_user:
                continue
            if job.gpus_wanted and gpu_queue_blocked:
                continue
            devices = self._gpus.assign(job.job_id, job.gpus_wanted)
            if devices is None:
                gpu_queue_blocked = True
                continue
            self._queue.remove(job)
            self._running[job.job_id] = job.identity.user
            per_user[job.identity.user] += 1
            started.append((job, devices))
        return started

    def waiting_for(self, job: Job) -> str:
        """Why a queued job is queued, in words for its reply."""
        if job.gpus_wanted and not self._gpus.can_start(job.gpus_wanted):
            return f"{job.gpus_wanted} free GPU(s)"
        user = job.identity.user
        held = sum(1 for u in self._running.values() if u == user)
        if held >= self._max_per_user:
            return f"one of {user}'s {held} running jobs to end (at most {self._max_per_user} per user)"
        if len(self._running) >= self._max_running:
            return f"a free job slot ({self._max_running} running)"
        return "its turn in the queue"
