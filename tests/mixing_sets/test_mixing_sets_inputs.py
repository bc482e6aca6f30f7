"""Mixing sets from arrays in either layout, damaged files and folders, and the modes of what
`generate` writes."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ipmix import IPMixBatch
from ipmix.mixing_sets import MixingSet, MixingSetError
from ipmix.mixing_sets.generate import generate


def pictures(n: int, h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


def as_rgb(nhwc: np.ndarray) -> np.ndarray:
    return np.repeat(nhwc, 3, axis=3) if nhwc.shape[3] == 1 else nhwc[..., :3]


@settings(max_examples=25)
@given(
    n=st.integers(1, 6), h=st.integers(5, 12), w=st.integers(5, 12), c=st.sampled_from([1, 3, 4]),
    as_tensor=st.booleans(), transpose=st.booleans(),
)
def test_arrays_in_either_layout_give_the_same_pictures(n, h, w, c, as_tensor, transpose):
    nhwc = pictures(n, h, w, c)
    given = np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)) if transpose else nhwc
    mixing_set = MixingSet.from_source(torch.from_numpy(given) if as_tensor else given)
    assert len(mixing_set) == n
    for i in range(n):
        np.testing.assert_array_equal(mixing_set[i], as_rgb(nhwc)[i])


@settings(max_examples=20)
@given(h=st.integers(5, 40), w=st.integers(5, 40), as_tensor=st.booleans())
def test_a_single_picture_is_one_picture(h, w, as_tensor):
    """[H, W, 3] is one picture (it was H grey pictures 3 px wide); [3, H, W] needs its layout."""
    picture = pictures(1, h, w)[0]
    wrap = torch.from_numpy if as_tensor else np.asarray
    single = MixingSet.from_source(wrap(picture))
    assert len(single) == 1
    np.testing.assert_array_equal(single[0], picture)
    chw = np.ascontiguousarray(picture.transpose(2, 0, 1))
    with pytest.raises(MixingSetError, match=rf"\(3, {h}, {w}\) is ambiguous: .* layout='CHW' \(or 'NHW'\)"):
        MixingSet.from_source(wrap(chw))
    from_chw = MixingSet.from_source(wrap(chw), layout="CHW")
    assert len(from_chw) == 1
    np.testing.assert_array_equal(from_chw[0], picture)
    assert len(MixingSet.from_source(wrap(chw), layout="NHW")) == 3  # three grey pictures, if meant


def test_ipmix_batch_takes_a_torch_style_mixing_set():
    nhwc = pictures(4, 12, 12)
    nchw = torch.from_numpy(nhwc).permute(0, 3, 1, 2).contiguous()
    from_nchw = IPMixBatch(nchw, seed=0).device_pictures(12, "cpu")
    from_nhwc = IPMixBatch(nhwc, seed=0).device_pictures(12, "cpu")
    assert torch.equal(from_nchw, from_nhwc) and from_nchw.shape == (4, 3, 12, 12)


def test_dataset_items_are_checked_not_clamped():
    good = MixingSet.from_dataset([(torch.full((3, 8, 8), 0.5), 0), np.full((8, 8, 3), 1.0)])
    assert good[0].max() == 128 and good[1].min() == 255
    bright = MixingSet.from_dataset([torch.full((3, 8, 8), 255.0)])
    with pytest.raises(MixingSetError, match=r"mixing picture: float images must lie in \[0, 1\].*255"):
        bright[0]
    with pytest.raises(MixingSetError, match="layout must be one of HWC, CHW, HW"):
        MixingSet.from_dataset([np.zeros((8, 8, 3), np.uint8)], layout="NHWC")[0]


def _truncated_jpeg(path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(pictures(1, 32, 32)[0]).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def test_folder_picture_that_cannot_decode_is_skipped_with_a_warning(tmp_path):
    good = pictures(2, 16, 16, seed=1)
    Image.fromarray(good[0]).save(tmp_path / "a.png")
    _truncated_jpeg(tmp_path / "b.jpg")
    Image.fromarray(good[1]).save(tmp_path / "c.png")
    folder = MixingSet.from_source(tmp_path)
    assert len(folder) == 3  # b.jpg passes verify(): only decoding shows the damage
    with pytest.warns(UserWarning, match=rf"cannot read mixing-set picture {tmp_path / 'b.jpg'}: .*skipped"):
        stand_in = folder[1]
    np.testing.assert_array_equal(stand_in, good[1])
    assert [p.name for p in folder.skipped] == ["b.jpg"]
    np.testing.assert_array_equal(folder[0], good[0])
    broken = tmp_path / "broken"
    broken.mkdir()
    _truncated_jpeg(broken / "x.jpg")
    with pytest.warns(UserWarning), pytest.raises(MixingSetError, match="none of the 1 image files"):
        MixingSet.from_source(broken)[0]


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_truncated_array_files_are_named(tmp_path, suffix):
    path = tmp_path / f"set{suffix}"
    (np.save if suffix == ".npy" else np.savez)(path, pictures(20, 16, 16))
    path.write_bytes(path.read_bytes()[:-3000])
    with pytest.raises(MixingSetError, match=rf"cannot read mixing-set file {path}: "):
        MixingSet.from_file(path)


def test_generated_sets_get_the_usual_file_modes(tmp_path):
    previous = os.umask(0o027)
    try:
        outputs = [generate(tmp_path / name, count=3, size=8, progress=False) for name in ("set", "set.npy")]
    finally:
        os.umask(previous)
    files = [p for out in outputs for p in ([out] if out.is_file() else out.rglob("*")) if p.is_file()]
    files.append(tmp_path / "set.json")
    assert len(files) >= 6
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o640}
