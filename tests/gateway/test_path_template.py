"""Path templates as google/api/http.proto defines them, matched as grpc-gateway matches them."""

from __future__ import annotations

import pytest

from k12ai_server.gateway.path_template import TemplateError, parse


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("/k12ai/framework/train", "/k12ai/framework/train", {}),
        ("/k12ai/framework/train", "/k12ai/framework/train/", None),
        ("/v1/jobs/{job_id}", "/v1/jobs/abc", {"job_id": "abc"}),
        ("/v1/jobs/{job_id}", "/v1/jobs/a/b", None),
        # One segment: fully decoded, so an encoded "/" is part of the value, never a separator.
        ("/v1/jobs/{job_id}", "/v1/jobs/..%2Fetc", {"job_id": "../etc"}),
        ("/v1/jobs/{job_id}", "/v1/jobs/%2e%2e%2f%2e%2e%2fetc", {"job_id": "../../etc"}),
        ("/v1/{name=projects/*}", "/v1/projects/p1", {"name": "projects/p1"}),
        ("/v1/{name=projects/*}", "/v1/users/p1", None),
        ("/v1/{path=**}", "/v1/a/b/c", {"path": "a/b/c"}),
        # Multi-segment: decoded except %2F, so the segments stay as sent.
        ("/v1/{path=**}", "/v1/a%2Fb/c%20d", {"path": "a%2Fb/c d"}),
        ("/v1/{a.b}/x/{c}", "/v1/one/x/two", {"a.b": "one", "c": "two"}),
        ("/v1/*/x", "/v1/any/x", {}),
        ("/v1/jobs/{job_id}:cancel", "/v1/jobs/j1:cancel", {"job_id": "j1"}),
        ("/v1/jobs/{job_id}:cancel", "/v1/jobs/j1", None),
    ],
)
def test_match(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert parse(template).match(path) == expected


@pytest.mark.parametrize(
    "template", ["k12ai/train", "/v1/{a/b", "/v1/{a={b}}", "/v1//x", "/v1/{1bad}", "/v1/a b{"]
)
def test_malformed_templates_are_refused(template: str) -> None:
    with pytest.raises(TemplateError):
        parse(template)


def test_literal_templates_are_known_as_such() -> None:
    assert parse("/k12ai/framework/train").is_literal
    assert not parse("/v1/jobs/{job_id}").is_literal
    assert not parse("/v1/*").is_literal
