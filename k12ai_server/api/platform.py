"""The Platform service: the seed's /k12ai/platform/stats (op query) and control (op container.stop)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from k12ai_api.v1 import platform_pb2, platform_pb2_grpc
from k12ai_contract.events import EventType
from k12ai_server.api import replies
from k12ai_server.api.convert import value_message
from k12ai_server.api.replies import ApiError
from k12ai_server.api.requests import SeedRequest, params_dict, require, require_caller, require_op
from k12ai_server.events.log import EventLog
from k12ai_server.events.record import EventRecord
from k12ai_server.jobs.service import IntakeStoppedError, JobService
from k12ai_server.platform.host import HostSampler, seed_stats
from k12ai_server.security import audit
from k12ai_server.security.auth import Authenticator
from k12ai_server.security.tokens import Principal

log = logging.getLogger(__name__)

Reply = TypeVar("Reply", platform_pb2.StatsResponse, platform_pb2.ControlResponse)
Outcome = tuple[int, Any]
Action = Callable[[SeedRequest, Principal], Awaitable[Outcome]]
STATS_PARTS = ("cpus", "gpus", "disks", "containers")
# A job id (32 hex digits) or container id (64), or a prefix of one of at least 12, as Stats shows.
CONTAINER_ID = re.compile(r"[0-9a-f]{12,64}")


class PlatformServicer(platform_pb2_grpc.PlatformServicer):
    def __init__(
        self, *, sampler: HostSampler, jobs: JobService, events: EventLog, auth: Authenticator
    ) -> None:
        self._sampler = sampler
        self._auth = auth
        self._jobs = jobs
        self._events = events
        self._tasks: set[asyncio.Task[None]] = set()

    async def Stats(  # noqa: N802 (gRPC method names)
        self, request: platform_pb2.StatsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> platform_pb2.StatsResponse:
        return await self._handle(
            request, context, "Stats", ("query",), self._stats, platform_pb2.StatsResponse
        )

    async def Control(  # noqa: N802
        self, request: platform_pb2.ControlRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> platform_pb2.ControlResponse:
        return await self._handle(
            request, context, "Control", ("container.stop",), self._control, platform_pb2.ControlResponse
        )

    async def _handle(
        self,
        request: SeedRequest,
        context: grpc.aio.ServicerContext[Any, Any],
        rpc: str,
        ops: tuple[str, ...],
        action: Action,
        reply: Callable[..., Reply],
    ) -> Reply:
        principal = await self._auth.principal(context, f"Platform.{rpc}")
        peer = context.peer()
        try:
            require(request, "op", "user", "service_uuid")
            require_caller(principal, request.user)
            require_op(request, ops, f"/k12ai/platform/{rpc.lower()}")
        except ApiError as err:
            if rpc == "Control":
                audit.record(principal, peer, "control", request, code=err.code)
            return reply(code=err.code, descr=err.descr, message=value_message(err.message))
        if getattr(request, "async_mode", False):
            task = asyncio.ensure_future(self._run_async(request, rpc, action, principal, peer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            key = f"platform/{request.user}/{request.service_uuid}/{request.op}/result"
            return reply(
                code=replies.SUCCESS,
                descr=replies.DESCR[replies.SUCCESS],
                message=value_message(f"{request.op} accepted; the result follows as a result event ({key})"),
            )
        code, message = await _outcome(action, request, principal, peer, principal)
        return reply(code=code, descr=replies.DESCR[code], message=value_message(message))

    async def _run_async(
        self, request: SeedRequest, rpc: str, action: Action, principal: Principal, peer: str
    ) -> None:
        # The result is stored in request.user's event stream, which that user may watch: it
        # holds what that user may see (all containers only for an admin's own stream).
        audience = Principal(user=request.user, admin=principal.admin and request.user == principal.user)
        try:
            code, message = await _outcome(action, request, principal, peer, audience)
        except Exception as exc:
            # No caller is waiting for this reply: the result event says it failed.
            log.exception("async %s of %s failed", request.op, request.user)
            audit.failure(peer, f"Platform.{rpc}", request, status="INTERNAL", error=type(exc).__name__)
            code, message = replies.INTERNAL_ERROR, "server failure (details only in the server log)"
        result = EventRecord(
            type=EventType.RESULT,
            tag="platform",
            op=request.op,
            user=request.user,
            service_uuid=request.service_uuid,
            payload={"code": code, "descr": replies.DESCR[code], "message": message},
        )
        try:
            await self._events.append([result])
        except Exception:
            log.exception("the result of async %s for %s could not be stored", request.op, request.user)

    async def _stats(self, request: SeedRequest, viewer: Principal) -> Outcome:
        query = params_dict(request)
        for key, value in query.items():
            if key not in STATS_PARTS or not isinstance(value, bool):
                raise ApiError(
                    replies.INVALID_PARAMS,
                    f"service_params.{key}: expected one of {', '.join(STATS_PARTS)} set to true or false",
                )
        self._sampler.refresh_containers()
        user = None if viewer.admin else viewer.user
        return replies.SUCCESS, seed_stats(self._sampler.latest(), query, user=user)

    async def _control(self, request: SeedRequest, viewer: Principal) -> Outcome:
        params = params_dict(request)
        container_id = params.get("id")
        if not container_id or not isinstance(container_id, str):
            raise ApiError(replies.MISSING_FIELD, "missing mandatory field 'service_params.id'")
        if not CONTAINER_ID.fullmatch(container_id):
            return replies.TASK_START_FAILED, f"container id {container_id[:64]} is not found"
        live = [j for j in self._jobs.find_by_prefix(container_id) if not j.state.is_terminal()]
        if len(live) != 1:
            return replies.TASK_START_FAILED, f"container id {container_id} is not found"
        job = live[0]
        if job.identity.user != request.user:
            raise ApiError(
                replies.PERMISSION_DENIED, f"container id {container_id} belongs to another user's job"
            )
        try:
            await self._jobs.stop_job(job)
        except IntakeStoppedError as exc:
            raise ApiError(replies.UNAVAILABLE, str(exc)) from None
        return replies.SUCCESS, f"container id {container_id} stop success"


async def _outcome(
    action: Action, request: SeedRequest, principal: Principal, peer: str, viewer: Principal
) -> Outcome:
    """The action's code and message; ``viewer`` is whom its result is for."""
    try:
        code, message = await action(request, viewer)
    except ApiError as err:
        code, message = err.code, err.message
    if request.op != "query":
        # Mutating calls only, with the code they really ended with (refusals included).
        audit.record(principal, peer, "control", request, code=code)
    return code, message
