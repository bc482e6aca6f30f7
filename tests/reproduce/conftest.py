"""A tiny CIFAR-10 stand-in (learnable colours) for end-to-end reproduce runs; nothing downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _split(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.int64) % 10
    palette = np.random.default_rng(1234).integers(30, 226, size=(10, 3))
    noise = rng.normal(0, 25, size=(count, 32, 32, 3))
    return np.clip(palette[labels][:, None, None, :] + noise, 0, 255).astype(np.uint8), labels


@pytest.fixture(scope="session")
def tiny_cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a 256-train / 64-test-image cifar10.npz."""
    root = tmp_path_factory.mktemp("data")
    x_train, y_train = _split(256, 1)
    x_test, y_test = _split(64, 2)
    np.savez(root / "cifar10.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return root
