#!/usr/bin/env python3
"""Check k12ai's GPU paths on a host with NVIDIA GPUs: NVML discovery, Platform.Stats
`gpus`, and the allocator's inventory, through a real server process.

    python scripts/check_gpu_host.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from k12ai_client import ClientConfig, K12AIClient, reply_message
from k12ai_server.platform.gpus import NvmlGpus

STATS = {"op": "query", "user": "gpu", "service_name": "k12platform", "service_uuid": "check"}


def main() -> int:
    gpus = NvmlGpus()
    print("NVML available:", gpus.available, "inventory:", gpus.inventory())
    for sample in gpus.sample():
        print("  ", sample)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "k12ai_server", "--grpc-port", "0", "--http-port", "0",
               "--data-root", str(Path(tmp) / "data"), "--state-dir", str(Path(tmp) / "state")]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        port = proc.stdout.readline().split("grpc=")[1].split()[0].rsplit(":", 1)[1]
        try:
            with K12AIClient(ClientConfig(target=f"127.0.0.1:{port}")) as client:
                message = reply_message(client.stats(STATS))
                print("Platform.Stats gpus:", json.dumps(message["gpus"], indent=2))
        finally:
            proc.terminate()
            proc.wait(30)
    return 0 if gpus.available and gpus.sample() else 1


if __name__ == "__main__":
    sys.exit(main())
