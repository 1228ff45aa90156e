"""The notebook helpers' HTTP calls to the REST gateway; every failure a typed error.

An answer with an error status raises ``HTTPStatusError`` (with the gateway's gRPC code and
message); no answer at all raises ``UnreachableError`` naming the URL and ``K12AI_URL``. The
seed envelope's refusals (``code`` 100xxx) are HTTP 200 and are returned as they are.
"""

from __future__ import annotations

import json
import queue
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from k12ai_client._errors import HTTPStatusError, K12AIError, UnreachableError, WatchError, status_code

URL_SETTING = "K12AI_URL"


@dataclass(frozen=True)
class Gateway:
    url: str
    token: str
    timeout_s: float
    tls: ssl.SSLContext | None

    def address(self, path: str, query: list[tuple[str, str]] | None = None) -> str:
        address = f"{self.url.rstrip('/')}/{path.lstrip('/')}"
        return f"{address}?{urllib.parse.urlencode(query)}" if query else address

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """The JSON answer of a POST."""
        request = urllib.request.Request(
            self.address(path), data=json.dumps(body).encode(), headers=self.headers(), method="POST"
        )
        with self.open_request(request, self.timeout_s) as response:
            return json.loads(response.read())

    def stream(self, path: str, query: list[tuple[str, str]], timeout_s: float) -> Lines:
        """A newline-delimited JSON stream, read by a thread so the caller can stop waiting at will."""
        request = urllib.request.Request(self.address(path, query), headers=self.headers())
        return Lines(self, request, timeout_s)

    def open_request(self, request: urllib.request.Request, timeout_s: float) -> Any:
        try:
            return urllib.request.urlopen(request, timeout=timeout_s, context=self.tls)
        except urllib.error.HTTPError as error:
            with error:
                raise _status_error(request.full_url, error.code, error.read()) from None
        except urllib.error.URLError as error:
            raise UnreachableError(self.url, str(error.reason), URL_SETTING) from None
        except TimeoutError as error:
            raise UnreachableError(self.url, f"no answer in {timeout_s:g} s: {error}", URL_SETTING) from None


class Lines:
    """The messages of a stream as they arrive; ``get`` waits at most as long as asked."""

    def __init__(self, gateway: Gateway, request: urllib.request.Request, timeout_s: float) -> None:
        self._items: queue.Queue[dict[str, Any] | K12AIError | None] = queue.Queue()
        self._response: Any = None
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, args=(gateway, request, timeout_s), daemon=True)
        self._reader.start()

    def get(self, wait_s: float) -> dict[str, Any] | None:
        """The next message, or None when the stream ended or nothing came within ``wait_s``."""
        try:
            item = self._items.get(timeout=max(0.0, wait_s))
        except queue.Empty:
            return None
        if isinstance(item, K12AIError):
            raise item
        return item

    def close(self) -> None:
        self._closed.set()
        if self._response is not None:
            self._response.close()

    def messages(self, wait_s: float) -> Iterator[dict[str, Any]]:
        while (message := self.get(wait_s)) is not None:
            yield message

    def _read(self, gateway: Gateway, request: urllib.request.Request, timeout_s: float) -> None:
        try:
            with gateway.open_request(request, timeout_s) as response:
                self._response = response
                for line in response:
                    if line.strip():
                        self._items.put(_message(json.loads(line)))
        except K12AIError as error:
            self._items.put(error)
        except Exception as error:
            # Closed by the caller: http.client then fails in odd ways (AttributeError, ValueError),
            # and nobody waits for more. Otherwise the server went away mid-stream.
            if not self._closed.is_set():
                self._items.put(UnreachableError(gateway.url, f"the stream broke: {error!r}", URL_SETTING))
        self._items.put(None)


def _message(line: dict[str, Any]) -> dict[str, Any]:
    if "error" in line:
        # A stream that fails after it started ends with its status as the last line.
        error = line["error"]
        raise WatchError(status_code(int(error.get("code", 2))), str(error.get("message", "")))
    result: dict[str, Any] = line.get("result", {})
    return result


def _status_error(url: str, status: int, body: bytes) -> HTTPStatusError:
    """The gateway's status body ``{code, message, details}``, or whatever text came."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and "message" in document:
        code = document.get("code")
        return HTTPStatusError(url, status, str(document["message"]), code if isinstance(code, int) else None)
    return HTTPStatusError(url, status, body.decode("utf-8", "replace").strip())
