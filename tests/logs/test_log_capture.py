"""The capture of a job's output on its own: lines, cuts, a flood against a clock the test turns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from k12ai_contract.events import parse_event_line
from k12ai_contract.logs import LOG_BURST_LINES, LOG_LINES_PER_S, MAX_LOG_LINE_BYTES
from k12ai_worker.events import EventWriter
from k12ai_worker.log_capture import LogCapture


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def capture(tmp_path: Path, clock: Clock | None = None) -> tuple[LogCapture, Path]:
    path = tmp_path / "events.jsonl"
    return LogCapture(EventWriter(path), clock=clock or Clock()), path


def logged(path: Path) -> list[dict[str, Any]]:
    events = [parse_event_line(line) for line in path.read_bytes().splitlines()]
    assert {e.type for e in events} <= {"log"}
    return [e.payload for e in events]


def test_lines_in_order_whatever_the_reads(tmp_path: Path) -> None:
    logs, path = capture(tmp_path)
    for piece in (b"first li", b"ne\nsecond\n", b"third\r\n", b"caf\xc3", b"\xa9\n", b"no newline"):
        logs.feed("stdout", piece)
    logs.feed("stderr", b"an error\n")
    logs.close()
    assert logged(path) == [
        {"stream": "stdout", "line": "first line"},
        {"stream": "stdout", "line": "second"},
        {"stream": "stdout", "line": "third"},
        {"stream": "stdout", "line": "café"},
        {"stream": "stderr", "line": "an error"},
        {"stream": "stdout", "line": "no newline"},
    ]


def test_a_progress_bar_redrawn_with_carriage_returns_is_one_line_per_redraw(tmp_path: Path) -> None:
    logs, path = capture(tmp_path)
    logs.feed("stderr", b"\r 10%|#   |\r 50%|##  |\r")
    logs.feed("stderr", b"\n100%|####|\n")
    logs.close()
    assert [p["line"] for p in logged(path)] == ["", " 10%|#   |", " 50%|##  |", "100%|####|"]


def test_a_long_line_is_cut_with_a_marker_and_memory_stays_bounded(tmp_path: Path) -> None:
    logs, path = capture(tmp_path)
    chunk = b"x" * 65536
    for _ in range(160):  # 10 MiB without a newline
        logs.feed("stdout", chunk)
        assert len(logs._streams["stdout"]._kept) <= MAX_LOG_LINE_BYTES
    logs.feed("stdout", b"\nnext\n")
    logs.close()
    first, second = logged(path)
    cut = 160 * 65536 - MAX_LOG_LINE_BYTES
    assert first["cut_bytes"] == cut
    assert first["line"] == "x" * MAX_LOG_LINE_BYTES + f" [... {cut} more bytes cut]"
    assert second == {"stream": "stdout", "line": "next"}


def test_a_flood_keeps_the_burst_and_the_rate_and_counts_the_rest(tmp_path: Path) -> None:
    clock = Clock()
    logs, path = capture(tmp_path, clock)
    for i in range(100_000):  # in one second
        clock.now = 1000.0 + i / 100_000
        logs.feed("stdout", f"line {i}\n".encode())
    clock.now = 1001.0
    logs.close()
    payloads = logged(path)
    kept = [p for p in payloads if "dropped" not in p]
    dropped = sum(p.get("dropped", 0) for p in payloads)
    assert len(kept) + dropped == 100_000  # every line kept or counted
    assert LOG_BURST_LINES <= len(kept) <= LOG_BURST_LINES + LOG_LINES_PER_S + 1
    assert kept[:3] == [{"stream": "stdout", "line": f"line {i}"} for i in range(3)]
    numbers = [int(p["line"].split()[1]) for p in kept]
    assert numbers == sorted(numbers)  # what is kept stays in order
    notices = [p for p in payloads if "dropped" in p]
    assert 1 <= len(notices) <= 2  # once a second at most, and at the end
    assert notices[0]["line"].startswith(f"[k12ai: {notices[0]['dropped']} lines of stdout dropped")


def test_after_a_flood_lines_flow_again(tmp_path: Path) -> None:
    clock = Clock()
    logs, path = capture(tmp_path, clock)
    for i in range(LOG_BURST_LINES + 10):
        logs.feed("stderr", f"{i}\n".encode())
    clock.now += 2.0
    logs.feed("stderr", b"after\n")
    logs.close()
    payloads = logged(path)
    assert payloads[LOG_BURST_LINES]["dropped"] == 10  # the notice, due after a second
    assert payloads[-1] == {"stream": "stderr", "line": "after"}
