"""k12ml inside a real job process (``python -m k12ai_worker spec.json``), and its config checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import k12ai_worker.k12ml as k12ml
from k12ai_contract.errors import ConfigError
from tests.worker import job_process
from tests.worker.job_process import Job

ROOT = Path(__file__).resolve().parents[2]
IRIS_SETOSA = [5.1, 3.5, 1.4, 0.2]
IRIS_VIRGINICA = [6.7, 3.0, 5.2, 2.3]


def example(name: str) -> dict[str, Any]:
    return job_process.example("k12ml", name)


def run_job(work: Path, cache: Path, kind: str, params: dict[str, Any]) -> Job:
    return job_process.run_job("k12ml", work, cache, kind, params, cwd=ROOT, timeout_s=120)


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Job]:
    """The cache directory of a model trained from the train_iris example, and that job."""
    work = tmp_path_factory.mktemp("iris")
    cache = work / "users" / "test" / "123456"
    return cache, run_job(work, cache, "train", example("train_iris"))


def test_train_iris_reports_growing_metrics_and_leaves_the_archive(iris: tuple[Path, Job]) -> None:
    cache, job = iris
    assert job.code == 0, job.stderr
    assert job.of("status") == [{"state": "running", "job_id": job.events[0]["payload"]["job_id"]}]
    metrics = job.of("metrics")
    assert len(metrics) == 10  # random_forest grows in stages
    assert [m["epoch"] for m in metrics] == list(range(1, 11))
    assert metrics[-1]["progress"] == 1.0 and metrics[-1]["n_estimators"] == 50
    assert metrics[-1]["accuracy"] > 0.8
    assert {"accuracy", "f1_macro", "loss"} <= metrics[-1].keys()
    assert job.of("info")[0]["classes"] == ["setosa", "versicolor", "virginica"]
    # The run's own archive, the project's latest the same file; no temporary left behind.
    [run] = (cache / "runs").iterdir()
    assert sorted(p.name for p in cache.iterdir()) == ["model.tar.gz", "runs"]
    assert sorted(p.name for p in run.iterdir()) == ["model.tar.gz"]
    assert (run / "model.tar.gz").samefile(cache / "model.tar.gz")


def test_evaluate_iris_scores_the_held_out_rows(iris: tuple[Path, Job]) -> None:
    cache, trained = iris
    job = run_job(cache.parent, cache, "evaluate", example("evaluate_iris"))
    assert job.code == 0, job.stderr
    [metrics] = job.of("metrics")
    assert metrics == {k: trained.of("metrics")[-1][k] for k in ("accuracy", "f1_macro", "loss")}
    assert "30 rows of iris held out" in job.of("info")[0]["message"]
    assert json.loads((cache / "evaluate_metrics.json").read_text()) == metrics


def test_predict_iris_emits_the_seed_shape(iris: tuple[Path, Job]) -> None:
    cache, _ = iris
    job = run_job(cache.parent, cache, "predict", example("predict_iris"))
    assert job.code == 0, job.stderr
    predictions = job.of("predict")
    assert [p["index"] for p in predictions] == [0, 1]
    lines = [p["prediction"] for p in predictions]
    assert all(line.endswith("}\n") for line in lines)
    first, second = (json.loads(line) for line in lines)
    assert list(first) == ["logits", "class_probabilities", "label"]
    assert (first["label"], second["label"]) == ("setosa", "virginica")
    assert len(first["logits"]) == len(first["class_probabilities"]) == 3
    assert sum(first["class_probabilities"]) == pytest.approx(1.0)
    assert (cache / "predictions.jsonl").read_text() == "".join(lines)


def test_predict_takes_a_json_list_and_a_csv_file(iris: tuple[Path, Job]) -> None:
    cache, _ = iris
    job = run_job(cache.parent, cache, "predict", {"input_type": "text", "input_text": IRIS_VIRGINICA})
    assert job.code == 0, job.stderr
    assert [json.loads(p["prediction"])["label"] for p in job.of("predict")] == ["virginica"]

    rows = cache.parent / "rows.csv"
    rows.write_text("a,b,c,d\n" + "\n".join(",".join(map(str, r)) for r in [IRIS_SETOSA, IRIS_VIRGINICA]))
    job = run_job(
        cache.parent, cache, "predict", {"input_type": "file", "input_file": str(rows), "batch_size": 1}
    )
    assert job.code == 0, job.stderr
    labels = [json.loads(p["prediction"])["label"] for p in job.of("predict")]
    assert labels == ["setosa", "virginica"]


def test_evaluate_without_a_model_fails_with_the_seed_message(tmp_path: Path) -> None:
    cache = tmp_path / "users" / "test" / "123456"
    job = run_job(tmp_path, cache, "evaluate", example("evaluate_iris"))
    assert job.code == 2
    assert job.error == f"model.tar.gz is not found in {cache}"
    assert job.of("error")[-1]["code"] == 100202


def test_unknown_estimator_fails_naming_model_type(tmp_path: Path) -> None:
    params = {**example("train_iris"), "model": {"type": "svm2"}}
    job = run_job(tmp_path, tmp_path / "cache", "train", params)
    assert job.code == 2
    assert job.error.startswith("model.type: unknown estimator 'svm2'; choose one of ")
    assert job.of("error")[-1]["code"] == 100103
    assert not (tmp_path / "cache" / "model.tar.gz").exists()


def test_a_value_scikit_learn_refuses_fails_naming_the_parameter(tmp_path: Path) -> None:
    params = {**example("train_iris"), "model": {"type": "random_forest", "params": {"n_estimators": 0}}}
    job = run_job(tmp_path, tmp_path / "cache", "train", params)
    assert job.code == 2
    assert job.error.startswith("model.params.n_estimators: ")
    assert "range [1, inf)" in job.error


def test_early_stopping_boosting_fits_once_and_says_how_far_it_got(tmp_path: Path) -> None:
    model = {"type": "gradient_boosting", "params": {"n_estimators": 500, "n_iter_no_change": 2}}
    job = run_job(tmp_path, tmp_path / "cache", "train", {**example("train_iris"), "model": model})
    assert job.code == 0, job.stderr
    [metrics] = job.of("metrics")
    assert metrics["progress"] == 1.0 and metrics["n_estimators"] < 500


def iris_like_csv(path: Path) -> None:
    """Three well separated classes, with the label column in the middle."""
    lines = ["length,kind,width"]
    for i in range(30):
        for kind, centre in (("small", 1.0), ("medium", 5.0), ("large", 9.0)):
            lines.append(f"{centre + (i % 5) * 0.1},{kind},{centre - (i % 3) * 0.1}")
    path.write_text("\n".join(lines) + "\n")


def test_csv_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "flowers.csv"
    iris_like_csv(data)
    cache = tmp_path / "cache"
    train = {"dataset": {"type": "csv", "path": str(data), "label_column": "kind"}, "model": {"type": "svc"}}
    job = run_job(tmp_path, cache, "train", train)
    assert job.code == 0, job.stderr
    [metrics] = job.of("metrics")
    assert metrics["accuracy"] == 1.0 and "loss" not in metrics  # svc has no predict_proba
    assert job.of("info")[0]["classes"] == ["large", "medium", "small"]

    job = run_job(tmp_path, cache, "evaluate", {"input_file": str(data)})
    assert job.code == 0, job.stderr
    assert job.of("metrics") == [{"accuracy": 1.0, "f1_macro": 1.0}]

    # The label column is found by name and ignored; features are taken by name.
    job = run_job(tmp_path, cache, "predict", {"input_type": "file", "input_file": str(data)})
    assert job.code == 0, job.stderr
    first = json.loads(job.of("predict")[0]["prediction"])
    assert first["label"] == "small"
    assert first["class_probabilities"][2] == max(first["class_probabilities"])


def test_csv_without_the_label_column_fails_naming_it(tmp_path: Path) -> None:
    data = tmp_path / "flowers.csv"
    iris_like_csv(data)
    train = {"dataset": {"type": "csv", "path": str(data), "label_column": "nope"}, "model": {"type": "knn"}}
    job = run_job(tmp_path, tmp_path / "cache", "train", train)
    assert job.code == 2
    assert job.error.startswith("dataset.label_column: column 'nope' is not in the header")


def test_importing_the_framework_loads_no_ml_library() -> None:
    code = (
        "import sys, k12ai_worker.k12ml as m; "
        "m.validate('train', {'dataset': {'type': 'builtin', 'name': 'iris'}, 'model': {'type': 'svc'}}); "
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('sklearn', 'numpy', 'joblib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


IRIS = {"type": "builtin", "name": "iris"}
KNN = {"type": "knn"}

BAD_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("train", {"model": KNN}, "dataset: is missing"),
    ("train", {"dataset": IRIS}, "model: is missing"),
    ("train", {"dataset": IRIS, "model": {"type": "svm2"}}, "model.type: unknown estimator 'svm2'"),
    ("train", {"dataset": IRIS, "model": {"params": {}}}, "model.type: is missing"),
    (
        "train",
        {"dataset": IRIS, "model": {"type": "knn", "params": {"k": 3}}},
        "model.params.k: unknown parameter",
    ),
    (
        "train",
        {"dataset": IRIS, "model": {"type": "svc", "params": {"C": "big"}}},
        "model.params.C: expected a number",
    ),
    (
        "train",
        {"dataset": IRIS, "model": {"type": "knn", "params": {"n_neighbors": 2.5}}},
        "model.params.n_neighbors",
    ),
    (
        "train",
        {"dataset": IRIS, "model": {"type": "knn", "params": {"n_neighbors": True}}},
        "model.params.n_neighbors",
    ),
    ("train", {"dataset": IRIS, "model": {"type": "knn", "params": []}}, "model.params: expected an object"),
    ("train", {"dataset": IRIS, "model": KNN, "validation_split": 1.5}, "validation_split: must lie"),
    ("train", {"dataset": IRIS, "model": KNN, "seed": -1}, "seed: must lie"),
    ("train", {"dataset": IRIS, "model": KNN, "standardise": True}, "standardise: unknown key"),
    (
        "train",
        {"dataset": {"type": "builtin", "name": "mnist"}, "model": KNN},
        "dataset.name: unknown builtin",
    ),
    ("train", {"dataset": {"type": "csv"}, "model": KNN}, "dataset.path: is missing"),
    ("train", {"dataset": {"type": "parquet"}, "model": KNN}, "dataset.type: expected"),
    ("evaluate", {}, "input_file: is missing"),
    ("evaluate", {"input_file": "/d/x.csv", "dataset": IRIS}, "dataset: give either"),
    ("evaluate", {"input_file": "/d/x.csv", "output_file": 3}, "output_file: expected a string"),
    ("predict", {"input_text": "[[1]]"}, "input_type: is missing"),
    ("predict", {"input_type": "image"}, 'input_type: expected "text" or "file"'),
    (
        "predict",
        {"input_type": "text", "input_file": "/d/x.csv"},
        "input_text: is missing (input_type is text)",
    ),
    ("predict", {"input_type": "file", "input_text": "[[1]]"}, "input_file: is missing (input_type is file)"),
    ("predict", {"input_type": "text", "input_text": "[[1, 2"}, "input_text: is not JSON"),
    ("predict", {"input_type": "text", "input_text": "[[1, 2], [3]]"}, "input_text[1]: has 1 values"),
    ("predict", {"input_type": "text", "input_text": [[1, "x"]]}, "input_text[0][1]: expected a number"),
    ("predict", {"input_type": "text", "input_text": "[]"}, "input_text: expected a non-empty list"),
    (
        "predict",
        {"input_type": "text", "input_text": "[[1]]", "batch_size": 0},
        "batch_size: must be at least 1",
    ),
]


@pytest.mark.parametrize(("kind", "params", "message"), BAD_CONFIGS)
def test_validate_names_the_key(kind: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        k12ml.validate(kind, params)
    assert str(info.value).startswith(message)


def test_validate_accepts_struct_numbers_and_the_seed_template() -> None:
    # Struct turns every number into a double; integral ones must still count as ints.
    k12ml.validate(
        "train", {"dataset": IRIS, "model": {"type": "random_forest", "params": {"n_estimators": 50.0}}}
    )
    # The seed's predict template carries every key, the unused ones empty.
    k12ml.validate(
        "predict",
        {
            "input_type": "text",
            "input_text": "[[1, 2]]",
            "input_file": "",
            "output_file": "",
            "predictor": "",
        },
    )
    k12ml.validate("predict", {"input_type": "text", "input_text": [5.1, 3.5, 1.4, 0.2]})


def test_input_paths_and_gpus() -> None:
    csv = {"dataset": {"type": "csv", "path": "/data/x.csv"}, "model": KNN}
    assert k12ml.input_paths("train", csv) == [("dataset.path", "/data/x.csv")]
    assert k12ml.input_paths("train", {"dataset": IRIS, "model": KNN}) == []
    assert k12ml.input_paths("evaluate", {"input_file": "/data/t.csv"}) == [("input_file", "/data/t.csv")]
    assert k12ml.input_paths("predict", {"input_type": "file", "input_file": "/d/r.csv"}) == [
        ("input_file", "/d/r.csv")
    ]
    assert k12ml.input_paths("predict", {"input_type": "text", "input_text": "[[1]]"}) == []
    assert k12ml.gpus_wanted("train", csv) == 0
