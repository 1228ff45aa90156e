"""Which framework and which training made a model archive, read from the archive itself.

A worker writes ``k12ai.json`` as the first member of every ``model.tar.gz``; reading it
costs one gzip block, so the server can refuse an evaluate or predict of another
framework's model at the request, and the worker checks it again before it loads one.
Being inside the archive, it can never disagree with the weights beside it.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

ORIGIN_MEMBER = "k12ai.json"


@dataclass(frozen=True)
class ModelOrigin:
    framework: str
    job_id: str

    def to_member(self) -> bytes:
        return json.dumps({"framework": self.framework, "job_id": self.job_id}).encode()


def read_model_origin(archive: Path) -> ModelOrigin | None:
    """The origin of an archive k12ai wrote; None for one without (older, or made by hand) or unreadable."""
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            first = tar.next()
            if first is None or first.name != ORIGIN_MEMBER:
                return None
            member = tar.extractfile(first)
            raw = json.loads(member.read()) if member is not None else None
    except (OSError, EOFError, tarfile.TarError, ValueError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("framework"), str):
        return None
    return ModelOrigin(framework=raw["framework"], job_id=str(raw.get("job_id", "")))


def framework_mismatch(archive: Path, framework: str) -> str | None:
    """Why ``framework`` cannot use ``archive`` (another framework trained it), or None."""
    origin = read_model_origin(archive)
    if origin is None or origin.framework == framework:
        return None
    return (
        f"{archive.name} in {archive.parent} was trained by {origin.framework} (job {origin.job_id}), "
        f"not {framework}: train a {framework} model for this project first, or use {origin.framework}"
    )
