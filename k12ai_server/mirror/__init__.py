"""Consul: every event mirrored into KV under the seeds' keys, and the server registered as a service."""

from k12ai_server.mirror.keys import kv_key, kv_value
from k12ai_server.mirror.link import HEALTH_SERVICE, ConsulLink
from k12ai_server.mirror.mirror import ConsulMirror, KvWriter, MirrorHealth, MirrorSettings

__all__ = [
    "HEALTH_SERVICE",
    "ConsulLink",
    "ConsulMirror",
    "KvWriter",
    "MirrorHealth",
    "MirrorSettings",
    "kv_key",
    "kv_value",
]
