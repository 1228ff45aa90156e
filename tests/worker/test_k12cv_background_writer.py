"""``training.background.LatestWriter``, which k12cv writes its checkpoints through (real threads)."""

from __future__ import annotations

import threading

import pytest

from k12ai_worker.training.background import LatestWriter


def test_a_write_waiting_behind_a_newer_one_is_dropped_and_close_waits_for_the_last() -> None:
    started, release = threading.Event(), threading.Event()
    done: list[int] = []

    def write(n: int) -> None:
        if n == 0:
            started.set()
            release.wait(5)
        done.append(n)

    writer = LatestWriter()
    writer.submit(lambda: write(0))
    assert started.wait(5)
    for n in (1, 2, 3):
        writer.submit(lambda n=n: write(n))  # type: ignore[misc]
    release.set()
    writer.close()
    assert done == [0, 3]


def test_a_failed_write_is_raised_by_the_next_submit_or_close() -> None:
    def fail() -> None:
        raise OSError("disk full")

    writer = LatestWriter()
    writer.submit(fail)
    with pytest.raises(OSError, match="disk full"):
        writer.close()


def test_a_training_error_wins_over_a_write_error_but_the_write_still_finishes() -> None:
    done = threading.Event()
    with pytest.raises(ValueError, match="loss is nan"), LatestWriter() as writer:
        writer.submit(done.set)
        raise ValueError("loss is nan")
    assert done.is_set()
