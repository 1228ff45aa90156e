"""Results read from Consul KV, where the server mirrors them under the seeds' keys.

py-consul's failures become the client's typed errors: an agent that is not there is an
``UnreachableError`` naming ``CONSUL_HTTP_ADDR``, an error answer (ACL, server error) an
``HTTPStatusError``.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from k12ai_client._errors import HTTPStatusError, UnreachableError

ADDR_SETTING = "CONSUL_HTTP_ADDR"


@dataclass(frozen=True)
class ConsulKv:
    addr: str
    token: str

    def index(self, prefix: str) -> int:
        """The KV index under ``prefix`` now: what changes later has a higher ModifyIndex."""
        with self._calls() as client:
            index, _ = client.kv.get(f"{prefix}/", recurse=True, keys=True, token=self.token or None)
        return int(index or 0)

    def delete_under(self, prefix: str, mark: int | None) -> None:
        """Deletes ``prefix`` and the keys below it, only those last written at or before ``mark``."""
        with self._calls() as client:
            _, entries = client.kv.get(prefix, recurse=True, token=self.token or None)
            for entry in entries or ():
                if _under(entry["Key"], prefix) and (mark is None or entry["ModifyIndex"] <= mark):
                    # cas: a value written since it was read stays.
                    client.kv.delete(entry["Key"], cas=entry["ModifyIndex"], token=self.token or None)

    def poll(self, prefix: str, tries: int, interval_s: float) -> list[dict[str, Any]]:
        """``[{'key', 'value'}]`` under ``prefix``, tried ``tries`` times ``interval_s`` apart."""
        for attempt in range(max(1, tries)):
            if attempt:
                time.sleep(interval_s)
            with self._calls() as client:
                _, entries = client.kv.get(prefix, recurse=True, token=self.token or None)
            found = [
                {"key": e["Key"], "value": _json_or_text(e["Value"])}
                for e in entries or ()
                if _under(e["Key"], prefix)
            ]
            if found:
                return found
        return []

    @contextmanager
    def _calls(self) -> Iterator[Any]:
        import consul  # the optional `consul` extra, as the seeds use it
        import requests

        parsed = urllib.parse.urlsplit(self.addr if "//" in self.addr else f"//{self.addr}")
        client = consul.Consul(
            host=parsed.hostname or "127.0.0.1", port=parsed.port or 8500, scheme=parsed.scheme or "http"
        )
        try:
            yield client
        except requests.ConnectionError as error:
            raise UnreachableError(self.addr, _reason(error), ADDR_SETTING) from None
        except requests.Timeout as error:
            raise UnreachableError(self.addr, f"no answer: {error}", ADDR_SETTING) from None
        except consul.ConsulException as error:
            status = _STATUS.get(type(error).__name__)
            raise HTTPStatusError(self.addr, status, str(error) or type(error).__name__) from None


# py-consul's exception for each error status it tells apart.
_STATUS = {"BadRequest": 400, "ACLDisabled": 401, "ACLPermissionDenied": 403, "NotFound": 404}


def _under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(f"{prefix}/")


def _json_or_text(value: bytes | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value.decode("utf-8", "replace")


def _reason(error: Exception) -> str:
    text = str(error)
    return "connection refused" if "refused" in text.lower() else text
