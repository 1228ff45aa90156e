"""schemathesis against the gateway's own /openapi.json: no 5xx, answers that fit the schema
(status, content type, body), no traceback in any answer. Bounded: a few dozen examples per
operation, no shrinking.

Watch is left out: a stream that follows live events has no end for schemathesis to wait for
(it is tested with real jobs in test_gateway_server and test_conformance).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.result import Ok

from tests.gateway.conftest import RestServer

EXAMPLES_PER_OPERATION = 25
LEAKS = ("Traceback (most recent call last)", 'File "/', "site-packages")
STREAMING_PATH = "/k12ai/framework/events"


def test_openapi_operations_hold_to_the_schema(rest_server: RestServer) -> None:
    schema = schemathesis.openapi.from_url(f"{rest_server.url}/openapi.json").exclude(path=STREAMING_PATH)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation of the document loads
        operations.append(result.ok())
    assert {op.path for op in operations} >= {"/k12ai/framework/train", "/k12ai/platform/stats"}
    for operation in operations:
        _fuzz(operation)


def _fuzz(operation: Any) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Any) -> None:
        response = case.call(timeout=10)
        assert response.status_code < 500, (operation.label, response.status_code, response.text)
        for leak in LEAKS:
            assert leak not in response.text, (operation.label, response.text)
        # The schema is the proto's: it cannot say which `op` or `states` values the server takes,
        # so schema-valid requests are refused with 400 by design (positive_data_acceptance).
        case.validate_response(response, excluded_checks=[positive_data_acceptance])

    run()
