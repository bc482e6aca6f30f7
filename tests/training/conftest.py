"""Tiny synthetic CIFAR data and mixing pictures for training tests (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def learnable_split(count: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class is written in their colour (plus noise): a problem a tiny net learns."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.int64) % classes
    palette = np.random.default_rng(1234).integers(30, 226, size=(classes, 3))
    noise = rng.normal(0, 20, size=(count, 32, 32, 3))
    images = np.clip(palette[labels][:, None, None, :] + noise, 0, 255).astype(np.uint8)
    return images, labels


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with a 256/64-image cifar10.npz and a 128/32-image cifar100.npz."""
    root = tmp_path_factory.mktemp("data")
    for name, classes in (("cifar10", 10), ("cifar100", 100)):
        x_train, y_train = learnable_split(256 if classes == 10 else 128, classes, 1)
        x_test, y_test = learnable_split(64 if classes == 10 else 32, classes, 2)
        np.savez(root / f"{name}.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return root


@pytest.fixture(scope="session")
def tiny_mixing_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 6 random 36x36 pictures."""
    folder = tmp_path_factory.mktemp("mixing")
    rng = np.random.default_rng(7)
    for i in range(6):
        picture = rng.integers(0, 256, size=(36, 36, 3), dtype=np.uint8)
        Image.fromarray(picture).save(folder / f"p{i}.png")
    return folder


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DIR/train (4 classes x 3 pictures in every mode, plus 3 unusable files) and DIR/val (x 2)."""
    from image_folders import build_image_folder

    root = tmp_path_factory.mktemp("folder")
    build_image_folder(root / "train", classes=4, per_class=3, seed=0, broken=True)
    build_image_folder(root / "val", classes=4, per_class=2, seed=1)
    return root


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Folder listings are cached under $IPMIX_CACHE: keep the tests' caches to themselves."""
    monkeypatch.setenv("IPMIX_CACHE", str(tmp_path_factory.mktemp("cache")))


class TrainingCrash(Exception):
    """Raised by `crash_after` right after the trainer saved the armed epoch."""


@pytest.fixture
def crash_after(monkeypatch: pytest.MonkeyPatch):
    """``crash_after(epoch)`` makes the next training raise `TrainingCrash` once that epoch is
    saved; ``crash_after.disarm()`` restores the trainer."""
    from ipmix.training import trainer

    original = trainer._Run.save

    def arm(epoch: int) -> None:
        def save_then_crash(run, metrics=None):
            original(run, metrics)
            if run.epoch == epoch:
                raise TrainingCrash

        monkeypatch.setattr(trainer._Run, "save", save_then_crash)

    arm.disarm = lambda: monkeypatch.setattr(trainer._Run, "save", original)  # type: ignore[attr-defined]
    arm.error = TrainingCrash  # type: ignore[attr-defined]
    return arm
