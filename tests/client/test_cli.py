"""The `k12ai` command line against a real server process, as a new user would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from tests.conftest import EXAMPLES, ServerProcess


def k12ai(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "k12ai_client", "--target", f"127.0.0.1:{port}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def test_train_start_watch_then_predict(server_process: Callable[..., ServerProcess]) -> None:
    server = server_process()
    trained = k12ai(
        server.grpc_port, "train", "start", "--config", str(EXAMPLES / "k12ml/train_iris.json"), "--watch"
    )
    assert trained.returncode == 0, trained.stderr
    assert "100000 task service success" in trained.stderr
    assert "job finished" in trained.stderr

    predicted = k12ai(
        server.grpc_port, "predict", "start", "--config", str(EXAMPLES / "k12ml/predict_iris.json"), "--watch"
    )
    assert predicted.returncode == 0, predicted.stderr
    assert '"type": "predict"' in predicted.stderr

    jobs = k12ai(server.grpc_port, "jobs", "list", "--json")
    states = [json.loads(line)["state"] for line in jobs.stdout.splitlines()]
    assert states == ["finished", "finished"]


def test_refusals_exit_non_zero_with_the_code(server_process: Callable[..., ServerProcess]) -> None:
    server = server_process()
    evaluated = k12ai(
        server.grpc_port, "evaluate", "start", "--config", str(EXAMPLES / "k12ml/evaluate_iris.json")
    )
    assert evaluated.returncode == 2
    assert "100202" in evaluated.stderr and "model.tar.gz is not found in" in evaluated.stderr


def test_stats_prints_the_seed_message(server_process: Callable[..., ServerProcess]) -> None:
    server = server_process()
    stats = k12ai(server.grpc_port, "stats")
    assert stats.returncode == 0, stats.stderr
    assert {"cpu_percent", "gpus", "containers"} <= json.loads(stats.stdout).keys()
