"""One server per state directory: an exclusive ``flock`` on a file that names its holder.

Two servers on one state directory would both write its database and both adopt its
jobs. The lock is taken before anything in the directory is touched and held for the
server's life; the kernel drops it when the process ends however it ends (``kill -9``
included), so a crashed server never leaves a stale lock behind. The file holds the
holder's pid only so that the refusal can name it: the lock, not the file, is the truth.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from k12ai_server.start_errors import StartRefusedError

LOCK_FILE = "server.lock"


class StateDirInUseError(StartRefusedError):
    pass


class StateDirLock:
    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def acquire(cls, state_dir: Path) -> StateDirLock:
        """The lock of ``state_dir``; StateDirInUseError naming the holder's pid if another has it."""
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / LOCK_FILE
        # O_CLOEXEC (Python's default): jobs outlive the server and must not inherit its lock.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StateDirInUseError(
                f"state directory {state_dir} is in use by another k12ai-server (pid {holder}); "
                "stop that server first, or give this one another --state-dir"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        # Closing the only descriptor of the open file drops the flock.
        os.close(self._fd)
        self._fd = None


def _read_pid(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return text if text.isdigit() else "unknown"
