"""Image-op kernels: exact agreement with PIL for the lookup-table ops, magnitudes, errors."""

import numpy as np
import PIL.Image
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import ImageOps

from ipmix.augment import ops

images = arrays(np.uint8, st.tuples(st.integers(4, 24), st.integers(4, 24), st.sampled_from([1, 3])))
levels = st.floats(0.1, 9.9)  # level 10 would posterize to 0 bits, which PIL rejects


def pil_of(image: np.ndarray) -> PIL.Image.Image:
    return PIL.Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)


def array_of(image: PIL.Image.Image) -> np.ndarray:
    out = np.asarray(image)
    return out[:, :, None] if out.ndim == 2 else out


@settings(max_examples=60, deadline=None)
@given(image=images, level=levels)
def test_lookup_table_ops_match_pil_exactly(image, level):
    pil = pil_of(image)
    np.testing.assert_array_equal(ops.equalize(image, level, 1), array_of(ImageOps.equalize(pil)))
    bits = 4 - int(level * 4 / 10)
    np.testing.assert_array_equal(ops.posterize(image, level, 1), array_of(ImageOps.posterize(pil, bits)))
    threshold = 256 - int(level * 256 / 10)
    np.testing.assert_array_equal(ops.solarize(image, level, 1), array_of(ImageOps.solarize(pil, threshold)))
    np.testing.assert_array_equal(ops.invert(image, level, 1), array_of(ImageOps.invert(pil)))
    np.testing.assert_array_equal(ops.mirror(image, level, 1), array_of(ImageOps.mirror(pil)))


@settings(max_examples=30, deadline=None)
@given(image=images, level=levels, sign=st.sampled_from([-1, 1]), name=st.sampled_from(ops.ALL_OPS))
def test_every_op_keeps_shape_and_dtype_for_arrays_and_pil(image, level, sign, name):
    out = ops.apply_op(image, name, level, sign)
    assert out.shape == image.shape and out.dtype == np.uint8
    pil_out = ops.apply_op(pil_of(image), name, level, sign)
    assert isinstance(pil_out, PIL.Image.Image)
    np.testing.assert_array_equal(array_of(pil_out), out)


def test_geometric_magnitudes_follow_augmix_scaling():
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, 0] = 255  # a bright left column
    moved = ops.translate_x(image, 3.0, -1)  # int(3 * (32 / 3) / 10) = 3 pixels
    assert moved[:, 3].min() == 255 and moved[:, 0].max() == 0
    assert ops.int_magnitude(3.0, 30) == 9 and ops.float_magnitude(3.0, 0.3) == pytest.approx(0.09)


def test_unknown_op_is_an_error():
    with pytest.raises(ValueError, match="unknown image op 'blur'"):
        ops.apply_op(np.zeros((4, 4, 3), np.uint8), "blur", 1.0)
    assert ops.resolve_ops(None, all_ops=True) == ops.ALL_OPS
    assert ops.resolve_ops(None, all_ops=False) == ops.IMAGE_OPS
