"""k12cv's readers and image decoding, in this process, on files the tests write."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12cv.images import decode, sorted_labels
from k12ai_worker.k12cv.specs.readers import DatasetReaderSpec
from k12ai_worker.training.params import parse


def reader(config: dict[str, object]) -> DatasetReaderSpec:
    return parse(DatasetReaderSpec, config, "dataset_reader")


def test_an_rgb_jpeg_decodes_to_channels_first_and_resizes() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (10, 6), (200, 100, 50)).save(buffer, format="JPEG", quality=95)
    rgb = decode(buffer.getvalue(), 3, None)
    assert rgb.shape == (3, 6, 10) and rgb.dtype == np.uint8
    assert abs(int(rgb[0, 3, 5]) - 200) <= 3 and abs(int(rgb[2, 3, 5]) - 50) <= 3
    grey = decode(buffer.getvalue(), 1, (4, 5))
    assert grey.shape == (1, 4, 5)


def test_image_folder_labels_are_sub_folders_and_other_files_are_ignored(tmp_path: Path) -> None:
    for label in ("cat", "dog"):
        (tmp_path / label / "nested").mkdir(parents=True)
        Image.new("RGB", (4, 4)).save(tmp_path / label / "a.png")
        Image.new("RGB", (4, 4)).save(tmp_path / label / "nested" / "b.JPG", format="JPEG")
        (tmp_path / label / "notes.txt").write_text("not an image")
    (tmp_path / ".cache").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / ".cache" / "c.png")
    images = reader({"type": "image_folder"}).read(str(tmp_path), "train_data_path")
    assert images.labels == ["cat", "cat", "dog", "dog"]
    assert images.files is not None and [f.name for f in images.files] == ["a.png", "b.JPG"] * 2
    assert images.channels == 3


def test_image_folder_errors_name_the_data_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no images") as caught:
        reader({"type": "image_folder"}).read(str(tmp_path), "validation_data_path")
    assert caught.value.key == "validation_data_path"
    with pytest.raises(ConfigError, match="absolute path"):
        reader({"type": "image_folder"}).read("digits/train", "train_data_path")


def test_csv_pixels_reads_labels_anywhere_and_rejects_rows_of_no_square(tmp_path: Path) -> None:
    file = tmp_path / "pixels.csv"
    file.write_text("p0,p1,p2,p3,label\n0,255,255,0,a\n255,0,0,255,b\n")
    images = reader({"type": "csv_pixels", "label_column": -1}).read(str(file), "train_data_path")
    assert images.labels == ["a", "b"]
    assert images.pixels is not None and images.pixels.shape == (2, 1, 2, 2)
    assert images.pixels[0, 0].tolist() == [[0, 255], [255, 0]]
    file.write_text("1,0,0,0\n")
    with pytest.raises(ConfigError, match="no square image") as caught:
        reader({"type": "csv_pixels"}).read(str(file), "train_data_path")
    assert caught.value.key == "train_data_path"
    rows = reader({"type": "csv_pixels", "image_size": [1, 3]}).read(str(file), "train_data_path")
    assert rows.pixels is not None and rows.pixels.shape == (1, 1, 1, 3)


def test_builtin_digits_splits_are_disjoint_and_stratified() -> None:
    digits = reader({"type": "sklearn_digits", "transforms": [{"type": "resize", "size": 16}]})
    train, test = digits.read("train", "train_data_path"), digits.read("test", "validation_data_path")
    assert len(train) + len(test) == 1797 and len(test) == 360
    assert train.pixels is not None and train.pixels.shape[1:] == (1, 16, 16)
    assert sorted_labels(test.labels) == [str(d) for d in range(10)]
    with pytest.raises(ConfigError, match="reads a split"):
        digits.read("/data/digits", "train_data_path")


def test_labels_sort_numerically_when_all_are_integers() -> None:
    assert sorted_labels(["10", "9", "2", "9"]) == ["2", "9", "10"]
    assert sorted_labels(["b", "a", "10"]) == ["10", "a", "b"]
