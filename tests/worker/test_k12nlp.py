"""k12nlp inside real job processes (``python -m k12ai_worker spec.json``) on the SST/GloVe fixtures.

The training config is the seed's (``examples/k12nlp/train.json``) with only its data paths
changed, and epochs and batch size given as overrides, as a user would.
"""

from __future__ import annotations

import copy
import gzip
import json
import math
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

import k12ai_worker.k12nlp as k12nlp
from k12ai_client.examples_data import K12NLP_SAMPLE
from k12ai_contract.errors import ConfigError
from k12ai_contract.jobs import JobKind
from k12ai_contract.spec import JobSpec
from tests.worker import job_process
from tests.worker.job_process import TEST_DATA_ROOTS, Job

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = K12NLP_SAMPLE
EXAMPLES = ROOT / "examples" / "k12nlp"
METRICS = {"accuracy", "accuracy3", "loss"}


def example(name: str) -> dict[str, Any]:
    return job_process.example("k12nlp", name)


def seed_train_params(**overrides: Any) -> dict[str, Any]:
    """The seed's config with the fixture files for its data paths."""
    params = example("train")
    params["train_data_path"] = str(FIXTURES / "sst_train.txt")
    params["validation_data_path"] = str(FIXTURES / "sst_dev.txt")
    params["test_data_path"] = str(FIXTURES / "sst_test.txt")
    embedder = params["model"]["text_field_embedder"]["token_embedders"]["tokens"]
    embedder["pretrained_file"] = str(FIXTURES / "glove.6B.50d.fixture.txt.gz")
    params["overrides"] = {"trainer.num_epochs": 2, "iterator.batch_size": 16, **overrides}
    return params


class ListSink:
    """Collects the events of a job run in this process."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, type: str, payload: dict[str, Any]) -> None:
        self.events.append((type, payload))


# Fewer threads than the libraries' default (every core), so the count a job uses shows whose it is.
CPU_THREADS = max(1, (os.cpu_count() or 1) // 2)


def run_job(work: Path, cache: Path, kind: str, params: dict[str, Any]) -> Job:
    # cwd is not the cache dir: a relative output_file must still land in the cache dir.
    return job_process.run_job("k12nlp", work, cache, kind, params, cpu_threads=CPU_THREADS)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Job]:
    """(work dir, cache dir, the training job) of the seed config on the fixtures."""
    work = tmp_path_factory.mktemp("k12nlp")
    cache = work / "users" / "test" / "123456"
    return work, cache, run_job(work, cache, "train", seed_train_params())


def test_pytorch_and_blas_use_the_jobs_cpu_share(trained: tuple[Path, Path, Job]) -> None:
    _, _, job = trained
    [report] = [i for i in job.of("info") if "cpu_threads" in i]
    assert report["cpu_threads"] == CPU_THREADS
    assert report["threads"]["torch"] == CPU_THREADS
    assert set(report["threads"].values()) == {CPU_THREADS}, report


def test_seed_config_trains_streams_metrics_and_leaves_the_archive(trained: tuple[Path, Path, Job]) -> None:
    _, cache, job = trained
    assert job.code == 0, job.stderr
    # The seed asks for cuda_device 0; a job given no GPU says it runs on the CPU.
    assert any("running on CPU" in info["message"] for info in job.of("info"))
    metrics = job.of("metrics")
    train = [m for m in metrics if m["phase"] == "train"]
    validation = [m for m in metrics if m["phase"] == "validation"]
    assert train and validation
    for m in metrics:
        assert m.keys() >= METRICS
        assert 0.0 <= m["accuracy"] <= m["accuracy3"] <= 1.0
        assert math.isfinite(m["loss"]) and m["loss"] > 0
        assert m["num_epochs"] == 2 and 1 <= m["batch"] <= m["num_batches"]
    # The override made 2 epochs, and each epoch ends with a full-epoch event.
    assert sorted({m["epoch"] for m in validation}) == [1, 2]
    ends = [m for m in train if m["batch"] == m["num_batches"]]
    assert [m["epoch"] for m in ends] == [1, 2]
    progress = [m["progress"] for m in train]
    assert progress == sorted(progress) and progress[-1] == 1.0
    # 1532 instances from 40 trees (every subtree), batch 16.
    assert ends[0]["num_batches"] == math.ceil(1532 / 16)
    (result,) = job.of("result")
    assert result["training_epochs"] == 2 and result["best_epoch"] in (1, 2)
    best = next(m for m in validation if m["epoch"] == result["best_epoch"])
    assert result["best_validation_accuracy"] == best["accuracy"]

    with tarfile.open(cache / "model.tar.gz") as tar:
        names = set(tar.getnames())
        config = json.load(tar.extractfile("config.json"))  # type: ignore[arg-type]
    assert {"config.json", "weights.th", "vocabulary/labels.txt", "vocabulary/tokens.txt"} <= names
    # The archived config is the one that ran: overrides applied.
    assert config["trainer"]["num_epochs"] == 2 and config["iterator"]["batch_size"] == 16


def test_evaluate_in_a_fresh_process_gives_the_seed_metrics(trained: tuple[Path, Path, Job]) -> None:
    work, cache, _ = trained
    params = {"input_file": str(FIXTURES / "sst_test.txt"), "output_file": "eval/metrics.json"}
    job = run_job(work, cache, "evaluate", params)
    assert job.code == 0, job.stderr
    (metrics,) = job.of("metrics")
    assert set(metrics) == METRICS
    assert 0.0 <= metrics["accuracy"] <= metrics["accuracy3"] <= 1.0
    # 12 root sentences: accuracy is a multiple of 1/12.
    assert round(metrics["accuracy"] * 12, 6) == round(metrics["accuracy"] * 12)
    assert json.loads((cache / "eval" / "metrics.json").read_text()) == metrics


def test_predict_text_gives_the_seed_shape(trained: tuple[Path, Path, Job]) -> None:
    work, cache, _ = trained
    job = run_job(work, cache, "predict", example("predict"))
    assert job.code == 0, job.stderr
    (event,) = job.of("predict")
    assert event["index"] == 0
    line = event["prediction"]
    assert line.endswith("\n")
    prediction = json.loads(line)
    assert set(prediction) == {"logits", "class_probabilities", "label"}
    assert len(prediction["logits"]) == len(prediction["class_probabilities"]) == 5
    assert sum(prediction["class_probabilities"]) == pytest.approx(1.0, abs=1e-5)
    with tarfile.open(cache / "model.tar.gz") as tar:
        labels = tar.extractfile("vocabulary/labels.txt").read().decode().split()  # type: ignore[union-attr]
    best = max(range(5), key=lambda i: prediction["class_probabilities"][i])
    assert prediction["label"] == labels[best]


def test_predict_file_writes_one_line_per_sentence_in_order(trained: tuple[Path, Path, Job]) -> None:
    work, cache, _ = trained
    sentences = ["a gorgeous , witty , seductive movie .", "dull and lifeless .", "it is a film ."]
    input_file = work / "sentences.jsonl"
    input_file.write_text("".join(json.dumps({"sentence": s}) + "\n" for s in sentences))
    params = {
        "input_type": "file",
        "input_file": str(input_file),
        "output_file": "out.jsonl",
        "batch_size": 2,
    }
    job = run_job(work, cache, "predict", params)
    assert job.code == 0, job.stderr
    events = job.of("predict")
    assert [e["index"] for e in events] == [0, 1, 2]
    assert (cache / "out.jsonl").read_text() == "".join(e["prediction"] for e in events)
    # Batching and padding change no instance's logits: one at a time gives the same.
    single = run_job(work, cache, "predict", {**params, "batch_size": 1, "output_file": "one.jsonl"})
    for a, b in zip(events, single.of("predict"), strict=True):
        assert json.loads(a["prediction"])["logits"] == pytest.approx(
            json.loads(b["prediction"])["logits"], abs=1e-5
        )


def test_evaluate_without_a_model_fails_with_the_seed_message(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    job = run_job(tmp_path, cache, "evaluate", {"input_file": str(FIXTURES / "sst_test.txt")})
    assert job.code == 2
    assert job.of("error")[0]["code"] == 100202
    assert job.error == f"model.tar.gz is not found in {cache}"


def test_a_bad_type_fails_the_job_at_start_naming_the_key(tmp_path: Path) -> None:
    params = seed_train_params()
    params["model"]["encoder"]["type"] = "lstmm"
    job = run_job(tmp_path, tmp_path / "cache", "train", params)
    assert job.code == 2
    assert job.error.startswith("model.encoder.type: unknown seq2seq encoder type 'lstmm'")
    assert not job.of("metrics")


def test_a_missing_data_file_names_its_key(tmp_path: Path) -> None:
    params = seed_train_params()
    params["validation_data_path"] = str(tmp_path / "nope.txt")
    job = run_job(tmp_path, tmp_path / "cache", "train", params)
    assert job.code == 2
    assert job.error.startswith("validation_data_path: file not found")


def _with(params: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(params)
    *parents, last = path.split(".")
    node = changed
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    return changed


BAD_TRAIN = [
    ("model.encoder.type", "lstmm", "model.encoder.type: unknown seq2seq encoder type 'lstmm'"),
    ("model.type", "bcnn", "model.type: unknown model type 'bcnn'"),
    ("dataset_reader.granularity", "4-class", 'dataset_reader.granularity: expected one of "5-class"'),
    ("iterator.batch_size", 0, "iterator.batch_size: must be at least 1"),
    ("iterator.sort_keys", [], "iterator.sort_keys: unknown key"),
    ("trainer.optimizer.type", "adamm", "trainer.optimizer.type: unknown optimizer type 'adamm'"),
    ("trainer.optimizer.lr", "fast", "trainer.optimizer.lr: expected a number"),
    ("trainer.validation_metric", "+f1", "trainer.validation_metric: unknown metric 'f1'"),
    ("trainer.patience", 0, "trainer.patience: must be a positive integer or null"),
    ("model.integrator.input_size", 200, "model.integrator.input_size: is 200"),
    ("model.output_layer.pool_sizes", [4, 4], "model.output_layer.pool_sizes"),
    (
        "model.pre_encode_feedforward.activations",
        ["relu", "tanh"],
        "model.pre_encode_feedforward.activations",
    ),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_TRAIN)
def test_validate_names_the_key(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        k12nlp.validate("train", _with(example("train"), key, value))
    assert str(caught.value).startswith(message), str(caught.value)


def test_overrides_apply_without_editing_the_config() -> None:
    params = example("train")
    k12nlp.validate("train", {**params, "overrides": {"iterator.batch_size": 64}})
    # JSON text, as AllenNLP's --overrides took it.
    k12nlp.validate("train", {**params, "overrides": '{"trainer": {"num_epochs": 1}}'})
    with pytest.raises(ConfigError, match=r"^iterator\.batch_size: must be at least 1"):
        k12nlp.validate("train", {**params, "overrides": {"iterator.batch_size": 0}})
    with pytest.raises(ConfigError, match=r"^overrides: is not valid JSON"):
        k12nlp.validate("train", {**params, "overrides": "{batch"})


def test_validate_predict_and_evaluate_params() -> None:
    k12nlp.validate("predict", example("predict"))
    k12nlp.validate("evaluate", example("evaluate"))
    # The seed's template leaves optional fields empty.
    k12nlp.validate("predict", {**example("predict"), "predictor": "", "output_file": ""})
    with pytest.raises(ConfigError, match=r'^input_text: is required when input_type is "text"'):
        k12nlp.validate("predict", {"input_type": "text"})
    with pytest.raises(ConfigError, match=r"^predictor: expected one of \"text_classifier\", \"\""):
        k12nlp.validate("predict", {**example("predict"), "predictor": "tagger"})
    with pytest.raises(ConfigError, match=r"^input_file: is required"):
        k12nlp.validate("evaluate", {})


def test_input_paths_and_gpus() -> None:
    params = example("train")
    # The example's paths, relative to the data root (the server reads them under it).
    assert dict(k12nlp.input_paths("train", params)) == {
        "train_data_path": "datasets/nlp/sst/train.txt",
        "validation_data_path": "datasets/nlp/sst/dev.txt",
        "test_data_path": "datasets/nlp/sst/test.txt",
        "model.text_field_embedder.token_embedders.tokens.pretrained_file": (
            "datasets/nlp/glove/glove.6B.50d.txt.gz"
        ),
    }
    # Overridden paths are the ones read, so the ones checked.
    moved = k12nlp.input_paths("train", {**params, "overrides": {"train_data_path": "/elsewhere.txt"}})
    assert ("train_data_path", "/elsewhere.txt") in moved
    assert k12nlp.input_paths("evaluate", example("evaluate")) == [
        ("input_file", "datasets/nlp/sst/test.txt")
    ]
    assert k12nlp.input_paths("predict", example("predict")) == []
    assert k12nlp.gpus_wanted("train", params) == 1
    assert k12nlp.gpus_wanted("train", {**params, "overrides": {"trainer.cuda_device": -1}}) == 0
    assert k12nlp.gpus_wanted("predict", example("predict")) == 0


def test_importing_the_framework_and_validating_loads_no_torch() -> None:
    code = (
        "import json, sys; import k12ai_worker.k12nlp as f; "
        f"f.validate('train', json.load(open({str(EXAMPLES / 'train.json')!r}))['service_params']); "
        "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sst_reader_granularities_and_subtrees(tmp_path: Path) -> None:
    from k12ai_worker.k12nlp.readers.sst import SstTokensReader

    tree = tmp_path / "tree.txt"
    tree.write_text("(3 (2 It) (4 (4 (2 's) (4 great)) (1 bad)))\n(2 (2 so) (2 so))\n")
    roots = list(SstTokensReader().read(tree, "train_data_path"))
    assert [(i.tokens, i.label) for i in roots] == [(["It", "'s", "great", "bad"], "3"), (["so", "so"], "2")]
    subtrees = list(SstTokensReader(use_subtrees=True).read(tree, "train_data_path"))
    assert len(subtrees) == 7 + 3
    assert (["'s", "great"], "4") in [(i.tokens, i.label) for i in subtrees]
    three = [
        i.label
        for i in SstTokensReader(use_subtrees=True, granularity="3-class").read(tree, "train_data_path")
    ]
    assert three == ["2", "1", "2", "2", "1", "2", "0", "1", "1", "1"]
    # 2-class drops neutral nodes.
    two = [(i.tokens, i.label) for i in SstTokensReader(granularity="2-class").read(tree, "train_data_path")]
    assert two == [(["It", "'s", "great", "bad"], "1")]


def test_glove_reader_keeps_vocabulary_words_only(tmp_path: Path) -> None:
    from k12ai_worker.k12nlp.glove import read_vectors

    lines = ["the 1 2 3", "cat 4 5 6", "dog 7 8", "über 0.5 0.25 -1", "the 9 9 9"]
    for path in (tmp_path / "v.txt", tmp_path / "v.txt.gz"):
        data = ("\n".join(lines) + "\n").encode()
        path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
        found = read_vectors(path, ["@@PADDING@@", "über", "dog", "the", "absent"], 3, key="pretrained_file")
        rows = {int(i): v.tolist() for i, v in zip(found.indices, found.vectors, strict=True)}
        # The later "the" wins; "dog" has 2 numbers, not 3, and is skipped.
        assert rows == {1: [0.5, 0.25, -1.0], 3: [9.0, 9.0, 9.0]}
        assert found.lines_read == 5 and found.wrong_dimension == 1


def test_text_classification_json_with_basic_classifiers(tmp_path: Path) -> None:
    """``text_classification_json`` data through ``basic_classifier`` with gru+cnn and boe, in-process."""
    from k12ai_worker.k12nlp.train import run_train

    rows = [
        ("a fine , moving film", "pos"),
        ("dull and flat", "neg"),
        ("fine acting", "pos"),
        ("flat , dull", "neg"),
    ]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in rows * 4))
    embedder = {"token_embedders": {"tokens": {"type": "embedding", "embedding_dim": 8}}}
    encoders = [
        {"seq2seq_encoder": {"type": "gru", "input_size": 8, "hidden_size": 6, "bidirectional": True},
         "seq2vec_encoder": {"type": "cnn", "embedding_dim": 12, "num_filters": 4,
                             "ngram_filter_sizes": [1, 2]}},
        {"seq2vec_encoder": {"type": "boe", "embedding_dim": 8, "averaged": True}},
    ]  # fmt: skip
    for i, encoder in enumerate(encoders):
        params = {
            "dataset_reader": {"type": "text_classification_json"},
            "train_data_path": str(data),
            "validation_data_path": str(data),
            "model": {"type": "basic_classifier", "text_field_embedder": embedder, **encoder},
            "iterator": {"type": "basic", "batch_size": 4},
            "trainer": {"num_epochs": 3, "optimizer": {"type": "sgd", "lr": 0.1},
                        "learning_rate_scheduler": {"type": "step", "step_size": 1, "gamma": 0.5}},
        }  # fmt: skip
        sink = ListSink()

        cache = tmp_path / f"cache{i}"
        spec = JobSpec(
            job_id="j", service_name="k12nlp", kind=JobKind.TRAIN, user="t", service_uuid="u",
            params=params, cache_dir=cache, events_path=tmp_path / "unused", data_roots=TEST_DATA_ROOTS,
        )  # fmt: skip
        run_train(spec, sink)
        result = [p for t, p in sink.events if t == "result"]
        assert result and result[0]["training_epochs"] == 3
        assert (cache / "model.tar.gz").is_file()


def test_raw_text_is_tokenized_as_sst_was() -> None:
    from k12ai_worker.k12nlp.tokenizers import ptb_tokens

    text = "It's a very well-made, funny \"picture\" (really) -- I don't mind..."
    assert ptb_tokens(text) == [
        "It", "'s", "a", "very", "well-made", ",", "funny", "``", "picture", "''",
        "-LRB-", "really", "-RRB-", "--", "I", "do", "n't", "mind", "...",
    ]  # fmt: skip
