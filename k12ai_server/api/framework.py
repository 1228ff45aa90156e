"""The Framework service: the seed's /k12ai/framework/{train,evaluate,predict}, Watch and job queries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.api import httpbody_pb2  # type: ignore[import-untyped]

from k12ai_api.v1 import framework_pb2, framework_pb2_grpc
from k12ai_contract.data_access import DataAccess
from k12ai_contract.errors import ConfigError
from k12ai_contract.jobs import JobKind, JobState
from k12ai_contract.spec import MODEL_RUN_PARAM, split_model_run
from k12ai_server.api import replies
from k12ai_server.api.closing import ServerClosedError, ServerClosing
from k12ai_server.api.convert import EventMessages, job_message, series_message
from k12ai_server.api.data_paths import rooted_inputs
from k12ai_server.api.model_choice import check_model_choice
from k12ai_server.api.replies import ApiError
from k12ai_server.api.requests import (
    SeedRequest,
    check_input_path,
    check_output_file,
    params_dict,
    require,
    require_caller,
    require_op,
)
from k12ai_server.events.filter import EventFilter
from k12ai_server.events.log import EventLog
from k12ai_server.events.series import DEFAULT_MAX_POINTS, MAX_POINTS_LIMIT
from k12ai_server.events.watch import WatchBatch, WatchRequest
from k12ai_server.jobs.model import InputPath, Job, JobIdentity
from k12ai_server.jobs.service import AdmissionFailedError, IntakeStoppedError, JobNotFoundError, JobService
from k12ai_server.jobs.store import JobAlreadyLiveError
from k12ai_server.runs.artefacts import ArtefactNotFoundError, job_artefact, read_chunks
from k12ai_server.runs.retention import RunRetention
from k12ai_server.security import audit
from k12ai_server.security.auth import Authenticator
from k12ai_server.security.tokens import Principal
from k12ai_worker import frameworks

log = logging.getLogger(__name__)

Reply = TypeVar(
    "Reply", framework_pb2.TrainResponse, framework_pb2.EvaluateResponse, framework_pb2.PredictResponse
)


class FrameworkServicer(framework_pb2_grpc.FrameworkServicer):
    def __init__(
        self,
        *,
        jobs: JobService,
        events: EventLog,
        auth: Authenticator,
        data_roots: Sequence[Path],
        heartbeat_s: float,
        closing: ServerClosing,
        retention: RunRetention,
    ) -> None:
        self._jobs = jobs
        self._closing = closing
        self._retention = retention
        self._auth = auth
        self._events = events
        self._data_roots = data_roots
        self._heartbeat_s = heartbeat_s
        self._messages = EventMessages()

    async def Train(  # noqa: N802 (gRPC method names)
        self, request: framework_pb2.TrainRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> framework_pb2.TrainResponse:
        return await self._handle(JobKind.TRAIN, request, framework_pb2.TrainResponse, context)

    async def Evaluate(  # noqa: N802
        self, request: framework_pb2.EvaluateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> framework_pb2.EvaluateResponse:
        return await self._handle(JobKind.EVALUATE, request, framework_pb2.EvaluateResponse, context)

    async def Predict(  # noqa: N802
        self, request: framework_pb2.PredictRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> framework_pb2.PredictResponse:
        return await self._handle(JobKind.PREDICT, request, framework_pb2.PredictResponse, context)

    async def _handle(
        self,
        kind: JobKind,
        request: SeedRequest,
        reply: Callable[..., Reply],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> Reply:
        principal = await self._auth.principal(context, f"Framework.{kind.value.capitalize()}")
        try:
            require(request, "op", "user", "service_name", "service_uuid")
            require_caller(principal, request.user)
            code, message, job_id = await self._dispatch(kind, request)
        except ApiError as err:
            audit.record(principal, context.peer(), kind.value, request, code=err.code)
            return reply(code=err.code, descr=err.descr, message=err.message)
        audit.record(principal, context.peer(), kind.value, request, code=code, job_id=job_id)
        return reply(code=code, descr=replies.DESCR[code], message=message, job_id=job_id)

    async def _dispatch(self, kind: JobKind, request: SeedRequest) -> tuple[int, str, str]:
        endpoint = f"/k12ai/framework/{kind.value}"
        op = require_op(request, (kind.start_op, kind.stop_op), endpoint)
        known = frameworks.names()
        if request.service_name not in known:
            raise ApiError(
                replies.UNKNOWN_SERVICE,
                f"unknown service_name {request.service_name!r}; expected one of {', '.join(known)}",
            )
        ident = JobIdentity(
            user=request.user, service_name=request.service_name, service_uuid=request.service_uuid, kind=kind
        )
        if op == kind.stop_op:
            return await self._stop(ident, op)
        return await self._start(ident, op, params_dict(request))

    async def _start(self, ident: JobIdentity, op: str, params: dict[str, Any]) -> tuple[int, str, str]:
        if not params:
            raise ApiError(replies.MISSING_FIELD, "missing mandatory field 'service_params'")
        framework = frameworks.load(ident.service_name)
        kind = ident.kind.value
        # The framework sees its own params; service_params.job_id picks the model (evaluate/predict).
        framework_params, _ = split_model_run(ident.kind, params)
        try:
            framework.validate(kind, framework_params)
        except ConfigError as exc:
            raise ApiError(replies.INVALID_PARAMS, f"service_params.{exc}") from None
        # A relative data path is read under the data root, where a client finds its data.
        params = rooted_inputs(params, framework.input_paths(kind, framework_params), self._data_roots[0])
        framework_params, _ = split_model_run(ident.kind, params)
        access = DataAccess.of(self._data_roots, ident.user)
        inputs = [
            InputPath(key, path, str(check_input_path(key, path, access)))
            for key, path in framework.input_paths(kind, framework_params)
        ]
        cache_dir = self._jobs.cache_dir(ident)
        check_output_file(framework_params, cache_dir)
        if ident.kind is JobKind.TRAIN:
            await self._retention.make_room(ident, cache_dir)
        else:
            await check_model_choice(cache_dir, ident.service_name, params.get(MODEL_RUN_PARAM, ""))
        gpus_wanted = framework.gpus_wanted(kind, framework_params)
        try:
            job = await self._jobs.start(ident, params, inputs=inputs, gpus_wanted=gpus_wanted)
        except IntakeStoppedError as exc:
            raise ApiError(replies.UNAVAILABLE, str(exc)) from None
        except AdmissionFailedError as exc:
            raise ApiError(replies.TASK_START_FAILED, str(exc)) from None
        except JobAlreadyLiveError as exc:
            raise ApiError(
                replies.JOB_ALREADY_RUNNING,
                f"a {kind} job of {ident.service_name} for {ident.user}/{ident.service_uuid} is already "
                f"{exc.existing.state.value} (job {exc.existing.job_id})",
            ) from None
        if job.state is JobState.QUEUED:
            return replies.JOB_QUEUED, f"{op} queued: waiting for {self._jobs.waiting_for(job)}", job.job_id
        return replies.SUCCESS, f"{op} task cache directory: {job.cache_dir}", job.job_id

    async def _stop(self, ident: JobIdentity, op: str) -> tuple[int, str, str]:
        try:
            job = await self._jobs.stop(ident)
        except JobNotFoundError as exc:
            raise ApiError(replies.JOB_NOT_FOUND, f"{op}: {exc}") from None
        except IntakeStoppedError as exc:
            raise ApiError(replies.UNAVAILABLE, str(exc)) from None
        return replies.SUCCESS, f"{op}: stopping job {job.job_id}", job.job_id

    async def Watch(  # noqa: N802
        self, request: framework_pb2.WatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[framework_pb2.WatchResponse]:
        principal = await self._auth.principal(context, "Framework.Watch")
        user = request.user
        if request.job_id:
            await self._owned_job(request.job_id, principal, context)
        elif not principal.admin:
            if user and user != principal.user:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"may not watch user {user!r}")
            user = principal.user
        watch = WatchRequest(
            where=EventFilter(
                job_id=request.job_id, user=user, service_uuid=request.service_uuid, op=request.op
            ),
            types=frozenset(request.types),
            after_seq=request.after_seq,
            heartbeat_s=self._heartbeat_s,
        )
        last_seq = request.after_seq
        batches = self._events.follow(watch, self._terminal_state)
        try:
            async for item in self._closing.until_closed(batches):
                if item.events:
                    last_seq = item.events[-1].seq
                yield self._watch_response(item)
        except ServerClosedError:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"the server is shutting down; watch again with after_seq={last_seq} to resume",
            )

    async def _owned_job(
        self, job_id: str, principal: Principal, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"job {job_id!r} not found")
        assert job is not None
        if not principal.may_act_as(job.identity.user):
            # Same answer as a missing job: ids of other users' jobs are not confirmed.
            await context.abort(grpc.StatusCode.NOT_FOUND, f"job {job_id!r} not found")
        return job

    def _watch_response(self, batch: WatchBatch) -> framework_pb2.WatchResponse:
        response = framework_pb2.WatchResponse(events=[self._messages.get(e) for e in batch.events])
        if batch.heartbeat is not None:
            response.heartbeat.last_seq = batch.heartbeat.last_seq
            response.heartbeat.timestamp = batch.heartbeat.timestamp
        if batch.end is not None:
            response.end.job_id = batch.end.job_id
            response.end.state = batch.end.state
        return response

    def _terminal_state(self, job_id: str) -> str | None:
        job = self._jobs.get(job_id)
        return job.state.value if job and job.state.is_terminal() else None

    async def GetJob(  # noqa: N802
        self, request: framework_pb2.GetJobRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> framework_pb2.GetJobResponse:
        principal = await self._auth.principal(context, "Framework.GetJob")
        job = await self._owned_job(request.job_id, principal, context)
        return framework_pb2.GetJobResponse(job=self._job_message(job))

    async def DownloadArtefact(  # noqa: N802
        self, request: framework_pb2.DownloadArtefactRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        principal = await self._auth.principal(context, "Framework.DownloadArtefact")
        job = await self._owned_job(request.job_id, principal, context)
        try:
            artefact = await asyncio.to_thread(job_artefact, job)
        except ArtefactNotFoundError as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
            raise
        await context.send_initial_metadata((("content-disposition", artefact.content_disposition),))
        # The content type goes in the first message, where HTTP transcoders read it.
        content_type = artefact.content_type
        async for chunk in read_chunks(artefact.path):
            yield httpbody_pb2.HttpBody(content_type=content_type, data=chunk)
            content_type = ""
        if content_type:  # an empty file: one message all the same, for its type
            yield httpbody_pb2.HttpBody(content_type=content_type)

    async def ListJobs(  # noqa: N802
        self, request: framework_pb2.ListJobsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> framework_pb2.ListJobsResponse:
        try:
            states = tuple(JobState(s) for s in request.states)
        except ValueError:
            valid = ", ".join(s.value for s in JobState)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"states: expected some of {valid}")
            raise
        principal = await self._auth.principal(context, "Framework.ListJobs")
        if not principal.may_act_as(request.user or principal.user):
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"may not list jobs of user {request.user!r}"
            )
        jobs = self._jobs.query(
            user=request.user if principal.admin else principal.user,
            service_uuid=request.service_uuid,
            states=states,
            limit=request.limit or 100,
        )
        return framework_pb2.ListJobsResponse(jobs=[self._job_message(j) for j in jobs])

    def _job_message(self, job: Job) -> framework_pb2.Job:
        result = self._events.result_of(job.job_id) if job.state is JobState.FINISHED else None
        return job_message(job, self._events.last_seq(job.job_id), result)

    async def GetMetricSeries(  # noqa: N802
        self, request: framework_pb2.GetMetricSeriesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> framework_pb2.GetMetricSeriesResponse:
        principal = await self._auth.principal(context, "Framework.GetMetricSeries")
        job = await self._owned_job(request.job_id, principal, context)
        if not 0 <= request.max_points <= MAX_POINTS_LIMIT:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"max_points: {request.max_points} is not between 0 (the default, "
                f"{DEFAULT_MAX_POINTS}) and {MAX_POINTS_LIMIT}",
            )
        last_seq, series = self._events.metric_series(
            job.job_id, max_points=request.max_points or DEFAULT_MAX_POINTS, latest_only=request.latest_only
        )
        return framework_pb2.GetMetricSeriesResponse(
            series=[series_message(s) for s in series], last_seq=last_seq
        )
