"""REST transcoding of the gRPC services, generated from their ``google.api.http`` rules."""

from k12ai_server.gateway.server import GatewayTls, RestGateway

__all__ = ["GatewayTls", "RestGateway"]
