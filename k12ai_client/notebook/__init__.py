"""The seed notebooks' helpers, so a seed notebook runs with only its imports changed.

    from k12ai_client.notebook import k12ai_post_platform_request, k12ai_get_data, k12ai_del_data, k12ai_print

Requests go to the REST gateway as the seeds send them (``POST http://host:8119/k12ai/...``).
Results are read from Consul KV under the seeds' keys when a Consul address is configured
(``CONSUL_HTTP_ADDR``, as the seeds' clients read it), and otherwise from the server's own
event stream (``GET /k12ai/framework/events``), which holds the same events.

The module's functions act on one :class:`NotebookSession` made from the environment when
first used (``K12AI_URL``, ``CONSUL_HTTP_ADDR``, ``CONSUL_HTTP_TOKEN``, and the token and TLS
files every k12ai client reads: ``K12AI_TOKEN``, ``K12AI_CA_CERT``, ...). For other settings,
make a session and call the same names on it::

    nb = NotebookSession(NotebookConfig(url="https://k12ai.example:8119"))
    nb.k12ai_get_data(key, "result", waitcnt=5)

An HTTP error (a 401, a 500) raises ``HTTPStatusError``, a server or agent that is not there
``UnreachableError`` (both ``K12AIError``); "nothing there yet" is ``[]``.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

from k12ai_client._config import ClientConfig
from k12ai_client.notebook.consul_kv import ConsulKv
from k12ai_client.notebook.rest import Gateway
from k12ai_client.notebook.server_events import HISTORY_WAIT_S, latest_events

P = ParamSpec("P")
R = TypeVar("R")
PLATFORM_SERVICE = "k12platform"
DEFAULT_URL = "http://127.0.0.1:8119"


@dataclass(frozen=True, kw_only=True)
class NotebookConfig:
    # The REST gateway, as the seeds address it (http://host:8119).
    url: str = DEFAULT_URL
    # "host:port" or "http(s)://host:port"; "" reads results from the server instead of Consul.
    consul_addr: str = ""
    consul_token: str = ""
    # k12ai_get_data's waitcnt counts tries this far apart, as in the seeds.
    poll_interval_s: float = 1.0
    timeout_s: float = 30.0
    # The API token and TLS files (a ClientConfig's target and user are the gRPC client's).
    client: ClientConfig = field(default_factory=ClientConfig)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NotebookConfig:
        environ = os.environ if environ is None else environ
        return cls(
            url=environ.get("K12AI_URL") or DEFAULT_URL,
            consul_addr=environ.get("CONSUL_HTTP_ADDR", ""),
            consul_token=environ.get("CONSUL_HTTP_TOKEN", ""),
            client=ClientConfig.from_env(environ),
        )


class NotebookSession:
    """The seed helpers over one configuration, and what they remember between calls."""

    def __init__(self, config: NotebookConfig | None = None) -> None:
        self.config = config or NotebookConfig.from_env()
        tls = self.config.client.ssl_context() if self.config.url.startswith("https:") else None
        self._gateway = Gateway(self.config.url, self.config.client.token, self.config.timeout_s, tls)
        self._consul = (
            ConsulKv(self.config.consul_addr, self.config.consul_token) if self.config.consul_addr else None
        )
        # Per key a post returned: where things stood just before its request was sent (the Consul
        # index, or the time in ms without Consul), so k12ai_del_data removes only older values.
        self._posted_marks: dict[str, int] = {}
        # Without Consul, per key prefix: the last seq that k12ai_del_data "deleted" (hides).
        self._deleted_through: dict[str, int] = {}

    def k12ai_post_framework_request(
        self,
        uri: str,
        op: str,
        user: str,
        service_name: str,
        uuid: str,
        params: str | dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """POST a Framework request (``uri`` e.g. ``k12ai/framework/train``): ``{'req', 'res', 'key'}``."""
        return self._send(uri, _seed_request(op, user, service_name, uuid, params), "framework")

    def k12ai_post_platform_request(
        self,
        uri: str,
        op: str,
        user: str,
        uuid: str,
        params: str | dict[str, Any] | None = None,
        isasync: bool = False,
        service_name: str = PLATFORM_SERVICE,
    ) -> dict[str, Any]:
        """POST a Platform request (``uri`` e.g. ``k12ai/platform/stats``): ``{'req', 'res', 'key'}``."""
        req = {**_seed_request(op, user, service_name, uuid, params), "async": isasync}
        return self._send(uri, req, "platform")

    def k12ai_get_data(self, key: str, type: str | None = None, waitcnt: int = 1) -> list[dict[str, Any]]:
        """The values under ``key/type`` (every type when None) as ``[{'key', 'value'}]``.

        Tries ``waitcnt`` times, ``poll_interval_s`` apart, until something is there; ``[]`` if not.
        """
        prefix = f"{key.rstrip('/')}/{type}" if type else key.rstrip("/")
        if self._consul is not None:
            return self._consul.poll(prefix, waitcnt, self.config.poll_interval_s)
        hidden = max((seq for k, seq in self._deleted_through.items() if prefix.startswith(k)), default=0)
        wait_s = max(1, waitcnt) * self.config.poll_interval_s
        found = latest_events(self._gateway, prefix, wait_s=wait_s, hidden_through=hidden)
        return [{"key": d["key"], "value": d["value"]} for d in found]

    def k12ai_del_data(self, key: str) -> None:
        """Delete the values under ``key``, so a later ``k12ai_get_data`` waits for new ones.

        For a key a post above returned, only values older than that request go: its own result
        may already be there (the server is quick), and the seeds delete *after* posting. Without
        Consul, "deleting" hides the older events from this session's reads; the server keeps them.
        """
        prefix = key.rstrip("/")
        mark = self._posted_marks.get(prefix)
        if self._consul is not None:
            self._consul.delete_under(prefix, mark)
            return
        mark = mark if mark is not None else _now_ms() + 1
        found = latest_events(self._gateway, prefix, wait_s=HISTORY_WAIT_S)
        older = [d["seq"] for d in found if d["value"]["timestamp"] < mark]
        self._deleted_through[prefix] = max([self._deleted_through.get(prefix, 0), *older])

    def _send(self, uri: str, req: dict[str, Any], tag: str) -> dict[str, Any]:
        key = f"{tag}/{req['user']}/{req['service_uuid']}/{req['op']}"
        self._posted_marks[key] = self._consul.index(key) if self._consul is not None else _now_ms()
        return {"req": req, "res": self._gateway.post(uri, req), "key": key}


@functools.cache
def default_session() -> NotebookSession:
    """The session the module's functions use: the environment's settings, made at first use."""
    return NotebookSession()


def _on_default_session(method: Callable[Concatenate[NotebookSession, P], R]) -> Callable[P, R]:
    """A session method as a module function over :func:`default_session` (same signature)."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return method(default_session(), *args, **kwargs)

    # help() and notebooks' completion show the seed's parameters, without the session's `self`.
    signature = inspect.signature(method)
    call.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])  # type: ignore[attr-defined]
    return call


k12ai_post_framework_request = _on_default_session(NotebookSession.k12ai_post_framework_request)
k12ai_post_platform_request = _on_default_session(NotebookSession.k12ai_post_platform_request)
k12ai_get_data = _on_default_session(NotebookSession.k12ai_get_data)
k12ai_del_data = _on_default_session(NotebookSession.k12ai_del_data)


def k12ai_print(obj: Any) -> None:
    """Print JSON (or a JSON string) indented by 4, as the seeds show it."""
    if isinstance(obj, str | bytes):
        try:
            obj = json.loads(obj)
        except ValueError:
            print(obj)
            return
    print(json.dumps(obj, indent=4, ensure_ascii=False))


def _seed_request(
    op: str, user: str, service_name: str, uuid: str, params: str | dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "op": op,
        "user": user,
        "service_name": service_name,
        "service_uuid": uuid,
        "service_params": _params(params),
    }


def _params(params: str | dict[str, Any] | None) -> dict[str, Any]:
    if params is None:
        return {}
    value = json.loads(params) if isinstance(params, str) else params
    if not isinstance(value, dict):
        raise ValueError("params: expected a JSON object")
    return value


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
