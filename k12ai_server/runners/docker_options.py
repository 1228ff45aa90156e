"""What a job's container looks like: labels, mounts, limits, user and devices.

Paths are mounted at their host paths, so the spec the server wrote (cache
dir, events file, inputs) means the same inside the container as outside.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.types import DeviceRequest, Mount

from k12ai_contract.worker import gpu_environment, worker_command
from k12ai_server.config import DockerConfig
from k12ai_server.jobs.model import Job

# The seed's Platform lists containers carrying this label.
LABEL_SERVICE = "k12ai.service.name"
LABEL_USER = "k12ai.user"
LABEL_SERVICE_UUID = "k12ai.service_uuid"
LABEL_OP = "k12ai.op"
LABEL_JOB_ID = "k12ai.job_id"
# The host GPU ids the job was given ("1,3"), so a restarted server can claim them again.
LABEL_DEVICES = "k12ai.devices"

NOBODY = "65534:65534"
# HOME and scratch space: the container's root file system is read-only.
SCRATCH_DIR = "/tmp"
SCRATCH_SIZE = "512m"


class InputOutsideRootsError(Exception):
    """A path a job would read lies outside every data root; it is never mounted."""


@dataclass(frozen=True)
class ContainerUser:
    uid: int
    gid: int

    @classmethod
    def parse(cls, configured: str) -> ContainerUser:
        """``"uid:gid"``; "" is the server's own ids, or nobody's when the server is root."""
        if not configured:
            if os.geteuid() == 0:
                configured = NOBODY
            else:
                return cls(os.geteuid(), os.getegid())
        uid, sep, gid = configured.partition(":")
        if not (uid.isdigit() and gid.isdigit() and sep):
            raise ValueError(f"docker user must be numeric 'uid:gid', got {configured!r}")
        if int(uid) == 0:
            raise ValueError("docker user must not be root (uid 0)")
        return cls(int(uid), int(gid))

    def __str__(self) -> str:
        return f"{self.uid}:{self.gid}"


def job_labels(job: Job) -> dict[str, str]:
    ident = job.identity
    return {
        LABEL_SERVICE: ident.service_name,
        LABEL_USER: ident.user,
        LABEL_SERVICE_UUID: ident.service_uuid,
        LABEL_OP: job.op,
        LABEL_JOB_ID: job.job_id,
        LABEL_DEVICES: ",".join(str(d) for d in job.devices),
    }


def job_mounts(job: Job, roots: Sequence[Path]) -> list[Mount]:
    """The run dir and cache dir read-write; each input read-only, and only under a data root.

    The inputs are the job's, resolved at admission: each is mounted at the path the
    user gave. An input that does not exist is not mounted: the worker then reports the
    missing file under the config key that named it.
    """
    mounts = [
        Mount(target=str(job.run_dir), source=str(job.run_dir), type="bind"),
        Mount(target=str(job.cache_dir), source=str(job.cache_dir), type="bind"),
    ]
    for entry in job.inputs:
        real = Path(entry.resolved)
        if not any(real.is_relative_to(root) for root in roots):
            raise InputOutsideRootsError(
                f"service_params.{entry.key}: {entry.given!r} lies outside the data roots"
            )
        if real.exists():
            mounts.append(Mount(target=entry.given, source=str(real), type="bind", read_only=True))
    return mounts


def container_options(
    job: Job,
    config: DockerConfig,
    *,
    user: ContainerUser,
    mounts: list[Mount],
    gpu_ids: Sequence[int],
    host_cpus: int,
) -> dict[str, Any]:
    """Keyword arguments of ``containers.create`` for the job."""
    cpus = min(config.cpus or host_cpus, host_cpus)
    options: dict[str, Any] = {
        "image": config.image,
        "command": worker_command(job.spec_path),
        "name": job.identity.name,
        "labels": job_labels(job),
        "user": str(user),
        "working_dir": str(job.run_dir),
        # Inside the container the GPUs it was given are numbered from 0.
        "environment": {
            "HOME": SCRATCH_DIR,
            "PYTHONUNBUFFERED": "1",
            **gpu_environment(range(len(gpu_ids))),
        },
        "mounts": mounts,
        "tmpfs": {SCRATCH_DIR: f"size={SCRATCH_SIZE},mode=1777"},
        "read_only": True,
        # docker-init forwards the stop signal to the worker; Python as PID 1 would ignore SIGTERM.
        "init": True,
        "network_mode": config.network or "none",
        "nano_cpus": int(cpus * 1e9),
        "mem_limit": config.memory,
        # Equal to the memory limit: no swap, so going over the limit is an OOM kill, not a crawl.
        "memswap_limit": config.memory,
        "pids_limit": config.pids_limit,
        "privileged": False,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "detach": True,
    }
    if gpu_ids:
        options["device_requests"] = [
            DeviceRequest(driver="nvidia", device_ids=[str(i) for i in gpu_ids], capabilities=[["gpu"]])
        ]
    return options


def labels_of(summary: Mapping[str, Any]) -> Mapping[str, str]:
    """Labels of a container as the list API or inspect returns it."""
    labels = summary.get("Labels") or summary.get("Config", {}).get("Labels") or {}
    return labels
