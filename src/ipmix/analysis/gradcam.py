"""Grad-CAM (Selvaraju et al., ICCV 2017) with a forward hook: where a classifier looks.

For the class a model predicts (or a given one), Grad-CAM weighs each channel of a feature map
by the mean gradient of that class's logit over the map, sums the weighted channels, keeps the
positive part and upsamples it to the image: ``relu(sum_k mean(dy/dA_k) A_k)``, each map scaled
to [0, 1].

A short hook-based implementation, not the ``grad-cam`` package: the method is these few lines
on any `torch.nn.Module`; the package would bring ``opencv-python`` (a second OpenCV beside
ipmix's headless one) and ``ttach`` for test-time augmentation that Figure 8 does not use, and
its choice of target layer is the caller's anyway. `feature_layer` picks the last module whose
output is still a spatial map (more than 1 x 1), found by one forward pass, or one is named.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def feature_layer(model: nn.Module, probe: torch.Tensor) -> str:
    """The name of the last module of `model` (in the order modules finish on `probe`) whose
    output is a ``[B, C, h, w]`` map with h, w > 1: the usual Grad-CAM target."""
    finished: list[str] = []
    names = {module: name for name, module in model.named_modules() if name}

    def record(module: nn.Module, inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor) and output.ndim == 4 and min(output.shape[-2:]) > 1:
            finished.append(names[module])

    handles = [module.register_forward_hook(record) for module in names]
    try:
        with torch.no_grad():
            model(probe)
    finally:
        for handle in handles:
            handle.remove()
    if not finished:
        raise ValueError(f"{type(model).__name__} has no module with a spatial feature map: "
                         "Grad-CAM needs a convolutional layer")
    return finished[-1]


def grad_cam(model: nn.Module, images: torch.Tensor, layer: str | None = None,
             classes: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Grad-CAM maps ``[N, H, W]`` in [0, 1] of `images` ``[N, 3, H, W]`` (float in [0, 1]) for
    `classes` (default: the predicted ones); returns the maps, the classes and the layer used."""
    was_training = model.training
    model.eval()
    name = layer or feature_layer(model, images[:1])
    try:
        module = model.get_submodule(name)
    except AttributeError as error:
        raise ValueError(f"{type(model).__name__} has no module {name!r}") from error
    kept: dict[str, torch.Tensor] = {}

    def keep(module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
        kept["map"] = output
        return output.clone()  # later in-place ops (ReLU(inplace=True)) leave the kept map alone

    handle = module.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = model(images)
            chosen = logits.argmax(1) if classes is None else classes.to(logits.device)
            score = logits.gather(1, chosen[:, None]).sum()
            gradients = torch.autograd.grad(score, kept["map"])[0]
    finally:
        handle.remove()
        model.train(was_training)
    activations = kept["map"].detach()
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activations).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    low = cam.flatten(1).min(1).values.view(-1, 1, 1)
    high = cam.flatten(1).max(1).values.view(-1, 1, 1)
    return (cam - low) / (high - low).clamp_min(1e-12), chosen.detach(), name


__all__ = ["feature_layer", "grad_cam"]
