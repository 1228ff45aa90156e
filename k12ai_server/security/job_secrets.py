"""Per-job secrets for the network event channel, derived from one key kept in the state dir.

A job's secret is HMAC-SHA256(key, job id): the server hands it to the job in its
spec and checks it on every shipped batch in constant time. Nothing per job is
stored, so a restarted server recognises the shippers of the jobs it re-adopts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_FILE = "ingest.key"
KEY_BYTES = 32


class JobSecrets:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def load(cls, state_dir: Path) -> JobSecrets:
        """The key of ``state_dir``, made (owner-only) on first use."""
        path = state_dir / KEY_FILE
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls(bytes.fromhex(path.read_text().strip()))
        key = secrets.token_bytes(KEY_BYTES)
        with os.fdopen(fd, "w") as f:
            f.write(key.hex())
        return cls(key)

    def secret_for(self, job_id: str) -> str:
        return hmac.new(self._key, job_id.encode(), hashlib.sha256).hexdigest()

    def verify(self, job_id: str, secret: str) -> bool:
        return hmac.compare_digest(self.secret_for(job_id).encode(), secret.encode())
