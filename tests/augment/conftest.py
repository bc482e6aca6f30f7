"""Shared fixtures for the augmentation tests: small images and a small mixing set."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ipmix.mixing_sets.store import MixingSet


@pytest.fixture(scope="session")
def pictures() -> np.ndarray:
    """Twelve smooth-ish random RGB pictures (40x40), standing in for fractals."""
    rng = np.random.default_rng(123)
    coarse = rng.integers(0, 256, (12, 10, 10, 3), dtype=np.uint8)
    return np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)


@pytest.fixture(scope="session")
def mixing_set(pictures: np.ndarray) -> MixingSet:
    return MixingSet.from_array(pictures)


@pytest.fixture(scope="session")
def images() -> np.ndarray:
    """Eight 32x32 RGB images with structure (gradients plus noise), uint8 [N, H, W, 3]."""
    rng = np.random.default_rng(7)
    ramp = np.linspace(0, 255, 32)[None, :, None]
    base = (ramp + ramp.transpose(1, 0, 2)) / 2
    noise = rng.normal(0, 30, (8, 32, 32, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def cifar_test_images() -> np.ndarray:
    """96 CIFAR-10 test images (uint8 NHWC) when the data is present, else structured stand-ins."""
    default = Path(__file__).parents[3] / "shared" / "data"
    path = Path(os.environ.get("IPMIX_DATA", default)) / "cifar10.npz"
    if path.is_file():
        with np.load(path) as data:
            return data["x_test"][:96]
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (96, 8, 8, 3), dtype=np.uint8)
    smooth = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2).astype(np.int16)
    return np.clip(smooth + rng.integers(-20, 21, smooth.shape), 0, 255).astype(np.uint8)


class _Repeated:
    """One image through a transform, eight times (a map-style dataset for DataLoader workers)."""

    def __init__(self, transform, image) -> None:
        self.transform, self.image = transform, image

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int):
        out = self.transform(self.image)
        views = out if isinstance(out, tuple) else (out,)
        return torch.stack([torch.as_tensor(np.asarray(view)).clone() for view in views])


@pytest.fixture
def through_workers():
    """``run(transform, image, seed)``: the transform's outputs for one image, eight times,
    from a DataLoader with two workers after ``torch.manual_seed(seed)``."""

    def run(transform, image, seed: int = 0) -> torch.Tensor:
        torch.manual_seed(seed)
        loader = DataLoader(_Repeated(transform, image), batch_size=1, num_workers=2)
        return torch.cat(list(loader))

    return run
