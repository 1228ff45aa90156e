"""k12cv's networks and per-batch transforms, in this process (plain torch; no job needed).

Parameter counts are the published ones of torchvision's ``resnet18`` (11,689,512),
``resnet34`` (21,797,672) and ``mobilenet_v2`` (3,504,872) for 1000 ImageNet classes:
the same layers, widths and biases give the same count.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from k12ai_contract.errors import ConfigError
from k12ai_worker.k12cv.augment import BatchPipeline
from k12ai_worker.k12cv.models.classifier import load_matching
from k12ai_worker.k12cv.specs.models import ModelSpec
from k12ai_worker.k12cv.specs.transforms import TransformSpec
from k12ai_worker.training.params import parse


def network(config: dict[str, object], *, num_classes: int, in_channels: int) -> torch.nn.Module:
    return parse(ModelSpec, config, "model").build_network(num_classes=num_classes, in_channels=in_channels)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("model", "parameters"),
    [("resnet18", 11_689_512), ("resnet34", 21_797_672), ("mobilenet_v2", 3_504_872)],
)
def test_imagenet_networks_have_the_published_parameter_counts(model: str, parameters: int) -> None:
    assert count(network({"type": model}, num_classes=1000, in_channels=3)) == parameters


@pytest.mark.parametrize(
    "config",
    [
        {"type": "small_cnn"},
        {"type": "resnet18", "stem": "small", "width": 8},
        {"type": "resnet34", "width": 8},
        {"type": "mobilenet_v2", "width_mult": 0.25, "stem": "small"},
    ],
)
@pytest.mark.parametrize("size", [8, 33])
def test_every_network_gives_one_logit_per_class_for_any_image_size(
    config: dict[str, object], size: int
) -> None:
    net = network({**config, "dropout": 0.2}, num_classes=7, in_channels=1).eval()
    logits = net(torch.rand(3, 1, size, size))
    assert logits.shape == (3, 7)
    assert torch.isfinite(logits).all()


def test_pretrained_weights_load_where_names_and_shapes_match(tmp_path: Path) -> None:
    source = network({"type": "resnet18", "width": 8}, num_classes=10, in_channels=3)
    target = network({"type": "resnet18", "width": 8}, num_classes=4, in_channels=3)
    # As an ImageClassifier's archive holds them: "network."-prefixed.
    file = tmp_path / "weights.th"
    torch.save({f"network.{k}": v for k, v in source.state_dict().items()}, file)
    loaded, skipped = load_matching(target, torch.load(file, weights_only=True))
    assert sorted(skipped) == ["network.fc.bias", "network.fc.weight"]
    assert torch.equal(target.state_dict()["conv1.weight"], source.state_dict()["conv1.weight"])
    assert "fc.weight" not in loaded and len(loaded) == len(source.state_dict()) - 2


def pipeline(
    transforms: list[dict[str, object]], *, training: bool, size: tuple[int, int] = (4, 4)
) -> BatchPipeline:
    specs = [parse(TransformSpec, t, f"dataset_reader.transforms.{i}") for i, t in enumerate(transforms)]
    return BatchPipeline.build(
        list(enumerate(specs)), input_size=size, training=training, path="dataset_reader"
    )


def test_pixels_are_scaled_then_normalised_per_channel() -> None:
    pixels = torch.tensor([0, 255], dtype=torch.uint8).view(1, 2, 1, 1).expand(1, 2, 2, 2).contiguous()
    out = pipeline([{"type": "normalize", "mean": [0.0, 0.5], "std": [1.0, 0.25]}], training=False)(pixels)
    assert out[0, 0].eq(0.0).all() and out[0, 1].eq(2.0).all()


def test_random_crops_are_windows_of_the_padded_image_and_centred_outside_training() -> None:
    torch.manual_seed(0)
    image = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4) + 1
    batch = image.expand(64, 1, 4, 4).contiguous()
    crop = [{"type": "random_crop", "size": 3, "padding": 1}]
    padded = torch.nn.functional.pad(image.float() / 255, (1, 1, 1, 1))
    windows = {
        tuple(padded[0, 0, r : r + 3, c : c + 3].flatten().tolist()) for r in range(4) for c in range(4)
    }
    crops = pipeline(crop, training=True)(batch)
    seen = {tuple(c[0].flatten().tolist()) for c in crops}
    assert seen <= windows and len(seen) > 4
    centred = pipeline(crop, training=False)(batch)
    assert torch.equal(centred[0, 0], padded[0, 0, 1:4, 1:4])
    assert pipeline(crop, training=False).output_size == (3, 3)


def test_flips_happen_in_training_only() -> None:
    torch.manual_seed(0)
    batch = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4).expand(32, 1, 4, 4).contiguous()
    flip = [{"type": "random_flip", "probability": 0.5}]
    out = pipeline(flip, training=True)(batch)
    flipped = [torch.equal(o, batch[0].float().flip(-1) / 255) for o in out]
    kept = [torch.equal(o, batch[0].float() / 255) for o in out]
    assert all(f != k for f, k in zip(flipped, kept, strict=True)) and 0 < sum(flipped) < 32
    assert torch.equal(pipeline(flip, training=False)(batch), batch.float() / 255)


def test_a_crop_larger_than_the_images_names_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        pipeline(
            [{"type": "normalize", "mean": [0], "std": [1]}, {"type": "random_crop", "size": 9}],
            training=True,
        )
    assert caught.value.key == "dataset_reader.transforms.1.size"
