"""GetMetricSeries: each metric series of a job, downsampled on the server with its extremes kept."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import grpc
import pytest

from k12ai_client import AsyncK12AIClient, ClientConfig, RPCError
from k12ai_server.app import Server
from k12ai_server.events.bus import EventBus
from k12ai_server.events.log import EventLog
from k12ai_server.events.record import EventRecord
from k12ai_server.events.series import Series
from k12ai_server.state.db import Database
from tests.conftest import TOKENS, example
from tests.jobs import events_of


def metrics_event(job_id: str, index: int, loss: float, *, phase: str = "train") -> EventRecord:
    return EventRecord(
        type="metrics",
        tag="framework",
        op="train.start",
        user="test",
        service_uuid="p",
        job_id=job_id,
        timestamp=1_700_000_000_000 + index,
        payload={"loss": loss, "accuracy": 0.5, "phase": phase, "epoch": index // 100 + 1,
                 "batch": index % 100 + 1, "num_batches": 100, "num_epochs": 600},
    )  # fmt: skip


def event_log(tmp_path: Path) -> tuple[Database, EventLog]:
    db = Database.open(tmp_path)
    return db, EventLog(db, EventBus())


def series_of(log: EventLog, max_points: int = 1000, *, latest_only: bool = False) -> list[Series]:
    return log.metric_series("j", max_points=max_points, latest_only=latest_only)[1]


async def test_a_long_series_is_downsampled_with_its_extremes_and_in_order(tmp_path: Path) -> None:
    _, log = event_log(tmp_path)
    rng = random.Random(0)
    losses = [rng.uniform(1.0, 2.0) for _ in range(60_000)]
    losses[12_345], losses[54_321] = 9.5, -3.25  # one spike, one dip
    for start in range(0, len(losses), 1000):
        await log.append([metrics_event("j", i, losses[i]) for i in range(start, start + 1000)])
    (accuracy, loss) = series_of(log, 800)
    assert (loss.name, loss.phase, loss.count, loss.latest) == ("loss", "train", 60_000, losses[-1])
    assert 400 <= len(loss.points) <= 800
    assert max(p.value for p in loss.points) == 9.5
    assert min(p.value for p in loss.points) == -3.25
    epochs = [p.epoch for p in loss.points]
    assert epochs == sorted(epochs) and epochs[0] == 0.01 and epochs[-1] == 600.0
    assert {p.value for p in accuracy.points} == {0.5}


async def test_a_short_series_comes_back_point_for_point(tmp_path: Path) -> None:
    _, log = event_log(tmp_path)
    await log.append([metrics_event("j", i, float(i)) for i in range(50)])
    await log.append([metrics_event("j", 100 * e - 1, 0.1 * e, phase="validation") for e in (1, 2, 3)])
    series = {(s.name, s.phase): s for s in series_of(log)}
    assert [p.value for p in series["loss", "train"].points] == [float(i) for i in range(50)]
    assert [p.epoch for p in series["loss", "validation"].points] == [1.0, 2.0, 3.0]
    assert [p.progress for p in series["loss", "validation"].points] == [1 / 600, 2 / 600, 3 / 600]
    assert series_of(log, 10, latest_only=True)[0].points == []


async def test_the_series_continue_after_a_restart(tmp_path: Path) -> None:
    db, log = event_log(tmp_path)
    await log.append([metrics_event("j", i, float(i)) for i in range(40)])
    db.close()
    _, reopened = event_log(tmp_path)
    await reopened.append([metrics_event("j", i, float(i)) for i in range(40, 70)])
    (_, loss) = series_of(reopened)
    assert loss.count == 70 and [p.value for p in loss.points] == [float(i) for i in range(70)]


async def test_a_failed_transaction_leaves_no_point(tmp_path: Path) -> None:
    _, log = event_log(tmp_path)
    await log.append([metrics_event("j", 0, 1.0)])
    with pytest.raises(sqlite3.IntegrityError):
        # A NULL job_id fails the events insert after the points were computed.
        await log.append(
            [
                metrics_event("j", 1, 2.0),
                EventRecord(**{**metrics_event("j", 2, 3.0).__dict__, "job_id": None}),
            ]
        )
    await log.append([metrics_event("j", 3, 4.0)])
    (_, loss) = series_of(log)
    assert [p.value for p in loss.points] == [1.0, 4.0]


async def test_history_then_watch_from_last_seq_has_every_point_once(
    server: Server, client: AsyncK12AIClient
) -> None:
    reply = await client.train(example("k12ml", "train_iris"))
    events, end = await events_of(client, reply.job_id)
    assert end.state == "finished"
    half = [e for e in events if e.type == "metrics"][4].seq
    # As the console does mid-run: the series up to a seq, then Watch after it.
    series = await client.get_metric_series(reply.job_id, max_points=100)
    assert {s.name: s.count for s in series.series} == {"accuracy": 10, "f1_macro": 10, "loss": 10}
    assert series.last_seq == max(e.seq for e in events)
    tail, _ = await events_of(client, reply.job_id, after_seq=half)
    assert len([e for e in tail if e.type == "metrics"]) == 5


async def test_bad_max_points_is_refused(server: Server, client: AsyncK12AIClient) -> None:
    reply = await client.train(example("k12ml", "train_iris"))
    with pytest.raises(RPCError) as refused:
        await client.get_metric_series(reply.job_id, max_points=-1)
    assert refused.value.status is grpc.StatusCode.INVALID_ARGUMENT
    assert "max_points" in str(refused.value)


async def test_another_users_series_are_not_found(secured: Server) -> None:
    def connect(who: str) -> AsyncK12AIClient:
        return AsyncK12AIClient(
            ClientConfig(target=f"127.0.0.1:{secured.grpc_port}", user=who, token=TOKENS[who])
        )

    async with connect("alice") as alice, connect("bob") as bob:
        body = {**example("k12ml", "train_iris"), "user": "alice"}
        job_id = (await alice.train(body)).job_id
        await events_of(alice, job_id)
        assert len((await alice.get_metric_series(job_id)).series) == 3
        for missing in (job_id, "no-such-job"):
            with pytest.raises(RPCError) as refused:
                await bob.get_metric_series(missing)
            assert refused.value.status is grpc.StatusCode.NOT_FOUND
