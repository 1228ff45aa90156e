"""The worker holds what it really opens to its data roots and its user's area (k12ai_worker.inputs)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from k12ai_contract.data_access import DataAccess
from k12ai_contract.errors import ConfigError, InputRefusedError
from k12ai_worker import inputs
from tests.worker import job_process
from tests.worker.job_process import TEST_DATA_ROOTS

SECRET = "outside-the-roots-4f1d"


@pytest.fixture
def roots(tmp_path: Path) -> Iterator[Path]:
    """A data root holding shared data, user test's area and user bob's; a secret file outside it."""
    root = tmp_path / "root"
    for folder in ("datasets", "users/test", "users/bob"):
        (root / folder).mkdir(parents=True)
    (root / "datasets" / "shared.csv").write_text("a,label\n1,x\n")
    (root / "users" / "test" / "mine.csv").write_text("a,label\n2,y\n")
    (root / "users" / "bob" / "his.csv").write_text("a,label\n3,z\n")
    (tmp_path / "secret.txt").write_text(SECRET)
    inputs.allow(DataAccess.of([root], "test"))
    yield root
    inputs.allow(DataAccess.of(TEST_DATA_ROOTS, "test"))


def test_shared_data_and_the_users_own_area_open(roots: Path) -> None:
    with inputs.open_text("dataset.path", roots / "datasets" / "shared.csv") as file:
        assert file.read().startswith("a,label")
    with inputs.open_binary("dataset.path", roots / "users" / "test" / "mine.csv") as raw:
        assert raw.read().startswith(b"a,label")
    inputs.check_dir("train_data_path", roots / "datasets")


@pytest.mark.parametrize(
    ("relative", "says"),
    [
        ("users/bob/his.csv", "is in another user's data under"),
        ("../secret.txt", "is outside the data roots"),
    ],
)
def test_refused_paths_name_the_key_and_the_path(roots: Path, relative: str, says: str) -> None:
    path = roots / relative
    with pytest.raises(InputRefusedError) as refused:
        inputs.open_text("dataset.path", path)
    assert str(refused.value).startswith(f"dataset.path: {str(path)!r} {says}")
    assert refused.value.code == 100104


def test_a_symlink_swapped_in_after_the_check_is_refused_at_open(roots: Path, tmp_path: Path) -> None:
    checked = roots / "datasets" / "shared.csv"
    checked.unlink()
    checked.symlink_to(tmp_path / "secret.txt")  # what a swap after the server's check leaves
    with pytest.raises(InputRefusedError, match="is outside the data roots") as refused:
        inputs.open_text("dataset.path", checked)
    assert SECRET not in str(refused.value)


def test_a_symlink_into_another_users_area_is_refused(roots: Path) -> None:
    link = roots / "users" / "test" / "borrowed.csv"
    link.symlink_to(roots / "users" / "bob" / "his.csv")
    with pytest.raises(InputRefusedError, match="is in another user's data"):
        inputs.open_binary("input_file", link)


def test_directories_are_checked_too(roots: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    linked = roots / "datasets" / "images"
    linked.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(InputRefusedError, match="is outside the data roots"):
        inputs.check_dir("train_data_path", linked)
    with pytest.raises(InputRefusedError, match="is in another user's data"):
        inputs.check_dir("train_data_path", roots / "users")
    with pytest.raises(InputRefusedError, match="is not a directory"):
        inputs.check_dir("train_data_path", roots / "datasets" / "shared.csv")


def test_a_fifo_is_refused_without_waiting_for_a_writer(roots: Path) -> None:
    fifo = roots / "datasets" / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputRefusedError, match="is not a file"):
        inputs.open_text("dataset.path", fifo)


def test_nothing_opens_without_data_roots(roots: Path) -> None:
    inputs.allow(DataAccess.of([], "test"))
    with pytest.raises(InputRefusedError, match="is outside the data roots"):
        inputs.open_text("dataset.path", roots / "datasets" / "shared.csv")


@pytest.mark.parametrize(
    ("target", "says"),
    [("outside", "is outside the data roots"), ("bob", "is in another user's data")],
)
def test_a_job_fails_naming_the_key_when_its_input_leads_elsewhere(
    roots: Path, tmp_path: Path, target: str, says: str
) -> None:
    """A k12ml training in a real worker, its CSV a link out of the roots or into bob's area."""
    elsewhere = tmp_path / "outside.csv" if target == "outside" else roots / "users" / "bob" / "secret.csv"
    elsewhere.write_text(f"a,label\n1,{SECRET}\n2,{SECRET}\n")
    data = roots / "users" / "test" / "data.csv"
    data.symlink_to(elsewhere)
    cache = roots / "users" / "test" / "p1"
    cache.mkdir()  # as the server makes it at admission
    params = {"dataset": {"type": "csv", "path": str(data)}, "model": {"type": "knn"}}
    job = job_process.run_job("k12ml", tmp_path / "work", cache, "train", params, data_roots=(roots,))
    assert job.code == 2
    assert job.of("error")[-1]["code"] == 100104
    assert job.error.startswith(f"dataset.path: {str(data)!r} {says}")
    assert SECRET not in job.stderr and all(SECRET not in str(e) for e in job.events)


def test_a_k12cv_image_folder_with_a_link_out_of_the_roots_fails(roots: Path, tmp_path: Path) -> None:
    from PIL import Image

    folder = roots / "users" / "test" / "images"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        for i in range(4):
            Image.new("L", (8, 8), color=i * 40).save(folder / label / f"{i}.png")
    outside = tmp_path / "outside.png"
    Image.new("L", (8, 8)).save(outside)
    (folder / "b" / "9.png").symlink_to(outside)
    params = {
        "dataset_reader": {"type": "image_folder", "color_mode": "grayscale"},
        "train_data_path": str(folder),
        "validation_data_path": str(folder),
        "model": {"type": "small_cnn", "channels": [4]},
        "iterator": {"batch_size": 4},
        "trainer": {"num_epochs": 1, "cuda_device": -1, "optimizer": {"type": "adam", "lr": 0.01}},
    }
    cache = roots / "users" / "test" / "p2"
    cache.mkdir()  # as the server makes it at admission
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = job_process.run_job(
        "k12cv", tmp_path / "work", cache, "train", params, data_roots=(roots,), env=env
    )
    assert job.code == 2, job.stderr
    assert job.of("error")[-1]["code"] == 100104
    assert job.error.startswith(f"train_data_path: {str(folder / 'b' / '9.png')!r} is outside the data roots")


CELL = "Cell-Secret-77"


class _Ignored:
    """An event sink for a read that fails before it reports anything."""

    def emit(self, type: str, payload: dict[str, object]) -> None:
        del type, payload


def _first_error(read: Callable[[], object]) -> str:
    with pytest.raises(ConfigError) as refused:
        read()
    return str(refused.value)


def test_messages_about_data_files_say_where_never_what(tmp_path: Path) -> None:
    """Each reader's error about a bad value names the file, line and column, never the cell."""
    from k12ai_worker.k12cv.images import read_csv_pixels
    from k12ai_worker.k12cv.specs.readers import CsvPixelsSpec
    from k12ai_worker.k12ml.config import CsvDataset
    from k12ai_worker.k12ml.datasets import read_csv
    from k12ai_worker.k12nlp.datasets import read_instances
    from k12ai_worker.k12nlp.modules.embedders import pretrained_weight
    from k12ai_worker.k12nlp.readers.sst import SstTokensReader

    table = tmp_path / "table.csv"
    table.write_text(f"a,b,label\n1,2,x\n3,{CELL},y\n")
    twice = tmp_path / "twice.csv"
    twice.write_text(f"{CELL},{CELL},label\n1,2,x\n")
    pixels = tmp_path / "pixels.csv"
    pixels.write_text(f"label,p1,p2,p3,p4\n1,0,{CELL},0,0\n")
    trees = tmp_path / "trees.txt"
    trees.write_text(f"({CELL} (2 so) (2 so))\n")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text(f"so 1 {CELL}\n")
    undecodable = tmp_path / "latin1.csv"
    undecodable.write_bytes("a,label\n1,caf\xe9\n".encode("latin-1"))

    messages = {
        "number": _first_error(lambda: read_csv(CsvDataset(path=str(table)), need_label=True)),
        "header": _first_error(lambda: read_csv(CsvDataset(path=str(twice)), need_label=True)),
        "utf-8": _first_error(lambda: read_csv(CsvDataset(path=str(undecodable)), need_label=True)),
        "pixel": _first_error(lambda: read_csv_pixels(pixels, CsvPixelsSpec(), "train_data_path")),
        "label": _first_error(
            lambda: read_instances(SstTokensReader(granularity="3-class"), str(trees), "train_data_path")
        ),
        "vector": _first_error(
            lambda: pretrained_weight(str(vectors), ["so"], 1, 2, key="pretrained_file", sink=_Ignored())
        ),
    }
    assert messages["number"] == "dataset.path: line 3, column 2: the value is not a number"
    assert messages["header"] == "dataset.path: column 2 of the header repeats an earlier column's name"
    assert messages["utf-8"].startswith(f"dataset.path: {undecodable} is not UTF-8 text (invalid")
    assert messages["pixel"] == f"train_data_path: {pixels}: a pixel is not a number"
    assert messages["label"] == f"train_data_path: {trees}:1: a node's label is not a number 0-4"
    assert messages["vector"] == f"pretrained_file: {vectors} holds a vector value that is not a number"
    assert not [m for m in messages.values() if CELL in m or "\\xe9" in m]
