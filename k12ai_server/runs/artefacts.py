"""The file a job leaves behind, found and read for a download.

A train job's artefact is its own run's ``model.tar.gz`` (not the project's latest,
which a later training replaces); an evaluate or predict job's is its ``output_file``,
resolved as the worker resolved it and held inside the project's cache directory.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from k12ai_contract.jobs import JobKind
from k12ai_contract.rundir import ProjectDir
from k12ai_server.jobs.model import Job

# One HttpBody message: well under gRPC's 4 MiB receive limit, few enough messages per file.
CHUNK_BYTES = 1024 * 1024
ARCHIVE_TYPE = "application/gzip"
FALLBACK_TYPE = "application/octet-stream"


class ArtefactNotFoundError(LookupError):
    """The job left no file to download; the message says why."""


@dataclass(frozen=True)
class Artefact:
    path: Path
    content_type: str
    # The name a download is saved under.
    filename: str

    @property
    def content_disposition(self) -> str:
        """RFC 6266: a quoted ASCII name, and the UTF-8 one beside it when they differ."""
        ascii_name = self.filename.encode("ascii", "replace").decode().replace("\\", "_").replace('"', "_")
        value = f'attachment; filename="{ascii_name}"'
        if ascii_name != self.filename:
            value += f"; filename*=UTF-8''{quote(self.filename, safe='')}"
        return value


def job_artefact(job: Job) -> Artefact:
    if job.identity.kind is JobKind.TRAIN:
        path = ProjectDir(job.cache_dir).run_archive(job.job_id)
        if not path.is_file():
            raise ArtefactNotFoundError(
                f"train job {job.job_id} has no model archive at {path}: it wrote none (yet), "
                "or run retention removed it"
            )
        return Artefact(path, ARCHIVE_TYPE, f"model-{job.job_id}.tar.gz")
    output = job.params.get("output_file")
    if not isinstance(output, str) or not output:
        raise ArtefactNotFoundError(f"{job.identity.kind.value} job {job.job_id} was given no output_file")
    written = ProjectDir(job.cache_dir).resolved_output_file(output)
    if written is None or not written.is_file():
        raise ArtefactNotFoundError(f"{job.identity.kind.value} job {job.job_id} left no {output}")
    return Artefact(written, mimetypes.guess_type(written.name)[0] or FALLBACK_TYPE, written.name)


async def read_chunks(path: Path) -> AsyncIterator[bytes]:
    """The file's bytes, read off the event loop; the one inode opened first, whatever replaces it later."""
    file: BinaryIO = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
            yield chunk
    finally:
        file.close()
