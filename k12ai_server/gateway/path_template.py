"""Path templates of ``google.api.http`` rules, compiled to regular expressions.

The grammar (``google/api/http.proto``)::

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    Verb     = ":" LITERAL ;

Templates match the raw (still percent-encoded) request path, as grpc-gateway does, so an
encoded ``%2F`` never splits a segment; variables are decoded after the match: a variable
of one segment fully, a multi-segment one (``{name=**}``, ``{name=a/*}``) all but ``%2F``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_SEGMENT = "[^/]+"
_ANY_SEGMENTS = "(?:[^/]+(?:/[^/]+)*)?"
_LITERAL = re.compile(r"[^/{}*:=]+")
_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class TemplateError(ValueError):
    """A path template that does not follow the HttpRule grammar."""


@dataclass(frozen=True)
class Variable:
    field_path: str
    # Captures more than one segment, so an encoded "/" stays encoded when decoded.
    multi_segment: bool


@dataclass(frozen=True)
class PathTemplate:
    template: str
    pattern: re.Pattern[str]
    variables: tuple[Variable, ...]
    verb: str

    @property
    def is_literal(self) -> bool:
        return not self.variables and "*" not in self.template

    def match(self, raw_path: str) -> dict[str, str] | None:
        """The decoded variable values by field path, or None when the path does not match."""
        found = self.pattern.fullmatch(raw_path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for index, variable in enumerate(self.variables):
            raw = found.group(index + 1)
            values[variable.field_path] = (
                "%2F".join(unquote(part) for part in re.split("%2[fF]", raw))
                if variable.multi_segment
                else unquote(raw)
            )
        return values


def parse(template: str) -> PathTemplate:
    if not template.startswith("/"):
        raise TemplateError(f"{template!r}: a path template starts with '/'")
    body, verb = _split_verb(template[1:])
    regex, variables = _segments(body, template, inside_variable=False)
    suffix = ":" + re.escape(verb) if verb else ""
    return PathTemplate(template, re.compile("/" + regex + suffix), tuple(variables), verb)


def _split_verb(body: str) -> tuple[str, str]:
    # A verb follows the last segment, outside any variable: ":" after the last "}" or "/".
    cut = max(body.rfind("}"), body.rfind("/"))
    colon = body.find(":", cut + 1)
    if colon == -1:
        return body, ""
    return body[:colon], body[colon + 1 :]


def _segments(text: str, template: str, *, inside_variable: bool) -> tuple[str, list[Variable]]:
    parts: list[str] = []
    variables: list[Variable] = []
    for segment in _split_segments(text, template):
        if segment == "*":
            parts.append(_SEGMENT)
        elif segment == "**":
            parts.append(_ANY_SEGMENTS)
        elif segment.startswith("{"):
            if inside_variable:
                raise TemplateError(f"{template!r}: variables cannot nest")
            parts.append(_variable(segment, template, variables))
        elif _LITERAL.fullmatch(segment):
            parts.append(re.escape(segment))
        else:
            raise TemplateError(f"{template!r}: bad segment {segment!r}")
    return "/".join(parts), variables


def _variable(segment: str, template: str, variables: list[Variable]) -> str:
    inner = segment[1:-1]
    field_path, _, sub = inner.partition("=")
    if not _FIELD_PATH.fullmatch(field_path):
        raise TemplateError(f"{template!r}: bad variable {segment!r}")
    sub_regex, _ = _segments(sub or "*", template, inside_variable=True)
    variables.append(Variable(field_path, multi_segment=sub_regex != _SEGMENT))
    return f"({sub_regex})"


def _split_segments(text: str, template: str) -> list[str]:
    """Split on "/" outside braces."""
    segments: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "/" and depth == 0:
            segments.append(text[start:index])
            start = index + 1
        if depth not in (0, 1):
            raise TemplateError(f"{template!r}: unbalanced braces")
    if depth:
        raise TemplateError(f"{template!r}: unbalanced braces")
    segments.append(text[start:])
    if any(not s for s in segments):
        raise TemplateError(f"{template!r}: empty segment")
    return segments
