"""gRPC status as REST answers: grpc-gateway's HTTP status table and its error body.

The body is ``google.rpc.Status`` in JSON, ``{"code": <gRPC code>, "message": ..., "details": [...]}``,
the same as grpc-gateway and Envoy's transcoder (``convert_grpc_status``) send.
"""

from __future__ import annotations

from typing import Any

import grpc

# grpc-gateway's runtime.HTTPStatusFromCode; Envoy's Grpc::Utility::grpcToHttpStatus agrees.
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


class GatewayError(Exception):
    """A call that ends with a non-OK gRPC status, raised anywhere between request and reply."""

    def __init__(self, code: grpc.StatusCode, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # Only for answers HTTP itself decides (413); otherwise the table above.
        self.http_status = http_status if http_status is not None else HTTP_STATUS.get(code, 500)

    def body(self) -> dict[str, Any]:
        return status_body(self.code, self.message)


def status_body(code: grpc.StatusCode, message: str) -> dict[str, Any]:
    number: int = code.value[0]
    return {"code": number, "message": message, "details": []}
