"""The CPU backend of `IPMixBatch`: one compiled pass applies a whole plan, sample by sample.

Applying a plan with grouped tensor ops (`ipmix.augment.batched.apply_plan_batch`) suits a GPU;
on a CPU its gathers, scatters and type conversions dominate, because every sample takes a
different path through Algorithm 1. This module applies the plan with numba instead: for each
sample, its k chains are computed one after the other in a few image-sized buffers that stay
in the CPU's caches, with a switch on each step's op. It reproduces the per-image kernel
(`ipmix.augment.ipmix.apply_plan`) operation for operation in the same float32 arithmetic, and
its image ops reproduce PIL's (`ipmix.augment.ops`): bilinear affine maps in double precision
with PIL's clamping and black fill, truncating blends, PIL's lookup tables. Only the noise of
random pixel/element masks differs: it comes from a counter-based hash of (seed, sample, chain,
step, pixel), so a call's result depends on its seed alone, not on the order of the work.

Layout: images are uint8 ``[B, C, H, W]`` (C = 1 or 3), as tensors are; pictures are uint8
``[N, C', S, S]`` with C' = 1 or 3 (three-channel pictures are converted to luma for
one-channel images, one-channel pictures repeated for three-channel images).
"""

from __future__ import annotations

import numba
import numpy as np

from ipmix.augment.mixing import ADD, MULTIPLY, RANDOM_PIXELS
from ipmix.augment.ops import ALL_OPS
from ipmix.augment.plan import FROM_IMAGE_OP, IMAGE_LEVEL, IPMixPlan
from ipmix.augment.tensor_ops import (
    AFFINE_OPS,
    ENHANCE_OPS,
    affine_coefficients,
    autocontrast_cutoffs,
    enhance_factors,
    posterize_masks,
    solarize_thresholds,
)

# Op indices (numba folds module-level integers into constants).
EQUALIZE = ALL_OPS.index("equalize")
POSTERIZE = ALL_OPS.index("posterize")
SOLARIZE = ALL_OPS.index("solarize")
TRANSLATE_X = ALL_OPS.index("translate_x")
TRANSLATE_Y = ALL_OPS.index("translate_y")
MIRROR = ALL_OPS.index("mirror")
INVERT = ALL_OPS.index("invert")
AUTOCONTRAST = ALL_OPS.index("autocontrast")
COLOR = ALL_OPS.index("color")
CONTRAST = ALL_OPS.index("contrast")
BRIGHTNESS = ALL_OPS.index("brightness")
SHARPNESS = ALL_OPS.index("sharpness")
_AFFINE = np.asarray([name in AFFINE_OPS for name in ALL_OPS])
_ENHANCE = np.asarray([name in ENHANCE_OPS for name in ALL_OPS])

_F255 = np.float32(255.0)
_INV255 = np.float32(1 / 255)  # `_to_float` of the per-image path multiplies by float32(1 / 255)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
_ZERO = np.float32(0.0)
_TINY = np.float32(1e-37)
_LUMA = (np.float32(0.299), np.float32(0.587), np.float32(0.114))
_SMOOTH_EDGE = np.float32(1 / 13)  # PIL divides the SMOOTH kernel (1 1 1 / 1 5 1 / 1 1 1) by 13
_SMOOTH_CENTRE = np.float32(5 / 13)


def op_parameters(op: np.ndarray, level: np.ndarray, sign: np.ndarray, height: int, width: int) -> np.ndarray:
    """Each step's op parameters, float64 ``[..., 6]``, computed on the host as `ops.py` does.

    Affine ops get PIL's coefficients (`tensor_ops.affine_coefficients`); the others keep one
    number in column 0 (the same `tensor_ops` helpers as the tensor kernels): posterize's bit
    mask, solarize's threshold, autocontrast's cutoff (in percent) and the enhance ops' blend
    factor.
    """
    shape = op.shape
    op, level, sign = op.reshape(-1), level.reshape(-1).astype(np.float64), sign.reshape(-1)
    params = np.zeros((len(op), 6), dtype=np.float64)
    affine = _AFFINE[op]
    if affine.any():
        names = np.asarray(ALL_OPS, dtype=object)[op[affine]]
        params[affine] = affine_coefficients(names, level[affine], sign[affine], height, width)
    for rows, value in (
        (op == POSTERIZE, posterize_masks),
        (op == SOLARIZE, solarize_thresholds),
        (op == AUTOCONTRAST, autocontrast_cutoffs),
        (_ENHANCE[op], enhance_factors),
    ):
        if rows.any():
            params[rows, 0] = value(level[rows])
    return params.reshape(*shape, 6)


# ---- image ops on one uint8 [C, H, W] image -----------------------------------------------
@numba.njit(cache=True, nogil=True)
def _affine(src, dst, co):
    """PIL's bilinear affine transform (`Image.transform(AFFINE, BILINEAR)`), black fill.

    Per output pixel, in PIL's double-precision arithmetic and order: the source point of the
    pixel centre, black outside the image, else the bilinear mix of its four neighbours
    (clamped to the edge) truncated to an integer.
    """
    channels, height, width = src.shape
    plane = height * width
    source, target = src.reshape(-1), dst.reshape(-1)
    a, b, c, d, e, f = co[0], co[1], co[2], co[3], co[4], co[5]
    for y in range(height):
        for x in range(width):
            xin = a * (x + 0.5) + b * (y + 0.5) + c
            yin = d * (x + 0.5) + e * (y + 0.5) + f
            pixel = y * width + x
            if not (0.0 <= xin < width and 0.0 <= yin < height):
                for ch in range(channels):
                    target[ch * plane + pixel] = 0
                continue
            xin -= 0.5
            yin -= 0.5
            x0 = int(xin) if xin >= 0.0 else -1  # PIL's FLOOR: xin >= -0.5 here
            y0 = int(yin) if yin >= 0.0 else -1
            dx = xin - x0
            dy = yin - y0
            left = max(x0, 0)
            right = min(x0 + 1, width - 1)
            upper = max(y0, 0) * width
            lower = min(y0 + 1, height - 1) * width
            for ch in range(channels):
                base = ch * plane
                p00 = np.float64(source[base + upper + left])
                p01 = np.float64(source[base + upper + right])
                p10 = np.float64(source[base + lower + left])
                p11 = np.float64(source[base + lower + right])
                top = p00 + (p01 - p00) * dx
                bottom = p10 + (p11 - p10) * dx
                target[base + pixel] = np.uint8(top + (bottom - top) * dy)


@numba.njit(cache=True, nogil=True)
def _lut(src, dst, ch, table):
    """Look channel `ch` of `src` up in `table` (all channels when ``ch < 0``)."""
    source = src.reshape(-1) if ch < 0 else src[ch].reshape(-1)
    target = dst.reshape(-1) if ch < 0 else dst[ch].reshape(-1)
    for j in range(source.size):
        target[j] = table[source[j]]


@numba.njit(cache=True, nogil=True)
def _histogram(src, ch, counts):
    counts[:] = 0
    height, width = src.shape[1:]
    for y in range(height):
        for x in range(width):
            counts[src[ch, y, x]] += 1


@numba.njit(cache=True, nogil=True)
def _equalize(src, dst, counts, table):
    """PIL's `ImageOps.equalize` table, per channel."""
    for ch in range(src.shape[0]):
        _histogram(src, ch, counts)
        total, last = 0, 0
        for v in range(256):
            if counts[v] > 0:
                total += counts[v]
                last = counts[v]
        step = (total - last) // 255
        below = 0
        for v in range(256):
            table[v] = min((step // 2 + below) // step, 255) if step > 0 else v
            below += counts[v]
        _lut(src, dst, ch, table)


@numba.njit(cache=True, nogil=True)
def _autocontrast(src, dst, cutoff, counts, table):
    """PIL's `ImageOps.autocontrast` with `cutoff` percent removed at each end, per channel."""
    height, width = src.shape[1:]
    cut = (height * width) * cutoff // 100  # Python's float floor division, as PIL
    for ch in range(src.shape[0]):
        _histogram(src, ch, counts)
        low, seen = 256, 0
        for v in range(256):
            seen += counts[v]
            if seen > cut:
                low = v
                break
        high, seen = -1, 0
        for v in range(255, -1, -1):
            seen += counts[v]
            if seen > cut:
                high = v
                break
        if high <= low:
            for v in range(256):
                table[v] = v
        else:
            scale = 255.0 / (high - low)
            offset = -low * scale
            for v in range(256):
                table[v] = min(max(int(v * scale + offset), 0), 255)
        _lut(src, dst, ch, table)


@numba.njit(cache=True, nogil=True)
def _luma(src, y, x):
    """PIL's RGB -> L conversion of one pixel (the value itself for one channel)."""
    if src.shape[0] == 1:
        return np.int64(src[0, y, x])
    return (src[0, y, x] * 19595 + src[1, y, x] * 38470 + src[2, y, x] * 7471 + 0x8000) >> 16


@numba.njit(cache=True, nogil=True)
def _blend(value, degenerate, alpha):
    """`Image.blend(degenerate, image, alpha)` for one value: float32, truncated, clipped."""
    out = np.float32(degenerate) + alpha * (np.float32(value) - np.float32(degenerate))
    if out <= 0:
        return np.uint8(0)
    if out >= 255:
        return np.uint8(255)
    return np.uint8(out)


@numba.njit(cache=True, nogil=True)
def _enhance(src, dst, op, factor):
    """color / contrast / brightness / sharpness: a blend with PIL's degenerate image."""
    channels, height, width = src.shape
    alpha = np.float32(factor)
    mean = 0
    if op == CONTRAST:
        total = 0
        for y in range(height):
            for x in range(width):
                total += _luma(src, y, x)
        mean = np.int64(np.floor(total / (height * width) + 0.5))
    for ch in range(channels):
        for y in range(height):
            for x in range(width):
                if op == COLOR:
                    degenerate = _luma(src, y, x)
                elif op == CONTRAST:
                    degenerate = mean
                elif op == BRIGHTNESS:
                    degenerate = 0
                elif y == 0 or x == 0 or y == height - 1 or x == width - 1:  # sharpness: SMOOTH
                    degenerate = np.int64(src[ch, y, x])
                else:
                    s = _ZERO
                    for row in (y + 1, y, y - 1):
                        centre = _SMOOTH_CENTRE if row == y else _SMOOTH_EDGE
                        s += (np.float32(src[ch, row, x - 1]) * _SMOOTH_EDGE
                              + np.float32(src[ch, row, x]) * centre
                              + np.float32(src[ch, row, x + 1]) * _SMOOTH_EDGE)
                    degenerate = np.int64(min(max(np.floor(s + _HALF), 0), 255))
                dst[ch, y, x] = _blend(src[ch, y, x], degenerate, alpha)


@numba.njit(cache=True, nogil=True)
def _apply_op(src, dst, op, params, counts, table):
    """Write op `op` (an index into `ALL_OPS`) of `src` to `dst` (both uint8 ``[C, H, W]``)."""
    channels, height, width = src.shape
    if op == EQUALIZE:
        _equalize(src, dst, counts, table)
    elif op == AUTOCONTRAST:
        _autocontrast(src, dst, params[0], counts, table)
    elif op in (COLOR, CONTRAST, BRIGHTNESS, SHARPNESS):
        _enhance(src, dst, op, params[0])
    elif op in (POSTERIZE, SOLARIZE, INVERT):
        for v in range(256):
            if op == POSTERIZE:
                table[v] = v & np.int64(params[0])
            elif op == SOLARIZE:
                table[v] = 255 - v if v >= params[0] else v
            else:
                table[v] = 255 - v
        _lut(src, dst, -1, table)
    elif op == MIRROR:
        for ch in range(channels):
            for y in range(height):
                for x in range(width):
                    dst[ch, y, x] = src[ch, y, width - 1 - x]
    elif op in (TRANSLATE_X, TRANSLATE_Y):  # integer offsets: an exact shift
        dx, dy = int(params[2]), int(params[5])
        for ch in range(channels):
            for y in range(height):
                for x in range(width):
                    sx, sy = x + dx, y + dy
                    inside = 0 <= sx < width and 0 <= sy < height
                    dst[ch, y, x] = src[ch, sy, sx] if inside else 0
    else:
        _affine(src, dst, params)


# ---- mixing -------------------------------------------------------------------------------
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
                    _apply_op(chain_bytes, target, this_op, this_params, counts, table)
                    chain_bytes, in_a = target, not in_a
                    continue
                if not is_float:
                    _to_float(chain_bytes, current)
                    is_float = True
                if source[i, chain, step] == FROM_IMAGE_OP:
                    _apply_op(image, op_bytes, this_op, this_params, counts, table)
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
    pictures: np.ndarray,
    picture: np.ndarray | None = None,
    picture_offset: np.ndarray | None = None,
    sample_image: np.ndarray | None = None,
    seed: int = 0,
    as_bytes: bool = False,
) -> np.ndarray:
    """Apply `plan` to uint8 ``[B0, C, H, W]`` images on the CPU; ``[B, C, H, W]`` out.

    Row i of the plan augments ``images[sample_image[i]]`` (default: row i) with the mixing
    picture ``pictures[picture[i]]`` cropped at ``picture_offset[i]`` (defaults: the plan's
    choices of the P-level stage). `seed` drives the noise of random pixel/element masks.
    The result is float32 in [0, 1], or with `as_bytes` uint8 (``uint8(v * 255 + 0.5)``).
    """
    count = plan.batch_size
    height, width = images.shape[2:]
    sample_image = np.arange(count) if sample_image is None else np.asarray(sample_image, dtype=np.int64)
    stage_with_pictures = plan.next if plan.next is not None else plan
    picture = stage_with_pictures.picture if picture is None else picture
    picture_offset = stage_with_pictures.picture_offset if picture_offset is None else picture_offset
    images = np.ascontiguousarray(images, dtype=np.uint8)
    shape = (count, *images.shape[1:])
    stages = (plan, plan.next) if plan.next is not None else (plan,)
    for number, stage in enumerate(stages, start=1):
        last = number == len(stages)  # the mixed-input framework's second stage mixes the first's bytes
        stage_bytes = as_bytes or not last
        out = np.empty((0, *shape[1:]) if stage_bytes else shape, dtype=np.float32)
        out_bytes = np.empty(shape if stage_bytes else (0, *shape[1:]), dtype=np.uint8)
        _apply_stage(
            images, sample_image, np.ascontiguousarray(pictures), np.asarray(picture, dtype=np.int64),
            np.asarray(picture_offset, dtype=np.int64), stage.chain_weights, stage.skip_weight,
            stage.depth, stage.step_level, stage.op,
            op_parameters(stage.op, stage.op_level, stage.op_sign, height, width),
            stage.source, stage.box, stage.mixing_op, stage.mix_a, stage.mix_b, stage.mask_threshold,
            np.uint64(seed), stage_bytes, out, out_bytes,
        )
        images, sample_image = out_bytes, np.arange(count)
    return out_bytes if as_bytes else out
