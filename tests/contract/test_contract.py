"""The contract's facts agree with the proto, and the worker's side of them with the server's."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from k12ai_api.v1 import common_pb2
from k12ai_contract.codes import WorkerCode
from k12ai_contract.events import (
    EVENT_TYPES,
    METRIC_POSITION_KEYS,
    InvalidEventLineError,
    encode_event_line,
    parse_event_line,
)
from k12ai_contract.jobs import LIVE_STATES, TERMINAL_STATES, JobState
from k12ai_contract.json_numbers import whole_numbers_as_ints
from k12ai_server.api import replies

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("code", list(WorkerCode))
def test_worker_codes_are_the_protos(code: WorkerCode) -> None:
    assert common_pb2.ReplyCode.Value(f"REPLY_CODE_{code.name}") == code.value
    assert replies.DESCR[code.value] == code.descr


def test_live_and_terminal_states_cover_every_state_once() -> None:
    assert set(LIVE_STATES) | TERMINAL_STATES == set(JobState)
    assert not set(LIVE_STATES) & TERMINAL_STATES


def test_event_line_round_trip_keeps_json_types() -> None:
    line = encode_event_line("metrics", {"epoch": 1, "loss": 0.5, "done": True}, timestamp=7)
    event = parse_event_line(line.encode())
    assert (event.type, event.timestamp) == ("metrics", 7)
    assert event.payload == {"epoch": 1, "loss": 0.5, "done": True}
    assert isinstance(event.payload["epoch"], int)


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[1]",
        b'{"type": "nope", "timestamp": 1, "payload": {}}',
        b'{"type": "info", "payload": {}}',
    ],
)
def test_a_line_that_is_no_event_is_refused(line: bytes) -> None:
    with pytest.raises(InvalidEventLineError):
        parse_event_line(line)


def test_unknown_event_type_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        encode_event_line("progress", {})
    assert "log" in EVENT_TYPES


def test_whole_numbers_become_ints_and_others_stay() -> None:
    value = {"a": 1.0, "b": [2.0, 2.5], "c": {"d": 2.0**60}, "e": "1.0", "f": True}
    assert whole_numbers_as_ints(value) == {"a": 1, "b": [2, 2.5], "c": {"d": 2.0**60}, "e": "1.0", "f": True}
    assert isinstance(whole_numbers_as_ints(1.0), int)


def test_contract_imports_only_the_standard_library() -> None:
    for path in (ROOT / "k12ai_contract").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top = node.module.split(".")[0]
                assert top in {"__future__", "k12ai_contract"} or top in _stdlib(), (path, node.module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in _stdlib(), (path, alias.name)


def test_worker_imports_no_server_code() -> None:
    for path in (ROOT / "k12ai_worker").rglob("*.py"):
        for module in _imported_modules(path):
            if module.startswith("k12ai_api.internal."):
                # The shipper's generated stubs of the internal ingest service: generated, not the server's.
                continue
            assert module.split(".")[0] not in {"k12ai_server", "k12ai_api", "k12ai_client"}, (path, module)


def test_server_reaches_the_worker_only_through_the_catalogue() -> None:
    for path in (ROOT / "k12ai_server").rglob("*.py"):
        for module in _imported_modules(path):
            if module.startswith("k12ai_worker"):
                assert module == "k12ai_worker.frameworks", (path, module)


def _imported_modules(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] + [
                f"{node.module}.{a.name}" for a in node.names if node.module == "k12ai_worker"
            ]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    return [m for m in found if m != "k12ai_worker"]


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names)


def test_the_consoles_position_keys_are_the_contracts() -> None:
    source = (ROOT / "console" / "src" / "series.ts").read_text()
    declared = re.search(r"POSITION_KEYS = new Set\(\[(.*?)\]\)", source, re.S)
    assert declared is not None
    assert set(re.findall(r'"([^"]+)"', declared.group(1))) == METRIC_POSITION_KEYS
