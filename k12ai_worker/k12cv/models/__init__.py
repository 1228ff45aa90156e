"""The image classifiers in plain PyTorch (there is no CPU torchvision to lean on)."""
