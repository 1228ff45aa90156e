"""Readers called in-process open their files through k12ai_worker.inputs, as a job's do."""

from __future__ import annotations

import pytest

from k12ai_contract.data_access import DataAccess
from k12ai_worker import inputs
from tests.worker.job_process import TEST_DATA_ROOTS


@pytest.fixture(scope="session", autouse=True)
def test_data_readable() -> None:
    # What a job's entry point does with its spec's data roots.
    inputs.allow(DataAccess.of(TEST_DATA_ROOTS, "test"))
