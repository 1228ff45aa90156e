"""Every job ends with a ``result`` event, kept as its summary (GetJob, ListJobs) and shown by the CLI."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from typing import Any

from google.protobuf import json_format

from k12ai_client import AsyncK12AIClient, to_envelope
from k12ai_server.app import Server
from tests.conftest import EXAMPLES, example
from tests.jobs import run_to_end


async def results_of(client: AsyncK12AIClient, call: Any, body: dict[str, Any]) -> tuple[str, list[Any]]:
    """A finished job's id and the payloads of its result events."""
    events, end = await run_to_end(client, call, body)
    assert end.state == "finished"
    return end.job_id, [to_envelope(e)["result"] for e in events if e.type == "result"]


def summary(job: Any) -> dict[str, Any]:
    return json_format.MessageToDict(job.result)


async def test_train_evaluate_predict_each_end_with_a_result_and_the_job_keeps_it(
    client: AsyncK12AIClient, server: Server
) -> None:
    cache = server.config.data_root / "users" / "test" / "123456"
    train_id, [trained] = await results_of(client, client.train, example("k12ml", "train_iris"))
    assert trained["validation_accuracy"] > 0.8
    assert {"validation_f1_macro", "validation_loss", "training_duration_s"} <= trained.keys()
    assert trained["archive"] == str(cache / "runs" / train_id / "model.tar.gz")

    evaluate_id, [evaluated] = await results_of(client, client.evaluate, example("k12ml", "evaluate_iris"))
    assert evaluated["accuracy"] == trained["validation_accuracy"]  # the rows held out in training
    assert evaluated["output_file"] == str(cache / "evaluate_metrics.json")

    predict_id, [predicted] = await results_of(client, client.predict, example("k12ml", "predict_iris"))
    assert predicted == {"predictions": 2, "output_file": str(cache / "predictions.jsonl")}

    results = {train_id: trained, evaluate_id: evaluated, predict_id: predicted}
    for job_id, result in results.items():
        assert summary(await client.get_job(job_id)) == result
    listed = {job.job_id: summary(job) for job in await client.list_jobs(service_uuid="123456")}
    assert listed == results


async def test_watch_ends_with_the_result_line(server: Server) -> None:
    train, evaluate = (str(EXAMPLES / "k12ml" / f"{name}.json") for name in ("train_iris", "evaluate_iris"))
    assert (await cli(server, "train", "start", "--config", train, "--watch"))[0] == 0
    code, err = await cli(server, "evaluate", "start", "--config", evaluate, "--watch")
    assert code == 0, err
    lines = err.splitlines()
    final = next(i for i, line in enumerate(lines) if line.startswith("job finished in "))
    # After the final line, the job's result: its figures in the fixed order, then its file.
    assert re.fullmatch(
        r"result: loss [0-9.e-]+ · accuracy [0-9.]+ · f1_macro [0-9.]+ · /.*/evaluate_metrics\.json",
        lines[final + 1],
    )


async def cli(server: Server, *args: str) -> tuple[int, str]:
    """The CLI in a child process (asyncio's: this test's server keeps serving); its code and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "k12ai_client", "--target", f"127.0.0.1:{server.grpc_port}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "400"},  # one line, however long, for the check
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, err.decode()
