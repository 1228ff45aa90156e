"""One server per gRPC port and per state directory; each refusal names what is in the way."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from k12ai_server.app import Server
from k12ai_server.security.tls import PortInUseError
from k12ai_server.state.lock import StateDirInUseError
from tests.conftest import ServerProcess, server_config

REFUSAL_TIMEOUT_S = 120


def second_server(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``k12ai-server`` with ``args``, run to its end (a refused start ends at once)."""
    cmd = [
        sys.executable, "-m", "k12ai_server", "--grpc-port", "0", "--http-port", "0",
        "--data-root", str(tmp_path / "data"), *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=REFUSAL_TIMEOUT_S, check=False)


async def test_a_second_server_on_the_same_grpc_port_is_refused(server: Server, tmp_path: Path) -> None:
    with pytest.raises(PortInUseError, match=f"gRPC port 127.0.0.1:{server.grpc_port}: the port is in use"):
        await Server.start(server_config(tmp_path / "other", grpc_port=server.grpc_port))
    # The refused start gave back its state directory: a server can start there.
    again = await Server.start(server_config(tmp_path / "other"))
    await again.stop()


async def test_a_second_server_on_the_same_state_dir_is_refused(server: Server, tmp_path: Path) -> None:
    state_dir = server.config.state_dir
    with pytest.raises(StateDirInUseError) as refused:
        await Server.start(server_config(tmp_path))
    message = str(refused.value)
    assert f"state directory {state_dir} is in use by another k12ai-server (pid " in message
    assert "--state-dir" in message


def test_the_cli_names_the_port_and_exits_1(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    first = server_process()
    refused = second_server(
        tmp_path, "--state-dir", str(tmp_path / "state2"), "--grpc-port", str(first.grpc_port)
    )
    assert refused.returncode == 1
    assert f"k12ai-server: cannot bind the gRPC port 127.0.0.1:{first.grpc_port}" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_the_cli_names_the_holder_of_the_state_dir_and_a_kill_9_frees_it(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    first = server_process()
    refused = second_server(tmp_path, "--state-dir", str(tmp_path / "state"))
    assert refused.returncode == 1
    assert (
        f"k12ai-server: state directory {tmp_path / 'state'} is in use by another k12ai-server "
        f"(pid {first.proc.pid})" in refused.stderr
    )
    assert "Traceback" not in refused.stderr

    first.kill()  # kill -9: the kernel drops the lock with the process
    after = server_process()
    assert after.proc.poll() is None
