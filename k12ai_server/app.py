"""Wires the parts together and runs the gRPC server and the REST gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from k12ai_api.v1 import framework_pb2, framework_pb2_grpc, platform_pb2, platform_pb2_grpc
from k12ai_server.api.boundary import UndecodableRequestInterceptor, guard_servicer
from k12ai_server.api.closing import ServerClosing
from k12ai_server.api.framework import FrameworkServicer
from k12ai_server.api.ingest import IngestEndpoint
from k12ai_server.api.platform import PlatformServicer
from k12ai_server.config import ServerConfig
from k12ai_server.console import ConsoleSite
from k12ai_server.events.bus import EventBus
from k12ai_server.events.log import EventLog
from k12ai_server.gateway import GatewayTls, RestGateway
from k12ai_server.gateway.limits import HttpTimeouts
from k12ai_server.jobs.gpus import GpuAllocator
from k12ai_server.jobs.limits import JobLimits, cpu_share, default_per_user, running_slots
from k12ai_server.jobs.service import JobPaths, JobService, ShipTarget
from k12ai_server.jobs.store import JobStore
from k12ai_server.metrics.registry import ServerMetrics
from k12ai_server.mirror.link import ConsulLink
from k12ai_server.platform.gpus import NvmlGpus
from k12ai_server.platform.host import HostSampler
from k12ai_server.runners.base import EventChannel, Runner
from k12ai_server.runners.local import LocalProcessRunner
from k12ai_server.runs.retention import RetentionPolicy, RunRetention
from k12ai_server.security.auth import Authenticator
from k12ai_server.security.job_secrets import JobSecrets
from k12ai_server.security.policy import load_tokens
from k12ai_server.security.tls import SERVER_OPTIONS, bind, ingest_tls
from k12ai_server.state.db import Database
from k12ai_server.state.lock import StateDirLock
from k12ai_server.state.watch import DatabaseWatch

log = logging.getLogger(__name__)

# A request is a config (params are capped at 256 KiB); replies and event batches may be larger.
MAX_RECEIVE_BYTES = 4 * 1024 * 1024
MAX_SEND_BYTES = 16 * 1024 * 1024
SERVICES = (
    framework_pb2.DESCRIPTOR.services_by_name["Framework"],
    platform_pb2.DESCRIPTOR.services_by_name["Platform"],
)
SERVICE_NAMES = tuple(service.full_name for service in SERVICES)


class Server:
    def __init__(
        self,
        *,
        config: ServerConfig,
        grpc_server: grpc.aio.Server,
        grpc_port: int,
        jobs: JobService,
        events: EventLog,
        sampler: HostSampler,
        runner: Runner,
        db: Database,
        watch: DatabaseWatch,
        gateway: RestGateway,
        closing: ServerClosing,
        lock: StateDirLock,
        consul: ConsulLink | None = None,
        ingest: IngestEndpoint | None = None,
    ) -> None:
        self.config = config
        self._closing = closing
        self._lock = lock
        self.grpc_port = grpc_port
        self.gateway = gateway
        self.http_port = gateway.port
        self.jobs = jobs
        self.events = events
        # None when no Consul address is configured (the embedded default).
        self.consul = consul
        self._grpc = grpc_server
        self._sampler = sampler
        self._runner = runner
        self._db = db
        self._watch = watch
        # The internal event ingest service, when jobs ship their events over the network.
        self.ingest = ingest

    @classmethod
    async def start(cls, config: ServerConfig, *, runner: Runner | None = None) -> Server:
        auth = Authenticator(load_tokens(config))
        # Before anything in the state directory is touched: one server per directory.
        lock = StateDirLock.acquire(config.state_dir)
        async with contextlib.AsyncExitStack() as undo:
            # Whatever started is given back if a later step fails.
            undo.callback(lock.release)
            server = await cls._start(config, runner, auth, lock, undo)
            undo.pop_all()
        return server

    @classmethod
    async def _start(
        cls,
        config: ServerConfig,
        runner: Runner | None,
        auth: Authenticator,
        lock: StateDirLock,
        undo: contextlib.AsyncExitStack,
    ) -> Server:
        # DatabaseCorruptError here: the server does not start on a damaged database.
        db = Database.open(config.state_dir)
        undo.callback(db.close)
        events = EventLog(db, EventBus(queue_size=config.subscriber_queue_size))
        gpus = NvmlGpus()
        runner = runner or await _make_runner(config)
        undo.push_async_callback(runner.close)
        ingest = _bind_ingest(config, runner)
        if ingest is not None:
            undo.push_async_callback(ingest.stop, 0)
        secrets = JobSecrets.load(config.state_dir)
        ship_to = (
            ShipTarget(address=ingest.address, secret_for=secrets.secret_for, ca_pem=ingest.ca_pem)
            if ingest
            else None
        )
        allocator = GpuAllocator(_gpu_inventory(config, gpus))
        job_store = JobStore(db)
        metrics = ServerMetrics(jobs=job_store, gpus=allocator, events=events)
        jobs = JobService(
            db=db,
            events=events,
            runner=runner,
            gpus=allocator,
            paths=JobPaths(
                data_root=config.data_root, state_dir=config.state_dir, data_roots=config.data_roots
            ),
            limits=job_limits(config),
            ship_to=ship_to,
        )
        if ingest is not None:
            ingest.serve(jobs=jobs, secrets=secrets)
        sampler = HostSampler(
            gpus=gpus, running=runner.running, disk_paths=[config.data_root, config.state_dir]
        )
        config.data_root.mkdir(parents=True, exist_ok=True)
        sampler.start()
        undo.push_async_callback(sampler.close)

        grpc_server = grpc.aio.server(
            interceptors=[metrics.interceptor, UndecodableRequestInterceptor()],
            options=[
                *SERVER_OPTIONS,
                ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
                ("grpc.max_send_message_length", MAX_SEND_BYTES),
            ],
        )
        closing = ServerClosing()
        framework = FrameworkServicer(
            jobs=jobs,
            events=events,
            auth=auth,
            data_roots=config.data_roots,
            heartbeat_s=config.heartbeat_s,
            closing=closing,
            retention=RunRetention(
                job_store, RetentionPolicy(keep_runs=config.keep_runs, keep_bytes=config.keep_runs_bytes)
            ),
        )
        platform = PlatformServicer(sampler=sampler, jobs=jobs, events=events, auth=auth)
        for servicer, service in zip((framework, platform), SERVICES, strict=True):
            guard_servicer(servicer, service)
        framework_pb2_grpc.add_FrameworkServicer_to_server(framework, grpc_server)
        platform_pb2_grpc.add_PlatformServicer_to_server(platform, grpc_server)
        # The REST gateway calls the same servicers in-process.
        gateway = RestGateway(
            dict(zip(SERVICE_NAMES, (framework, platform), strict=True)),
            max_body_bytes=MAX_RECEIVE_BYTES,
            cors_origins=config.cors_origins,
            timeouts=HttpTimeouts(
                header_timeout_s=config.http_header_timeout_s, shutdown_timeout_s=config.shutdown_grace_s
            ),
            console=ConsoleSite(),
            metrics=metrics,
        )
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, reflection.SERVICE_NAME, health.SERVICE_NAME), grpc_server
        )
        port = bind(grpc_server, config)
        await grpc_server.start()
        undo.push_async_callback(grpc_server.stop, 0)
        if ingest is not None:
            await ingest.start()
        # A taken REST port fails here, and the steps above are undone.
        await gateway.start(config.host, config.http_port, tls=_gateway_tls(config))
        undo.push_async_callback(gateway.stop)
        consul = None
        if config.consul.enabled:
            consul = await ConsulLink.start(
                config.consul,
                events=events,
                db=db,
                host=config.host,
                grpc_port=port,
                http_port=gateway.port,
                tls=config.tls_cert is not None,
                health_servicer=health_servicer,
            )
            metrics.attach_mirror(consul.mirror.health)
        await jobs.recover()
        for name in (*SERVICE_NAMES, ""):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

        async def not_serving(_why: str) -> None:
            for name in (*SERVICE_NAMES, ""):
                await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

        watch = DatabaseWatch(db, on_lost=not_serving)
        watch.start()

        log.info(
            "k12ai gRPC on %s:%d, REST on %d (runner %s, state %s)",
            config.host,
            port,
            gateway.port,
            config.runner,
            config.state_dir,
        )
        scheme = "https" if config.tls_cert is not None else "http"
        log.info("k12ai web console: %s://%s:%d/", scheme, config.host, gateway.port)
        return cls(
            config=config,
            grpc_server=grpc_server,
            grpc_port=port,
            jobs=jobs,
            events=events,
            sampler=sampler,
            runner=runner,
            db=db,
            watch=watch,
            gateway=gateway,
            consul=consul,
            closing=closing,
            lock=lock,
            ingest=ingest,
        )

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop serving: open streams end at once, other calls get ``grace_s`` (the configured
        ``shutdown_grace_s`` by default) to finish."""
        grace_s = self.config.shutdown_grace_s if grace_s is None else grace_s
        # Streams first: neither transport's stop would end a Watch that follows a live job.
        self._closing.close()
        if self.consul is not None:
            # Out of the catalog first, so nobody is sent to a server that is going away.
            await self.consul.deregister()
        await asyncio.gather(self.gateway.stop(), self._grpc.stop(grace_s))
        if self.ingest is not None:
            # Shippers keep their jobs' events in the spool and resend them to the next server.
            await self.ingest.stop(grace_s)
        await self._watch.close()
        await self.jobs.close()
        await self._sampler.close()
        await self._runner.close()
        if self.consul is not None:
            # After the jobs: their last events are mirrored before the link closes.
            await self.consul.close()
        self._db.close()
        self._lock.release()


def job_limits(config: ServerConfig) -> JobLimits:
    runner_cpus = {"docker": config.docker.cpus, "ray": config.ray.cpus_per_job}.get(config.runner, 0.0)
    slots = running_slots(config.max_running_jobs, config.runner)
    return JobLimits(
        max_running=slots,
        max_running_per_user=config.max_running_jobs_per_user or default_per_user(slots),
        time_limit_s=config.job_time_limit_s,
        stop_grace_s=config.stop_grace_s,
        cpu_threads=cpu_share(host_cpus=os.cpu_count() or 1, max_running=slots, runner_cpus=runner_cpus),
    )


def _gateway_tls(config: ServerConfig) -> GatewayTls | None:
    # The same files as gRPC's; security.tls.bind has already refused a cert without a key.
    if config.tls_cert is None or config.tls_key is None:
        return None
    return GatewayTls(cert=config.tls_cert, key=config.tls_key, client_ca=config.tls_client_ca)


async def _make_runner(config: ServerConfig) -> Runner:
    channel = EventChannel(config.event_channel or EventChannel.FILE)
    if config.runner == "ray":
        if config.event_channel == EventChannel.FILE:
            raise ValueError("the ray runner's jobs run on other nodes: its event channel is network")
        from k12ai_server.runners.ray_jobs import RayRunner

        return await RayRunner.connect(config.ray)
    if config.runner == "docker":
        # Imported here: the docker SDK is the optional `docker` extra.
        from k12ai_server.runners.docker import DockerRunner, connect_docker

        return DockerRunner(
            client=connect_docker(),
            config=config.docker,
            data_roots=config.data_roots,
            # Pretend GPUs are allocated and queued, but there is no device to hand over.
            request_gpus=not config.fake_gpus,
            event_channel=channel,
        )
    return LocalProcessRunner(event_channel=channel)


def _gpu_inventory(config: ServerConfig, gpus: NvmlGpus) -> list[int]:
    if config.runner == "ray":
        # The cluster places jobs on its nodes' GPUs; this host's are not the ones jobs get.
        return []
    return list(range(config.fake_gpus)) if config.fake_gpus else gpus.inventory()


def _bind_ingest(config: ServerConfig, runner: Runner) -> IngestEndpoint | None:
    if runner.event_channel is not EventChannel.NETWORK:
        return None
    return IngestEndpoint.bind(config.ingest, default_host=config.host, tls=ingest_tls(config))
