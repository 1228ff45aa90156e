"""``--consul-*`` flags, read from the environment as Consul's own clients read it.

Each flag's default comes from ``K12AI_CONSUL_<NAME>``, then from Consul's variable
(``CONSUL_HTTP_ADDR``, ``CONSUL_HTTP_TOKEN``, ``CONSUL_CACERT``, ``CONSUL_CLIENT_CERT``,
``CONSUL_CLIENT_KEY``, ``CONSUL_HTTP_SSL_VERIFY``). ``CONSUL_HTTP_SSL=true`` makes a bare
``host:port`` an HTTPS address. No address: Consul stays off.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from k12ai_server.config import ConsulConfig

DEFAULTS = ConsulConfig()


def _env(environ: Mapping[str, str], name: str, consul_name: str = "") -> str:
    return environ.get(f"K12AI_CONSUL_{name.upper()}") or (
        environ.get(consul_name, "") if consul_name else ""
    )


def _default_addr(environ: Mapping[str, str]) -> str:
    addr = _env(environ, "addr", "CONSUL_HTTP_ADDR")
    if addr and "//" not in addr and environ.get("CONSUL_HTTP_SSL", "").lower() == "true":
        return f"https://{addr}"
    return addr


def add_consul_args(p: argparse.ArgumentParser, environ: Mapping[str, str] = os.environ) -> None:
    g = p.add_argument_group("Consul (off unless an address is given)")
    g.add_argument(
        "--consul-addr",
        default=_default_addr(environ),
        help="agent's HTTP API, host:port or http(s)://host:port (K12AI_CONSUL_ADDR, CONSUL_HTTP_ADDR)",
    )
    g.add_argument(
        "--consul-token",
        default=_env(environ, "token", "CONSUL_HTTP_TOKEN"),
        help="ACL token (K12AI_CONSUL_TOKEN, CONSUL_HTTP_TOKEN); prefer the variable: flags show in ps",
    )
    for flag, name, consul_name, what in (
        ("--consul-ca-file", "ca_file", "CONSUL_CACERT", "CA bundle to verify an HTTPS agent"),
        ("--consul-client-cert", "client_cert", "CONSUL_CLIENT_CERT", "client certificate for mutual TLS"),
        ("--consul-client-key", "client_key", "CONSUL_CLIENT_KEY", "key of --consul-client-cert"),
    ):
        g.add_argument(flag, type=Path, default=_env(environ, name, consul_name) or None, help=what)
    g.add_argument(
        "--consul-tls-skip-verify",
        action="store_true",
        default=_env(environ, "tls_skip_verify") == "1"
        or environ.get("CONSUL_HTTP_SSL_VERIFY", "").lower() == "false",
        help="do not verify the agent's certificate",
    )
    g.add_argument("--consul-datacenter", default=_env(environ, "datacenter"))
    g.add_argument("--consul-service-name", default=_env(environ, "service_name") or DEFAULTS.service_name)
    g.add_argument(
        "--consul-service-address",
        default=_env(environ, "service_address"),
        help="address Consul's health check reaches this server by (default: --host, or the hostname)",
    )
    g.add_argument(
        "--no-consul-register",
        action="store_true",
        default=_env(environ, "register") == "0",
        help="mirror events only; do not register the service (K12AI_CONSUL_REGISTER=0)",
    )
    g.add_argument(
        "--consul-max-buffered-keys",
        type=int,
        default=int(_env(environ, "max_buffered_keys") or DEFAULTS.max_buffered_keys),
    )


def consul_config(args: argparse.Namespace) -> ConsulConfig:
    return ConsulConfig(
        addr=args.consul_addr,
        token=args.consul_token,
        ca_file=args.consul_ca_file,
        client_cert=args.consul_client_cert,
        client_key=args.consul_client_key,
        tls_verify=not args.consul_tls_skip_verify,
        datacenter=args.consul_datacenter,
        register=not args.no_consul_register,
        service_name=args.consul_service_name,
        service_address=args.consul_service_address,
        max_buffered_keys=args.consul_max_buffered_keys,
    )
