"""The worker holds what it really opens to its data roots and its user's area (k12ai_worker.inputs)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from k12ai_contract.data_access import DataAccess
from k12ai_contract.errors import InputRefusedError
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
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = job_process.run_job(
        "k12cv", tmp_path / "work", cache, "train", params, data_roots=(roots,), env=env
    )
    assert job.code == 2, job.stderr
    assert job.of("error")[-1]["code"] == 100104
    assert job.error.startswith(f"train_data_path: {str(folder / 'b' / '9.png')!r} is outside the data roots")
