"""The CPU backend of `IPMixBatch`: one compiled pass applies a whole plan, sample by sample.

Applying a plan with grouped tensor ops (`ipmix.augment.grouped`) suits a GPU; on a CPU its
gathers, scatters and type conversions dominate, because every sample takes a different path
through Algorithm 1. This module applies the plan with numba instead: for each sample, its k
chains are computed one after the other in a few image-sized buffers that stay in the CPU's
caches, with a switch on each step's op (`ipmix.augment.fused_ops`). It reproduces the
per-image kernel (`ipmix.augment.ipmix.apply_plan`) operation for operation in the same
float32 arithmetic, and its image ops reproduce PIL's. Only the noise of random pixel/element
masks differs: it comes from a counter-based hash of (seed, sample, chain, step, pixel), so a
call's result depends on its seed alone, not on the order of the work.

Layout: images are uint8 ``[B, C, H, W]`` (C = 1 or 3), as tensors are; pictures are uint8
``[N, C', S, S]`` with C' = 1 or 3 (three-channel pictures are converted to luma for
one-channel images, one-channel pictures repeated for three-channel images).
"""

from __future__ import annotations

import numba
import numpy as np

from ipmix.augment.encoding import PictureSource, encode_plan
from ipmix.augment.fused_ops import apply_op
from ipmix.augment.mixing import ADD, MULTIPLY, RANDOM_PIXELS
from ipmix.augment.plan import FROM_IMAGE_OP, IMAGE_LEVEL, IPMixPlan

_F255 = np.float32(255.0)
_INV255 = np.float32(1 / 255)  # `_to_float` of the per-image path multiplies by float32(1 / 255)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
_ZERO = np.float32(0.0)
_TINY = np.float32(1e-37)
_LUMA = (np.float32(0.299), np.float32(0.587), np.float32(0.114))


@numba.njit(cache=True, nogil=True)
def _uniform(seed, sample, chain, step, element):
    """A float32 in [0, 1) hashed from its coordinates (splitmix64 finaliser), 24 random bits."""
    z = np.uint64(seed) ^ (np.uint64(sample) * np.uint64(0x9E3779B97F4A7C15))
    z ^= np.uint64(((chain * 64 + step) << 40) + element) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return np.float32(z >> np.uint64(40)) * np.float32(1.0 / 16777216.0)


@numba.njit(cache=True, nogil=True)
def _mix_box(canvas, source, box, kind, a, b, threshold, seed, sample, chain, step):
    """`ipmix.apply_plan`'s `_mix_box` on ``[C, H, W]`` float32 images, in place."""
    channels, height, width = canvas.shape
    top, left, box_h, box_w = box[0], box[1], box[2], box[3]
    for ch in range(channels):
        for y in range(top, top + box_h):
            row, src = canvas[ch, y], source[ch, y]
            if kind == ADD:
                for x in range(left, left + box_w):
                    v = a * (row[x] * _TWO - _ONE) + b * (src[x] * _TWO - _ONE) + _ONE
                    row[x] = min(max(v, _ZERO), _TWO) / _TWO
            elif kind == MULTIPLY:
                for x in range(left, left + box_w):
                    v = (row[x] * _TWO) ** a * max(src[x] * _TWO, _TINY) ** b
                    row[x] = min(max(v, _ZERO), _TWO) / _TWO
            else:
                first = y * width if kind == RANDOM_PIXELS else (ch * height + y) * width
                for x in range(left, left + box_w):
                    keep = _ONE if _uniform(seed, sample, chain, step, first + x) < threshold else _ZERO
                    row[x] = src[x] + keep * (row[x] - src[x])


@numba.njit(cache=True, nogil=True)
def _to_float(src, dst):
    """uint8 -> float32 in [0, 1], as the per-image path: ``float32(v) * float32(1 / 255)``."""
    source, target = src.reshape(-1), dst.reshape(-1)
    for j in range(source.size):
        target[j] = np.float32(source[j]) * _INV255


@numba.njit(cache=True, nogil=True)
def _to_bytes(src, dst):
    """float32 in [0, 1] -> uint8, rounding half up: ``uint8(v * 255 + 0.5)``."""
    source, target = src.reshape(-1), dst.reshape(-1)
    for j in range(source.size):
        target[j] = np.uint8(source[j] * _F255 + _HALF)


@numba.njit(cache=True, nogil=True)
def _crop_picture(pictures, index, top, left, dst):
    """Crop picture `index` at (top, left) to `dst`'s size as float [0, 1], matching channels."""
    channels, height, width = dst.shape
    depth = pictures.shape[1]
    for y in range(height):
        for x in range(width):
            if channels == 1 and depth == 3:
                r = np.float32(pictures[index, 0, top + y, left + x]) * _INV255
                g = np.float32(pictures[index, 1, top + y, left + x]) * _INV255
                bl = np.float32(pictures[index, 2, top + y, left + x]) * _INV255
                dst[0, y, x] = r * _LUMA[0] + g * _LUMA[1] + bl * _LUMA[2]
            else:
                for ch in range(channels):
                    value = pictures[index, ch if depth == channels else 0, top + y, left + x]
                    dst[ch, y, x] = np.float32(value) * _INV255


@numba.njit(cache=True, nogil=True)
def _apply_stage(images, sample_image, pictures, picture, picture_offset, chain_weights, skip_weight,
                 depth, step_level, op, params, source, box, mixing_op, mix_a, mix_b, threshold,
                 seed, as_bytes, out, out_bytes):
    """Apply one stage of a plan to ``images[sample_image[i]]`` for every row i.

    Writes float32 ``out[i]``, or, with `as_bytes`, its rounded uint8 value to ``out_bytes[i]``.
    """
    count = len(sample_image)
    channels, height, width = images.shape[1:]
    k = depth.shape[1]
    shape = (channels, height, width)
    clean = np.empty(shape, np.float32)
    picture_crop = np.empty(shape, np.float32)
    op_source = np.empty(shape, np.float32)
    current = np.empty(shape, np.float32)
    mix = np.empty(shape, np.float32)
    bytes_a = np.empty(shape, np.uint8)
    bytes_b = np.empty(shape, np.uint8)
    op_bytes = np.empty(shape, np.uint8)
    counts = np.empty(256, np.int64)
    table = np.empty(256, np.uint8)
    for i in range(count):
        image = images[sample_image[i]]
        _to_float(image, clean)
        has_picture = False
        mix[:] = 0
        for chain in range(k):
            chain_bytes = image  # the chain's uint8 image (valid while `is_float` is False)
            in_a = False  # whether `chain_bytes` is `bytes_a` (ops write to the other buffer)
            is_float = False
            for step in range(depth[i, chain]):
                this_op, this_params = op[i, chain, step], params[i, chain, step]
                if step_level[i, chain, step] == IMAGE_LEVEL:
                    if is_float:
                        _to_bytes(current, bytes_a)
                        chain_bytes, in_a, is_float = bytes_a, True, False
                    target = bytes_b if in_a else bytes_a
                    apply_op(chain_bytes, target, this_op, this_params, counts, table)
                    chain_bytes, in_a = target, not in_a
                    continue
                if not is_float:
                    _to_float(chain_bytes, current)
                    is_float = True
                if source[i, chain, step] == FROM_IMAGE_OP:
                    apply_op(image, op_bytes, this_op, this_params, counts, table)
                    _to_float(op_bytes, op_source)
                    mix_source = op_source
                else:
                    if not has_picture:
                        _crop_picture(pictures, picture[i], picture_offset[i, 0], picture_offset[i, 1],
                                      picture_crop)
                        has_picture = True
                    mix_source = picture_crop
                _mix_box(current, mix_source, box[i, chain, step], mixing_op[i, chain, step],
                         mix_a[i, chain, step], mix_b[i, chain, step], threshold[i, chain, step],
                         seed, i, chain, step)
            weight, total = chain_weights[i, chain], mix.reshape(-1)
            if is_float:
                values = current.reshape(-1)
                for j in range(total.size):
                    total[j] += weight * values[j]
            else:
                byte_values = chain_bytes.reshape(-1)
                for j in range(total.size):
                    total[j] += weight * (np.float32(byte_values[j]) * _INV255)
        m = skip_weight[i]
        keep = np.float32(1.0 - np.float64(m))
        x_flat, total = clean.reshape(-1), mix.reshape(-1)
        if as_bytes:
            target = out_bytes[i].reshape(-1)
            for j in range(total.size):
                target[j] = np.uint8(min(max(keep * x_flat[j] + m * total[j], _ZERO), _ONE) * _F255 + _HALF)
        else:
            target_float = out[i].reshape(-1)
            for j in range(total.size):
                target_float[j] = min(max(keep * x_flat[j] + m * total[j], _ZERO), _ONE)


def apply_plan_fused(
    images: np.ndarray,
    plan: IPMixPlan,
    pictures: PictureSource | None,
    sample_image: np.ndarray | None = None,
    seed: int = 0,
    as_bytes: bool = False,
) -> np.ndarray:
    """Apply `plan` to uint8 ``[B0, C, H, W]`` images on the CPU; ``[B, C, H, W]`` out.

    Row i of the plan augments ``images[sample_image[i]]`` (default: row i) with its mixing
    picture from `pictures` (a CPU bank; None when no step mixes with a picture). `seed` drives
    the noise of random pixel/element masks. The result is float32 in [0, 1], or with
    `as_bytes` uint8 (``uint8(v * 255 + 0.5)``).
    """
    count = plan.batch_size
    height, width = images.shape[2:]
    sample_image = np.arange(count) if sample_image is None else np.asarray(sample_image, dtype=np.int64)
    if pictures is None:  # never read
        bank = np.zeros((1, 1, 1, 1), np.uint8)
        index, offset = np.zeros(count, np.int64), np.zeros((count, 2), np.int64)
    else:
        bank = np.ascontiguousarray(pictures.bank.numpy())
        index = np.asarray(pictures.index, dtype=np.int64)
        offset = np.asarray(pictures.offset, dtype=np.int64)
    images = np.ascontiguousarray(images, dtype=np.uint8)
    shape = (count, *images.shape[1:])
    stages = encode_plan(plan, height, width)
    for number, stage in enumerate(stages, start=1):
        last = number == len(stages)  # the mixed-input framework's second stage mixes the first's bytes
        stage_bytes = as_bytes or not last
        out = np.empty((0, *shape[1:]) if stage_bytes else shape, dtype=np.float32)
        out_bytes = np.empty(shape if stage_bytes else (0, *shape[1:]), dtype=np.uint8)
        _apply_stage(
            images, sample_image, bank, index, offset, stage.chain_weights, stage.skip_weight,
            stage.depth, stage.step_level, stage.op, stage.params, stage.source, stage.box,
            stage.mixing_op, stage.mix_a, stage.mix_b, stage.threshold,
            np.uint64(seed), stage_bytes, out, out_bytes,
        )
        images, sample_image = out_bytes, np.arange(count)
    return out_bytes if as_bytes else out
