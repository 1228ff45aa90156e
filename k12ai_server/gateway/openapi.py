"""An OpenAPI 3.0 document of the REST routes, generated from the same descriptors.

Schemas follow what the gateway reads and writes: proto field names (a field's explicit
``json_name``, such as the seed's ``async``, where the proto sets one), int64 as strings,
enums by name, ``Struct`` as a free object, ``Value`` as any JSON. Errors are
``google.rpc.Status``; a server-streaming route answers newline-delimited
``{"result": ...}`` / ``{"error": ...}`` objects, each described by the stream schema; a stream
of ``google.api.HttpBody`` answers the file itself.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf import descriptor

from k12ai_server.gateway.http_body import returns_http_body
from k12ai_server.gateway.routes import Route, RouteTable

FieldDescriptor = descriptor.FieldDescriptor
STATUS_SCHEMA = "google.rpc.Status"
_INT32 = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32}
_UINT32 = {FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32}
_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_SFIXED64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_FIXED64,
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {"type": "object", "additionalProperties": True},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BytesValue": {"type": "string", "format": "byte"},
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.DoubleValue": {"type": "number"},
    "google.protobuf.FloatValue": {"type": "number"},
    "google.protobuf.Int32Value": {"type": "integer", "format": "int32"},
    "google.protobuf.UInt32Value": {"type": "integer", "format": "int32", "minimum": 0},
    "google.protobuf.Int64Value": {"type": "string", "format": "int64"},
    "google.protobuf.UInt64Value": {"type": "string", "format": "uint64"},
}
_STATUS = {
    "type": "object",
    "description": "google.rpc.Status: a gRPC code (not the HTTP status), a message, details.",
    "properties": {
        "code": {"type": "integer", "format": "int32"},
        "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
    },
}


def openapi_document(table: RouteTable) -> dict[str, Any]:
    schemas: dict[str, Any] = {STATUS_SCHEMA: _STATUS}
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for route in table.routes:
        path = _openapi_path(route)
        operation = _operation(route, schemas, operation_ids)
        paths.setdefault(path, {})[route.http_method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "k12ai REST API", "version": "v1", "description": __doc__ or ""},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        # Open servers take no token; servers with a tokens file require one.
        "security": [{}, {"bearer": []}],
    }


def _openapi_path(route: Route) -> str:
    path = re.sub(r"\{([^}=]+)(=[^}]*)?\}", r"{\1}", route.template.template)
    return path


def _operation(route: Route, schemas: dict[str, Any], operation_ids: set[str]) -> dict[str, Any]:
    method = route.method
    operation_id = f"{method.containing_service.name}_{method.name}"
    suffix = 1
    while operation_id in operation_ids:
        suffix += 1
        operation_id = f"{method.containing_service.name}_{method.name}_{suffix}"
    operation_ids.add(operation_id)
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [method.containing_service.name],
        "summary": route.comment,
        "parameters": _parameters(route, schemas),
        "responses": {
            "200": _ok_response(route, schemas),
            "default": {
                "description": "An error: the HTTP status maps the gRPC code",
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{STATUS_SCHEMA}"}}
                },
            },
        },
    }
    if route.body:
        body_schema = (
            _message_ref(method.input_type, schemas)
            if route.body == "*"
            else _field_schema(method.input_type.fields_by_name[route.body], schemas)
        )
        operation["requestBody"] = {"content": {"application/json": {"schema": body_schema}}}
    return operation


def _ok_response(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    if returns_http_body(route):
        binary = {"type": "string", "format": "binary"}
        return {"description": "The file, as it is", "content": {"*/*": {"schema": binary}}}
    output = route.method.output_type
    reply = _message_ref(output, schemas)
    if route.server_streaming:
        reply = {
            "type": "object",
            "description": f"One line of the stream of {output.name}",
            "properties": {"result": reply, "error": {"$ref": f"#/components/schemas/{STATUS_SCHEMA}"}},
        }
    return {"description": "OK", "content": {"application/json": {"schema": reply}}}


def _parameters(route: Route, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    params = [
        {"name": v.field_path, "in": "path", "required": True, "schema": {"type": "string"}}
        for v in route.template.variables
    ]
    if route.body == "*":
        return params
    bound = {route.body, *(v.field_path.split(".")[0] for v in route.template.variables)}
    for field in route.method.input_type.fields:
        if field.name in bound:
            continue
        params += _query_parameters(field, field.name, schemas, depth=0)
    return params


def _query_parameters(
    field: descriptor.FieldDescriptor, name: str, schemas: dict[str, Any], depth: int
) -> list[dict[str, Any]]:
    message_type = field.message_type
    if message_type is None or message_type.full_name in _WELL_KNOWN:
        if message_type is not None and message_type.full_name.endswith(("Struct", "Value", "Any")):
            return []
        return [{"name": name, "in": "query", "required": False, "schema": _field_schema(field, schemas)}]
    if _is_repeated(field) or depth >= 3:
        return []
    nested: list[dict[str, Any]] = []
    for sub in message_type.fields:
        nested += _query_parameters(sub, f"{name}.{sub.name}", schemas, depth + 1)
    return nested


def _message_ref(message_type: descriptor.Descriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    name: str = message_type.full_name
    if name in _WELL_KNOWN:
        return dict(_WELL_KNOWN[name])
    if name not in schemas:
        schemas[name] = {}  # Placeholder first: messages may refer to themselves.
        schemas[name] = {
            "type": "object",
            "properties": {_property_name(f): _field_schema(f, schemas) for f in message_type.fields},
        }
    return {"$ref": f"#/components/schemas/{name}"}


def _field_schema(field: descriptor.FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _single_schema(value_field, schemas)}
    single = _single_schema(field, schemas)
    return {"type": "array", "items": single} if _is_repeated(field) else single


def _single_schema(field: descriptor.FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    kind = field.type
    if field.message_type is not None:
        return _message_ref(field.message_type, schemas)
    if field.enum_type is not None:
        return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
    if kind == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if kind == FieldDescriptor.TYPE_STRING:
        return {"type": "string"}
    if kind == FieldDescriptor.TYPE_BYTES:
        return {"type": "string", "format": "byte"}
    if kind in _INT32:
        return {"type": "integer", "format": "int32"}
    if kind in _UINT32:
        return {"type": "integer", "format": "int32", "minimum": 0}
    if kind in _INT64:
        # protojson writes 64-bit integers as strings (JavaScript numbers lose precision past 2^53).
        return {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}
    return {"type": "number"}


def _property_name(field: descriptor.FieldDescriptor) -> str:
    """The proto name, unless the proto names a JSON name of its own (``async``)."""
    default_json = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), field.name)
    return str(field.json_name if field.json_name != default_json else field.name)


def _is_repeated(field: descriptor.FieldDescriptor) -> bool:
    return bool(field.is_repeated)
