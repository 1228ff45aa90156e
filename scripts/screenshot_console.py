#!/usr/bin/env python3
"""Makes docs/console-job.png, the README's picture of the console: a finished k12cv run's job page.

A k12ai server (child process, port 0) trains ``examples/k12cv/train_digits.json`` on
scikit-learn's digits written as PNGs (as tests/server/test_k12cv.py does; seconds on a CPU),
then headless Chromium shows the job page and saves it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent


def main(out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.conftest import example
    from tests.console.chromium import CHROMIUM, CHROMIUM_ARGS
    from tests.digits import write_digits
    from tests.gateway.conftest import start_rest_server, stop

    with tempfile.TemporaryDirectory() as tmp:
        server = start_rest_server(Path(tmp))
        try:
            digits = write_digits(server.data_root / "datasets" / "digits")
            body = example("k12cv", "train_digits")
            body["service_uuid"] = "digits-cnn"
            body["service_params"]["train_data_path"] = str(digits.train)
            body["service_params"]["validation_data_path"] = str(digits.validation)
            reply = requests.post(f"{server.url}/k12ai/framework/train", json=body, timeout=30).json()
            job_id = reply["job_id"]
            deadline = time.monotonic() + 600
            while (state := job_state(server.url, job_id)) not in ("finished", "failed", "stopped"):
                if time.monotonic() > deadline:
                    raise SystemExit(f"job {job_id} still {state} after 600 s")
                time.sleep(0.5)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
                page.goto(f"{server.url}/#/job/{job_id}")
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.chart')].every(c => Number(c.dataset.points) > 0)"
                    " && document.querySelectorAll('.chart').length >= 3"
                )
                page.locator(".log .line.status", has_text="finished").wait_for()
                page.screenshot(path=str(out), full_page=True)
                browser.close()
            print(f"{state}: {out}")
        finally:
            stop(server.proc)


def job_state(url: str, job_id: str) -> str:
    return str(requests.get(f"{url}/k12ai/framework/jobs/{job_id}", timeout=10).json()["job"]["state"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console-job.png")
    main(parser.parse_args().out)
