"""The web console in a real browser: Debian's headless Chromium driven by Playwright, against a
real ``k12ai-server`` process on port 0 running real k12ml jobs.

One browser for all these tests (starting Chromium is the slow part); each test gets a fresh
browser context (no shared storage) and its own server. Playwright's sync API runs its own
event loop, so these tests are plain functions and the server is a child process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from k12ai_server.security.tokens import hash_token
from tests.conftest import TOKENS
from tests.console.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.gateway.conftest import RestServer, start_rest_server, stop

# Chromium itself logs every fetch that fails or answers 4xx/5xx ("Failed to load resource: ...")
# as a console error; the page cannot prevent that, so only the page's own errors count.
BROWSER_NETWORK_LOG = "Failed to load resource"

# A k12ml training that takes seconds (200 trees on digits, grown in 10 stages, one metrics
# event each), so a test can watch it run and stop it.
SLOW_PARAMS = {
    "dataset": {"type": "builtin", "name": "digits"},
    "validation_split": 0.2,
    "seed": 0,
    "model": {"type": "random_forest", "params": {"n_estimators": 200}},
}
QUICK_PARAMS = {
    "dataset": {"type": "builtin", "name": "iris"},
    "validation_split": 0.2,
    "seed": 0,
    "model": {"type": "random_forest", "params": {"n_estimators": 50, "max_depth": 4}},
}


# One browser for all of tests/console, closed when they are done: Playwright's sync API holds an
# event loop of its own in this thread while it runs, which the asyncio tests after it must not meet.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    errors: list[str] = []
    tab.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and BROWSER_NETWORK_LOG not in m.text else None,
    )
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    context.close()
    assert not errors, f"the page logged errors: {errors}"


# The page is watched with several of one user's runs live at once (compare, the jobs list).
CONCURRENT_RUNS = ("--max-running-jobs", "4", "--max-running-jobs-per-user", "4")


@pytest.fixture
def console_server(tmp_path: Path) -> Iterator[RestServer]:
    server = start_rest_server(tmp_path, *CONCURRENT_RUNS)
    yield server
    stop(server.proc)


@pytest.fixture
def secured_console(tmp_path: Path) -> Iterator[RestServer]:
    tokens = tmp_path / "tokens.json"
    entries = [{"user": u, "sha256": hash_token(t), "admin": u == "root"} for u, t in TOKENS.items()]
    tokens.write_text(json.dumps({"tokens": entries}))
    server = start_rest_server(tmp_path, "--tokens-file", str(tokens), *CONCURRENT_RUNS)
    yield server
    stop(server.proc)


def start_training(
    server: RestServer, params: dict[str, Any], *, user: str = "test", project: str = "p1", token: str = ""
) -> str:
    """Starts a k12ml training over REST and returns its job id."""
    reply = requests.post(
        f"{server.url}/k12ai/framework/train",
        json={"op": "train.start", "user": user, "service_name": "k12ml", "service_uuid": project,
              "service_params": params},
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=10,
    ).json()  # fmt: skip
    assert reply["code"] == 100000, reply
    return str(reply["job_id"])


def job_state(server: RestServer, job_id: str, token: str = "") -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = requests.get(f"{server.url}/k12ai/framework/jobs/{job_id}", headers=headers, timeout=10)
    return str(reply.json()["job"]["state"])


def metric_counts(server: RestServer, job_id: str) -> dict[str, int]:
    reply = requests.get(f"{server.url}/k12ai/framework/jobs/{job_id}/metrics?latest_only=true", timeout=10)
    return {f"{s['phase']} {s['name']}".strip(): int(s["count"]) for s in reply.json()["series"]}


def wait_until(check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """``assert_eventually`` for these synchronous tests."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(0.05)
