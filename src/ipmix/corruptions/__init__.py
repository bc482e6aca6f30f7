"""Corrupted images: ImageNet-C / CIFAR-C's 15 + 4 corruptions, C-bar, the P sequences, writers.

``from ipmix.corruptions import corrupt, get_corruption_names``: bethgelab/imagecorruptions'
interface (``corrupt(image, severity=1, corruption_name=None, corruption_number=-1)``), on
one image of any size, seeded (see ``api.py``).

Beside ``mixing_sets``: it imports numpy, scipy, Pillow, OpenCV, numba, tqdm (PyAV for videos),
``ipmix.utils`` and ipmix.data's torch-free folder reader (``data.folders``, ``images``,
``resize``), never torch, nor ``robustness``, ``training`` or ``augment`` (``robustness`` reads
what it writes).

- ``kernels/``: the low-level ports shared by every family (scipy.ndimage, Pillow, numpy's
  draws, ImageMagick's motion blur, HSV, fused per-pixel arithmetic);
- ``imagenet_c/``: the 19 corruptions of Hendrycks & Dietterich, batched, one table of
  constants per reference script (``imagenet_c.presets``);
- ``cbar/``: the C-bar corruptions of Mintun et al.;
- ``perturbations/``: the CIFAR-P / ImageNet-P sequences;
- ``writers/``: CIFAR-C / -P files, ImageNet-C / -C-bar / -P folders, videos.
"""

from __future__ import annotations

from ipmix.utils.lazy import lazy_names

_LAZY = {
    "corrupt": "ipmix.corruptions.api",
    "get_corruption_names": "ipmix.corruptions.api",
    "CorruptionError": "ipmix.corruptions.imagenet_c.presets",
    "FrostTexturesNotFoundError": "ipmix.corruptions.imagenet_c.weather_digital",
}
__all__ = sorted(_LAZY)
# imported on first use: `import ipmix.corruptions` loads no numba kernels, no OpenCV
__getattr__, __dir__ = lazy_names(__name__, _LAZY)
