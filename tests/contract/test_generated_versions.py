"""pyproject.toml asks for the versions the committed generated code was made with and checks at import.

The generated modules refuse to import under an older grpcio or protobuf than made them, so a lower
floor in pyproject.toml would install a k12ai that cannot start; the generator is pinned to the same
grpcio version so that `scripts/gen_protos.py --check` compares like with like on any day.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "k12ai_api"


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])
    return {req.name: req for req in map(Requirement, lines)}


def _generated_versions(pattern: str, glob: str) -> set[str]:
    found = {re.search(pattern, path.read_text()) for path in GENERATED.rglob(glob)}
    assert None not in found, f"a {glob} module without its generator's version"
    return {match.group(1) for match in found if match}


def _floor(requirement: Requirement) -> str:
    floors = [spec.version for spec in requirement.specifier if spec.operator in (">=", "==")]
    assert len(floors) == 1, f"{requirement} has no single floor"
    return floors[0]


def test_grpc_floor_and_generator_pin_are_the_generated_codes_version() -> None:
    (version,) = _generated_versions(r"GRPC_GENERATED_VERSION = '([^']+)'", "*_pb2_grpc.py")
    requirements = _requirements()
    for name in ("grpcio", "grpcio-health-checking", "grpcio-reflection"):
        assert _floor(requirements[name]) == version, name
    assert str(requirements["grpcio-tools"].specifier) == f"=={version}"


def test_protobuf_floor_is_the_generated_codes_version() -> None:
    (version,) = _generated_versions(r"# Protobuf Python Version: (\S+)", "*_pb2.py")
    assert _floor(_requirements()["protobuf"]) == version
