"""Every file or directory a job reads is opened here, and checked once it is open.

The server checked each input path at the request, but the job opens it later: a file
swapped for a symlink in between would lead the job outside the data roots or into another
user's area. So the check is repeated on what was really opened: the path is opened first,
then the kernel is asked where that open file is (``/proc/self/fd/N``), and that place is
held to the job's DataAccess (from its spec; see k12ai_contract.data_access). Only plain
files and directories are opened (a FIFO or a device would hang or stream forever).

A worker process runs one job: its entry point calls ``allow`` once with the job's access,
and DataLoader workers forked from it inherit that. Until then nothing can be opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TextIO, cast

from k12ai_contract.data_access import DataAccess
from k12ai_contract.errors import InputRefusedError

_access: DataAccess | None = None


def allow(access: DataAccess) -> None:
    """What this process may read from now on (the job's spec says)."""
    # One job a process: its access is the process's.
    global _access
    _access = access


def open_binary(key: str, path: str | Path) -> BinaryIO:
    """``path`` opened for reading bytes; InputRefusedError naming ``key`` if it may not be read."""
    fd = _open_checked(key, path, stat.S_ISREG, "a file")
    return cast(BinaryIO, os.fdopen(fd, "rb"))


def open_text(key: str, path: str | Path, *, encoding: str = "utf-8", newline: str | None = None) -> TextIO:
    fd = _open_checked(key, path, stat.S_ISREG, "a file")
    return cast(TextIO, os.fdopen(fd, "r", encoding=encoding, newline=newline))


def check_dir(key: str, path: str | Path) -> None:
    """Refuse a directory input that may not be read; the files in it are checked as they are opened."""
    os.close(_open_checked(key, path, stat.S_ISDIR, "a directory"))


def _open_checked(key: str, path: str | Path, is_kind: Callable[[int], bool], kind: str) -> int:
    access = _access
    if access is None:
        raise InputRefusedError(key, f"{str(path)!r} cannot be read: this job was given no data roots")
    # O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW is not used on
    # purpose: symlinks inside the roots are fine, what matters is where the open file is.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not is_kind(mode):
            raise InputRefusedError(key, f"{str(path)!r} is not {kind}")
        refusal = access.refusal(_opened_path(fd, path))
        if refusal is not None:
            raise InputRefusedError(key, f"{str(path)!r} {refusal}")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _opened_path(fd: int, path: str | Path) -> Path:
    """Where the open file ``fd`` really is, symlinks resolved, as the kernel knows it."""
    proc_link = Path(f"/proc/self/fd/{fd}")
    if proc_link.exists():
        return proc_link.readlink()
    # Without /proc (not Linux), the best there is: the path resolved now.
    return Path(os.path.realpath(path))
