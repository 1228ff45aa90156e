"""The blocking client."""

from __future__ import annotations

import time
from collections.abc import Iterator
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


class K12AIClient:
    """Blocking client. Requests are messages or seed-shaped dicts, e.g.
    ``client.train({"op": "train.start", "user": "test", "service_name": "k12ml", ...})``.

    A reply whose code is neither success nor queued raises ``ReplyError``.
    """

    def __init__(self, config: ClientConfig | None = None, *, channel: grpc.Channel | None = None) -> None:
        self.config = config or ClientConfig()
        self._channel = channel or _open_channel(self.config)
        self._framework = framework_pb2_grpc.FrameworkStub(self._channel)
        self._platform = platform_pb2_grpc.PlatformStub(self._channel)

    @classmethod
    def connect(cls, target: str, **config: Any) -> K12AIClient:
        return cls(ClientConfig(target=target, **config))

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> K12AIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def train(self, request: SeedBody) -> framework_pb2.TrainResponse:
        return self._seed_call(self._framework.Train, "Train", request)  # type: ignore[no-any-return]

    def evaluate(self, request: SeedBody) -> framework_pb2.EvaluateResponse:
        return self._seed_call(self._framework.Evaluate, "Evaluate", request)  # type: ignore[no-any-return]

    def predict(self, request: SeedBody) -> framework_pb2.PredictResponse:
        return self._seed_call(self._framework.Predict, "Predict", request)  # type: ignore[no-any-return]

    def stats(self, request: SeedBody) -> platform_pb2.StatsResponse:
        return self._seed_call(self._platform.Stats, "Stats", request)  # type: ignore[no-any-return]

    def control(self, request: SeedBody) -> platform_pb2.ControlResponse:
        return self._seed_call(self._platform.Control, "Control", request)  # type: ignore[no-any-return]

    def get_job(self, job_id: str) -> framework_pb2.Job:
        reply = self._call(self._framework.GetJob, framework_pb2.GetJobRequest(job_id=job_id))
        return reply.job  # type: ignore[no-any-return]

    def list_jobs(
        self, *, user: str = "", service_uuid: str = "", states: list[str] | None = None, limit: int = 0
    ) -> list[framework_pb2.Job]:
        request = framework_pb2.ListJobsRequest(
            user=user, service_uuid=service_uuid, states=states or [], limit=limit
        )
        return list(self._call(self._framework.ListJobs, request).jobs)

    def get_metric_series(
        self, job_id: str, *, max_points: int = 0, latest_only: bool = False
    ) -> framework_pb2.GetMetricSeriesResponse:
        """Each metric series of a job, downsampled to ``max_points`` (0: 1000), extremes kept."""
        request = framework_pb2.GetMetricSeriesRequest(
            job_id=job_id, max_points=max_points, latest_only=latest_only
        )
        return self._call(self._framework.GetMetricSeries, request)  # type: ignore[no-any-return]

    def download_artefact(
        self, job_id: str, destination: Path | None = None, *, directory: Path = Path()
    ) -> Path:
        """Saves the job's artefact (a training's model.tar.gz, an evaluate/predict output_file).

        ``destination``: a file, or a folder for the server's file name; by default that name
        in ``directory``. The file appears only once it is whole; returns its path.
        """
        request = framework_pb2.DownloadArtefactRequest(job_id=job_id)
        part: PartFile | None = None
        try:
            call = self._framework.DownloadArtefact(request, metadata=self.config.metadata)
            name = filename_from(call.initial_metadata(), job_id)
            part = PartFile(target_path(destination, directory, name))
            for chunk in call:
                part.write(chunk.data)
        except LocalFileError:
            call.cancel()  # nowhere to put the rest: the server stops sending it
            raise
        except grpc.RpcError as exc:
            if part is not None:
                part.discard()
            raise from_rpc_error(exc) from exc
        return part.commit()

    def watch(self, state: WatchState | None = None, **filters: Any) -> Iterator[WatchItem]:
        """Events (and the final ``JobEnd`` of a job watch), resuming after dropped connections.

        ``filters`` are WatchState fields: job_id, user, service_uuid, op, types,
        last_seq (resume after it), heartbeats. Raises ``WatchError`` when the
        stream fails for good: an early end never looks like success.
        """
        state = state or WatchState(**filters)
        reconnects = self.config.reconnects()
        while not state.ended:
            try:
                for response in self._framework.Watch(state.request(), metadata=self.config.metadata):
                    reconnects.received()
                    yield from state.take(response)
                    if state.ended:
                        return
                delay = reconnects.after_close(state)
            except grpc.RpcError as exc:
                delay = reconnects.after_error(exc)
            if delay is None:
                return
            time.sleep(delay)

    def _seed_call(self, method: Any, rpc: str, request: SeedBody) -> Any:
        return check_reply(self._call(method, as_request(rpc, request, self.config.user)))

    def _call(self, method: Any, request: message.Message) -> Any:
        try:
            return method(request, timeout=self.config.timeout_s, metadata=self.config.metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc


def _open_channel(config: ClientConfig) -> grpc.Channel:
    if config.tls:
        return grpc.secure_channel(config.target, config.credentials())
    return grpc.insecure_channel(config.target)
