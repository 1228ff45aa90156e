"""A TEST DOUBLE of the parts of Consul's HTTP API that k12ai uses — not Consul.

No Consul binary can be installed on the machines these tests run on, so this aiohttp server
stands in for an agent, written to Consul's documented behaviour
(developer.hashicorp.com/consul/api-docs/kv, .../agent/service, .../features/blocking):

- ``GET /v1/kv/<key>``: a JSON array of ``{LockIndex, Key, Flags, Value (base64), CreateIndex,
  ModifyIndex}``; 404 with an empty body when nothing matches; ``?recurse`` (every key with the
  prefix, sorted), ``?keys`` (names only, with ``?separator``), ``?raw`` (the value's bytes).
  Every answer carries ``X-Consul-Index``: the highest ModifyIndex of what matched, or the KV
  store's index when nothing did. ``?index=N`` makes it a blocking query: it waits until that
  index moves past N or ``?wait`` (default 5m, at most 10m) runs out. (Consul adds up to
  wait/16 of jitter and may return early; this double does neither.)
- ``PUT /v1/kv/<key>``: the body is the value (at most 512 KiB); ``?cas`` (0: create only),
  ``?flags``; answers ``true`` or ``false``. ``DELETE /v1/kv/<key>`` with ``?recurse`` / ``?cas``.
- ``PUT /v1/agent/service/register`` (field names matched case-insensitively, snake_case too,
  as the agent does; ``Name`` required; ``ID`` defaults to it), ``PUT
  /v1/agent/service/deregister/<id>`` (404 for an unknown id), ``GET /v1/agent/services``,
  ``GET /v1/agent/service/<id>``, ``GET /v1/agent/checks``.
- ACLs: with ``acl_token`` set, a request without that token (``X-Consul-Token``,
  ``Authorization: Bearer`` or ``?token=``) gets 403 "Permission denied".

It speaks HTTPS when given an SSL context. For the outage tests it can go down (listener closed,
open connections dropped) and come back on the same port, answer slowly (``delay_s``), or fail
KV writes with a status (``fail_writes``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MAX_VALUE_BYTES = 512 * 1024
DEFAULT_WAIT_S = 300.0
MAX_WAIT_S = 600.0


@dataclass
class KvEntry:
    key: str
    value: bytes | None
    flags: int
    create_index: int
    modify_index: int

    def to_json(self) -> dict[str, Any]:
        return {
            "LockIndex": 0,
            "Key": self.key,
            "Flags": self.flags,
            "Value": base64.b64encode(self.value).decode() if self.value is not None else None,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }


@dataclass
class ConsulDouble:
    acl_token: str = ""
    # Seconds every request waits before it is answered.
    delay_s: float = 0.0
    # When set, KV writes answer this HTTP status (e.g. 500) instead of writing.
    fail_writes: int | None = None
    host: str = "127.0.0.1"
    port: int = 0
    # HTTPS (and, when the context requires one, a client certificate), as an agent with TLS on.
    tls: ssl.SSLContext | None = None
    kv: dict[str, KvEntry] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (method, path) of every request that reached a handler, in order.
    requests: list[tuple[str, str]] = field(default_factory=list)
    index: int = 1
    # Blocking queries waiting for a change right now.
    blocked_queries: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_VALUE_BYTES + 1, middlewares=[self._middleware])
        app.router.add_route("GET", "/v1/kv/{key:.*}", self._kv_get)
        app.router.add_route("PUT", "/v1/kv/{key:.*}", self._kv_put)
        app.router.add_route("DELETE", "/v1/kv/{key:.*}", self._kv_delete)
        app.router.add_route("PUT", "/v1/agent/service/register", self._register)
        app.router.add_route("PUT", "/v1/agent/service/deregister/{id}", self._deregister)
        app.router.add_route("GET", "/v1/agent/services", self._services)
        app.router.add_route("GET", "/v1/agent/service/{id}", self._service)
        app.router.add_route("GET", "/v1/agent/checks", self._checks)
        # Requests held by delay_s are dropped at once when the double goes down, as by a dead agent.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True, ssl_context=self.tls)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Down: the listener closes and open connections drop; the data stays for ``start``."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def value(self, key: str) -> Any:
        """The JSON value stored under key (KeyError when absent)."""
        entry = self.kv[key]
        assert entry.value is not None
        return json.loads(entry.value)

    # -- plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.requests.append((request.method, request.path))
        if self.acl_token and _token(request) != self.acl_token:
            return web.Response(status=403, text="Permission denied")
        response: web.StreamResponse = await handler(request)
        return response

    async def _bump(self) -> int:
        async with self._changed:
            self.index += 1
            self._changed.notify_all()
            return self.index

    # -- KV

    def _matching(self, key: str, recurse: bool) -> list[KvEntry]:
        if recurse:
            return [self.kv[k] for k in sorted(self.kv) if k.startswith(key)]
        return [self.kv[key]] if key in self.kv else []

    def _query_index(self, entries: list[KvEntry]) -> int:
        return max((e.modify_index for e in entries), default=self.index)

    async def _kv_get(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        query = request.query
        recurse = "recurse" in query or "keys" in query
        entries = self._matching(key, recurse)
        if "index" in query:
            entries = await self._block(key, recurse, int(query["index"]), _wait_s(query.get("wait", "")))
        headers = {"X-Consul-Index": str(self._query_index(entries)), "X-Consul-KnownLeader": "true"}
        if not entries:
            return web.Response(status=404, headers=headers)
        if "keys" in query:
            return web.json_response(_key_names(entries, key, query.get("separator", "")), headers=headers)
        if "raw" in query:
            return web.Response(body=entries[0].value or b"", headers=headers)
        return web.json_response([e.to_json() for e in entries], headers=headers)

    async def _block(self, key: str, recurse: bool, index: int, wait_s: float) -> list[KvEntry]:
        deadline = time.monotonic() + wait_s
        async with self._changed:
            while True:
                entries = self._matching(key, recurse)
                left = deadline - time.monotonic()
                if self._query_index(entries) > index or left <= 0:
                    return entries
                self.blocked_queries += 1
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    return self._matching(key, recurse)
                finally:
                    self.blocked_queries -= 1

    async def _kv_put(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if not key:
            return web.Response(status=400, text="Missing key name")
        if self.fail_writes is not None:
            return web.Response(status=self.fail_writes, text="injected failure")
        body = await request.read()
        if len(body) > MAX_VALUE_BYTES:
            return web.Response(status=413, text=f"Value exceeds {MAX_VALUE_BYTES} byte limit")
        current = self.kv.get(key)
        if "cas" in request.query:
            cas = int(request.query["cas"])
            if (cas == 0 and current is not None) or (
                cas and (current is None or current.modify_index != cas)
            ):
                return web.json_response(False)
        index = await self._bump()
        flags = int(request.query.get("flags", current.flags if current else 0))
        self.kv[key] = KvEntry(key, body, flags, current.create_index if current else index, index)
        return web.json_response(True)

    async def _kv_delete(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        recurse = "recurse" in request.query
        entries = self._matching(key, recurse)
        if "cas" in request.query and not recurse:
            cas = int(request.query["cas"])
            if not entries or entries[0].modify_index != cas:
                return web.json_response(False)
        if self.fail_writes is not None:
            return web.Response(status=self.fail_writes, text="injected failure")
        for entry in entries:
            del self.kv[entry.key]
        await self._bump()
        return web.json_response(True)

    # -- agent services

    async def _register(self, request: web.Request) -> web.Response:
        try:
            body = _normalised(json.loads(await request.read()))
        except ValueError:
            return web.Response(status=400, text="Request decode failed")
        name = body.get("name")
        if not name:
            return web.Response(status=400, text="Missing service name")
        service_id = body.get("id") or name
        checks = [
            _normalised(c) for c in [*body.get("checks", []), *([body["check"]] if "check" in body else [])]
        ]
        for check in checks:
            if ("grpc" in check or "http" in check or "tcp" in check) and not check.get("interval"):
                return web.Response(status=400, text="Invalid check: Interval must be > 0")
        self.services[service_id] = {
            "ID": service_id,
            "Service": name,
            "Tags": body.get("tags") or [],
            "Meta": body.get("meta") or {},
            "Port": body.get("port", 0),
            "Address": body.get("address", ""),
        }
        for number, check in enumerate(checks, start=1):
            check_id = check.get("checkid") or check.get("id") or f"service:{service_id}:{number}"
            self.checks[check_id] = {
                "CheckID": check_id,
                "ServiceID": service_id,
                "Status": "critical",
                **check,
            }
        await self._bump()
        return web.Response()

    async def _deregister(self, request: web.Request) -> web.Response:
        service_id = request.match_info["id"]
        if service_id not in self.services:
            return web.Response(status=404, text=f'Unknown service ID "{service_id}"')
        del self.services[service_id]
        for check_id in [c for c, check in self.checks.items() if check["ServiceID"] == service_id]:
            del self.checks[check_id]
        await self._bump()
        return web.Response()

    async def _services(self, request: web.Request) -> web.Response:
        return web.json_response(self.services)

    async def _service(self, request: web.Request) -> web.Response:
        service = self.services.get(request.match_info["id"])
        if service is None:
            return web.Response(status=404, text="unknown service ID")
        return web.json_response(service)

    async def _checks(self, request: web.Request) -> web.Response:
        return web.json_response(self.checks)


def _token(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    bearer = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
    return request.headers.get("X-Consul-Token") or bearer or request.query.get("token", "")


def _wait_s(text: str) -> float:
    if not text:
        return DEFAULT_WAIT_S
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    seconds = sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|s|m|h)", text))
    return min(seconds, MAX_WAIT_S)


def _key_names(entries: list[KvEntry], prefix: str, separator: str) -> list[str]:
    if not separator:
        return [e.key for e in entries]
    names: list[str] = []
    for entry in entries:
        rest = entry.key[len(prefix) :]
        cut = rest.find(separator)
        name = entry.key if cut < 0 else prefix + rest[: cut + len(separator)]
        if name not in names:
            names.append(name)
    return names


def _normalised(value: Any) -> Any:
    """Keys lower-cased without underscores, as the agent decodes a registration."""
    if isinstance(value, dict):
        return {k.replace("_", "").lower(): v for k, v in value.items()}
    return value
