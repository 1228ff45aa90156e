"""Writing and reading a job's ``*.tar.gz`` artefact atomically.

A reader (an evaluate job, a server listing artefacts) must never see half an
archive, and a training job stopped mid-write must leave the previous one
intact: members go to a temporary file beside the target, which then replaces
it in one ``rename``.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path

from k12ai_worker import inputs

# Float weights barely compress past level 6, and level 9 costs seconds per epoch.
COMPRESS_LEVEL = 6


def write_archive(path: Path, members: Mapping[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with (
            tmp.open("wb") as raw,
            tarfile.open(fileobj=raw, mode="w:gz", compresslevel=COMPRESS_LEVEL) as tar,
        ):
            now = time.time()
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = int(now)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read_archive(path: Path) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    # Opened as a job input: a symlink planted in the cache directory leads nowhere it may not read.
    with inputs.open_binary(path.name, path) as raw, tarfile.open(fileobj=raw, mode="r:gz") as tar:
        for info in tar:
            if not info.isfile():
                continue
            extracted = tar.extractfile(info)
            if extracted is not None:
                members[info.name] = extracted.read()
    return members
