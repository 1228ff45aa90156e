"""Cross-origin access for browser pages served from another origin (``--cors-origin``).

Off unless origins are configured: grpc-gateway has no CORS of its own either, and Envoy has
its CORS filter. A listed origin (or ``*``) gets ``Access-Control-Allow-Origin`` on every
answer, streams included, and preflight ``OPTIONS`` requests are answered here, so a page can
``fetch()`` with an ``Authorization`` header or follow a job with ``EventSource``.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

ANY = "*"
PREFLIGHT_MAX_AGE_S = 600
# Every header (Grpc-Metadata-*, Grpc-Trailer-*) readable by the page; "*" holds for requests
# without cookies, which is how bearer tokens travel.
EXPOSED = "*"


class CorsPolicy:
    def __init__(self, origins: Iterable[str]) -> None:
        self._origins = frozenset(origins)

    def __bool__(self) -> bool:
        return bool(self._origins)

    def allowed_origin(self, request: web.BaseRequest) -> str | None:
        origin = request.headers.get("Origin")
        if origin is None or not self._origins:
            return None
        if origin in self._origins:
            return origin
        return ANY if ANY in self._origins else None

    def preflight(self, request: web.BaseRequest, methods: Iterable[str]) -> web.Response | None:
        """The answer to a preflight request from an allowed origin, else None."""
        wanted = request.headers.get("Access-Control-Request-Method")
        if request.method != "OPTIONS" or wanted is None or self.allowed_origin(request) is None:
            return None
        headers = {
            "Access-Control-Allow-Methods": ", ".join(sorted({*methods, "OPTIONS"})),
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
        }
        requested_headers = request.headers.get("Access-Control-Request-Headers")
        if requested_headers:
            headers["Access-Control-Allow-Headers"] = requested_headers
        return web.Response(status=204, headers=headers)

    async def on_response_prepare(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        origin = self.allowed_origin(request)
        if origin is None:
            return
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
        if origin != ANY:
            response.headers["Vary"] = "Origin"
