"""``log`` events: what a job writes to its stdout and stderr, one event a line.

Payload ``{"stream": "stdout" | "stderr", "line": <text without its newline>}``, plus
``"cut_bytes": n`` when a line longer than ``MAX_LOG_LINE_BYTES`` was cut (its text then ends
with the marker), or ``"dropped": n`` on the notice that stands for ``n`` lines not kept
because the job wrote more than ``LOG_LINES_PER_S`` lines a second for longer than
``LOG_BURST_LINES`` allow.
"""

from __future__ import annotations

from typing import Any

STDOUT = "stdout"
STDERR = "stderr"
MAX_LOG_LINE_BYTES = 8 * 1024
LOG_LINES_PER_S = 500
LOG_BURST_LINES = 2_000


def log_line(stream: str, text: str, *, cut_bytes: int = 0) -> dict[str, Any]:
    if not cut_bytes:
        return {"stream": stream, "line": text}
    return {"stream": stream, "line": f"{text} [... {cut_bytes} more bytes cut]", "cut_bytes": cut_bytes}


def dropped_lines(stream: str, count: int) -> dict[str, Any]:
    return {
        "stream": stream,
        "line": f"[k12ai: {count} lines of {stream} dropped: more than {LOG_LINES_PER_S} lines a second]",
        "dropped": count,
    }
