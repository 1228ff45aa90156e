"""Seed-shaped Platform requests (the later seed's stats and control bodies) several test modules send."""

from __future__ import annotations

from typing import Any


def stats_request(is_async: bool, **params: Any) -> dict[str, Any]:
    return {
        "op": "query",
        "user": "test",
        "service_name": "k12platform",
        "service_uuid": "uuid",
        "async": is_async,
        "service_params": params or {"cpus": True, "gpus": True, "disks": False, "containers": True},
    }


def control_request(container_id: str, user: str = "test") -> dict[str, Any]:
    return {
        "op": "container.stop",
        "user": user,
        "service_name": "k12platform",
        "service_uuid": "uuid",
        "async": False,
        "service_params": {"id": container_id},
    }
