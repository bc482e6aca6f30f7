"""The CPU backend of `IPMixBatch`: one compiled pass applies a whole plan, sample by sample.

Applying a plan with grouped tensor ops (`ipmix.augment.kernels.grouped.apply`) suits a GPU; on a CPU its
gathers, scatters and type conversions dominate, because every sample takes a different path
through Algorithm 1. This module applies the plan with numba instead: for each sample, its k
chains are computed one after the other in a few image-sized buffers that stay in the CPU's
caches, with a switch on each step's op (`ipmix.augment.kernels.fused.ops`). It reproduces the
per-image kernel (`ipmix.augment.ipmix.apply_plan`) operation for operation in the same
float32 arithmetic, and its image ops reproduce PIL's. Only the noise of random pixel/element
masks differs from the grouped tensor kernels': it comes from the counter-based hash of
`ipmix.augment.kernels.cpu_math` (the per-image reference path uses the same hash, and the same
float32 powers for multiply mixing), so a call's result depends on the plan alone, not on the
order of the work.

Layout: images are uint8 ``[B, C, H, W]`` (C = 1 or 3), as tensors are; pictures are uint8
``[N, C', S, S]`` with C' = 1 or 3 (three-channel pictures are converted to luma for
one-channel images, one-channel pictures repeated for three-channel images).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ipmix.augment.encoding import PictureSource, StageArrays, encode_plan
from ipmix.augment.kernels.cpu_math import power, uniform
from ipmix.augment.kernels.fused.ops import apply_op
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
def _source_bytes(op_bytes, from_op, pictures, index, crop_top, crop_left, ch, y, left, count):
    """Row y of a uint8 mixing source from column `left` on, `count` values (a view).

    The op of the clean image (`op_bytes`), or channel `ch` of the mixing picture
    ``pictures[index]`` cropped at (crop_top, crop_left); a grey picture serves every channel.
    """
    if from_op:
        return op_bytes[ch, y, left : left + count]
    start = crop_left + left
    return pictures[index, ch if pictures.shape[1] > 1 else 0, crop_top + y, start : start + count]


@numba.njit(cache=True, nogil=True)
def _source_row(op_bytes, from_op, pictures, index, crop_top, crop_left, ch, y, left, row):
    """`_source_bytes` as float32 in [0, 1] into `row`, the luma of an RGB picture for grey images.

    As the per-image path: ``float32(v) * float32(1 / 255)``, and luma as
    `ipmix.augment.ipmix.crop_picture` computes it.
    """
    count = len(row)
    if from_op or not (op_bytes.shape[0] == 1 and pictures.shape[1] == 3):
        values = _source_bytes(op_bytes, from_op, pictures, index, crop_top, crop_left, ch, y, left, count)
        for x in range(count):
            row[x] = np.float32(values[x]) * _INV255
        return
    start = crop_left + left
    red = pictures[index, 0, crop_top + y, start : start + count]
    green = pictures[index, 1, crop_top + y, start : start + count]
    blue = pictures[index, 2, crop_top + y, start : start + count]
    for x in range(count):
        row[x] = (np.float32(red[x]) * _INV255 * _LUMA[0] + np.float32(green[x]) * _INV255 * _LUMA[1]
                  + np.float32(blue[x]) * _INV255 * _LUMA[2])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _powers(values, y):
    """``values[i] = power(values[i], y)`` in place (a loop of its own, so that it vectorises)."""
    for i in range(len(values)):
        values[i] = power(values[i], y)


@numba.njit(cache=True, nogil=True)
def _mix_box(canvas, canvas_bytes, fresh, op_bytes, from_op, pictures, index, crop_top, crop_left, box, kind,
             a, b, threshold, seed, sample, chain, step, scratch, powers):
    """`ipmix.apply_plan`'s `_mix_box` on a ``[C, H, W]`` float32 image, in place.

    `scratch` holds two float32 rows of at least the image's width, `powers` two tables of 256
    floats: multiply mixing with a uint8 source takes ``max(2 x2, 1e-37) ** b`` from a table of
    the 256 values x2 can have (the same floats, a power per value rather than per element),
    and so does ``(2 x1) ** a`` while the canvas is `fresh` (still `canvas_bytes` / 255: the
    chain's first mixing step). Powers are `ipmix.augment.kernels.cpu_math.power`'s, as on the
    reference path.
    """
    channels, height, width = canvas.shape
    top, left, box_h, box_w = box[0], box[1], box[2], box[3]
    src, first_powers = scratch[0, :box_w], scratch[1, :box_w]
    byte_source = from_op or not (channels == 1 and pictures.shape[1] == 3)
    source_powers, canvas_powers = powers[0], powers[1]
    if kind == MULTIPLY and byte_source:
        for v in range(256):
            source_powers[v] = max(np.float32(v) * _INV255 * _TWO, _TINY)
        _powers(source_powers, b)
    if kind == MULTIPLY and fresh:
        for v in range(256):
            canvas_powers[v] = np.float32(v) * _INV255 * _TWO  # the canvas's own floats, doubled
        _powers(canvas_powers, a)
    for ch in range(channels):
        for y in range(top, top + box_h):
            row = canvas[ch, y, left : left + box_w]
            if kind == MULTIPLY and fresh:
                values = canvas_bytes[ch, y, left : left + box_w]
                for x in range(box_w):
                    first_powers[x] = canvas_powers[values[x]]
            elif kind == MULTIPLY:
                for x in range(box_w):
                    first_powers[x] = row[x] * _TWO
                _powers(first_powers, a)
            if kind == MULTIPLY and byte_source:
                values = _source_bytes(op_bytes, from_op, pictures, index, crop_top, crop_left, ch, y, left,
                                       box_w)
                for x in range(box_w):
                    v = first_powers[x] * source_powers[values[x]]
                    row[x] = min(max(v, _ZERO), _TWO) / _TWO
                continue
            _source_row(op_bytes, from_op, pictures, index, crop_top, crop_left, ch, y, left, src)
            if kind == ADD:
                for x in range(box_w):
                    v = a * (row[x] * _TWO - _ONE) + b * (src[x] * _TWO - _ONE) + _ONE
                    row[x] = min(max(v, _ZERO), _TWO) / _TWO
            elif kind == MULTIPLY:
                for x in range(box_w):
                    src[x] = max(src[x] * _TWO, _TINY)
                _powers(src, b)
                for x in range(box_w):
                    row[x] = min(max(first_powers[x] * src[x], _ZERO), _TWO) / _TWO
            else:
                first = (y * width if kind == RANDOM_PIXELS else (ch * height + y) * width) + left
                for x in range(box_w):
                    keep = _ONE if uniform(seed, sample, chain, step, first + x) < threshold else _ZERO
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
def _add_chain(mix, first, weight, is_float, current, chain_bytes):
    """``mix += weight * chain`` (``mix = weight * chain`` for the first chain: the same floats).

    The chain is its float image, or its uint8 image / 255 as the per-image path converts it.
    """
    total, floats, values = mix.reshape(-1), current.reshape(-1), chain_bytes.reshape(-1)
    for j in range(total.size):
        term = weight * (floats[j] if is_float else np.float32(values[j]) * _INV255)
        total[j] = term if first else total[j] + term


@numba.njit(cache=True, nogil=True)
def _skip_blend(term, total, first, clean, keep, m):
    """One element of ``clamp((1 - m) x + m * (mix + term), 0, 1)`` (no `mix` for a first chain)."""
    mixed = term if first else total + term
    return min(max(keep * (np.float32(clean) * _INV255) + m * mixed, _ZERO), _ONE)


@numba.njit(cache=True, nogil=True)
def _add_last_chain(image, mix, first, weight, is_float, current, chain_bytes, m, as_bytes, out, out_bytes,
                    i):
    """The last chain's `_add_chain` fused with the skip blend: writes ``out[i]`` or ``out_bytes[i]``."""
    keep = np.float32(1.0 - np.float64(m))
    clean, total = image.reshape(-1), mix.reshape(-1)
    floats, values = current.reshape(-1), chain_bytes.reshape(-1)
    if as_bytes:
        target_bytes = out_bytes[i].reshape(-1)
        for j in range(total.size):
            term = weight * (floats[j] if is_float else np.float32(values[j]) * _INV255)
            value = _skip_blend(term, total[j], first, clean[j], keep, m)
            target_bytes[j] = np.uint8(value * _F255 + _HALF)
    else:
        target = out[i].reshape(-1)
        for j in range(total.size):
            term = weight * (floats[j] if is_float else np.float32(values[j]) * _INV255)
            target[j] = _skip_blend(term, total[j], first, clean[j], keep, m)


@numba.njit(cache=True, nogil=True)
def _apply_stage(start, stop, first, images, sample_image, pictures, picture, picture_offset, chain_weights,
                 skip_weight, depth, step_level, op, params, source, box, mixing_op, mix_a, mix_b, threshold,
                 seed, as_bytes, out, out_bytes):
    """Apply one stage of a plan to ``images[sample_image[i]]`` for rows ``start <= i < stop``.

    Writes float32 ``out[i - first]``, or, with `as_bytes`, its rounded uint8 value to
    ``out_bytes[i - first]``.
    A P-level step whose source is an op of the clean image computes that op inside its box
    only, and reads the mixing picture inside the box only.
    """
    channels, height, width = images.shape[1:]
    k = depth.shape[1]
    shape = (channels, height, width)
    current = np.empty(shape, np.float32)
    mix = np.empty(shape, np.float32)
    bytes_a = np.empty(shape, np.uint8)
    bytes_b = np.empty(shape, np.uint8)
    op_bytes = np.empty(shape, np.uint8)
    counts = np.empty(256, np.int64)
    table = np.empty(256, np.uint8)
    scratch = np.empty((2, width), np.float32)
    powers = np.empty((2, 256), np.float32)
    whole = np.array([0, 0, height, width], np.int64)
    for i in range(start, stop):
        image = images[sample_image[i]]
        index, picture_top, picture_left = picture[i], picture_offset[i, 0], picture_offset[i, 1]
        for chain in range(k):
            chain_bytes = image  # the chain's uint8 image (valid while `is_float` is False)
            in_a = False  # whether `chain_bytes` is `bytes_a` (ops write to the other buffer)
            is_float = False
            fresh = False  # whether the float image is still `chain_bytes` / 255
            for step in range(depth[i, chain]):
                this_op, this_params = op[i, chain, step], params[i, chain, step]
                if step_level[i, chain, step] == IMAGE_LEVEL:
                    if is_float:
                        _to_bytes(current, bytes_a)
                        chain_bytes, in_a, is_float = bytes_a, True, False
                    target = bytes_b if in_a else bytes_a
                    apply_op(chain_bytes, target, this_op, this_params, counts, table, whole)
                    chain_bytes, in_a = target, not in_a
                    continue
                if not is_float:
                    _to_float(chain_bytes, current)
                    is_float = fresh = True
                step_box = box[i, chain, step]
                from_op = source[i, chain, step] == FROM_IMAGE_OP
                if from_op:
                    apply_op(image, op_bytes, this_op, this_params, counts, table, step_box)
                _mix_box(current, chain_bytes, fresh, op_bytes, from_op, pictures, index, picture_top,
                         picture_left, step_box, mixing_op[i, chain, step], mix_a[i, chain, step],
                         mix_b[i, chain, step], threshold[i, chain, step], seed, i, chain, step, scratch,
                         powers)
                fresh = False
            weight = chain_weights[i, chain]
            if chain < k - 1:
                _add_chain(mix, chain == 0, weight, is_float, current, chain_bytes)
            else:
                _add_last_chain(image, mix, chain == 0, weight, is_float, current, chain_bytes,
                                skip_weight[i], as_bytes, out, out_bytes, i - first)


#: Worker threads of this process for ``threads > 1``, by (process id, count): a forked child
#: (a DataLoader worker) makes its own.
_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """The pool of `threads` threads that run `_apply_stage` (compiled without the GIL).

    Plain threads rather than numba's parallel loops: they start and join in microseconds (numba's
    workqueue pool cost a quarter of a 3 ms call), take ranges as they come free, and need no
    threading layer, so nothing competes with torch's OpenMP threads.
    """
    key = (os.getpid(), threads)
    pool = _POOLS.get(key)
    if pool is None:
        pool = _POOLS[key] = ThreadPoolExecutor(threads, thread_name_prefix="ipmix-fused")
    return pool


def apply_plan_fused(
    images: np.ndarray,
    plan: IPMixPlan,
    pictures: PictureSource | None,
    sample_image: np.ndarray | None = None,
    as_bytes: bool = False,
    threads: int = 1,
) -> np.ndarray:
    """Apply `plan` to uint8 ``[B0, C, H, W]`` images on the CPU; ``[B, C, H, W]`` out.

    Row i of the plan augments ``images[sample_image[i]]`` (default: row i) with its mixing
    picture from `pictures` (a CPU bank; None when no step mixes with a picture). The plan's
    mask seed drives the noise of random pixel/element masks. The result is float32 in [0, 1],
    or with `as_bytes` uint8 (``uint8(v * 255 + 0.5)``). With ``threads > 1`` the samples are
    shared out over that many threads (`_pool`); the result is the same, bit for bit.
    """
    count = plan.batch_size
    if pictures is None:
        bank = index = offset = None
    else:
        bank, index, offset = pictures.bank.numpy(), pictures.index, pictures.offset
    stages = encode_plan(plan, *images.shape[2:])
    return apply_rows(images, stages, plan.mask_seed, (bank, index, offset), sample_image, (0, count),
                      as_bytes, threads)


def apply_rows(
    images: np.ndarray,
    stages: tuple[StageArrays, ...],
    mask_seed: int,
    pictures: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None],
    sample_image: np.ndarray | None,
    rows: tuple[int, int],
    as_bytes: bool = False,
    threads: int = 1,
) -> np.ndarray:
    """Apply rows ``start <= i < stop`` of an encoded plan; ``[stop - start, C, H, W]`` out.

    The one entry point of the fused kernels: `IPMixBatch` applies all the rows of a plan,
    the per-image `ipmix.IPMix` one row of a block of plans encoded once. `pictures` is
    ``(bank, index, offset)``: uint8 pictures ``[N, 1 or 3, S, S']``, and per row the picture
    index and the crop's top and left (None for a plan that mixes with no picture).
    `sample_image[i]` is row i's image in `images` (default: row i - start).
    """
    start, stop = rows
    count = stop - start
    bank, index, offset = pictures
    if bank is None:  # never read
        bank = np.zeros((1, 1, 1, 1), np.uint8)
        index, offset = np.zeros(stop, np.int64), np.zeros((stop, 2), np.int64)
    bank = np.ascontiguousarray(bank, dtype=np.uint8)
    index, offset = np.asarray(index, dtype=np.int64), np.asarray(offset, dtype=np.int64)
    if sample_image is None:
        sample_image = np.arange(-start, count)
    sample_image = np.asarray(sample_image, dtype=np.int64)
    images = np.ascontiguousarray(images, dtype=np.uint8)
    shape = (count, *images.shape[1:])
    threads = min(threads, count)
    bounds = []  # with threads: two ranges per thread, taken as threads come free (unequal samples)
    if threads > 1:
        bounds = np.linspace(start, stop, min(count, 2 * threads) + 1).astype(np.int64).tolist()
    for number, stage in enumerate(stages, start=1):
        stage_bytes = as_bytes or number < len(stages)  # mixed-input: stage 2 mixes stage 1's bytes
        out = np.empty((0, *shape[1:]) if stage_bytes else shape, dtype=np.float32)
        out_bytes = np.empty(shape if stage_bytes else (0, *shape[1:]), dtype=np.uint8)
        arguments = (
            images, sample_image, bank, index, offset, stage.chain_weights, stage.skip_weight,
            stage.depth, stage.step_level, stage.op, stage.params, stage.source, stage.box,
            stage.mixing_op, stage.mix_a, stage.mix_b, stage.threshold,
            np.uint64(mask_seed), stage_bytes, out, out_bytes,
        )
        if threads > 1:
            pool = _pool(threads)
            ranges = [pool.submit(_apply_stage, a, b, start, *arguments)
                      for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
            for done in ranges:
                done.result()
        else:
            _apply_stage(start, stop, start, *arguments)
        images, sample_image = out_bytes, np.arange(-start, count)
    return out_bytes if as_bytes else out
