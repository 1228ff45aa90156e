"""The `k12ai` command line as a new user runs it: real subprocesses against a real server process.

Every ordinary mistake is answered by a message (checked here word for word where it matters)
and an exit status, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from k12ai_client import ClientConfig, Event, K12AIClient, to_envelope
from k12ai_client.cli.follow import metrics_text
from k12ai_server.security.tokens import hash_token
from tests.conftest import EXAMPLES, TOKENS, ServerProcess, start_server_process
from tests.jobs import slow_training
from tests.pki import make_pki

TIMEOUT_S = 180
TRAIN = str(EXAMPLES / "k12ml/train_iris.json")
EVALUATE = str(EXAMPLES / "k12ml/evaluate_iris.json")
PREDICT = str(EXAMPLES / "k12ml/predict_iris.json")
# A whole final line: "job finished in 2.1 s: epoch 10 · loss 0.0606 · accuracy 0.9667 · ..."
FINAL_LINE = re.compile(r"^job (\w+) in [0-9.]+ s(?:: (.*))?$", re.MULTILINE)
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``k12ai ARGS`` with only the environment given (no K12AI_* from the test's own)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("K12AI_")}
    cmd = [sys.executable, "-m", "k12ai_client", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env={**base, **(env or {})})


def k12ai(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--target", f"127.0.0.1:{port}", *args)


def no_traceback(ran: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran.stderr


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the tests that do not count its jobs."""
    server = start_server_process(tmp_path_factory.mktemp("cli"), "--max-running-jobs", "8")
    yield server
    server.stop()


def test_train_start_watch_then_predict(server_process: Callable[..., ServerProcess]) -> None:
    server = server_process()
    trained = k12ai(server.grpc_port, "train", "start", "--config", TRAIN, "--watch")
    assert trained.returncode == 0, trained.stderr
    assert "100000 task service success" in trained.stderr
    assert "job finished" in trained.stderr

    predicted = k12ai(server.grpc_port, "predict", "start", "--config", PREDICT, "--watch")
    assert predicted.returncode == 0, predicted.stderr
    assert '"type": "predict"' in predicted.stderr

    jobs = k12ai(server.grpc_port, "jobs", "list", "--json")
    states = [json.loads(line)["state"] for line in jobs.stdout.splitlines()]
    assert states == ["finished", "finished"]


def test_refusals_exit_non_zero_with_the_code(server_process: Callable[..., ServerProcess]) -> None:
    server = server_process()
    evaluated = k12ai(server.grpc_port, "evaluate", "start", "--config", EVALUATE)
    assert evaluated.returncode == 2
    assert "100202" in evaluated.stderr and "model.tar.gz is not found in" in evaluated.stderr


def test_a_stop_without_a_user_says_how_to_name_one(shared: ServerProcess) -> None:
    stopped = k12ai(shared.grpc_port, "train", "stop", "--service-name", "k12ml", "--uuid", "no-user")
    assert stopped.returncode == 2
    assert "train stop needs the user whose job it is: give --user USER or set K12AI_USER" in no_traceback(
        stopped
    )


def test_stats_prints_the_seed_message(shared: ServerProcess) -> None:
    stats = k12ai(shared.grpc_port, "stats")
    assert stats.returncode == 0, stats.stderr
    message = json.loads(stats.stdout)
    assert {"cpu_percent", "gpus", "containers"} <= message.keys()
    assert type(message["cpu_memory_total"]) is int


@dataclass(frozen=True)
class Trained:
    job_id: str
    # Written to a terminal 200 columns wide: the progress bar's frames, then the final line.
    stderr: str


@pytest.fixture(scope="module")
def trained(shared: ServerProcess) -> Trained:
    """One training of project "cli-train" by user "dave", followed with --watch in a wide terminal."""
    env = {
        "K12AI_TARGET": f"127.0.0.1:{shared.grpc_port}",
        "K12AI_USER": "dave",
        "FORCE_COLOR": "1",
        "COLUMNS": "200",
    }
    ran = run_cli("train", "start", "--config", TRAIN, "--uuid", "cli-train", "--watch", env=env)
    assert ran.returncode == 0, ran.stderr
    job_id = re.search(r"\(job ([0-9a-f]{32})\)", ran.stderr)
    assert job_id is not None, ran.stderr
    return Trained(job_id.group(1), ANSI.sub("", ran.stderr))


def test_watch_keeps_the_final_line_and_evaluate_shows_its_metrics(
    shared: ServerProcess, trained: Trained
) -> None:
    state, metrics = FINAL_LINE.findall(trained.stderr)[-1]
    assert state == "finished"
    # An info event reads as its message, not as the envelope a script would want.
    assert re.search(r"info: CPU share \d+ thread", trained.stderr), trained.stderr
    assert '"type": "info"' not in trained.stderr
    # The last metrics event's figures, in the fixed order: epoch first, then loss, then accuracy.
    assert re.fullmatch(r"epoch 10 · loss [0-9.e-]+ · accuracy [0-9.]+ · .*", metrics), metrics

    line = ("evaluate", "start", "--config", EVALUATE, "--uuid", "cli-train", "--user", "dave", "--watch")
    evaluated = k12ai(shared.grpc_port, *line)
    assert evaluated.returncode == 0, evaluated.stderr
    state, metrics = FINAL_LINE.findall(evaluated.stderr)[-1]
    assert state == "finished"
    assert re.match(r"loss [0-9.e-]+ · accuracy [0-9.]+", metrics), metrics


def test_the_progress_bar_fits_80_columns_in_a_wide_terminal(trained: Trained) -> None:
    frames = [line for line in re.split(r"[\r\n]", trained.stderr) if "━" in line]
    assert frames, trained.stderr
    assert max(len(frame) for frame in frames) <= 80, frames
    metrics = [frame for frame in frames if "epoch" in frame]
    assert metrics and all(re.search(r"epoch \d+ · loss ", frame) for frame in metrics), metrics


def test_global_options_go_anywhere_and_come_from_the_environment(
    shared: ServerProcess, closed_port: int
) -> None:
    here = f"127.0.0.1:{shared.grpc_port}"
    # After the sub-command, and the line wins over the environment.
    line = ("train", "start", "--config", TRAIN, "--uuid", "opts", "--target", here, "--user", "carol")
    started = run_cli(*line, env={"K12AI_TARGET": f"127.0.0.1:{closed_port}"})
    assert started.returncode == 0, started.stderr
    listed = run_cli("jobs", "list", "--json", env={"K12AI_TARGET": here, "K12AI_USER": "carol"})
    assert listed.returncode == 0, listed.stderr
    jobs = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(j["user"], j["service_uuid"]) for j in jobs] == [("carol", "opts")]


def test_jobs_list_is_a_table_and_show_takes_its_short_id(shared: ServerProcess, trained: Trained) -> None:
    table = k12ai(shared.grpc_port, "jobs", "list", "--user", "dave")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    row = next(row for row in rows if "train" in row)  # the evaluate of the test above may be there
    assert header.split() == ["JOB", "ID", "FRAMEWORK", "KIND", "STATE", "STARTED", "DURATION", "METRICS"]
    assert row.split()[:4] == [trained.job_id[:12], "k12ml", "train", "finished"]
    assert re.search(r" loss [0-9.]+ ", row) and "epoch" not in row, row  # figures, not positions
    assert max(len(line) for line in table.stdout.splitlines()) <= 80  # the metrics cut to fit
    wide = run_cli("jobs", "list", env={"K12AI_TARGET": f"127.0.0.1:{shared.grpc_port}", "K12AI_USER": "dave",
                                        "COLUMNS": "160"})  # fmt: skip
    row = next(row for row in wide.stdout.splitlines() if "train" in row)
    assert re.search(r"finished .* s +loss [0-9.e-]+ · accuracy [0-9.]+ · f1_macro [0-9.]+$", row), row

    shown = k12ai(shared.grpc_port, "jobs", "show", trained.job_id[:12])
    assert shown.returncode == 0, shown.stderr
    assert f"job:       {trained.job_id}" in shown.stdout
    assert "state:     finished" in shown.stdout and "metrics:   epoch 10 · loss" in shown.stdout
    as_json = json.loads(k12ai(shared.grpc_port, "jobs", "show", trained.job_id, "--json").stdout)
    assert as_json["state"] == "finished" and type(as_json["metrics"]["epoch"]) is int

    unknown = k12ai(shared.grpc_port, "jobs", "show", "fffffffffff0")
    assert unknown.returncode == 2
    assert (
        no_traceback(unknown).strip()
        == "error: no job id begins with 'fffffffffff0' (k12ai jobs list shows them)"
    )


def test_download_makes_the_folder_a_slash_names_and_says_what_it_cannot_write(
    shared: ServerProcess, trained: Trained, tmp_path: Path
) -> None:
    download = ("download", trained.job_id[:12], "--user", "dave")
    saved = k12ai(shared.grpc_port, *download, "-o", f"{tmp_path}/models/")
    assert saved.returncode == 0, saved.stderr
    assert [p.name for p in (tmp_path / "models").iterdir()] == [f"model-{trained.job_id}.tar.gz"]

    missing = tmp_path / "absent" / "model.tar.gz"
    refused = k12ai(shared.grpc_port, *download, "-o", str(missing))
    assert refused.returncode == 2
    assert f"cannot write {missing}: No such file or directory" in no_traceback(refused)
    assert not (tmp_path / "absent").exists()


def test_a_reader_that_goes_away_is_no_traceback(shared: ServerProcess, trained: Trained) -> None:
    """``k12ai jobs list --json | head -1``: here the reader is gone before the first line."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("K12AI_")}
    line = ("--target", f"127.0.0.1:{shared.grpc_port}", "jobs", "list", "--json", "--user", "dave")
    command = [sys.executable, "-m", "k12ai_client", *line]
    cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base)
    assert cli.stdout is not None and cli.stderr is not None
    cli.stdout.close()
    assert cli.wait(timeout=TIMEOUT_S) == 141
    assert cli.stderr.read() == b""


def test_a_missing_or_invalid_config_file_names_the_file_and_the_line(
    shared: ServerProcess, tmp_path: Path
) -> None:
    missing = tmp_path / "nothere.json"
    ran = k12ai(shared.grpc_port, "train", "start", "--config", str(missing))
    assert ran.returncode == 2
    assert no_traceback(ran).strip() == f"error: {missing}: no such file"

    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "op": "train.start",\n  "service_name": "k12ml"\n  "service_uuid": "x"\n}\n')
    ran = k12ai(shared.grpc_port, "train", "start", "--config", str(broken))
    assert ran.returncode == 2
    assert (
        no_traceback(ran).strip() == f"error: {broken}, line 4, column 3: not JSON: Expecting ',' delimiter"
    )

    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    ran = k12ai(shared.grpc_port, "train", "start", "--config", str(listed))
    assert ran.returncode == 2
    assert no_traceback(ran).strip() == (
        f"error: {listed}: expected a JSON object (a seed request, or its service_params), found an array"
    )


def test_no_server_says_which_address_was_tried_and_how_to_set_it(closed_port: int) -> None:
    ran = run_cli("jobs", "list", env={"K12AI_TARGET": f"127.0.0.1:{closed_port}"})
    assert ran.returncode == 3
    assert no_traceback(ran).strip() == (
        f"error: no k12ai server answers at 127.0.0.1:{closed_port} (Connection refused). Start one "
        "(k12ai-server, or ./scripts/serve), or point the CLI at yours with --target HOST:PORT or "
        "K12AI_TARGET."
    )


def test_the_rest_port_is_named_as_such(shared: ServerProcess) -> None:
    ran = k12ai(shared.http_port, "train", "start", "--config", TRAIN)
    assert ran.returncode == 3
    assert no_traceback(ran).strip() == (
        f"error: 127.0.0.1:{shared.http_port} answers HTTP/1.1, not gRPC: that looks like k12ai's REST "
        "port (--http-port, 8119 by default). The CLI speaks gRPC: point it at the gRPC port (--grpc-port, "
        "8118 by default) with --target HOST:PORT or K12AI_TARGET."
    )


def test_ctrl_c_while_watching_leaves_the_job_running_and_says_how_to_reattach(
    shared: ServerProcess, tmp_path: Path
) -> None:
    config = tmp_path / "slow.json"
    config.write_text(json.dumps(slow_training("ctrl-c")))
    target = f"127.0.0.1:{shared.grpc_port}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("K12AI_")}
    watching = subprocess.Popen(
        [sys.executable, "-m", "k12ai_client", "train", "start", "--config", str(config), "--watch"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**base, "K12AI_TARGET": target},
        preexec_fn=as_in_a_terminal,
    )  # fmt: skip
    with K12AIClient(ClientConfig(target=target, user="test")) as client:
        try:
            job_id = _running_job(client, "ctrl-c")
            watching.send_signal(signal.SIGINT)
            stdout, stderr = watching.communicate(timeout=TIMEOUT_S)
            assert watching.returncode == 130, f"stdout: {stdout!r}, stderr: {stderr!r}"
            assert "Traceback" not in stderr, stderr
            assert stderr.splitlines()[-1] == (
                f"stopped watching: job {job_id} keeps running on the server. Re-attach with: "
                f"k12ai watch --job-id {job_id} --target {target}"
            )
            assert client.get_job(job_id).state == "running"

            reattached = subprocess.Popen(
                [sys.executable, "-m", "k12ai_client", "watch", "--job-id", job_id, "--target", target],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=base,
            )  # fmt: skip
            client.train({**slow_training("ctrl-c"), "op": "train.stop", "service_params": {}})
            _, stderr = reattached.communicate(timeout=TIMEOUT_S)
            assert reattached.returncode == 1  # followed to its end, which is not "finished"
            assert FINAL_LINE.findall(stderr)[-1][0] == "stopped"
        finally:
            watching.kill()


def as_in_a_terminal() -> None:
    # A suite started in the background of a non-interactive shell (`.ci/run &`) ignores SIGINT,
    # and so would the CLI it starts: Python then installs no KeyboardInterrupt for Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _running_job(client: K12AIClient, service_uuid: str) -> str:
    """The job of the project once it runs (the CLI started it)."""
    for item in client.watch(service_uuid=service_uuid, types=["status"]):
        if isinstance(item, Event) and to_envelope(item)["status"]["state"] == "running":
            return item.job_id
    raise AssertionError("no running job")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    """A server that needs a token and speaks TLS (its certificate names localhost)."""
    folder = tmp_path_factory.mktemp("secured-cli")
    pki = make_pki(folder / "pki")
    tokens = folder / "tokens.json"
    entries = [{"user": u, "sha256": hash_token(t), "admin": u == "root"} for u, t in TOKENS.items()]
    tokens.write_text(json.dumps({"tokens": entries}))
    server = start_server_process(
        folder,
        "--tokens-file",
        str(tokens),
        "--tls-cert",
        str(pki / "server.pem"),
        "--tls-key",
        str(pki / "server.key"),
    )
    yield server, pki
    server.stop()


def test_a_secured_server_from_the_environment(secured: tuple[ServerProcess, Path]) -> None:
    server, pki = secured
    target = f"localhost:{server.grpc_port}"
    plain = run_cli("jobs", "list", env={"K12AI_TARGET": target})
    assert plain.returncode == 3
    assert no_traceback(plain).startswith(f"error: {target} closed the connection (")
    assert "A server started with --tls-cert needs --ca-cert or K12AI_CA_CERT" in plain.stderr

    by_address = {"K12AI_TARGET": f"127.0.0.1:{server.grpc_port}", "K12AI_CA_CERT": str(pki / "ca.pem")}
    misnamed = run_cli("jobs", "list", env=by_address)
    assert misnamed.returncode == 3
    assert no_traceback(misnamed).startswith(
        f"error: 127.0.0.1:{server.grpc_port}'s certificate was not accepted ("
    )
    assert "name the host given in --target" in misnamed.stderr

    tls = {"K12AI_TARGET": target, "K12AI_CA_CERT": str(pki / "ca.pem")}
    anonymous = run_cli("jobs", "list", env=tls)
    assert anonymous.returncode == 3
    assert no_traceback(anonymous).startswith(f"error: {target} wants a valid API token (")
    assert "set K12AI_TOKEN (or --token)" in anonymous.stderr

    alice = {**tls, "K12AI_TOKEN": TOKENS["alice"], "K12AI_USER": "alice"}
    stats = run_cli("stats", env=alice)
    assert stats.returncode == 0, stats.stderr
    assert "cpu_memory_total" in json.loads(stats.stdout)


def test_metrics_show_in_one_order_with_their_counts() -> None:
    payload = {
        "accuracy": 0.9, "elapsed_s": 1.25, "num_epochs": 10, "epoch": 3, "phase": "train", "batch": 40,
        "num_batches": 50, "loss": 0.25, "progress": 0.3, "f1": 0.5,
    }  # fmt: skip
    assert metrics_text(payload) == "epoch 3/10 · train · batch 40/50 · loss 0.25 · accuracy 0.9 · f1 0.5"
    k12ml = {"epoch": 10, "loss": 0.0606, "n_estimators": 50}
    assert metrics_text(k12ml) == "epoch 10 · loss 0.0606 · n_estimators 50"
    assert metrics_text({"best_epoch": 4, "stopped_early": False}) == "best_epoch 4 · stopped_early false"
