"""The worker's own check of the model it is given (the server's may be stale: another
framework's training can replace the project's model after the request was accepted)."""

from __future__ import annotations

from pathlib import Path

from k12ai_contract.codes import WorkerCode
from tests.worker import job_process


def test_a_worker_refuses_another_frameworks_model(tmp_path: Path) -> None:
    cache = tmp_path / "users" / "test" / "123456"
    trained = job_process.run_job(
        "k12ml", tmp_path, cache, "train", job_process.example("k12ml", "train_iris"), timeout_s=120
    )
    assert trained.code == 0, trained.stderr
    job = job_process.run_job(
        "k12nlp", tmp_path, cache, "evaluate", {"input_file": str(tmp_path / "sst.txt")}, timeout_s=120
    )
    [error] = job.of("error")
    assert error["code"] == WorkerCode.TASK_START_FAILED
    assert "trained by k12ml" in error["message"] and "not k12nlp" in error["message"]
