"""Server settings: flags, then ``K12AI_*`` environment variables, then embedded defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOME = Path("~/.k12ai").expanduser()


@dataclass(frozen=True, kw_only=True)
class DockerConfig:
    """How the Docker runner (``runner="docker"``) shapes each job's container."""

    # Built by scripts/build_images; k12ai-worker:ml carries k12ml only.
    image: str = "k12ai-worker:latest"
    # 0: all of the host's CPUs (still shown as a limit).
    cpus: float = 0.0
    # Docker's size syntax ("512m", "8g"); swap is never added on top.
    memory: str = "8g"
    pids_limit: int = 1024
    # "" runs jobs with no network at all; else a Docker network name ("bridge", ...).
    network: str = ""
    # "uid:gid" inside the container; "" is the server's own, or nobody (65534) when the server is root.
    user: str = ""
    # Leave finished containers behind for `docker logs`/`inspect` (they are removed otherwise).
    keep_containers: bool = False


@dataclass(frozen=True, kw_only=True)
class RayConfig:
    """The Ray cluster the Ray runner (``runner="ray"``) submits jobs to."""

    # The head's dashboard (Jobs API), e.g. "http://head:8265".
    address: str = ""
    # The Python that has k12ai installed on every node (the entrypoint runs it).
    python: str = "python3"
    # Node-local directory of each job's events file (the worker's spool), spec and exit code.
    spool_dir: Path = Path("/tmp/k12ai-spool")
    # CPUs each job's entrypoint asks Ray for; also keeps jobs off a head started with --num-cpus=0.
    cpus_per_job: float = 1.0


@dataclass(frozen=True, kw_only=True)
class IngestConfig:
    """The internal EventIngestService that jobs on the network event channel ship their events to."""

    # Address to bind; "" is --host.
    host: str = ""
    port: int = 8120
    # "host:port" jobs dial; "" is host:port as bound (this machine's hostname for a wildcard host).
    advertise: str = ""
    # With --tls-cert/--tls-key the service serves TLS with them, and jobs verify it against
    # this CA bundle (PEM); None: the certificate file itself (a self-signed certificate, or a
    # file holding the chain up to its CA).
    ca: Path | None = None


@dataclass(frozen=True, kw_only=True)
class ConsulConfig:
    """The Consul agent that events are mirrored to and the server registers with; off without ``addr``."""

    # "host:port" or "http(s)://host:port" (CONSUL_HTTP_ADDR's forms); "" turns Consul off.
    addr: str = ""
    # ACL token sent as X-Consul-Token.
    token: str = ""
    # HTTPS to the agent: CA bundle to verify it by, and a client certificate for mutual TLS.
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    tls_verify: bool = True
    datacenter: str = ""
    # Register this server as a Consul service (with a gRPC health check) and deregister on stop.
    register: bool = True
    service_name: str = "k12ai"
    # The address Consul and its health check reach this server by; "" is --host, or this
    # machine's hostname when --host is a wildcard.
    service_address: str = ""
    # Distinct keys held back while Consul is down or slow (each holds only its latest value);
    # beyond it, the mirror re-reads the event log once room frees up.
    max_buffered_keys: int = 10_000

    @property
    def enabled(self) -> bool:
        return bool(self.addr)


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    host: str = "127.0.0.1"
    grpc_port: int = 8118
    http_port: int = 8119
    # Browser origins allowed to call the REST gateway cross-origin ("*": any); none: no CORS.
    cors_origins: tuple[str, ...] = ()
    # Users' project caches live under {data_root}/users/{user}/{service_uuid}.
    data_root: Path = DEFAULT_HOME / "data"
    # Where job inputs may be read from, besides data_root.
    input_roots: tuple[Path, ...] = ()
    state_dir: Path = DEFAULT_HOME / "state"
    runner: str = "local"
    docker: DockerConfig = field(default_factory=DockerConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    # "file" (the server tails each job's events file) or "network" (a shipper sends them to
    # the ingest service); "" is the runner's own: file for local and docker, network for ray.
    event_channel: str = ""
    ingest: IngestConfig = field(default_factory=IngestConfig)
    # Pretend the host has this many GPUs (no driver needed): allocation and the GPU
    # queue behave as with real ones, but no device reaches a container. For trying
    # the queue on a laptop and for CI; 0 uses the GPUs NVML finds.
    fake_gpus: int = 0
    stop_grace_s: float = 10.0
    # On SIGTERM: how long calls in flight may take to finish before they are cancelled
    # (open Watch streams are ended at once, telling the client where to resume).
    shutdown_grace_s: float = 5.0
    # A REST connection that has not sent a whole request's headers this long after opening
    # (or after its previous response) is closed.
    http_header_timeout_s: float = 20.0
    # Jobs running at once; more wait queued (each job is a process or container). 0 is the
    # runner's default (jobs.limits.running_slots).
    max_running_jobs: int = 0
    # Jobs one user may run at once (more wait queued, others' jobs go first); 0 is all slots but one.
    max_running_jobs_per_user: int = 0
    # A job running longer than this is stopped and fails with the reason; 0 is no limit.
    job_time_limit_s: float = 72 * 3600.0
    heartbeat_s: float = 5.0
    subscriber_queue_size: int = 1024
    # Run history per project (see k12ai_server.runs.retention): run folders kept, the new
    # training's included, and bytes the earlier ones may take; 0: no limit.
    keep_runs: int = 20
    keep_runs_bytes: int = 0
    consul: ConsulConfig = field(default_factory=ConsulConfig)
    log_level: str = "INFO"
    # JSON file of hashed API tokens (see `k12ai-server token create`); none = open, loopback only.
    tokens_file: Path | None = None
    # Serve without tokens on a non-loopback address: only behind another authenticating proxy.
    allow_open: bool = False
    # TLS for gRPC and the REST gateway; with tls_client_ca, clients must present a certificate.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def data_roots(self) -> tuple[Path, ...]:
        """Resolved, so symlinked roots compare equal to the resolved user paths."""
        return tuple(Path(os.path.realpath(p)) for p in (self.data_root, *self.input_roots))


ENV_PREFIX = "K12AI_"
