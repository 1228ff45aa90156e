"""The container a job would get, created (not started) on a real engine and read back with inspect.

Starting a container that asks for GPUs needs the NVIDIA runtime, which this engine lacks;
creating one does not, and inspect then shows the device request exactly as a GPU host gets it.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import docker
import pytest

from k12ai_contract.jobs import JobKind, JobState
from k12ai_server.jobs.model import InputPath, Job, JobIdentity
from k12ai_server.runners.docker_options import (
    ContainerUser,
    InputOutsideRootsError,
    container_options,
    job_mounts,
)
from tests.docker.conftest import docker_config


def make_job(tmp_path: Path, *, devices: tuple[int, ...] = ()) -> Job:
    ident = JobIdentity(
        user="test", service_name="k12nlp", service_uuid=f"opts{time.time_ns()}", kind=JobKind.TRAIN
    )
    job = Job(
        job_id="j1",
        identity=ident,
        state=JobState.STARTING,
        params={},
        cache_dir=tmp_path / "data" / "users" / "test" / ident.service_uuid,
        run_dir=tmp_path / "state" / "jobs" / "j1",
        created_at=0,
        gpus_wanted=len(devices),
        devices=devices,
    )
    for path in (job.cache_dir, job.run_dir):
        path.mkdir(parents=True)
    return job


@pytest.mark.docker
def test_a_gpu_job_asks_docker_for_exactly_its_devices(tmp_path: Path, worker_image: str) -> None:
    job = make_job(tmp_path, devices=(1, 3))
    options = container_options(
        job,
        docker_config(image=worker_image, cpus=1.5, memory="300m", pids_limit=64),
        user=ContainerUser(uid=1234, gid=1234),
        mounts=job_mounts(job, [tmp_path / "data"]),
        gpu_ids=job.devices,
        host_cpus=2,
    )
    client = docker.from_env()
    container = client.containers.create(**options)
    try:
        host = client.api.inspect_container(container.id)["HostConfig"]
    finally:
        container.remove(force=True)
    [request] = host["DeviceRequests"]
    assert request["Driver"] == "nvidia" and request["DeviceIDs"] == ["1", "3"]
    assert request["Capabilities"] == [["gpu"]]
    assert host["NanoCpus"] == 1_500_000_000 and host["Memory"] == 300 * 2**20 and host["PidsLimit"] == 64


def test_a_cpu_job_asks_for_no_device(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    options = container_options(
        job,
        docker_config(cpus=64),
        user=ContainerUser(uid=1234, gid=1234),
        mounts=[],
        gpu_ids=(),
        host_cpus=2,
    )
    assert "device_requests" not in options
    # More CPUs than the host has is capped to the host's.
    assert options["nano_cpus"] == 2_000_000_000


def test_an_input_outside_the_data_roots_is_never_mounted(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    outside = tmp_path / "elsewhere" / "train.csv"
    outside.parent.mkdir()
    outside.write_text("a\n")
    with pytest.raises(InputOutsideRootsError, match=r"service_params\.dataset\.path"):
        job_mounts(with_input(job, outside), [tmp_path / "data"])
    # A symlink under a root that points outside it is judged by its target.
    link = tmp_path / "data" / "link.csv"
    link.symlink_to(outside)
    with pytest.raises(InputOutsideRootsError):
        job_mounts(with_input(job, link), [tmp_path / "data"])


def with_input(job: Job, path: Path) -> Job:
    """The job reading ``path`` as ``dataset.path``, resolved as admission resolves it."""
    return dataclasses.replace(job, inputs=(InputPath("dataset.path", str(path), os.path.realpath(path)),))


def test_the_container_user_is_never_root() -> None:
    with pytest.raises(ValueError, match="root"):
        ContainerUser.parse("0:0")
    with pytest.raises(ValueError, match="numeric"):
        ContainerUser.parse("nobody")
    assert str(ContainerUser.parse("1000:100")) == "1000:100"
