"""deploy/envoy.yaml with concrete ports and descriptor-set path, written as JSON Envoy reads.

    python -m k12ai_server.gateway.envoy_config --listen-port 8080 --grpc-port 8118 > envoy.json
    envoy --disable-hot-restart -c envoy.json

The descriptor set is the one installed with k12ai (``k12ai_api/descriptor_set.binpb``, made by
scripts/gen_protos.py with ``--include_imports``), so Envoy and the built-in gateway always
transcode from the same descriptors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from k12ai_server.gateway.routes import DESCRIPTOR_SET

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "envoy.yaml"


def envoy_config(
    *,
    listen_port: int,
    grpc_port: int,
    listen_host: str = "127.0.0.1",
    grpc_host: str = "127.0.0.1",
    template: Path = TEMPLATE,
    descriptor_set: Path | None = None,
) -> dict[str, Any]:
    # PyYAML is only needed here, by whoever renders the Envoy config.
    import yaml

    config: dict[str, Any] = yaml.safe_load(template.read_text())
    listener = config["static_resources"]["listeners"][0]
    listener["address"]["socket_address"].update(address=listen_host, port_value=listen_port)
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    transcoder = next(f for f in manager["http_filters"] if f["name"].endswith("grpc_json_transcoder"))
    transcoder["typed_config"]["proto_descriptor"] = str(descriptor_set or Path(str(DESCRIPTOR_SET)))
    cluster = config["static_resources"]["clusters"][0]
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    endpoint["address"]["socket_address"].update(address=grpc_host, port_value=grpc_port)
    return config


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m k12ai_server.gateway.envoy_config", description=__doc__)
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
