"""Image ops of the Triton backend: device functions on one uint8 ``[C, H, W]`` image.

The Triton counterpart of `ipmix.augment.kernels.fused.ops`, for the kernel of
`ipmix.augment.kernels.triton.apply`: one program (thread block) applies every op of its sample, so
each function walks the pixels of a box (the whole image for image-level steps) in tiles of
`BLOCK` pixels, every channel of a tile in turn, and ends with a barrier so that the next
pass may read what any thread wrote. The arithmetic is the numba kernels', in the same
precision and order: PIL's affine maps in float64 (pixel centres, black fill, edge-clamped
bilinear neighbours, truncation), PIL's lookup tables (equalize, autocontrast) and its
float32 blends, with the op parameters of `ipmix.augment.op_parameters`.
The kernel is compiled without fused multiply-adds, so that float32 and float64 results are
rounded exactly as on the CPU.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ipmix.augment.ops import ALL_OPS

EQUALIZE = tl.constexpr(ALL_OPS.index("equalize"))
POSTERIZE = tl.constexpr(ALL_OPS.index("posterize"))
ROTATE = tl.constexpr(ALL_OPS.index("rotate"))
SOLARIZE = tl.constexpr(ALL_OPS.index("solarize"))
SHEAR_X = tl.constexpr(ALL_OPS.index("shear_x"))
SHEAR_Y = tl.constexpr(ALL_OPS.index("shear_y"))
TRANSLATE_X = tl.constexpr(ALL_OPS.index("translate_x"))
TRANSLATE_Y = tl.constexpr(ALL_OPS.index("translate_y"))
MIRROR = tl.constexpr(ALL_OPS.index("mirror"))
INVERT = tl.constexpr(ALL_OPS.index("invert"))
AUTOCONTRAST = tl.constexpr(ALL_OPS.index("autocontrast"))
COLOR = tl.constexpr(ALL_OPS.index("color"))
CONTRAST = tl.constexpr(ALL_OPS.index("contrast"))
BRIGHTNESS = tl.constexpr(ALL_OPS.index("brightness"))
SHARPNESS = tl.constexpr(ALL_OPS.index("sharpness"))
_SMOOTH_EDGE = tl.constexpr(1 / 13)  # PIL's SMOOTH kernel (1 1 1 / 1 5 1 / 1 1 1) / 13, in float32
_SMOOTH_CENTRE = tl.constexpr(5 / 13)


# Reductions and scans from builtins only: triton.language's own helpers (tl.sum, tl.zeros, ...)
# are jit functions built when triton is first imported, which only works under the interpreter
# if TRITON_INTERPRET was set by then; these are built with this module.
@triton.jit
def _add(a, b):
    return a + b


@triton.jit
def _larger(a, b):
    return tl.maximum(a, b)


@triton.jit
def _smaller(a, b):
    return tl.minimum(a, b)


@triton.jit
def box_pixels(start, top, left, box_w, count, BLOCK: tl.constexpr):
    """Tile `start` of a box's pixels (row-major): rows, columns and which are in the box."""
    index = start + tl.arange(0, BLOCK)
    inside = index < count
    return top + index // box_w, left + index % box_w, inside


@triton.jit
def luma(src, pixel, mask, C: tl.constexpr, PLANE):
    """PIL's RGB -> L conversion (integer weights, rounded); the value itself for one channel."""
    red = tl.load(src + pixel, mask=mask, other=0).to(tl.int32)
    if C == 1:
        return red
    green = tl.load(src + PLANE + pixel, mask=mask, other=0).to(tl.int32)
    blue = tl.load(src + 2 * PLANE + pixel, mask=mask, other=0).to(tl.int32)
    return (red * 19595 + green * 38470 + blue * 7471 + 0x8000) >> 16


@triton.jit
def _blend(value, degenerate, alpha):
    """`Image.blend(degenerate, image, alpha)`: float32, truncated, clipped to [0, 255]."""
    grey = degenerate.to(tl.float32)
    out = grey + alpha * (value.to(tl.float32) - grey)
    return tl.where(out <= 0.0, 0, tl.where(out >= 255.0, 255, out.to(tl.int32)))


@triton.jit
def _tables(src, lut, op, cut, C: tl.constexpr, H, W, BLOCK: tl.constexpr):
    """PIL's equalize or autocontrast (`cut` pixels off each end) tables, ``lut[c * 256 + v]``."""
    values = tl.arange(0, 256)
    for ch in tl.static_range(C):
        counts = tl.full([256], 0, tl.int32)
        for start in range(0, H * W, BLOCK):
            index = start + tl.arange(0, BLOCK)
            inside = index < H * W
            pixel = tl.load(src + ch * H * W + index, mask=inside, other=0).to(tl.int32)
            counts += tl.histogram(pixel, 256, mask=inside)
        below = tl.associative_scan(counts, 0, _add) - counts  # pixels with a smaller value
        if op == EQUALIZE:
            top = tl.reduce(tl.where(counts > 0, values, -1), 0, _larger)
            last = tl.reduce(tl.where(values == top, counts, 0), 0, _add)
            step = (H * W - last) // 255
            table = tl.minimum((step // 2 + below) // tl.maximum(step, 1), 255)
            table = tl.where(step > 0, table, values)
        else:
            low = tl.reduce(tl.where(below + counts > cut, values, 256), 0, _smaller)
            high = tl.reduce(tl.where(H * W - below > cut, values, -1), 0, _larger)
            scale = 255.0 / (high - low).to(tl.float64)
            offset = -low.to(tl.float64) * scale
            table = tl.minimum(tl.maximum((values.to(tl.float64) * scale + offset).to(tl.int32), 0), 255)
            table = tl.where(high > low, table, values)
        tl.store(lut + ch * 256 + values, table)
    tl.debug_barrier()


@triton.jit
def _mean_grey(src, C: tl.constexpr, H, W, BLOCK: tl.constexpr):
    """The contrast op's mean grey: ``floor(mean(luma) + 0.5)``, the mean in float64."""
    total = tl.full([BLOCK], 0, tl.int64)
    for start in range(0, H * W, BLOCK):
        index = start + tl.arange(0, BLOCK)
        total += luma(src, index, index < H * W, C, H * W).to(tl.int64)
    return tl.floor(tl.reduce(total, 0, _add).to(tl.float64) / (H * W) + 0.5).to(tl.int32)


@triton.jit
def _affine_pixels(src, dst, params, top, left, box_w, count, C: tl.constexpr, H,
                   W, BLOCK: tl.constexpr):
    """PIL's bilinear affine transform (rotate, shears), float64 as PIL, inside the box."""
    a, b, c = tl.load(params), tl.load(params + 1), tl.load(params + 2)
    d, e, f = tl.load(params + 3), tl.load(params + 4), tl.load(params + 5)
    for start in range(0, count, BLOCK):
        y, x, mask = box_pixels(start, top, left, box_w, count, BLOCK)
        xc, yc = x.to(tl.float64) + 0.5, y.to(tl.float64) + 0.5
        xin = a * xc + b * yc + c
        yin = d * xc + e * yc + f
        keep = mask & (xin >= 0.0) & (xin < W) & (yin >= 0.0) & (yin < H)
        xin = tl.minimum(tl.maximum(xin, 0.0), W.to(tl.float64)) - 0.5
        yin = tl.minimum(tl.maximum(yin, 0.0), H.to(tl.float64)) - 0.5
        x0, y0 = tl.floor(xin), tl.floor(yin)  # PIL's FLOOR
        wx, wy = xin - x0, yin - y0
        x0, y0 = x0.to(tl.int32), y0.to(tl.int32)
        column, row = tl.maximum(x0, 0), tl.maximum(y0, 0)
        right = tl.minimum(x0 + 1, W - 1)
        lower = tl.minimum(y0 + 1, H - 1)
        for ch in tl.static_range(C):
            plane = src + ch * H * W
            p00 = tl.load(plane + row * W + column, mask=keep, other=0).to(tl.float64)
            p01 = tl.load(plane + row * W + right, mask=keep, other=0).to(tl.float64)
            p10 = tl.load(plane + lower * W + column, mask=keep, other=0).to(tl.float64)
            p11 = tl.load(plane + lower * W + right, mask=keep, other=0).to(tl.float64)
            upper = p00 + (p01 - p00) * wx
            below = p10 + (p11 - p10) * wx
            value = tl.where(keep, (upper + (below - upper) * wy).to(tl.int32), 0)
            tl.store(dst + ch * H * W + y * W + x, value.to(tl.uint8), mask=mask)


@triton.jit
def _sharpen(plane, y, x, value, mask, alpha, H, W):
    """Sharpness: a blend with PIL's SMOOTH filter; border pixels keep their value."""
    inner = mask & (y > 0) & (x > 0) & (y < H - 1) & (x < W - 1)
    total = tl.full(value.shape, 0.0, tl.float32)  # 0 + the first row's sum is that sum exactly
    for dy in tl.static_range(3):  # rows y + 1, y, y - 1, as PIL's filter sums them
        row = plane + (y + 1 - dy) * W + x
        left = tl.load(row - 1, mask=inner, other=0).to(tl.float32)
        centre = tl.load(row, mask=inner, other=0).to(tl.float32)
        right = tl.load(row + 1, mask=inner, other=0).to(tl.float32)
        weight = _SMOOTH_CENTRE if dy == 1 else _SMOOTH_EDGE
        part = left * _SMOOTH_EDGE + centre * weight + right * _SMOOTH_EDGE
        total = total + part
    smooth = tl.minimum(tl.maximum(tl.floor(total + 0.5), 0.0), 255.0).to(tl.int32)
    return _blend(value, tl.where(inner, smooth, value), alpha)


@triton.jit
def _pixelwise(src, dst, lut, op, params, mean, top, left, box_w, count, C: tl.constexpr,
               H, W, BLOCK: tl.constexpr):
    """The ops whose output pixel needs the pixel itself (or a fixed neighbourhood), in the box."""
    number = tl.load(params)  # posterize mask, solarize threshold, blend factor
    alpha = number.to(tl.float32)
    dx, dy = tl.load(params + 2).to(tl.int32), tl.load(params + 5).to(tl.int32)
    for start in range(0, count, BLOCK):
        y, x, mask = box_pixels(start, top, left, box_w, count, BLOCK)
        pixel = y * W + x
        for ch in tl.static_range(C):
            plane = src + ch * H * W
            value = tl.load(plane + pixel, mask=mask, other=0).to(tl.int32)
            if op == POSTERIZE:
                out = value & number.to(tl.int32)
            elif op == SOLARIZE:
                out = tl.where(value >= number.to(tl.int32), 255 - value, value)
            elif op == INVERT:
                out = 255 - value
            elif op == MIRROR:
                out = tl.load(plane + y * W + (W - 1 - x), mask=mask, other=0).to(tl.int32)
            elif (op == TRANSLATE_X) | (op == TRANSLATE_Y):  # integer offsets, black fill
                sx, sy = x + dx, y + dy
                inside = mask & (sx >= 0) & (sx < W) & (sy >= 0) & (sy < H)
                out = tl.load(plane + sy * W + sx, mask=inside, other=0).to(tl.int32)
            elif (op == EQUALIZE) | (op == AUTOCONTRAST):
                out = tl.load(lut + ch * 256 + value, mask=mask, other=0)
            elif op == COLOR:
                out = _blend(value, luma(src, pixel, mask, C, H * W), alpha)
            elif op == CONTRAST:
                out = _blend(value, mean + 0 * value, alpha)
            elif op == BRIGHTNESS:
                out = _blend(value, 0 * value, alpha)
            else:
                out = _sharpen(plane, y, x, value, mask, alpha, H, W)
            tl.store(dst + ch * H * W + pixel, out.to(tl.uint8), mask=mask)


@triton.jit
def apply_op(src, dst, lut, op, params, top, left, box_h, box_w, C: tl.constexpr, H,
             W, BLOCK: tl.constexpr):
    """Write op `op` (an index into `ALL_OPS`) of `src` to `dst` inside the box (uint8 images).

    `params` points to the step's 6 float64 op parameters, `lut` to ``C * 256`` int32 of
    scratch. Whole-image statistics (histograms, contrast's mean) cover the whole image.
    """
    count = box_h * box_w
    if (op == ROTATE) | (op == SHEAR_X) | (op == SHEAR_Y):
        _affine_pixels(src, dst, params, top, left, box_w, count, C, H, W, BLOCK)
    else:
        if (op == EQUALIZE) | (op == AUTOCONTRAST):
            _tables(src, lut, op, tl.load(params), C, H, W, BLOCK)
        mean = op * 0
        if op == CONTRAST:
            mean = _mean_grey(src, C, H, W, BLOCK)
        _pixelwise(src, dst, lut, op, params, mean, top, left, box_w, count, C, H, W, BLOCK)
    tl.debug_barrier()
