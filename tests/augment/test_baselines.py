"""CutOut and PixMix: shapes, kinds, ranges, determinism per seed, and their distributions."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision import tv_tensors

from ipmix.augment.methods.baselines import CUTOUT_SIZES, PIXMIX_ALL_OPS, PIXMIX_OPS, CutOut, PixMix
from ipmix.mixing_sets.store import MixingSet


def _pil(seed: int, size: int = 32, mode: str = "RGB") -> PIL.Image.Image:
    rng = np.random.default_rng(seed)
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    return PIL.Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))


@pytest.fixture(scope="module")
def pictures() -> MixingSet:
    return MixingSet.from_array(np.random.default_rng(7).integers(0, 256, (6, 40, 40, 3), np.uint8))


# ---- CutOut --------------------------------------------------------------------------------
def test_cutout_sizes_follow_appendix_a() -> None:
    assert CUTOUT_SIZES == {"cifar10": 16, "cifar100": 8}


def test_cutout_fills_exactly_the_drawn_squares() -> None:
    x = torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 0.4
    out = CutOut(16, seed=3)(x)
    boxes = CutOut(16, seed=3).boxes(5, 32, 32)
    assert out.shape == x.shape and out.dtype == x.dtype
    for image, (top, bottom, left, right) in zip(out, boxes, strict=True):
        expected = torch.zeros(32, 32, dtype=torch.bool)
        expected[top:bottom, left:right] = True
        filled = (image == 0.5).all(dim=0)
        assert torch.equal(filled, expected)
        assert 0 < int(filled.sum()) <= 16 * 16
    untouched = ~(out == 0.5).all(dim=1, keepdim=True).expand_as(out)
    assert torch.equal(out[untouched], x[untouched])


def test_cutout_is_deterministic_per_seed() -> None:
    x = torch.rand(4, 3, 32, 32)
    assert torch.equal(CutOut(8, seed=1)(x), CutOut(8, seed=1)(x))
    assert not torch.equal(CutOut(8, seed=1)(x), CutOut(8, seed=2)(x))
    transform = CutOut(8, seed=1)
    first = transform(x)
    transform.reseed(1)
    assert torch.equal(transform(x), first)


def test_cutout_kinds_pil_uint8_tvtensor() -> None:
    image = _pil(0)
    out = CutOut(16, seed=0)(image)
    assert isinstance(out, PIL.Image.Image) and out.mode == "RGB" and out.size == (32, 32)
    assert (np.asarray(out) == 128).all(axis=2).sum() > 0
    gray = CutOut(8, seed=0)(_pil(0, mode="L"))
    assert gray.mode == "L"
    as_uint8 = torch.from_numpy(np.asarray(image).transpose(2, 0, 1).copy())
    out_uint8 = CutOut(16, seed=0)(as_uint8)
    assert out_uint8.dtype == torch.uint8
    # Same stream, same square, whatever the kind of the input.
    assert np.array_equal(out_uint8.permute(1, 2, 0).numpy(), np.asarray(out))
    wrapped = CutOut(16, seed=0)(tv_tensors.Image(torch.rand(3, 32, 32)))
    assert isinstance(wrapped, tv_tensors.Image)


def test_cutout_centre_is_uniform_so_squares_cross_borders() -> None:
    # Centre uniform over 32 positions per axis; a 16-px square lies fully inside iff the
    # centre is in [8, 24]: probability (17/32)^2 = 0.282. 4000 draws: sd 0.0071.
    boxes = CutOut(16, seed=11).boxes(4000, 32, 32)
    inside = ((boxes[:, 1] - boxes[:, 0]) == 16) & ((boxes[:, 3] - boxes[:, 2]) == 16)
    assert inside.mean() == pytest.approx((17 / 32) ** 2, abs=0.03)


def test_cutout_errors() -> None:
    with pytest.raises(ValueError, match="size"):
        CutOut(0)
    with pytest.raises(ValueError, match="fill"):
        CutOut(8, fill=2.0)
    with pytest.raises(ValueError, match="int32"):
        CutOut(8)(torch.zeros(3, 8, 8, dtype=torch.int32))


@settings(max_examples=30, deadline=None)
@given(size=st.integers(1, 40), height=st.integers(1, 33), width=st.integers(1, 33),
       seed=st.integers(0, 2**31))
def test_cutout_mask_is_one_clipped_rectangle(size: int, height: int, width: int, seed: int) -> None:
    out = CutOut(size, fill=1.0, seed=seed)(torch.zeros(2, 1, height, width))
    for image in out[:, 0]:
        rows = torch.nonzero(image.any(dim=1)).flatten()
        cols = torch.nonzero(image.any(dim=0)).flatten()
        assert len(rows) >= 1 and len(cols) >= 1  # the centre is always inside the image
        assert len(rows) <= size and len(cols) <= size
        assert int(image.sum()) == len(rows) * len(cols)  # a full rectangle
        assert int(rows[-1] - rows[0]) + 1 == len(rows) and int(cols[-1] - cols[0]) + 1 == len(cols)


# ---- PixMix --------------------------------------------------------------------------------
def test_pixmix_defaults_are_the_pixmix_code() -> None:
    transform = PixMix(MixingSet.from_array(np.zeros((1, 8, 8, 3), np.uint8)))
    assert (transform.k, transform.beta, transform.severity) == (4, 3.0, 3.0)
    assert transform.ops == PIXMIX_ALL_OPS
    assert PixMix(transform.mixing_set, all_ops=False).ops == PIXMIX_OPS


def test_pixmix_pil_in_pil_out_and_determinism(pictures: MixingSet) -> None:
    images = [_pil(i) for i in range(6)]
    first = [PixMix(pictures, seed=5)(im) for im in images[:1]]
    a = PixMix(pictures, seed=5)
    b = PixMix(pictures, seed=5)
    outs_a = [np.asarray(a(im)) for im in images]
    outs_b = [np.asarray(b(im)) for im in images]
    assert all(np.array_equal(x, y) for x, y in zip(outs_a, outs_b, strict=True))
    assert isinstance(first[0], PIL.Image.Image) and first[0].mode == "RGB"
    assert first[0].size == (32, 32)
    c = PixMix(pictures, seed=6)
    assert any(not np.array_equal(np.asarray(c(im)), x) for im, x in zip(images, outs_a, strict=True))
    a.reseed(9)
    again = np.asarray(a(images[0]))
    a.reseed(9)
    assert np.array_equal(np.asarray(a(images[0])), again)


def test_pixmix_tensor_and_gray_inputs(pictures: MixingSet) -> None:
    x = torch.rand(3, 32, 32)
    out = PixMix(pictures, seed=0)(x)
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    out8 = PixMix(pictures, seed=0)((x * 255).to(torch.uint8))
    assert out8.dtype == torch.uint8 and out8.shape == (3, 32, 32)
    gray = PixMix(pictures, seed=0)(_pil(1, mode="L"))
    assert gray.mode == "L" and gray.size == (32, 32)


def test_pixmix_output_depends_on_the_picture() -> None:
    # Same seed, same draws; only the pictures' content differs (white vs black), so outputs
    # differ when some round mixes with the picture: P = mean over r = 0..4 rounds of
    # 1 - 0.5^r = 0.6125. 200 draws: sd 0.034, tolerance 0.1.
    image = PIL.Image.fromarray(np.random.default_rng(4).integers(0, 256, (8, 8, 3), np.uint8))
    white = PixMix(MixingSet.from_array(np.full((2, 12, 12, 3), 255, np.uint8)), seed=0)
    black = PixMix(MixingSet.from_array(np.zeros((2, 12, 12, 3), np.uint8)), seed=0)
    differ = [not np.array_equal(np.asarray(white(image)), np.asarray(black(image)))
              for _ in range(200)]
    assert np.mean(differ) == pytest.approx(0.6125, abs=0.1)


def test_pixmix_round_count_and_start_probabilities(pictures: MixingSet) -> None:
    # With invert as the only op, the output equals x iff PixMix starts from x (p = 1/2)
    # and mixes 0 rounds (p = 1 / (k + 1)): 0.1 for k = 4; inverted x has the same
    # probability. 1000 draws: sd 0.0095, tolerance 0.035.
    image = np.random.default_rng(1).integers(10, 120, (8, 8, 3), dtype=np.uint8)
    transform = PixMix(pictures, k=4, ops=("invert",), seed=2)
    outs = [np.asarray(transform(PIL.Image.fromarray(image))) for _ in range(1000)]
    same = np.mean([np.array_equal(o, image) for o in outs])
    inverted = np.mean([np.array_equal(o, 255 - image) for o in outs])
    assert same == pytest.approx(0.1, abs=0.035)
    assert inverted == pytest.approx(0.1, abs=0.035)
    k0 = PixMix(pictures, k=0, ops=("invert",), seed=3)
    outs0 = [np.asarray(k0(PIL.Image.fromarray(image))) for _ in range(50)]
    assert all(np.array_equal(o, image) or np.array_equal(o, 255 - image) for o in outs0)


def test_pixmix_errors(pictures: MixingSet) -> None:
    with pytest.raises(ValueError, match="k must be"):
        PixMix(pictures, k=-1)
    with pytest.raises(ValueError, match="beta"):
        PixMix(pictures, beta=0)
    with pytest.raises(ValueError, match="ops"):
        PixMix(pictures, ops=("blur",))
    with pytest.raises(ValueError, match="RGB or grayscale"):
        PixMix(pictures)(PIL.Image.new("CMYK", (8, 8)))
