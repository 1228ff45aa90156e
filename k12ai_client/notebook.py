"""The seed notebooks' helpers, so a seed notebook runs with only its imports changed.

    from k12ai_client.notebook import k12ai_post_platform_request, k12ai_get_data, k12ai_del_data, k12ai_print

Requests go to the REST gateway as the seeds send them (``POST http://host:8119/k12ai/...``).
Results are read from Consul KV under the seeds' keys when a Consul address is configured
(``CONSUL_HTTP_ADDR``, as the seeds' clients read it), and otherwise from the server's own
event stream (``GET /k12ai/framework/events``), which holds the same events. Settings come
from the environment (``K12AI_URL``, ``K12AI_TOKEN``, ``CONSUL_HTTP_ADDR``,
``CONSUL_HTTP_TOKEN``) or from :func:`configure`.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from k12ai_contract.json_numbers import whole_numbers_as_ints


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# How long the server's history takes to arrive at most before "nothing stored" is believed.
HISTORY_WAIT_S = 0.5
# After the last event arrived, how long to wait for more before the latest is taken as final.
SETTLE_S = 0.2
PLATFORM_SERVICE = "k12platform"


@dataclass(frozen=True, kw_only=True)
class NotebookConfig:
    # The REST gateway, as the seeds address it (http://host:8119).
    url: str = "http://127.0.0.1:8119"
    token: str = ""
    # "host:port" or "http(s)://host:port"; "" reads results from the server instead of Consul.
    consul_addr: str = ""
    consul_token: str = ""
    # k12ai_get_data's waitcnt counts tries this far apart, as in the seeds.
    poll_interval_s: float = 1.0
    timeout_s: float = 30.0

    @classmethod
    def from_env(cls) -> NotebookConfig:
        return cls(
            url=os.environ.get("K12AI_URL", cls.url),
            token=os.environ.get("K12AI_TOKEN", ""),
            consul_addr=os.environ.get("CONSUL_HTTP_ADDR", ""),
            consul_token=os.environ.get("CONSUL_HTTP_TOKEN", ""),
        )


_config = NotebookConfig.from_env()
# Per key returned by a post: where things stood just before the request was sent (the Consul
# index, or the time in ms without Consul), so k12ai_del_data removes only older values.
_posted_marks: dict[str, int] = {}
# k12ai_del_data without Consul: per key prefix, the last seq that is "deleted" (hidden).
_deleted_through: dict[str, int] = {}


def configure(**changes: Any) -> NotebookConfig:
    """Change the helpers' settings (fields of :class:`NotebookConfig`); returns the new ones."""
    global _config
    _config = replace(_config, **changes)
    return _config


def k12ai_post_framework_request(
    uri: str, op: str, user: str, service_name: str, uuid: str, params: str | dict[str, Any] | None = None
) -> dict[str, Any]:
    """POST a Framework request (``uri`` e.g. ``k12ai/framework/train``): ``{'req', 'res', 'key'}``."""
    req = {
        "op": op,
        "user": user,
        "service_name": service_name,
        "service_uuid": uuid,
        "service_params": _params(params),
    }
    return _send(uri, req, f"framework/{user}/{uuid}/{op}")


def k12ai_post_platform_request(
    uri: str,
    op: str,
    user: str,
    uuid: str,
    params: str | dict[str, Any] | None = None,
    isasync: bool = False,
    service_name: str = PLATFORM_SERVICE,
) -> dict[str, Any]:
    """POST a Platform request (``uri`` e.g. ``k12ai/platform/stats``): ``{'req', 'res', 'key'}``."""
    req = {
        "op": op,
        "user": user,
        "service_name": service_name,
        "service_uuid": uuid,
        "service_params": _params(params),
        "async": isasync,
    }
    return _send(uri, req, f"platform/{user}/{uuid}/{op}")


def k12ai_get_data(key: str, type: str | None = None, waitcnt: int = 1) -> list[dict[str, Any]]:
    """The values under ``key/type`` (every type when None) as ``[{'key', 'value'}]``.

    Tries ``waitcnt`` times, ``poll_interval_s`` apart, until something is there; ``[]`` if not.
    """
    prefix = f"{key.rstrip('/')}/{type}" if type else key.rstrip("/")
    if _config.consul_addr:
        return _poll_consul(prefix, waitcnt)
    return _from_server(prefix, wait_s=max(1, waitcnt) * _config.poll_interval_s)


def k12ai_del_data(key: str) -> None:
    """Delete the values under ``key``, so a later :func:`k12ai_get_data` waits for new ones.

    For a key a post above returned, only values older than that request go: its own result
    may already be there (the server is quick), and the seeds delete *after* posting.
    """
    prefix = key.rstrip("/")
    mark = _posted_marks.get(prefix)
    if _config.consul_addr:
        _delete_from_consul(prefix, mark)
        return
    mark = mark if mark is not None else now_ms() + 1
    found = _from_server(prefix, wait_s=HISTORY_WAIT_S, include_deleted=True)
    older = [d["seq"] for d in found if d["value"]["timestamp"] < mark]
    _deleted_through[prefix] = max([_deleted_through.get(prefix, 0), *older])


def k12ai_print(obj: Any) -> None:
    """Print JSON (or a JSON string) indented by 4, as the seeds show it."""
    if isinstance(obj, str | bytes):
        try:
            obj = json.loads(obj)
        except ValueError:
            print(obj)
            return
    print(json.dumps(obj, indent=4, ensure_ascii=False))


def _params(params: str | dict[str, Any] | None) -> dict[str, Any]:
    if params is None:
        return {}
    value = json.loads(params) if isinstance(params, str) else params
    if not isinstance(value, dict):
        raise ValueError("params: expected a JSON object")
    return value


def _send(uri: str, req: dict[str, Any], key: str) -> dict[str, Any]:
    _posted_marks[key] = _consul_index(key) if _config.consul_addr else now_ms()
    return {"req": req, "res": _post(uri, req), "key": key}


def _headers() -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if _config.token:
        headers["Authorization"] = f"Bearer {_config.token}"
    return headers


def _post(uri: str, body: dict[str, Any]) -> Any:
    url = f"{_config.url.rstrip('/')}/{uri.lstrip('/')}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=_headers(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=_config.timeout_s) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        # The gateway's status body ({code, message, details}) is the answer a notebook shows.
        with error:
            return json.loads(error.read() or b"null")


# -- Consul


def _consul() -> Any:
    import consul  # the optional `consul` extra, as the seeds use it

    addr = _config.consul_addr
    parsed = urllib.parse.urlsplit(addr if "//" in addr else f"//{addr}")
    return consul.Consul(
        host=parsed.hostname or "127.0.0.1", port=parsed.port or 8500, scheme=parsed.scheme or "http"
    )


def _consul_index(prefix: str) -> int:
    index, _ = _consul().kv.get(f"{prefix}/", recurse=True, keys=True, token=_config.consul_token or None)
    return int(index or 0)


def _delete_from_consul(prefix: str, mark: int | None) -> None:
    client = _consul()
    token = _config.consul_token or None
    _, entries = client.kv.get(prefix, recurse=True, token=token)
    for entry in entries or ():
        key = entry["Key"]
        if key != prefix and not key.startswith(f"{prefix}/"):
            continue
        if mark is None or entry["ModifyIndex"] <= mark:
            # cas: a value written since it was read stays.
            client.kv.delete(key, cas=entry["ModifyIndex"], token=token)


def _poll_consul(prefix: str, waitcnt: int) -> list[dict[str, Any]]:
    client = _consul()
    token = _config.consul_token or None
    for attempt in range(max(1, waitcnt)):
        if attempt:
            time.sleep(_config.poll_interval_s)
        _, entries = client.kv.get(prefix, recurse=True, token=token)
        found = [
            {"key": e["Key"], "value": _json_or_text(e["Value"])}
            for e in entries or ()
            if e["Key"] == prefix or e["Key"].startswith(f"{prefix}/")
        ]
        if found:
            return found
    return []


def _json_or_text(value: bytes | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value.decode("utf-8", "replace")


# -- the server's event stream


def _from_server(prefix: str, *, wait_s: float, include_deleted: bool = False) -> list[dict[str, Any]]:
    """The latest event of each key under prefix, read from the server's Watch through REST."""
    parts = prefix.split("/")
    if len(parts) < 3:
        raise ValueError(f"key {prefix!r}: expected tag/user/service_uuid[/op[/type]]")
    tag, user, uuid, *rest = parts
    query = [("user", user), ("service_uuid", uuid)]
    if rest:
        query.append(("op", rest[0]))
    if len(rest) > 1:
        query.append(("types", rest[1]))
    hidden = 0 if include_deleted else _hidden_through(prefix)
    latest: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + max(wait_s, HISTORY_WAIT_S)
    for event in _events(query, deadline):
        envelope = _envelope(event)
        key = "/".join((tag, user, uuid, envelope["op"], envelope["type"]))
        if envelope["tag"] == tag and key.startswith(prefix) and event["seq"] > hidden:
            latest[key] = {"key": key, "value": envelope, "seq": event["seq"]}
    found = sorted(latest.values(), key=lambda d: d["key"])
    if include_deleted:
        return found
    return [{"key": d["key"], "value": d["value"]} for d in found]


def _hidden_through(prefix: str) -> int:
    return max((seq for key, seq in _deleted_through.items() if prefix.startswith(key)), default=0)


def _events(query: list[tuple[str, str]], deadline: float) -> Iterator[dict[str, Any]]:
    """Events of a Watch until ``deadline`` passes with none, or the stream goes quiet after some."""
    url = f"{_config.url.rstrip('/')}/k12ai/framework/events?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(url, headers=_headers())
    lines: queue.Queue[bytes | None] = queue.Queue()
    opened: list[Any] = []
    # The gateway answers a stream only with its first message, so even opening it may wait.
    timeout_s = max(0.0, deadline - time.monotonic()) + 1.0
    reader = threading.Thread(target=_read_lines, args=(request, timeout_s, lines, opened), daemon=True)
    reader.start()
    seen_any = False
    try:
        while True:
            wait = SETTLE_S if seen_any else deadline - time.monotonic()
            try:
                line = lines.get(timeout=max(0.0, wait))
            except queue.Empty:
                return
            if line is None:
                return
            message = json.loads(line)
            if "error" in message:
                raise RuntimeError(f"watch failed: {message['error']}")
            for event in message.get("result", {}).get("events", []):
                seen_any = True
                yield {**event, "seq": int(event["seq"])}
    finally:
        for response in opened:
            response.close()


def _read_lines(
    request: urllib.request.Request, timeout_s: float, lines: queue.Queue[bytes | None], opened: list[Any]
) -> None:
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            opened.append(response)
            for line in response:
                if line.strip():
                    lines.put(line)
    except Exception:
        # Closed by the consumer (http.client then fails in odd ways), timed out, or the server left.
        pass
    lines.put(None)


def _envelope(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": event["version"],
        "type": event["type"],
        "tag": event["tag"],
        "op": event["op"],
        "user": event["user"],
        "service_uuid": event["service_uuid"],
        "timestamp": int(event["timestamp"]),
        "datetime": event["datetime"],
        event["type"]: whole_numbers_as_ints(event.get("payload")),
    }
