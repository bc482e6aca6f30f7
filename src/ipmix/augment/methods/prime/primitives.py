"""PRIME's three primitives on batches, every image with its own parameters (Modas et al. 2022).

Following the authors' code (amodas/PRIME-augmentations, ``utils/diffeomorphism.py``,
``utils/color_jitter.py``, ``utils/rand_filter.py``), on float images ``[N, C, H, W]`` in [0, 1]
on any device. Parameters come per image (drawn by `ipmix.augment.methods.prime.transform.sample_prime_plan`);
the Gaussian noise of each primitive comes from the `torch.Generator` given (on the images'
device).

- `diffeo`: a smooth random displacement field ``tau(x) = sqrt(T) * n * u(x)`` per axis, where
  ``u = sum_ij c_ij sin(pi i x) sin(pi j y) / sqrt(i^2 + j^2)`` over the modes with
  ``sqrt(i^2 + j^2) < cut + 1/2``, ``c_ij ~ N(0, 1)``; pixels are read at ``x - tau(x)``
  (clamped to the image) with bilinear interpolation. Square images only, as the reference.
- `smooth_color`: every channel value ``v`` becomes ``v + sum_k c_k sin(pi k v)``,
  ``c_k ~ N(0, T)`` per image and channel, over the frequencies ``k`` of the image's band;
  clamped to [0, 1].
- `random_filter`: a ``size x size`` kernel ``sigma * N(0, 1) + delta`` per image, applied to
  each channel with zero padding (``padding='same'``); NaN becomes 1, then clamped to [0, 1].
  As in the reference, the delta sits at index ``ceil(size / 2)`` (the bottom-right tap of a
  3 x 3 kernel, so its identity part shifts the image by one pixel).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: Largest ``images x modes^2`` handled at once by `diffeo` (bounds its memory).
DIFFEO_CHUNK = 1 << 22


def _displacement(count: int, side: int, cut: torch.Tensor, generator: torch.Generator,
                  device: torch.device) -> torch.Tensor:
    """``u`` of the module docstring for `count` images of side `side`: ``[count, side, side]``."""
    modes = int(cut.max())
    positions = torch.linspace(0, 1, side, device=device)
    k = torch.arange(1, modes + 1, device=device, dtype=torch.float32)
    sines = torch.sin(math.pi * positions[:, None] * k[None, :])  # [side, modes]
    radius = (k[:, None] ** 2 + k[None, :] ** 2).sqrt()
    energy = (radius[None] < cut.view(-1, 1, 1).to(device) + 0.5) / radius[None]
    coefficients = torch.randn(count, modes, modes, generator=generator, device=device) * energy
    return torch.einsum("nij,xi,yj->nyx", coefficients, sines, sines)


def diffeo(images: torch.Tensor, cut: torch.Tensor, temperature: torch.Tensor,
           generator: torch.Generator) -> torch.Tensor:
    """Random smooth deformation of each image (module docstring); `cut` (ints) and
    `temperature` are ``[N]``."""
    count, _, height, width = images.shape
    if height != width:
        raise ValueError(f"PRIME's diffeomorphism needs square images, got {height} x {width}")
    if count == 0:
        return images
    device, side = images.device, height
    grid_y, grid_x = torch.meshgrid(torch.arange(side, device=device, dtype=torch.float32),
                                    torch.arange(side, device=device, dtype=torch.float32),
                                    indexing="ij")
    out = torch.empty_like(images)
    order = torch.argsort(cut)  # similar mode counts together: chunks waste fewer modes
    cuts = cut[order].tolist()
    start = 0
    while start < count:
        stop = start + 1
        while stop < count and (stop - start + 1) * cuts[stop] ** 2 <= DIFFEO_CHUNK:
            stop += 1
        chosen = order[start:stop]
        start = stop
        scale = (temperature[chosen].to(device).sqrt() * side).view(-1, 1, 1)
        dx = scale * _displacement(len(chosen), side, cut[chosen], generator, device)
        dy = scale * _displacement(len(chosen), side, cut[chosen], generator, device)
        x = (grid_x - dx).clamp(0, side - 1) * (2 / max(side - 1, 1)) - 1
        y = (grid_y - dy).clamp(0, side - 1) * (2 / max(side - 1, 1)) - 1
        grid = torch.stack((x, y), dim=-1).to(images.dtype)
        index = chosen.to(device)
        out[index] = F.grid_sample(images[index], grid, mode="bilinear", padding_mode="border",
                                   align_corners=True)
    return out


def smooth_color(images: torch.Tensor, first: torch.Tensor, last: torch.Tensor,
                 temperature: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random smooth colour curves (module docstring) over the frequencies ``first..last``
    (ints, ``[N]`` each) of each image."""
    count, channels = images.shape[:2]
    if count == 0:
        return images
    device = images.device
    first, last = first.to(device), last.to(device)
    bands = int((last - first).max()) + 1
    scale = temperature.to(device).sqrt().view(-1, 1, 1, 1)
    coefficients = torch.randn(count, channels, bands, generator=generator, device=device)
    out = images.clone()
    for offset in range(bands):
        frequency = first + offset
        weight = coefficients[:, :, offset] * (frequency <= last).view(-1, 1)
        out += scale * weight[:, :, None, None] * torch.sin(
            math.pi * frequency.view(-1, 1, 1, 1).to(images.dtype) * images)
    return out.clamp_(0, 1)


def random_filter(images: torch.Tensor, sigma: torch.Tensor, size: int,
                  generator: torch.Generator) -> torch.Tensor:
    """Random ``size x size`` filter per image (module docstring); `sigma` is ``[N]``."""
    count, channels, height, width = images.shape
    if count == 0:
        return images
    device = images.device
    kernels = torch.randn(count, size, size, generator=generator, device=device)
    kernels = kernels * sigma.to(device).view(-1, 1, 1)
    centre = math.ceil(size / 2)
    kernels[:, centre, centre] += 1
    weight = kernels.to(images.dtype).repeat_interleave(channels, 0)[:, None]
    out = F.conv2d(images.reshape(1, count * channels, height, width), weight,
                   padding="same", groups=count * channels).view_as(images)
    return out.nan_to_num(nan=1.0).clamp_(0, 1)


__all__ = ["DIFFEO_CHUNK", "diffeo", "random_filter", "smooth_color"]
