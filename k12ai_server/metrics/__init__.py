"""Prometheus metrics of a server, served at ``/metrics`` on its HTTP port.

One registry per server (never prometheus-client's global one: tests run several servers
in one process). RPC latency is measured where calls arrive: a gRPC server interceptor and
the REST gateway's handlers; everything else (jobs, queue, GPUs, events, watchers, the
Consul mirror) is read from the server's state when scraped.
"""
