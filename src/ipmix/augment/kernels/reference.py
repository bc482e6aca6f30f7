"""The reference backend of `ipmix.IPMix`: a plan applied with PIL image ops and numpy mixing.

The readable statement of what every backend computes (``IPMix(backend="pil")``). Chains
(Algorithm 1): each of the k chains starts from the clean image x and takes `depth` steps; an
image-level step applies a PIL op (`ipmix.augment.ops`), a P-level step mixes a box of the
current image with the mixing picture (or, in paper mode, with probability 0.5, with a random
image op applied to x). Chain results are averaged with the Dirichlet weights and the result is
``(1 - m) x + m * mix`` with the Beta skip weight m.

The fused numba kernels (`ipmix.augment.kernels.fused.apply`) give exactly these bytes: the same float32
operations in the same order, PIL's arithmetic in the image ops, and the same mask noise and
powers (`ipmix.augment.kernels.cpu_math`).
"""

from __future__ import annotations

import numpy as np

from ipmix.augment.inputs import to_float, to_uint8
from ipmix.augment.kernels.cpu_math import uniform_array
from ipmix.augment.mixing import ADD, MULTIPLY, RANDOM_PIXELS, add, masked, multiply
from ipmix.augment.ops import ALL_OPS, OP_KERNELS
from ipmix.augment.plan import FROM_IMAGE_OP, IMAGE_LEVEL, IPMixPlan

_OP_KERNELS = [OP_KERNELS[name] for name in ALL_OPS]
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def crop_picture(
    picture: np.ndarray, offset: np.ndarray, height: int, width: int, gray: bool
) -> np.ndarray:
    """The mixing picture's crop for one image, as float32 HWC in [0, 1] (1 or 3 channels)."""
    top, left = int(offset[0]), int(offset[1])
    crop = picture[top : top + height, left : left + width].astype(np.float32) * (1 / 255)
    return (crop @ _LUMA)[:, :, None] if gray else crop


def mask_noise(
    seed: int, sample: int, chain: int, step: int, box: list[int], shape: tuple[int, ...], per_pixel: bool
) -> np.ndarray:
    """The uniform noise of a random pixel (``[h, w, 1]``) or element (``[h, w, C]``) mask in `box`.

    Element numbers as the fused kernels count them: the pixel's in ``[H, W]`` for random
    pixels, the value's in ``[C, H, W]`` for random elements.
    """
    top, left, h, w = box
    height, width, channels = shape
    rows = np.arange(top, top + h)[:, None, None]
    columns = np.arange(left, left + w)[None, :, None]
    planes = np.zeros((1, 1, 1), np.int64) if per_pixel else np.arange(channels)[None, None, :] * height
    return uniform_array(seed, sample, chain, step, (planes + rows) * width + columns)


def _mix_box(
    canvas: np.ndarray,
    source: np.ndarray,
    box: list[int],
    mixing_op: int,
    a: float,
    b: float,
    threshold: float,
    noise: tuple[int, int, int, int],
) -> None:
    """Mix `source` into `canvas` inside `box` (top, left, height, width), in place.

    `noise` is (mask seed, sample, chain, step): the coordinates of random masks' noise.
    """
    top, left, h, w = box
    region = canvas[top : top + h, left : left + w]
    patch = source[top : top + h, left : left + w]
    if mixing_op == ADD:
        region[...] = add(region, patch, a, b)
    elif mixing_op == MULTIPLY:
        region[...] = multiply(region, patch, a, b)
    else:
        keep = mask_noise(*noise, box, canvas.shape, mixing_op == RANDOM_PIXELS) < threshold
        region[...] = masked(region, patch, keep)


def apply_plan(image: np.ndarray, picture: np.ndarray, plan: IPMixPlan, index: int) -> np.ndarray:
    """Apply sample `index` of `plan` to one uint8 ``H x W x C`` image (C = 1 or 3).

    `picture` is the mixing picture already cropped to the image size, float32 HWC in [0, 1]
    with the image's channel count. Image ops run on uint8 arrays, mixing on float32 ones; a
    chain converts between the two only when its level changes. Returns float32 HWC in [0, 1].
    """
    out = _apply_stage(image, picture, plan, index, plan.mask_seed)
    if plan.next is not None:  # mixed-input: the P-level stage mixes the image-level stage's bytes
        out = _apply_stage(to_uint8(out), picture, plan.next, index, plan.mask_seed)
    return out


def _apply_stage(
    image: np.ndarray, picture: np.ndarray, plan: IPMixPlan, index: int, seed: int
) -> np.ndarray:
    x = to_float(image)
    depths = plan.depth[index].tolist()
    weights = plan.chain_weights[index].tolist()
    levels = plan.step_level[index].tolist()
    ops = plan.op[index].tolist()
    op_levels = plan.op_level[index].tolist()
    signs = plan.op_sign[index].tolist()
    sources = plan.source[index].tolist()
    boxes = plan.box[index].tolist()
    mixing_ops = plan.mixing_op[index].tolist()
    mix_a, mix_b = plan.mix_a[index].tolist(), plan.mix_b[index].tolist()
    thresholds = plan.mask_threshold[index].tolist()

    mix = np.zeros_like(x)
    for chain, weight in enumerate(weights):
        current_bytes: np.ndarray | None = image  # the chain's image as uint8, or None
        current: np.ndarray | None = None  # the chain's image as float, or None
        for step in range(depths[chain]):
            op = _OP_KERNELS[ops[chain][step]]
            level, sign = op_levels[chain][step], signs[chain][step]
            if levels[chain][step] == IMAGE_LEVEL:
                if current_bytes is None:
                    current_bytes = to_uint8(current)
                current_bytes, current = op(current_bytes, level, sign), None
                continue
            if current is None:
                current, current_bytes = to_float(current_bytes), None
            source = to_float(op(image, level, sign)) if sources[chain][step] == FROM_IMAGE_OP else picture
            _mix_box(
                current, source, boxes[chain][step], mixing_ops[chain][step], mix_a[chain][step],
                mix_b[chain][step], thresholds[chain][step], (seed, index, chain, step),
            )
        mix += weight * (current if current is not None else to_float(current_bytes))
    m = float(plan.skip_weight[index])
    return np.clip((1 - m) * x + m * mix, 0, 1)
