"""The k12ai server: gRPC API, job orchestration, event streams, platform stats."""
