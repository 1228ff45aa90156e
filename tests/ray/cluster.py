"""A real Ray cluster on this machine: a head and worker nodes, each worker node in its own network namespace.

The head runs in this namespace on a bridge address; each worker node gets a
network namespace joined to the bridge by a veth pair, with an address of its
own, and pretend GPUs (``--num-gpus``). So a job placed on a worker node reaches
the k12ai server only across a network link that a test can cut, never through
a run directory (the filesystem is shared, as a cluster's data roots are).

Every process is started here and ended here by pid (the whole process tree of
each ``ray start --block``); nothing calls ``ray stop``, which would end other
people's Ray processes on the host. ``python -m tests.ray.cluster`` starts one,
prints how long it took, and tears it down.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

GCS_PORT = 6379
DASHBOARD_PORT = 8265
OBJECT_STORE_BYTES = 80 * 1024 * 1024
START_TIMEOUT_S = 300.0
JOIN_ATTEMPTS = 3
# Settings the cluster's operators set (see deploy/ray): a queued job waits as long as it must,
# and a stop gives the worker the grace period k12ai asks for before SIGKILL.
CLUSTER_ENV = {
    "RAY_JOB_START_TIMEOUT_SECONDS": str(24 * 3600),
    "RAY_JOB_STOP_WAIT_TIME_S": "3",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
}


class NodeExitedError(RuntimeError):
    pass


@dataclass
class WorkerNode:
    name: str
    namespace: str
    host_link: str
    address: str
    args: tuple[str, ...] = ()
    log: Path = Path()
    proc: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class RayCluster:
    head_address: str
    bridge: str
    temp_root: Path
    nodes: list[WorkerNode] = field(default_factory=list)
    head: subprocess.Popen[bytes] | None = None
    start_s: float = 0.0

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.head_address}:{DASHBOARD_PORT}"

    def cut(self, node: WorkerNode) -> None:
        """Drop the node's link: nothing crosses between it and the rest until restore()."""
        _ip("link", "set", node.host_link, "down")

    def restore(self, node: WorkerNode) -> None:
        _ip("link", "set", node.host_link, "up")

    def kill_node(self, node: WorkerNode) -> None:
        """SIGKILL every process of the node, as a machine losing power would end them."""
        assert node.proc is not None
        _kill_tree(node.proc.pid)

    def add_node(self, *, cpus: int, gpus: int = 0) -> WorkerNode:
        """One more worker node in its own namespace, joined and alive."""
        node = _make_node(self, len(self.nodes) + 1)
        node.args = (
            f"--address={self.head_address}:{GCS_PORT}",
            f"--node-ip-address={node.address}",
            f"--num-gpus={gpus}",
            f"--num-cpus={cpus}",
        )
        self.nodes.append(node)
        _join(self, node)
        return node

    def close(self) -> None:
        for node in self.nodes:
            if node.proc is not None:
                _kill_tree(node.proc.pid)
        if self.head is not None:
            _kill_tree(self.head.pid)
        for node in self.nodes:
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("netns", "delete", node.namespace)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "delete", self.bridge)
        shutil.rmtree(self.temp_root, ignore_errors=True)


def missing_requirements() -> str | None:
    """Why a cluster cannot start here (not root, no iproute2, no ray), or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed (scripts/test installs it)"
    if shutil.which("ray", path=str(Path(sys.executable).parent)) is None:
        return "ray is not installed (the `ray` extra, part of `dev`)"
    return None


def start_cluster(*, workers: int = 2, gpus_per_worker: int = 1, cpus_per_worker: int = 2) -> RayCluster:
    tag = os.getpid() % 200 + 20
    subnet = f"10.213.{tag}"
    cluster = RayCluster(
        head_address=f"{subnet}.1",
        bridge=f"k12br{tag}",
        temp_root=Path(tempfile.mkdtemp(prefix=f"k12ray{tag}-", dir="/tmp")),
    )
    began = time.monotonic()
    try:
        _make_bridge(cluster.bridge, f"{cluster.head_address}/24")
        cluster.head = _ray_start(
            "--head",
            f"--node-ip-address={cluster.head_address}",
            f"--port={GCS_PORT}",
            f"--dashboard-host={cluster.head_address}",
            f"--dashboard-port={DASHBOARD_PORT}",
            # No job lands on the head: every k12ai job asks for a CPU or GPU.
            "--num-cpus=0",
            "--num-gpus=0",
            temp_dir=cluster.temp_root / "head",
            log=cluster.temp_root / "head.log",
        )
        _wait_for_port(cluster.head_address, DASHBOARD_PORT, cluster.head)
        for _ in range(workers):
            cluster.add_node(cpus=cpus_per_worker, gpus=gpus_per_worker)
    except BaseException:
        cluster.close()
        raise
    cluster.start_s = time.monotonic() - began
    return cluster


def _make_bridge(name: str, cidr: str) -> None:
    _ip("link", "add", name, "type", "bridge")
    _ip("addr", "add", cidr, "dev", name)
    _ip("link", "set", name, "up")


def _make_node(cluster: RayCluster, index: int) -> WorkerNode:
    subnet = cluster.head_address.rsplit(".", 1)[0]
    node = WorkerNode(
        name=f"worker{index}",
        namespace=f"{cluster.bridge}w{index}",
        host_link=f"{cluster.bridge}v{index}",
        address=f"{subnet}.{index + 1}",
        log=cluster.temp_root / f"worker{index}.log",
    )
    peer = f"{node.host_link}p"
    _ip("netns", "add", node.namespace)
    _ip("link", "add", node.host_link, "type", "veth", "peer", "name", peer)
    _ip("link", "set", peer, "netns", node.namespace)
    _ip("link", "set", node.host_link, "master", cluster.bridge)
    _ip("link", "set", node.host_link, "up")
    _ip("-n", node.namespace, "addr", "add", f"{node.address}/24", "dev", peer)
    _ip("-n", node.namespace, "link", "set", peer, "up")
    _ip("-n", node.namespace, "link", "set", "lo", "up")
    return node


def _ray_start(*args: str, temp_dir: Path, log: Path, namespace: str = "") -> subprocess.Popen[bytes]:
    ray = str(Path(sys.executable).parent / "ray")
    cmd = [
        ray, "start", "--block", "--disable-usage-stats", f"--temp-dir={temp_dir}",
        f"--object-store-memory={OBJECT_STORE_BYTES}", *args,
    ]  # fmt: skip
    if namespace:
        cmd = ["ip", "netns", "exec", namespace, *cmd]
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **CLUSTER_ENV},
            start_new_session=True,
        )


def _wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ray head exited with {proc.returncode} before its dashboard answered")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the Ray dashboard on {host}:{port} did not answer within {START_TIMEOUT_S} s")


def _wait_until_alive(cluster: RayCluster, node: WorkerNode) -> None:
    from ray.util.state import list_nodes

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not node.alive:
            tail = "\n".join(node.log.read_text(errors="replace").splitlines()[-30:])
            raise NodeExitedError(f"ray node {node.name} exited during start:\n{tail}")
        with contextlib.suppress(Exception):
            alive: list[tuple[str, str, str | bool | int | float]] = [
                ("state", "=", "ALIVE"),
                ("node_ip", "=", node.address),
            ]
            if list_nodes(address=cluster.dashboard_url, filters=alive):
                return
        time.sleep(0.5)
    raise RuntimeError(f"Ray node {node.name} not alive after {START_TIMEOUT_S} s")


def _join(cluster: RayCluster, node: WorkerNode) -> None:
    """Start the node and wait until it is alive, one node at a time.

    Ray gives a raylet a fixed 30 s to register, which a loaded machine can miss: the
    node's ``ray start`` then exits, and it is tried again.
    """
    for attempt in range(1, JOIN_ATTEMPTS + 1):
        node.proc = _ray_start(
            *node.args, temp_dir=_fresh(cluster.temp_root / node.name), log=node.log, namespace=node.namespace
        )
        try:
            _wait_until_alive(cluster, node)
            return
        except NodeExitedError:
            _kill_tree(node.proc.pid)
            if attempt == JOIN_ATTEMPTS:
                raise


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    return path


def _kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(procs, timeout=10)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


if __name__ == "__main__":
    started = time.monotonic()
    ray_cluster = start_cluster()
    print(f"cluster of {len(ray_cluster.nodes) + 1} nodes up in {ray_cluster.start_s:.1f} s")
    ray_cluster.close()
    print(f"and down again; {time.monotonic() - started:.1f} s in all")
