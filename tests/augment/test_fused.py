"""The fused CPU kernels of IPMixBatch: image ops against PIL, and the law of the mask noise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ipmix.augment.kernels import cpu_math
from ipmix.augment.kernels.fused import ops as fused_ops
from ipmix.augment.kernels.fused.affine import affine
from ipmix.augment.op_parameters import op_parameters
from ipmix.augment.ops import ALL_OPS, OP_KERNELS


@pytest.fixture(scope="module")
def cifar(cifar_test_images: np.ndarray) -> np.ndarray:
    return cifar_test_images[:96]


def _fused_op(images: np.ndarray, name: str, level: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Op `name` through the fused kernel, image by image (NHWC in and out)."""
    op = np.full(len(images), ALL_OPS.index(name))
    params = op_parameters(op, level, sign, *images.shape[1:3])
    counts, table = np.empty(256, np.int64), np.empty(256, np.uint8)
    out = []
    for image, index, param in zip(images, op, params, strict=True):
        source = np.ascontiguousarray(image.transpose(2, 0, 1))
        target = np.empty_like(source)
        fused_ops.apply_op(source, target, index, param, counts, table, np.array([0, 0, *source.shape[1:]]))
        out.append(target.transpose(1, 2, 0))
    return np.stack(out)


@pytest.mark.parametrize("gray", [False, True], ids=["rgb", "gray"])
@pytest.mark.parametrize("name", ALL_OPS)
def test_each_op_is_exactly_the_pil_kernel(cifar, name, gray):
    """Every op, bilinear ones included (PIL's double-precision arithmetic), over AugMix's levels."""
    images = np.ascontiguousarray(cifar[:, 2:30, :, :1] if gray else cifar[:, 2:30])  # 28 x 32
    rng = np.random.default_rng(ALL_OPS.index(name))
    level = rng.uniform(0.1, 10, len(images)).astype(np.float32)
    sign = np.where(rng.random(len(images)) < 0.5, -1, 1)
    kernel = OP_KERNELS[name]
    samples = zip(images, level, sign, strict=True)
    expected = np.stack([kernel(image, float(lv), int(sg)) for image, lv, sg in samples])
    got = _fused_op(images, name, level, sign)
    assert np.array_equal(got, expected), f"{name}: {np.count_nonzero(got != expected)} values differ"


def test_mask_noise_is_uniform_and_independent_across_elements_and_seeds():
    elements = np.arange(200_000)
    noise = np.asarray([cpu_math.uniform(7, 3, 1, 2, e) for e in elements], dtype=np.float64)
    assert noise.min() >= 0 and noise.max() < 1
    # Fixed inputs: these are deterministic; the bounds are what a uniform sample passes easily.
    assert stats.kstest(noise, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(noise[:-1], noise[1:])[0, 1]) < 0.01
    for other in (
        [cpu_math.uniform(8, 3, 1, 2, e) for e in elements[:20_000]],  # another seed
        [cpu_math.uniform(7, 4, 1, 2, e) for e in elements[:20_000]],  # another sample
        [cpu_math.uniform(7, 3, 1, 3, e) for e in elements[:20_000]],  # another step
    ):
        assert abs(np.corrcoef(noise[:20_000], other)[0, 1]) < 0.03
        assert np.mean(noise[:20_000] == np.asarray(other)) < 1e-3


@pytest.mark.parametrize("name", ALL_OPS)
def test_an_op_inside_a_box_is_the_whole_image_op_there(cifar, name):
    """P-level steps compute an op of the clean image only inside their box: PIL's values there."""
    images = np.ascontiguousarray(cifar[:12].transpose(0, 3, 1, 2))  # 3 x 32 x 32
    rng = np.random.default_rng(ALL_OPS.index(name) + 100)
    op = np.full(len(images), ALL_OPS.index(name))
    params = op_parameters(op, rng.uniform(0.1, 10, len(images)).astype(np.float32),
                           np.where(rng.random(len(images)) < 0.5, -1, 1), 32, 32)
    counts, table = np.empty(256, np.int64), np.empty(256, np.uint8)
    for image, index, param in zip(images, op, params, strict=True):
        whole = np.empty_like(image)
        fused_ops.apply_op(image, whole, index, param, counts, table, np.array([0, 0, 32, 32]))
        top, left = rng.integers(0, 31, 2)
        box = np.array([top, left, rng.integers(1, 33 - top), rng.integers(1, 33 - left)])
        boxed = np.full_like(image, 7)
        fused_ops.apply_op(image, boxed, index, param, counts, table, box)
        inside = (slice(None), slice(box[0], box[0] + box[2]), slice(box[1], box[1] + box[3]))
        assert np.array_equal(boxed[inside], whole[inside]), (name, box)
        boxed[inside] = 7
        assert (boxed == 7).all(), f"{name} wrote outside its box {box}"


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(["rotate", "shear_x", "shear_y"]),
    size=st.sampled_from([(32, 40), (48, 48), (24, 56), (31, 45), (8, 16)]),
    level=st.floats(0.125, 10, width=32),
    sign=st.sampled_from([-1, 1]),
    box=st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)),
    seed=st.integers(0, 2**16),
)
def test_affine_fast_paths_are_pil_exactly(name, size, level, sign, box, seed):
    """shear_x's runs and shear_y's transposes (sides that are multiples of 8, large boxes) and
    the general path (other sides, small boxes): PIL's bytes, inside any box and nowhere else."""
    height, width = size
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    expected = OP_KERNELS[name](image, float(level), sign).transpose(2, 0, 1)
    param = op_parameters(np.array([ALL_OPS.index(name)]), np.array([level], np.float32), np.array([sign]),
                          height, width)[0]
    top, left = int(box[0] * (height - 1)), int(box[1] * (width - 1))
    box_h, box_w = 1 + int(box[2] * (height - top - 1)), 1 + int(box[3] * (width - left - 1))
    for region in ((0, 0, height, width), (top, left, box_h, box_w)):
        out = np.full((3, height, width), 7, np.uint8)
        affine(np.ascontiguousarray(image.transpose(2, 0, 1)), out, param, *region)
        y, x, h, w = region
        inside = (slice(None), slice(y, y + h), slice(x, x + w))
        assert np.array_equal(out[inside], expected[inside]), (name, region)
        out[inside] = 7
        assert (out == 7).all()
