"""Image-level ops of IPMix as batched tensor kernels with per-sample magnitudes.

The batched counterpart of `ipmix.augment.ops`: every kernel takes a uint8 ``[N, C, H, W]``
tensor (C = 1 or 3, any device) and one level and sign per sample, and returns a uint8 tensor of
the same shape. Levels map to magnitudes with the same formulas as `ops.py` (AugMix's
``int(level * maxval / 10)`` / ``level * maxval / 10``, computed in float64 on the host so the
integer magnitudes are identical), and each kernel reproduces the PIL operation the per-image
path uses:

- affine ops (rotate, shear) go through one batched `grid_sample` with PIL's conventions:
  output pixel centres mapped by the affine matrix, bilinear weights with edge-clamped
  neighbours, black where the source point falls outside the image, and the result truncated
  to an integer as PIL's bilinear filter does; translations (integer offsets, so the bilinear
  weights are 0 or 1) are one exact gather (`shift`);
- posterize, solarize, invert and mirror are exact integer operations;
- equalize and autocontrast build per-sample, per-channel lookup tables from batched
  histograms (the same tables as PIL's / `ops.equalize`);
- color, contrast, brightness and sharpness blend with PIL's degenerate images (luma,
  mean grey, black, 3x3 smooth filter) and truncate as `Image.blend` does.

Only float32 rounding separates the rotate and shear kernels from PIL (which computes in
double): `tests/augment/test_tensor_ops.py` checks every op against the PIL kernel on CIFAR
images (exact for all ops but those three; within one grey level for them).
`apply_ops` applies a different op to every sample: it groups samples by op family on the host
(so a GPU never waits on a device-to-host copy) and runs each family once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ipmix.augment.op_parameters import (
    autocontrast_cutoff,
    enhance_factor,
    op_parameters,
    posterize_mask,
    solarize_threshold,
)
from ipmix.augment.ops import ALL_OPS

#: Ops that are affine maps of the pixel grid (`affine`; the translations also by `shift`).
AFFINE_OPS: tuple[str, ...] = ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")
#: Ops that blend the image with a degenerate version of it (`PIL.ImageEnhance`).
ENHANCE_OPS: tuple[str, ...] = ("color", "contrast", "brightness", "sharpness")
#: Ops whose lookup table depends on the image's histogram.
HISTOGRAM_OPS: tuple[str, ...] = ("equalize", "autocontrast")

ArrayLike = np.ndarray | torch.Tensor | Sequence[float]

_LUMA_WEIGHTS = (19595, 38470, 7471)  # PIL's RGB -> L: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
_SMOOTH = (1.0, 1.0, 1.0, 1.0, 5.0, 1.0, 1.0, 1.0, 1.0)  # PIL's ImageFilter.SMOOTH, scale 13


def _host(values: ArrayLike, dtype: type = np.float64) -> np.ndarray:
    """Per-sample parameters as a 1-D host array (tensors are copied from their device)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values).astype(dtype).reshape(-1)


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(
            "tensor ops take a uint8 [N, C, H, W] tensor, got "
            f"{getattr(images, 'dtype', type(images).__name__)} {tuple(getattr(images, 'shape', ()))}"
        )
    if images.shape[1] not in (1, 3):
        raise ValueError(f"tensor ops take 1 or 3 channels, got {images.shape[1]}")


def _per_sample(values: np.ndarray, images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A host array of per-sample values as an ``[N, 1, 1, 1]`` tensor on the images' device."""
    return torch.as_tensor(values, dtype=dtype).to(images.device).view(-1, 1, 1, 1)


def affine_coefficients(
    op: Sequence[str], level: ArrayLike, sign: ArrayLike, height: int, width: int
) -> np.ndarray:
    """PIL affine coefficients ``(a, b, c, d, e, f)`` per sample, float64 ``[N, 6]``.

    A source point is ``(a x + b y + c, d x + e y + f)`` for the output pixel centre (x, y),
    exactly the matrices `ops.rotate/shear_*/translate_*` hand to PIL (rotation about the
    image centre, as `Image.rotate` computes it): `ipmix.augment.op_parameters`.
    """
    names = np.asarray(op, dtype=object).reshape(-1)
    unknown = set(names.tolist()) - set(AFFINE_OPS)
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]!r} is not an affine op; affine ops: {', '.join(AFFINE_OPS)}")
    ids = np.asarray([ALL_OPS.index(name) for name in names.tolist()], dtype=np.int64)
    return op_parameters(ids, _host(level), _host(sign, np.int64), height, width)


def affine(images: torch.Tensor, coefficients: ArrayLike) -> torch.Tensor:
    """Apply one PIL-style affine map per sample (bilinear, black fill), uint8 in and out.

    `coefficients` is ``[N, 6]`` as `affine_coefficients` returns. One `grid_sample` call
    serves the whole batch: normalised source coordinates are ``2 * point / size - 1``
    (``align_corners=False`` puts pixel centres where PIL puts them), neighbours outside the
    image are clamped (``padding_mode="border"``, PIL's XCLIP/YCLIP), and outputs whose source
    point lies outside ``[0, W) x [0, H)`` are black, as in PIL.
    """
    _check_images(images)
    n, channels, height, width = images.shape
    device = images.device
    co = torch.as_tensor(np.asarray(coefficients, dtype=np.float64).reshape(n, 6))
    # Fold the normalisation into the coefficients: gx = (2 / W) * x_in - 1, gy = (2 / H) * y_in - 1.
    scale = torch.tensor([2 / width] * 3 + [2 / height] * 3, dtype=torch.float64)
    co = (co * scale - torch.tensor([0, 0, 1, 0, 0, 1], dtype=torch.float64)).to(device, torch.float32)
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device, dtype=torch.float32) + 0.5,
        torch.arange(width, device=device, dtype=torch.float32) + 0.5,
        indexing="ij",
    )
    points = torch.stack((xs, ys, torch.ones_like(xs)), dim=-1).view(1, height * width, 3)
    grid = torch.matmul(points, co.view(n, 2, 3).transpose(1, 2)).view(n, height, width, 2)
    out = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    # Inside iff -1 <= g < 1 for both coordinates, i.e. floor((g + 1) / 2) == 0: computed in
    # place as a float 0/1 mask (about twice as fast as comparisons, `&` and `all`).
    unit = grid.add_(1).mul_(0.5).floor_().eq_(0)
    inside = (unit[..., 0] * unit[..., 1]).unsqueeze(1)
    # PIL truncates its double-precision result; the small offset absorbs float32 error on
    # values that are exact integers in double precision (unchanged pixels, integer shifts).
    # Bilinear values of bytes stay in [0, 255], so truncation needs no clamp.
    return torch.addcmul(torch.tensor(1e-3, device=device), out, inside).to(torch.uint8)


def shift(images: torch.Tensor, dx: ArrayLike, dy: ArrayLike) -> torch.Tensor:
    """Integer translation per sample, black fill: ``out[y, x] = in[y + dy, x + dx]``.

    What `affine` computes for the translate ops (their offsets are integers, so bilinear
    weights are 0 or 1), as one gather on the uint8 images instead of a float resampling.
    """
    _check_images(images)
    n, channels, height, width = images.shape
    device = images.device
    dx = torch.as_tensor(_host(dx, np.int64), device=device).view(n, 1, 1)
    dy = torch.as_tensor(_host(dy, np.int64), device=device).view(n, 1, 1)
    xs = torch.arange(width, device=device).view(1, 1, width) + dx
    ys = torch.arange(height, device=device).view(1, height, 1) + dy
    inside = ((xs >= 0) & (xs < width)) & ((ys >= 0) & (ys < height))  # [n, H, W]
    index = ys.clamp(0, height - 1) * width + xs.clamp(0, width - 1)
    index = index.view(n, 1, height * width).expand(n, channels, height * width)
    out = torch.gather(images.reshape(n, channels, height * width), 2, index).view(n, channels, height, width)
    return out * inside.unsqueeze(1).to(torch.uint8)


# ---- exact integer ops ---------------------------------------------------------------------
def posterize(images: torch.Tensor, level: ArrayLike) -> torch.Tensor:
    """Keep the top ``4 - int(level * 4 / 10)`` bits of every value (per sample)."""
    _check_images(images)
    return images & _per_sample(posterize_mask(_host(level)).astype(np.uint8), images, torch.uint8)


def solarize(images: torch.Tensor, level: ArrayLike) -> torch.Tensor:
    """Invert values at or above ``256 - int(level * 256 / 10)`` (per sample)."""
    _check_images(images)
    threshold = _per_sample(solarize_threshold(_host(level)), images, torch.int16)
    # 255 - v == v ^ 255 on bytes; masks and xor are several times faster than torch.where.
    flip = (images.to(torch.int16) >= threshold).to(torch.uint8).mul_(255)
    return images ^ flip


def invert(images: torch.Tensor) -> torch.Tensor:
    _check_images(images)
    return 255 - images


def mirror(images: torch.Tensor) -> torch.Tensor:
    _check_images(images)
    return images.flip(-1)


# ---- histogram (lookup-table) ops ----------------------------------------------------------
def _histograms(images: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-channel histograms, int64 ``[N * C, 256]``."""
    n, channels = images.shape[:2]
    rows = torch.arange(n * channels, device=images.device).view(n, channels, 1, 1) * 256
    index = (images.long() + rows).reshape(-1)
    # int32 scatter-add: about twice as fast as bincount on CPU; counts stay far below 2**31.
    counts = torch.zeros(n * channels * 256, dtype=torch.int32, device=images.device)
    counts.scatter_add_(0, index, torch.ones(1, dtype=torch.int32, device=images.device).expand_as(index))
    return counts.view(n * channels, 256).long()


def _apply_lut(images: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """Look every value up in its sample's and channel's table (``lut``: ``[N * C, 256]``)."""
    n, channels, height, width = images.shape
    flat = images.reshape(n * channels, height * width).long()
    return torch.gather(lut.to(torch.uint8), 1, flat).view(n, channels, height, width)


def equalize(images: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation per sample and channel, PIL's table (as `ops.equalize`)."""
    _check_images(images)
    histogram = _histograms(images)
    values = torch.arange(256, device=images.device)
    top = torch.where(histogram > 0, values, -1).amax(dim=1, keepdim=True)  # the largest value used
    last = torch.gather(histogram, 1, top)
    step = (histogram.sum(dim=1, keepdim=True) - last) // 255
    below = torch.cumsum(histogram, dim=1) - histogram
    safe = step.clamp(min=1)
    lut = torch.minimum((step // 2 + below) // safe, torch.tensor(255, device=images.device))
    lut = torch.where(step > 0, lut, values)
    return _apply_lut(images, lut)


def autocontrast(images: torch.Tensor, level: ArrayLike) -> torch.Tensor:
    """PIL's `ImageOps.autocontrast` with ``cutoff = 10 - level`` percent at each end."""
    _check_images(images)
    n, channels, height, width = images.shape
    device = images.device
    cutoff = np.repeat(autocontrast_cutoff(_host(level)), channels)
    pixels = height * width
    cut = torch.as_tensor(np.floor_divide(pixels * cutoff, 100).astype(np.int64), device=device)[:, None]
    histogram = _histograms(images)
    values = torch.arange(256, device=device)
    # After PIL removes `cut` pixels from each end, the lowest value left is the first whose
    # cumulative count exceeds the cut, and the highest the last whose tail count exceeds it.
    low = torch.where(torch.cumsum(histogram, 1) > cut, values, 256).amin(dim=1, keepdim=True)
    tail = torch.flip(torch.cumsum(torch.flip(histogram, [1]), 1), [1])
    high = torch.where(tail > cut, values, -1).amax(dim=1, keepdim=True)
    span = (high - low).clamp(min=1).double()
    scale = torch.full_like(span, 255.0) / span  # not `255.0 / span`: torch computes that as 255 * (1 / span)
    lut = torch.trunc(values.double() * scale + (-low.double() * scale)).clamp(0, 255).long()
    lut = torch.where(high > low, lut, values)
    return _apply_lut(images, lut)


# ---- enhance ops ---------------------------------------------------------------------------
def _luma(images: torch.Tensor) -> torch.Tensor:
    """PIL's RGB -> L conversion (integer weights, rounded), int32 ``[N, 1, H, W]``."""
    if images.shape[1] == 1:
        return images.int()
    x = images.int()
    r, g, b = _LUMA_WEIGHTS
    return (x[:, 0:1] * r + x[:, 1:2] * g + x[:, 2:3] * b + 0x8000) >> 16


def _smooth(images: torch.Tensor) -> torch.Tensor:
    """PIL's SMOOTH filter: 3x3 kernel / 13, rounded, border pixels copied."""
    n, channels, height, width = images.shape
    out = images.float()
    if height < 3 or width < 3:
        return out
    kernel = torch.tensor(_SMOOTH, device=images.device).view(1, 1, 3, 3) / 13
    inner = F.conv2d(out.reshape(n * channels, 1, height, width), kernel)
    inner = inner.add_(0.5).clamp_(0, 255).floor_().view(n, channels, height - 2, width - 2)
    out = out.clone()
    out[:, :, 1:-1, 1:-1] = inner
    return out


def _blend(images: torch.Tensor, degenerate: torch.Tensor, factor: np.ndarray) -> torch.Tensor:
    """`Image.blend(degenerate, image, factor)`: computed in float32, truncated, clipped."""
    alpha = _per_sample(factor, images, torch.float32)
    out = degenerate + alpha * (images.float() - degenerate)
    return out.clamp_(0, 255).to(torch.uint8)


def enhance(images: torch.Tensor, op: Sequence[str], level: ArrayLike) -> torch.Tensor:
    """color / contrast / brightness / sharpness per sample, factor ``level * 1.8 / 10 + 0.1``."""
    _check_images(images)
    names = list(op)
    factor = enhance_factor(_host(level))
    degenerate = torch.zeros(images.shape, dtype=torch.float32, device=images.device)
    kinds = {name: [i for i, n in enumerate(names) if n == name] for name in set(names)}
    for name, rows in kinds.items():
        index = torch.as_tensor(rows, device=images.device)
        subset = images.index_select(0, index)
        if name == "color":
            deg = _luma(subset).float().expand_as(subset)
        elif name == "contrast":
            luma = _luma(subset)
            mean = luma.double().mean(dim=(1, 2, 3), keepdim=True)
            deg = torch.floor(mean + 0.5).float().expand_as(subset)
        elif name == "brightness":
            continue
        elif name == "sharpness":
            deg = _smooth(subset)
        else:
            raise ValueError(f"{name!r} is not an enhance op; enhance ops: {', '.join(ENHANCE_OPS)}")
        degenerate.index_copy_(0, index, deg.contiguous())
    return _blend(images, degenerate, factor)


# ---- one op per sample ---------------------------------------------------------------------
#: Families of ops that one kernel call serves, in the order `apply_ops` runs them.
FAMILIES: tuple[tuple[str, ...], ...] = (
    ("rotate", "shear_x", "shear_y"), ("translate_x", "translate_y"), ENHANCE_OPS,
    ("posterize",), ("solarize",), ("invert",), ("mirror",),
    ("equalize",), ("autocontrast",),
)
_FAMILY_OF_OP = np.asarray(
    [next(i for i, family in enumerate(FAMILIES) if name in family) for name in ALL_OPS], dtype=np.int64
)


def family_order(op: ArrayLike) -> np.ndarray:
    """A stable order of samples that makes each op family contiguous (see `apply_ops`)."""
    return np.argsort(_FAMILY_OF_OP[_host(op, np.int64)], kind="stable")


def apply_ops(images: torch.Tensor, op: ArrayLike, level: ArrayLike, sign: ArrayLike) -> torch.Tensor:
    """Apply op ``ALL_OPS[op[i]]`` at ``level[i]``, ``sign[i]`` to sample i; uint8 in and out.

    `op`, `level` and `sign` are host arrays (or tensors, copied to the host): samples are
    grouped by op family there, so a GPU never waits on a copy, and each family runs once on a
    contiguous slice. Samples already in `family_order` are processed without any reordering.
    """
    _check_images(images)
    op = _host(op, np.int64)
    level, sign = _host(level), _host(sign)
    count = images.shape[0]
    if not (len(op) == len(level) == len(sign) == count):
        raise ValueError(
            f"apply_ops needs one op, level and sign per sample: {count} images, "
            f"{len(op)} ops, {len(level)} levels, {len(sign)} signs"
        )
    if count == 0:
        return images.clone()
    if op.min() < 0 or op.max() >= len(ALL_OPS):
        raise ValueError(f"op indices must be in [0, {len(ALL_OPS)}), got {sorted(set(op.tolist()))}")
    order = family_order(op)
    reorder = bool((order != np.arange(count)).any())
    device = images.device
    if reorder:
        images = images.index_select(0, torch.as_tensor(order, device=device))
        op, level, sign = op[order], level[order], sign[order]
    names = np.asarray(ALL_OPS, dtype=object)[op]
    bounds = np.searchsorted(_FAMILY_OF_OP[op], np.arange(len(FAMILIES) + 1))
    height, width = images.shape[2:]
    pieces = []
    for family, start, end in zip(FAMILIES, bounds[:-1], bounds[1:], strict=True):
        if start == end:
            continue
        subset, part = images[start:end], slice(start, end)
        if family[0] == "rotate":
            coefficients = affine_coefficients(names[part], level[part], sign[part], height, width)
            pieces.append(affine(subset, coefficients))
        elif family[0] == "translate_x":
            coefficients = affine_coefficients(names[part], level[part], sign[part], height, width)
            pieces.append(shift(subset, coefficients[:, 2], coefficients[:, 5]))
        elif family == ENHANCE_OPS:
            pieces.append(enhance(subset, names[part], level[part]))
        elif family[0] in ("posterize", "solarize", "autocontrast"):
            pieces.append(_KERNELS[family[0]](subset, level[part]))
        else:
            pieces.append(_KERNELS[family[0]](subset))
    out = torch.cat(pieces) if len(pieces) > 1 else pieces[0]
    if reorder:
        out = out.index_select(0, torch.as_tensor(np.argsort(order), device=device))
    return out


_KERNELS = {
    "posterize": posterize, "solarize": solarize, "invert": invert, "mirror": mirror,
    "equalize": equalize, "autocontrast": autocontrast,
}


def op_kernel(name: str):
    """The batched kernel of op `name` as ``f(images, level, sign) -> images`` (all samples one op)."""
    if name not in ALL_OPS:
        raise ValueError(f"unknown image op {name!r}; known ops: {', '.join(ALL_OPS)}")
    index = ALL_OPS.index(name)

    def kernel(images: torch.Tensor, level: ArrayLike, sign: ArrayLike) -> torch.Tensor:
        count = images.shape[0]
        level = np.broadcast_to(_host(level), (count,))
        sign = np.broadcast_to(_host(sign), (count,))
        return apply_ops(images, np.full(count, index), level, sign)

    return kernel
