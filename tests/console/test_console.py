"""The console, driven as a user would: every check waits for what the page shows."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import TOKENS
from tests.console.conftest import (
    QUICK_PARAMS,
    SLOW_PARAMS,
    job_state,
    metric_counts,
    start_training,
    wait_until,
)
from tests.gateway.conftest import RestServer, start_rest_server, stop

pytestmark = pytest.mark.browser
WAIT_MS = 60_000


def chart_points(page: Any, title: str) -> int:
    return int(page.locator(f'.chart[data-title="{title}"]').get_attribute("data-points") or 0)


def test_the_page_is_served_at_root_and_api_routes_keep_precedence(console_server: RestServer) -> None:
    page = requests.get(f"{console_server.url}/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
    assert script, page.text
    asset = requests.get(f"{console_server.url}{script.group(1)}", timeout=10)
    assert asset.status_code == 200 and "javascript" in asset.headers["Content-Type"]
    assert "immutable" in asset.headers["Cache-Control"]
    missing = requests.get(f"{console_server.url}/assets/nope.js", timeout=10)
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
    jobs = requests.get(f"{console_server.url}/k12ai/framework/jobs", timeout=10)
    assert jobs.headers["Content-Type"].startswith("application/json")


def test_jobs_list_shows_a_started_job_and_its_end_without_a_reload(
    page: Any, console_server: RestServer
) -> None:
    page.goto(f"{console_server.url}/")
    expect(page.get_by_text("No jobs yet")).to_be_visible(timeout=WAIT_MS)
    job_id = start_training(console_server, QUICK_PARAMS)
    row = page.locator(f'tr[data-job="{job_id}"]')
    expect(row).to_be_visible(timeout=WAIT_MS)
    expect(row).to_have_attribute("data-state", "finished", timeout=WAIT_MS)
    expect(row.locator(".badge")).to_have_text("finished")
    expect(row.locator("td.metrics")).to_contain_text("accuracy", timeout=WAIT_MS)


def test_job_page_curve_gains_points_while_the_job_runs(page: Any, console_server: RestServer) -> None:
    job_id = start_training(console_server, SLOW_PARAMS)
    page.goto(f"{console_server.url}/#/job/{job_id}")
    badge = page.locator("h1 .badge")
    expect(page.locator('.chart[data-title="accuracy"]')).to_have_attribute(
        "data-points", re.compile("[1-9]"), timeout=WAIT_MS
    )
    expect(badge).to_have_text("running")
    first = chart_points(page, "accuracy")
    # More points drawn while the page still says running: the curve grows live, not at the end.
    page.wait_for_function(
        """n => Number(document.querySelector('.chart[data-title="accuracy"]').dataset.points) > n
            && document.querySelector('h1 .badge').textContent.trim() === 'running'""",
        arg=first,
        timeout=WAIT_MS,
    )
    expect(badge).to_have_text("finished", timeout=WAIT_MS)
    assert chart_points(page, "accuracy") == 10


def test_a_server_restart_resumes_the_stream_with_every_point_once(
    page: Any, console_server: RestServer, tmp_path: Any
) -> None:
    job_id = start_training(console_server, SLOW_PARAMS)
    page.goto(f"{console_server.url}/#/job/{job_id}")
    expect(page.locator('.chart[data-title="accuracy"]')).to_have_attribute(
        "data-points", re.compile("[1-9]"), timeout=WAIT_MS
    )
    stop(console_server.proc)
    expect(page.locator("#connection-lost")).to_be_visible(timeout=WAIT_MS)
    # The same ports: the page reconnects to where it was served from.
    restarted = start_rest_server(tmp_path, "--http-port", str(console_server.http_port))
    try:
        expect(page.locator("#connection-lost")).to_be_hidden(timeout=WAIT_MS)
        expect(page.locator("h1 .badge")).to_have_text("finished", timeout=WAIT_MS)
        counts = metric_counts(restarted, job_id)
        assert counts["accuracy"] == 10
        for key, count in counts.items():
            expect(page.locator(f'tr[data-series="{key}"] td').nth(3)).to_have_text(str(count))
        assert chart_points(page, "accuracy") == 10
        # The log pane has each status event once: queued, starting, running, finished.
        expect(page.locator(".log .line.status")).to_have_count(4)
    finally:
        stop(restarted.proc)


def test_the_stop_button_stops_a_running_job(page: Any, console_server: RestServer) -> None:
    job_id = start_training(console_server, SLOW_PARAMS)
    page.goto(f"{console_server.url}/")
    row = page.locator(f'tr[data-job="{job_id}"]')
    expect(row).to_have_attribute("data-state", "running", timeout=WAIT_MS)
    row.locator("button.stop").click()
    expect(row).to_have_attribute("data-state", "stopped", timeout=WAIT_MS)
    assert job_state(console_server, job_id) == "stopped"
    expect(row.locator("button.stop")).to_have_count(0)


def test_compare_overlays_two_runs(page: Any, console_server: RestServer) -> None:
    first = start_training(console_server, QUICK_PARAMS, project="a")
    second = start_training(console_server, {**QUICK_PARAMS, "seed": 1}, project="b")
    wait_until(lambda: job_state(console_server, first) == job_state(console_server, second) == "finished")
    page.goto(f"{console_server.url}/")
    for job_id in (first, second):
        page.locator(f'tr[data-job="{job_id}"] input[type=checkbox]').check()
    page.locator("#compare-selected").click()
    chart = page.locator(".compare-chart .chart")
    expect(chart).to_have_attribute("data-points", "20", timeout=WAIT_MS)
    legend = chart.locator(".u-legend .u-series")
    expect(legend).to_have_count(3)  # the x axis and one line per run
    expect(legend.nth(1)).to_contain_text(first[:8])
    expect(legend.nth(2)).to_contain_text(second[:8])


def test_tokens_the_page_asks_and_shows_only_that_users_jobs(page: Any, secured_console: RestServer) -> None:
    alices = start_training(secured_console, QUICK_PARAMS, user="alice", token=TOKENS["alice"])
    bobs = start_training(secured_console, QUICK_PARAMS, user="bob", token=TOKENS["bob"])
    page.goto(f"{secured_console.url}/")
    prompt = page.locator("form.token-prompt")
    expect(prompt).to_be_visible(timeout=WAIT_MS)
    prompt.locator("input[name=user]").fill("alice")
    prompt.locator("input[name=token]").fill(TOKENS["alice"])
    prompt.locator("button[type=submit]").click()
    expect(page.locator(f'tr[data-job="{alices}"]')).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(f'tr[data-job="{bobs}"]')).to_have_count(0)
    page.goto(f"{secured_console.url}/#/job/{bobs}")
    expect(page.get_by_role("alert")).to_contain_text("not found", timeout=WAIT_MS)
    # The token was in memory only and never in a URL.
    assert TOKENS["alice"] not in page.url
    assert (
        page.evaluate("JSON.stringify(sessionStorage) + JSON.stringify(localStorage) + document.cookie")
        == "{}{}"
    )


def test_the_start_form_shows_a_refusal_and_bad_json(page: Any, console_server: RestServer) -> None:
    page.goto(f"{console_server.url}/#/start")
    page.locator("select[name=framework]").select_option("k12ml")
    page.locator("select[name=example]").select_option("train_iris")
    editor = page.locator("textarea[name=request]")
    editor.fill(editor.input_value().replace('"random_forest"', '"svm2"'))
    page.locator("#start").click()
    outcome = page.locator(".outcome.error")
    expect(outcome).to_contain_text("100103", timeout=WAIT_MS)
    expect(outcome).to_contain_text("svm2")
    expect(outcome.locator("button.field")).to_have_text("service_params.model.type")
    editor.fill("{ not json")
    page.locator("#start").click()
    expect(outcome).to_contain_text("not valid JSON")


def test_the_start_form_starts_an_example(page: Any, console_server: RestServer) -> None:
    page.goto(f"{console_server.url}/#/start")
    # A framework's examples in the order its jobs run: the training, which the others need, first.
    names = page.locator("select[name=example] option").all_inner_texts()
    assert [name.split("_")[0] for name in names] == ["train", "evaluate", "predict"], names
    expect(page.locator("select[name=example]")).to_have_value("train_iris")
    page.locator("#start").click()
    page.locator(".outcome.ok a").click()
    expect(page.locator("h1 .badge")).to_have_text("finished", timeout=WAIT_MS)


def test_an_unknown_job_id_says_so(page: Any, console_server: RestServer) -> None:
    page.goto(f"{console_server.url}/#/job/no-such-job")
    expect(page.get_by_role("alert")).to_contain_text("was not found", timeout=WAIT_MS)


def test_host_view_shows_the_host_and_running_jobs(page: Any, console_server: RestServer) -> None:
    job_id = start_training(console_server, SLOW_PARAMS)
    page.goto(f"{console_server.url}/#/host")
    expect(page.locator('.chart[data-title="CPU %"]')).to_have_attribute(
        "data-points", re.compile("[1-9]"), timeout=WAIT_MS
    )
    row = page.locator(f'tr[data-container^="{job_id[:12]}"]')
    expect(row).to_be_visible(timeout=WAIT_MS)
    row.locator("button.stop").click()
    wait_until(lambda: job_state(console_server, job_id) == "stopped")
    expect(row).to_have_count(0, timeout=WAIT_MS)


def test_a_queued_job_shows_its_place_then_runs(page: Any, tmp_path: Any) -> None:
    server = start_rest_server(tmp_path, "--max-running-jobs", "1")
    try:
        first = start_training(server, SLOW_PARAMS, project="first")
        queued = requests.post(
            f"{server.url}/k12ai/framework/train",
            json={"op": "train.start", "user": "test", "service_name": "k12ml", "service_uuid": "second",
                  "service_params": QUICK_PARAMS},
            timeout=10,
        ).json()  # fmt: skip
        assert queued["code"] == 100204, queued
        page.goto(f"{server.url}/")
        row = page.locator(f'tr[data-job="{queued["job_id"]}"]')
        expect(row.locator(".badge")).to_have_text("queued #1 in queue", timeout=WAIT_MS)
        page.locator(f'tr[data-job="{first}"] button.stop').click()
        expect(row).to_have_attribute("data-state", "finished", timeout=WAIT_MS)
    finally:
        stop(server.proc)
