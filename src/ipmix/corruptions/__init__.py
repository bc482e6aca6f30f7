"""Corrupted images: ImageNet-C / CIFAR-C's 15 + 4 corruptions, C-bar, the P sequences, writers.

A leaf package: it imports numpy, scipy, Pillow, OpenCV, numba and ``ipmix.utils``, never
torch, nor ``robustness``, ``training`` or ``augment`` (``robustness`` reads what it writes).

- ``kernels/``: the low-level ports shared by every family (scipy.ndimage, Pillow, numpy's
  draws, ImageMagick's motion blur, HSV, fused per-pixel arithmetic);
- ``imagenet_c/``: the 19 corruptions of Hendrycks & Dietterich, batched, one table of
  constants per reference script (``imagenet_c.presets``);
- ``cbar/``: the C-bar corruptions of Mintun et al.;
- ``perturbations/``: the CIFAR-P / ImageNet-P sequences;
- ``writers/``: CIFAR-C / -P files, ImageNet-C / -C-bar / -P folders, videos.
"""
