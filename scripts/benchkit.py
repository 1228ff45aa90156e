"""What the benchmark scripts share: percentiles, the printed row, and a k12ai server in a child process."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAIN_IRIS = json.loads((ROOT / "examples" / "k12ml" / "train_iris.json").read_text())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def row(name: str, values_ms: list[float], baseline_p50: float | None = None) -> str:
    p50, p99 = pct(values_ms, 50), pct(values_ms, 99)
    ratio = f"  x{p50 / baseline_p50:.2f} of baseline p50" if baseline_p50 else ""
    return f"  {name:<44} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms   n={len(values_ms)}{ratio}"


@contextmanager
def child(cmd: list[str], ready: str) -> Iterator[tuple[str, int]]:
    """Run a server process; yields its first stdout line (which names its port) and its pid."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if ready not in line:
        proc.kill()
        raise RuntimeError(f"{cmd[0]} did not start: {line!r}")
    try:
        yield line, proc.pid
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def k12ai_server(state: Path, *extra: str) -> Iterator[str]:
    with k12ai_server_process(state, *extra) as server:
        yield server.target


@dataclass(frozen=True)
class ServerChild:
    target: str
    pid: int


@contextmanager
def k12ai_server_process(state: Path, *extra: str) -> Iterator[ServerChild]:
    cmd = [
        sys.executable,
        "-m",
        "k12ai_server",
        "--grpc-port",
        "0",
        "--http-port",
        "0",
        "--data-root",
        str(state / "data"),
        "--state-dir",
        str(state / "state"),
        "--log-level",
        "WARNING",
        *extra,
    ]
    with child(cmd, "listening") as (line, pid):
        port = line.split("grpc=")[1].split()[0].rsplit(":", 1)[1]
        yield ServerChild(target=f"127.0.0.1:{port}", pid=pid)


@contextmanager
def k12ai(state: Path) -> Iterator[tuple[int, int]]:
    cmd = [
        sys.executable, "-m", "k12ai_server", "--grpc-port", "0", "--http-port", "0",
        "--data-root", str(state / "data"), "--state-dir", str(state / "state"), "--log-level", "WARNING",
    ]  # fmt: skip
    with child(cmd, "listening") as (line, _):
        grpc_port = int(line.split("grpc=")[1].split()[0].rsplit(":", 1)[1])
        http_port = int(line.split("http=")[1].split()[0].rsplit(":", 1)[1])
        yield grpc_port, http_port


def finished_job(http_port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", http_port)
    connection.request("POST", "/k12ai/framework/train", body=json.dumps(TRAIN_IRIS))
    job_id: str = json.loads(connection.getresponse().read())["job_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        connection.request("GET", f"/k12ai/framework/jobs/{job_id}")
        if json.loads(connection.getresponse().read())["job"]["state"] in ("finished", "failed"):
            return job_id
        time.sleep(0.2)
    raise RuntimeError("the training job did not end")
