"""Loading mixing sets: array files, folders, on-the-fly sets, the default set, error paths."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ipmix.mixing_sets import (
    ArrayMixingSet,
    FolderMixingSet,
    GeneratedMixingSet,
    MixingSet,
    MixingSetError,
    default_mixing_set,
)
from ipmix.mixing_sets.generate import generated_mixing_set


def pictures(n: int = 5, side: int = 12) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, side, side, 3), dtype=np.uint8)


def test_npy_and_npz_files_load_and_from_source_dispatches(tmp_path: Path) -> None:
    array = pictures()
    np.save(tmp_path / "set.npy", array)
    np.savez(tmp_path / "set.npz", pictures=array, labels=np.arange(5))
    np.savez(tmp_path / "single.npz", array)
    for name in ("set.npy", "set.npz", "single.npz"):
        loaded = MixingSet.from_file(tmp_path / name)
        assert isinstance(loaded, ArrayMixingSet) and len(loaded) == 5
        assert np.array_equal(loaded[3], array[3])
        assert isinstance(MixingSet.from_source(str(tmp_path / name)), ArrayMixingSet)
    assert MixingSet.from_source(tmp_path / "set.npy").picture(0, 6).shape == (6, 6, 3)
    (tmp_path / "folder").mkdir()
    Image.fromarray(array[0]).save(tmp_path / "folder" / "a.png")
    assert isinstance(MixingSet.from_source(tmp_path / "folder"), FolderMixingSet)


def test_array_file_errors(tmp_path: Path) -> None:
    np.save(tmp_path / "float.npy", pictures().astype(np.float32))
    np.save(tmp_path / "shape.npy", np.zeros((2, 3, 4, 5, 6), np.uint8))
    np.save(tmp_path / "empty.npy", np.zeros((0, 8, 8, 3), np.uint8))
    np.savez(tmp_path / "many.npz", a=pictures(), b=pictures())
    (tmp_path / "broken.npy").write_bytes(b"not an array")
    (tmp_path / "notes.txt").write_text("hello")
    cases = {
        "float.npy": "must be uint8",
        "shape.npy": r"shape \(2, 3, 4, 5, 6\) fits none of \[N, H, W, C\]",
        "empty.npy": "empty",
        "many.npz": "name the pictures",
        "broken.npy": "cannot read",
        "missing.npy": "not found",
    }
    for name, message in cases.items():
        with pytest.raises(MixingSetError, match=message):
            MixingSet.from_file(tmp_path / name)
    with pytest.raises(MixingSetError, match="neither a folder nor"):
        MixingSet.from_source(tmp_path / "notes.txt")
    with pytest.raises(MixingSetError, match="not found"):
        MixingSet.from_source(tmp_path / "nowhere")
    with pytest.raises(MixingSetError, match=r"\.npy or \.npz"):
        MixingSet.from_file(tmp_path / "notes.txt")
    assert issubclass(MixingSetError, ValueError)


def test_folder_errors_and_skipped_files(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(MixingSetError, match="no image files"):
        MixingSet.from_source(tmp_path / "empty")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("a.png", "b.jpg"):
        (corrupt / name).write_bytes(b"garbage")
    with pytest.raises(MixingSetError, match="all 2 image files .* are unreadable"):
        MixingSet.from_source(corrupt)
    mixed = tmp_path / "mixed"
    (mixed / "class").mkdir(parents=True)
    Image.fromarray(pictures()[0]).save(mixed / "class" / "good.png")
    (mixed / "class" / "bad.png").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        folder = MixingSet.from_source(mixed)
    assert len(folder) == 1 and folder.skipped[0].name == "bad.png"


def test_generated_set_is_deterministic_memoised_and_bounded() -> None:
    calls: list[tuple[int, int]] = []

    def render(index: int, side: int) -> np.ndarray:
        calls.append((index, side))
        return np.full((side, side, 3), index % 256, np.uint8)

    lazy = GeneratedMixingSet(render, size=10, native_side=8, cache_bytes=10**6)
    assert lazy.picture(3, 6).shape == (6, 6, 3) and lazy[3].shape == (8, 8, 3)
    lazy.picture(3, 6)
    assert calls.count((3, 6)) == 1  # memoised
    fresh = GeneratedMixingSet(render, size=10)  # cache_bytes = 0: rendered on every call
    fresh.picture(1, 4)
    fresh.picture(1, 4)
    assert calls.count((1, 4)) == 2
    with pytest.raises(IndexError):
        lazy.picture(10, 6)
    with pytest.raises(MixingSetError):
        GeneratedMixingSet(render, size=0)


def test_generated_mixing_set_renders_the_recipe() -> None:
    on_the_fly = generated_mixing_set("spectrum", seed=4)
    assert len(on_the_fly) == 2**31 - 1
    first = on_the_fly.picture(123_456_789, 20)
    assert first.shape == (20, 20, 3)
    assert np.array_equal(first, generated_mixing_set("spectrum", seed=4).picture(123_456_789, 20))
    assert "spectrum" in repr(on_the_fly)


def test_default_set_is_cheap_and_deterministic() -> None:
    start = time.perf_counter()
    default = default_mixing_set()
    assert time.perf_counter() - start < 2.0
    assert len(default) == 13_000
    picture = default.picture(0, 36)
    assert picture.shape == (36, 36, 3) and picture.dtype == np.uint8
    assert default[0].shape == (36, 36, 3)  # native side = 9/8 of the image size
    assert np.array_equal(picture, default_mixing_set().picture(0, 36))
    assert default_mixing_set(64)[1].shape == (72, 72, 3)


def test_tensors_are_accepted_without_store_importing_torch() -> None:
    import torch

    uint8 = torch.from_numpy(pictures(3, 8))
    assert np.array_equal(MixingSet.from_source(uint8)[1], pictures(3, 8)[1])
    chw = torch.rand(3, 8, 8)
    picture = MixingSet.from_dataset([(chw, 0)])[0]
    assert picture.shape == (8, 8, 3) and picture.dtype == np.uint8
    expected = (chw.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(picture, expected)


def test_sixteen_bit_pictures_are_scaled_like_the_training_reader(tmp_path: Path) -> None:
    """A 16-bit PNG (mode I;16) is not an all-white picture: the mixing-set reader scales it
    to 8 bits as the training reader does, for files and for PIL images in a dataset."""
    from ipmix.data.images import load_rgb

    grey = np.full((10, 12), 100 * 257, dtype=np.uint16)  # 8-bit grey level 100, 16 bits wide
    Image.fromarray(grey).save(tmp_path / "wide.png")
    assert Image.open(tmp_path / "wide.png").mode.startswith("I;16")
    folder_picture = FolderMixingSet(tmp_path)[0]
    assert folder_picture.shape == (10, 12, 3) and (folder_picture == 100).all()
    assert np.array_equal(folder_picture, np.asarray(load_rgb(tmp_path / "wide.png")))
    dataset_picture = MixingSet.from_source([Image.open(tmp_path / "wide.png")])[0]
    assert (dataset_picture == 100).all()

