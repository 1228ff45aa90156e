"""The REST routes, read at start-up from the ``google.api.http`` options in a descriptor set.

No route is written by hand: each HttpRule (and each of its ``additional_bindings``) of each
method of the served services becomes a :class:`Route`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from google.api import annotations_pb2, http_pb2  # type: ignore[import-untyped]
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message, message_factory

from k12ai_server.gateway.path_template import PathTemplate, parse

# Where protoc (scripts/gen_protos.py, --include_imports --include_source_info) wrote it.
DESCRIPTOR_SET = resources.files("k12ai_api") / "descriptor_set.binpb"
# FileDescriptorProto field numbers, to find a method's comment in SourceCodeInfo.
_SERVICE_FIELD = 6
_METHOD_FIELD = 2


@dataclass(frozen=True)
class Route:
    http_method: str
    template: PathTemplate
    # "" (no body: fields come from the path and the query), "*" (the whole message) or a field.
    body: str
    # "" (the whole response message) or the response field that is the HTTP body.
    response_body: str
    method: descriptor.MethodDescriptor
    # The leading comment of the RPC in the proto, for the OpenAPI document.
    comment: str

    @property
    def service(self) -> str:
        return str(self.method.containing_service.full_name)

    @property
    def server_streaming(self) -> bool:
        return bool(self.method.server_streaming)

    def new_request(self) -> message.Message:
        return message_factory.GetMessageClass(self.method.input_type)()


class RouteNotFoundError(LookupError):
    """No route has this path."""


class MethodNotAllowedError(LookupError):
    """Some route has this path, but not with this HTTP method."""


class RouteTable:
    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = tuple(routes)
        # Most requests name a literal path: a dict look-up, no regex.
        self._literal: dict[tuple[str, str], Route] = {}
        self._literal_paths: set[str] = set()
        self._templated: list[Route] = []
        for route in self.routes:
            if route.template.is_literal:
                self._literal.setdefault((route.http_method, route.template.template), route)
                self._literal_paths.add(route.template.template)
            else:
                self._templated.append(route)

    def methods(self, raw_path: str) -> set[str]:
        """The HTTP methods some route serves this path with."""
        return {r.http_method for r in self.routes if r.template.match(raw_path) is not None}

    def resolve(self, http_method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
        route = self._literal.get((http_method, raw_path))
        if route is not None:
            return route, {}
        path_known = raw_path in self._literal_paths
        for route in self._templated:
            values = route.template.match(raw_path)
            if values is None:
                continue
            if route.http_method == http_method:
                return route, values
            path_known = True
        if path_known:
            raise MethodNotAllowedError(http_method)
        raise RouteNotFoundError(raw_path)


def load_routes(
    service_names: Iterable[str],
    *,
    descriptor_set: bytes | None = None,
    pool: descriptor_pool.DescriptorPool | None = None,
) -> RouteTable:
    """Routes of the named services' methods; their message classes come from ``pool``.

    The generated modules of those services must be imported, so that the pool knows them:
    requests are built as the very classes the servicers expect.
    """
    files = descriptor_pb2.FileDescriptorSet.FromString(
        descriptor_set if descriptor_set is not None else DESCRIPTOR_SET.read_bytes()
    )
    pool = pool or descriptor_pool.Default()
    wanted = set(service_names)
    routes: list[Route] = []
    for file in files.file:
        comments = _method_comments(file)
        for service_index, service in enumerate(file.service):
            full_name = f"{file.package}.{service.name}" if file.package else service.name
            if full_name not in wanted:
                continue
            service_desc = pool.FindServiceByName(full_name)
            for method_index, method in enumerate(service.method):
                rule = method.options.Extensions[annotations_pb2.http]
                comment = comments.get((service_index, method_index), "")
                method_desc = service_desc.methods_by_name[method.name]
                routes += [_route(r, method_desc, comment) for r in _bindings(rule)]
            wanted.discard(full_name)
    if wanted:
        raise LookupError(f"services not in the descriptor set: {', '.join(sorted(wanted))}")
    return RouteTable(routes)


def _bindings(rule: http_pb2.HttpRule) -> Iterator[http_pb2.HttpRule]:
    if rule.WhichOneof("pattern"):
        yield rule
    # http.proto: additional bindings do not nest, so one level is all there is.
    yield from rule.additional_bindings


def _route(rule: http_pb2.HttpRule, method: descriptor.MethodDescriptor, comment: str) -> Route:
    kind = rule.WhichOneof("pattern")
    if kind == "custom":
        http_method, template = rule.custom.kind.upper(), rule.custom.path
    else:
        http_method, template = str(kind).upper(), getattr(rule, str(kind))
    return Route(
        http_method=http_method,
        template=parse(template),
        body=rule.body,
        response_body=rule.response_body,
        method=method,
        comment=comment,
    )


def _method_comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, int], str]:
    found: dict[tuple[int, int], str] = {}
    for location in file.source_code_info.location:
        path: Any = location.path
        if len(path) == 4 and path[0] == _SERVICE_FIELD and path[2] == _METHOD_FIELD:
            found[(path[1], path[3])] = " ".join(location.leading_comments.split())
    return found
