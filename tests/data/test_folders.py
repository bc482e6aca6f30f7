"""Image folders: listing, checks, caching, decoding of every mode, the dataset."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import torch
from image_folders import build_image_folder
from PIL import Image

from ipmix.data import (
    CorruptImageError,
    DataNotFoundError,
    FolderDataError,
    ImageFolderDataset,
    check_image,
    load_rgb,
    scan_image_folder,
)
from ipmix.data import folders as folders_module


@pytest.fixture(scope="module")
def broken_folder(tmp_path_factory):
    return build_image_folder(tmp_path_factory.mktemp("broken"), classes=4, per_class=6, broken=True)


def test_listing_is_sorted_and_skips_bad_files_with_one_warning(broken_folder):
    with pytest.warns(UserWarning) as caught:
        index = scan_image_folder(broken_folder, cache=False)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    message = messages[0]
    assert "3 file(s) unusable and skipped" in message
    for name in ("class_0/truncated.jpg", "class_0/notes.jpg", "class_1/README.txt"):
        assert name in message
    assert index.classes == ("class_0", "class_1", "class_2", "class_3")
    assert index.class_counts().tolist() == [6, 6, 6, 6]
    assert [index.relative_path(i) for i in range(3)] == sorted(
        index.relative_path(i) for i in range(3))
    assert {s.path for s in index.skipped} == {
        "class_0/truncated.jpg", "class_0/notes.jpg", "class_1/README.txt"}


def test_strict_mode_raises_naming_the_files(broken_folder):
    with pytest.raises(FolderDataError, match="3 file.*found \\(strict\\).*truncated.jpg"):
        scan_image_folder(broken_folder, strict=True, cache=False)


def test_check_levels_find_truncation_and_non_images(broken_folder):
    truncated = broken_folder / "class_0" / "truncated.jpg"
    assert check_image(truncated, "none") is None
    assert check_image(truncated, "header") is not None
    assert check_image(truncated, "decode") is not None
    assert "not an image" in check_image(broken_folder / "class_0" / "notes.jpg")
    good = next((broken_folder / "class_2").glob("*"))
    assert check_image(good, "decode") is None
    with pytest.raises(ValueError, match="check level must be one of"):
        check_image(good, "paranoid")


def test_a_jpeg_with_trailing_bytes_is_not_called_truncated(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buffer, format="JPEG")
    path = tmp_path / "trailer.jpg"
    path.write_bytes(buffer.getvalue() + b"\0" * 10_000)  # metadata some cameras append
    assert check_image(path) is None


def test_every_mode_decodes_to_rgb(broken_folder):
    modes = set()
    for path in sorted(broken_folder.glob("*/img_*")):
        with Image.open(path) as raw:
            modes.add(raw.mode)
            size = raw.size
        image = load_rgb(path)
        assert image.mode == "RGB" and image.size == size
    assert {"RGB", "L", "CMYK", "P", "I;16", "RGBA"} <= modes


def test_conversions_keep_the_picture(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "wide.png")
    out = np.asarray(load_rgb(tmp_path / "wide.png"))
    np.testing.assert_array_equal(out[..., 0], gray)  # scaled, not clipped at 255
    np.testing.assert_array_equal(out[..., 1], gray)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.tif")
    np.testing.assert_array_equal(np.asarray(load_rgb(tmp_path / "cmyk.tif")), rgb)
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "transparent.png", transparency=0)
    assert load_rgb(tmp_path / "transparent.png").mode == "RGB"
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(CorruptImageError, match="bad.png: cannot decode"):
        load_rgb(tmp_path / "bad.png")


def test_empty_class_and_empty_folder_are_errors_naming_them(tmp_path):
    build_image_folder(tmp_path / "a", classes=2, per_class=2)
    (tmp_path / "a" / "class_9").mkdir()
    (tmp_path / "a" / "class_9" / "broken.png").write_bytes(b"nope")
    with pytest.raises(FolderDataError,
                       match="1 class folder.*without a usable image: class_9 .1 unusable file"):
        scan_image_folder(tmp_path / "a", cache=False)
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "flat" / "x.png")
    with pytest.raises(FolderDataError, match="no class folders.*sorted into class folders"):
        scan_image_folder(tmp_path / "flat", cache=False)
    with pytest.raises(DataNotFoundError, match="image folder not found"):
        scan_image_folder(tmp_path / "missing")


def test_listing_is_cached_until_a_folder_changes(tmp_path, monkeypatch):
    root = build_image_folder(tmp_path / "f", classes=2, per_class=3)
    first = scan_image_folder(root)
    calls = []
    real_scan = folders_module._scan
    monkeypatch.setattr(folders_module, "_scan", lambda *a: calls.append(a) or real_scan(*a))
    again = scan_image_folder(root)
    assert calls == [] and again.classes == first.classes
    np.testing.assert_array_equal(again.files, first.files)
    Image.new("RGB", (50, 60), (1, 2, 3)).save(root / "class_1" / "new.png")
    os.utime(root / "class_1", ns=(1, 1))  # make the change visible on coarse clocks too
    changed = scan_image_folder(root)
    assert len(calls) == 1 and len(changed) == len(first) + 1
    scan_image_folder(root, cache=False)
    assert len(calls) == 2


def test_checks_run_in_parallel_with_the_same_result(tmp_path, monkeypatch):
    root = build_image_folder(tmp_path / "p", classes=2, per_class=5, broken=True)
    monkeypatch.setattr(folders_module, "_CHUNK", 3)  # several chunks for the pool
    with pytest.warns(UserWarning):
        serial = scan_image_folder(root, cache=False, workers=1)
    with pytest.warns(UserWarning):
        parallel = scan_image_folder(root, cache=False, workers=2)
    np.testing.assert_array_equal(serial.files, parallel.files)
    assert serial.skipped == parallel.skipped


def test_dataset_returns_transformed_images_and_skips_files_that_broke(tmp_path):
    root = build_image_folder(tmp_path / "d", classes=3, per_class=2)
    index = scan_image_folder(root, cache=False)
    dataset = ImageFolderDataset(index, transform=lambda im: torch.tensor(im.size))
    size, label = dataset[3]
    assert label == 1 and size.tolist() == list(Image.open(index.path(3)).size)
    index.path(0).write_bytes(b"garbage")  # broken after the listing
    with pytest.raises(CorruptImageError, match=index.relative_path(0)):
        dataset[0]
    skipping = ImageFolderDataset(index, on_error="skip")
    with pytest.warns(UserWarning, match="using the next image instead"):
        image, label = skipping[0]
    assert image.mode == "RGB" and label == int(index.labels[1])


def test_subset_keeps_every_class(tmp_path):
    index = scan_image_folder(build_image_folder(tmp_path / "s", classes=4, per_class=6), cache=False)
    part = index.subset(8)
    assert len(part) == 8 and part.class_counts().tolist() == [2, 2, 2, 2]
    with pytest.raises(ValueError, match="positive number"):
        index.subset(0)
