"""The asyncio client: ``K12AIClient``'s methods as coroutines over ``grpc.aio``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import message

from k12ai_api.v1 import framework_pb2, framework_pb2_grpc, platform_pb2, platform_pb2_grpc
from k12ai_client._calls import SeedBody, as_request, check_reply
from k12ai_client._config import ClientConfig
from k12ai_client._download import PartFile, filename_from, target_path
from k12ai_client._errors import LocalFileError, from_rpc_error
from k12ai_client._watch import WatchItem, WatchState


class AsyncK12AIClient:
    def __init__(
        self, config: ClientConfig | None = None, *, channel: grpc.aio.Channel | None = None
    ) -> None:
        self.config = config or ClientConfig()
        self._channel = channel or _open_channel(self.config)
        self._framework = framework_pb2_grpc.FrameworkStub(self._channel)
        self._platform = platform_pb2_grpc.PlatformStub(self._channel)

    @classmethod
    async def connect(cls, target: str, **config: Any) -> AsyncK12AIClient:
        client = cls(ClientConfig(target=target, **config))
        await client._channel.channel_ready()
        return client

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncK12AIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def train(self, request: SeedBody) -> framework_pb2.TrainResponse:
        return await self._seed_call(self._framework.Train, "Train", request)  # type: ignore[no-any-return]

    async def evaluate(self, request: SeedBody) -> framework_pb2.EvaluateResponse:
        return await self._seed_call(self._framework.Evaluate, "Evaluate", request)  # type: ignore[no-any-return]

    async def predict(self, request: SeedBody) -> framework_pb2.PredictResponse:
        return await self._seed_call(self._framework.Predict, "Predict", request)  # type: ignore[no-any-return]

    async def stats(self, request: SeedBody) -> platform_pb2.StatsResponse:
        return await self._seed_call(self._platform.Stats, "Stats", request)  # type: ignore[no-any-return]

    async def control(self, request: SeedBody) -> platform_pb2.ControlResponse:
        return await self._seed_call(self._platform.Control, "Control", request)  # type: ignore[no-any-return]

    async def get_job(self, job_id: str) -> framework_pb2.Job:
        reply = await self._call(self._framework.GetJob, framework_pb2.GetJobRequest(job_id=job_id))
        return reply.job  # type: ignore[no-any-return]

    async def list_jobs(
        self, *, user: str = "", service_uuid: str = "", states: list[str] | None = None, limit: int = 0
    ) -> list[framework_pb2.Job]:
        request = framework_pb2.ListJobsRequest(
            user=user, service_uuid=service_uuid, states=states or [], limit=limit
        )
        return list((await self._call(self._framework.ListJobs, request)).jobs)

    async def get_metric_series(
        self, job_id: str, *, max_points: int = 0, latest_only: bool = False
    ) -> framework_pb2.GetMetricSeriesResponse:
        """Each metric series of a job, downsampled to ``max_points`` (0: 1000), extremes kept."""
        request = framework_pb2.GetMetricSeriesRequest(
            job_id=job_id, max_points=max_points, latest_only=latest_only
        )
        return await self._call(self._framework.GetMetricSeries, request)  # type: ignore[no-any-return]

    async def download_artefact(
        self, job_id: str, destination: Path | None = None, *, directory: Path = Path()
    ) -> Path:
        """As ``K12AIClient.download_artefact``."""
        request = framework_pb2.DownloadArtefactRequest(job_id=job_id)
        part: PartFile | None = None
        try:
            call = self._framework.DownloadArtefact(request, metadata=self.config.metadata)
            name = filename_from(await call.initial_metadata(), job_id)
            part = await asyncio.to_thread(PartFile, target_path(destination, directory, name))
            async for chunk in call:
                await asyncio.to_thread(part.write, chunk.data)
        except LocalFileError:
            call.cancel()  # nowhere to put the rest: the server stops sending it
            raise
        except grpc.RpcError as exc:
            if part is not None:
                await asyncio.to_thread(part.discard)
            raise from_rpc_error(exc) from exc
        return await asyncio.to_thread(part.commit)

    async def watch(self, state: WatchState | None = None, **filters: Any) -> AsyncIterator[WatchItem]:
        """As ``K12AIClient.watch``."""
        state = state or WatchState(**filters)
        reconnects = self.config.reconnects()
        while not state.ended:
            try:
                async for response in self._framework.Watch(state.request(), metadata=self.config.metadata):
                    reconnects.received()
                    for item in state.take(response):
                        yield item
                    if state.ended:
                        return
                delay = reconnects.after_close(state)
            except grpc.RpcError as exc:
                delay = reconnects.after_error(exc)
            if delay is None:
                return
            await asyncio.sleep(delay)

    async def _seed_call(self, method: Any, rpc: str, request: SeedBody) -> Any:
        return check_reply(await self._call(method, as_request(rpc, request, self.config.user)))

    async def _call(self, method: Any, request: message.Message) -> Any:
        try:
            return await method(request, timeout=self.config.timeout_s, metadata=self.config.metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc


def _open_channel(config: ClientConfig) -> grpc.aio.Channel:
    if config.tls:
        return grpc.aio.secure_channel(config.target, config.credentials())
    return grpc.aio.insecure_channel(config.target)
