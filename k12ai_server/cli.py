"""``k12ai-server``: start the gRPC server and the REST gateway on the embedded defaults."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from k12ai_server.app import Server
from k12ai_server.config import ENV_PREFIX, DockerConfig, IngestConfig, RayConfig, ServerConfig
from k12ai_server.mirror.settings import add_consul_args, consul_config
from k12ai_server.runners.base import RunnerUnavailableError
from k12ai_server.security import token_cli
from k12ai_server.start_errors import StartRefusedError
from k12ai_server.state.db import DatabaseCorruptError

DEFAULTS = ServerConfig()


def _env(name: str, default: object) -> str:
    return os.environ.get(ENV_PREFIX + name.upper(), str(default))


def parse_args(argv: Sequence[str] | None = None) -> ServerConfig:
    p = argparse.ArgumentParser(prog="k12ai-server", description=__doc__)
    p.add_argument("--host", default=_env("host", DEFAULTS.host), help="address to bind (K12AI_HOST)")
    p.add_argument("--grpc-port", type=int, default=int(_env("grpc_port", DEFAULTS.grpc_port)))
    p.add_argument("--http-port", type=int, default=int(_env("http_port", DEFAULTS.http_port)))
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[o for o in _env("cors_origins", "").split(",") if o],
        help="a browser origin the REST gateway answers cross-origin, or * (repeatable; "
        "K12AI_CORS_ORIGINS, comma-separated)",
    )
    p.add_argument("--data-root", type=Path, default=Path(_env("data_root", DEFAULTS.data_root)))
    p.add_argument(
        "--input-root",
        type=Path,
        action="append",
        default=[Path(p) for p in _env("input_roots", "").split(os.pathsep) if p],
        help="another directory jobs may read inputs from (repeatable; K12AI_INPUT_ROOTS, ':'-separated)",
    )
    p.add_argument("--state-dir", type=Path, default=Path(_env("state_dir", DEFAULTS.state_dir)))
    p.add_argument(
        "--runner",
        choices=["local", "docker", "ray"],
        default=_env("runner", DEFAULTS.runner),
        help="local processes, Docker containers, or jobs of a Ray cluster (K12AI_RUNNER; see the "
        "--docker-* and --ray-* flags)",
    )
    _add_docker_args(p)
    _add_ray_args(p)
    p.add_argument(
        "--fake-gpus",
        type=int,
        default=int(_env("fake_gpus", DEFAULTS.fake_gpus)),
        help="pretend this host has N GPUs, to try the GPU queue without any (K12AI_FAKE_GPUS)",
    )
    p.add_argument("--stop-grace-s", type=float, default=float(_env("stop_grace_s", DEFAULTS.stop_grace_s)))
    p.add_argument(
        "--shutdown-grace-s",
        type=float,
        default=float(_env("shutdown_grace_s", DEFAULTS.shutdown_grace_s)),
        help="on SIGTERM, how long calls in flight may take to finish (open streams end at once)",
    )
    p.add_argument(
        "--http-header-timeout-s",
        type=float,
        default=float(_env("http_header_timeout_s", DEFAULTS.http_header_timeout_s)),
        help="close a REST connection that has not sent a whole request's headers within this time",
    )
    p.add_argument(
        "--max-running-jobs",
        type=int,
        default=int(_env("max_running_jobs", DEFAULTS.max_running_jobs)),
        help="jobs running at once; more wait queued (default 0: the CPU count; with --runner ray, 1000: "
        "the cluster places and queues jobs)",
    )
    p.add_argument(
        "--max-running-jobs-per-user",
        type=int,
        default=int(_env("max_running_jobs_per_user", DEFAULTS.max_running_jobs_per_user)),
        help="jobs one user may run at once; the rest wait queued while other users' jobs go first "
        "(default 0: all slots but one)",
    )
    p.add_argument(
        "--job-time-limit-s",
        type=float,
        default=float(_env("job_time_limit_s", DEFAULTS.job_time_limit_s)),
        help="a job running longer is stopped and fails, saying why (default 72 h; 0: no limit)",
    )
    p.add_argument("--heartbeat-s", type=float, default=float(_env("heartbeat_s", DEFAULTS.heartbeat_s)))
    p.add_argument(
        "--keep-runs",
        type=int,
        default=int(_env("keep_runs", DEFAULTS.keep_runs)),
        help="trainings a project keeps the model of, the newest first (K12AI_KEEP_RUNS; 0: all)",
    )
    p.add_argument(
        "--keep-runs-mib",
        type=int,
        default=int(_env("keep_runs_mib", DEFAULTS.keep_runs_bytes // 2**20)),
        help="MiB the earlier runs of a project may take, oldest removed first (K12AI_KEEP_RUNS_MIB)",
    )
    p.add_argument("--log-level", default=_env("log_level", DEFAULTS.log_level))
    p.add_argument(
        "--tokens-file",
        type=Path,
        default=os.environ.get(ENV_PREFIX + "TOKENS_FILE") or None,
        help="hashed API tokens (K12AI_TOKENS_FILE); without it the server is open and loopback-only",
    )
    p.add_argument(
        "--allow-open",
        action="store_true",
        default=os.environ.get(ENV_PREFIX + "ALLOW_OPEN") == "1",
        help="serve a non-loopback address without tokens (only behind an authenticating proxy)",
    )
    for name, what in (
        ("tls-cert", "PEM certificate chain of this server (enables TLS)"),
        ("tls-key", "PEM private key of --tls-cert"),
        ("tls-client-ca", "PEM CA bundle; clients must present a certificate it signed (mutual TLS)"),
    ):
        env = os.environ.get(ENV_PREFIX + name.replace("-", "_").upper())
        p.add_argument(f"--{name}", type=Path, default=env or None, help=what)
    add_consul_args(p)
    args = p.parse_args(argv)
    return ServerConfig(
        host=args.host,
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        cors_origins=tuple(args.cors_origin),
        data_root=args.data_root.expanduser().absolute(),
        input_roots=tuple(r.expanduser().absolute() for r in args.input_root),
        state_dir=args.state_dir.expanduser().absolute(),
        runner=args.runner,
        docker=_docker_config(args),
        ray=_ray_config(args),
        event_channel=args.event_channel,
        ingest=_ingest_config(args),
        fake_gpus=args.fake_gpus,
        stop_grace_s=args.stop_grace_s,
        shutdown_grace_s=args.shutdown_grace_s,
        http_header_timeout_s=args.http_header_timeout_s,
        max_running_jobs=args.max_running_jobs,
        max_running_jobs_per_user=args.max_running_jobs_per_user,
        job_time_limit_s=args.job_time_limit_s,
        heartbeat_s=args.heartbeat_s,
        keep_runs=args.keep_runs,
        keep_runs_bytes=args.keep_runs_mib * 2**20,
        log_level=args.log_level,
        tokens_file=args.tokens_file,
        allow_open=args.allow_open,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        consul=consul_config(args),
    )


def _add_docker_args(p: argparse.ArgumentParser) -> None:
    d = DEFAULTS.docker
    g = p.add_argument_group("Docker runner (each flag also reads K12AI_DOCKER_<NAME>)")
    g.add_argument("--docker-image", default=_env("docker_image", d.image), help="worker image")
    g.add_argument("--docker-cpus", type=float, default=float(_env("docker_cpus", d.cpus)), help="0: all")
    g.add_argument("--docker-memory", default=_env("docker_memory", d.memory), help="e.g. 512m, 8g")
    g.add_argument("--docker-pids-limit", type=int, default=int(_env("docker_pids_limit", d.pids_limit)))
    g.add_argument("--docker-network", default=_env("docker_network", d.network), help='"": no network')
    g.add_argument("--docker-user", default=_env("docker_user", d.user), help="uid:gid in the container")
    g.add_argument(
        "--docker-keep-containers",
        action="store_true",
        default=_env("docker_keep_containers", "0") == "1",
        help="leave finished containers for debugging",
    )


def _docker_config(args: argparse.Namespace) -> DockerConfig:
    return DockerConfig(
        image=args.docker_image,
        cpus=args.docker_cpus,
        memory=args.docker_memory,
        pids_limit=args.docker_pids_limit,
        network=args.docker_network,
        user=args.docker_user,
        keep_containers=args.docker_keep_containers,
    )


def _add_ray_args(p: argparse.ArgumentParser) -> None:
    r = DEFAULTS.ray
    g = p.add_argument_group("Ray runner and the network event channel (each flag also reads K12AI_<NAME>)")
    g.add_argument("--ray-address", default=_env("ray_address", r.address), help="e.g. http://head:8265")
    g.add_argument(
        "--ray-python", default=_env("ray_python", r.python), help="Python with k12ai on the nodes"
    )
    g.add_argument(
        "--ray-spool-dir", type=Path, default=Path(_env("ray_spool_dir", r.spool_dir)), help="node-local"
    )
    g.add_argument("--ray-cpus-per-job", type=float, default=float(_env("ray_cpus_per_job", r.cpus_per_job)))
    g.add_argument(
        "--event-channel",
        choices=["", "file", "network"],
        default=_env("event_channel", DEFAULTS.event_channel),
        help="how events reach the server: the run dir's file, or shipped over the network "
        "(default: file for local and docker, network for ray)",
    )
    i = DEFAULTS.ingest
    g.add_argument("--ingest-host", default=_env("ingest_host", i.host), help="bind address; default --host")
    g.add_argument("--ingest-port", type=int, default=int(_env("ingest_port", i.port)))
    g.add_argument(
        "--ingest-address", default=_env("ingest_address", i.advertise), help="host:port that jobs dial"
    )
    g.add_argument(
        "--ingest-ca",
        default=_env("ingest_ca", ""),
        help="with --tls-cert/--tls-key the ingest service serves TLS with them; jobs verify it against "
        "this CA bundle (PEM; default: the --tls-cert file itself)",
    )


def _ray_config(args: argparse.Namespace) -> RayConfig:
    return RayConfig(
        address=args.ray_address,
        python=args.ray_python,
        spool_dir=args.ray_spool_dir,
        cpus_per_job=args.ray_cpus_per_job,
    )


def _ingest_config(args: argparse.Namespace) -> IngestConfig:
    ca = Path(args.ingest_ca) if args.ingest_ca else None
    return IngestConfig(host=args.ingest_host, port=args.ingest_port, advertise=args.ingest_address, ca=ca)


async def _serve(config: ServerConfig) -> None:
    if config.runner == "ray" and not config.ray.address:
        raise RunnerUnavailableError(
            "--runner ray needs --ray-address (K12AI_RAY_ADDRESS), e.g. http://head:8265"
        )
    server = await Server.start(config)
    # One line on stdout that scripts and tests read to find the ports.
    print(
        f"k12ai-server listening grpc={config.host}:{server.grpc_port} http={config.host}:{server.http_port}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["token"]:
        sys.exit(token_cli.main(argv[1:]))
    config = parse_args(argv)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve(config))
    except RunnerUnavailableError as exc:
        print(f"k12ai-server: {exc}", file=sys.stderr)
        sys.exit(2)
    except (StartRefusedError, DatabaseCorruptError) as refused:
        # The message says what is in the way; a traceback would only hide it.
        sys.exit(f"k12ai-server: {refused}")
