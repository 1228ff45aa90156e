"""Saving a job's artefact (``DownloadArtefact``) under the server's file name, whole or not at all."""

from __future__ import annotations

from collections.abc import Iterable
from email.message import Message
from pathlib import Path
from typing import IO

from k12ai_client._errors import LocalFileError


def filename_from(metadata: Iterable[tuple[str, str | bytes]], job_id: str) -> str:
    """The ``content-disposition`` file name, reduced to a bare name (never a path)."""
    for key, value in metadata:
        if key == "content-disposition" and isinstance(value, str):
            header = Message()
            header["content-disposition"] = value
            name = Path(header.get_filename() or "").name
            if name and name not in (".", ".."):
                return name
    return f"{job_id}.artefact"


class PartFile:
    """Chunks go to ``<target>.part``, renamed to ``target`` only once the stream ended well."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self._part = target.with_name(f".{target.name}.part")
        try:
            self._file: IO[bytes] = self._part.open("wb")
        except OSError as exc:
            raise LocalFileError(f"cannot write {target}: {exc.strerror}") from None

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as exc:
            self.discard()
            raise LocalFileError(f"cannot write {self.target}: {exc.strerror}") from None

    def commit(self) -> Path:
        self._file.close()
        self._part.replace(self.target)
        return self.target

    def discard(self) -> None:
        self._file.close()
        self._part.unlink(missing_ok=True)


def target_path(destination: Path | None, directory: Path, filename: str) -> Path:
    if destination is None:
        return directory / filename
    return destination / filename if destination.is_dir() else destination
