"""DuBIN: AugMax's dual batch-and-instance normalisation (Wang et al., NeurIPS 2021).

AugMax trains on clean, AugMix and adversarially mixed images; DuBIN keeps their statistics
apart. As in the authors' models (VITA-Group/AugMax, ``models/*_DuBIN.py``):

- every batch norm becomes a `DualBatchNorm2d`: two batch norms, ``main`` for clean and AugMix
  images, ``aux`` for AugMax images; `norm_route` picks one for the whole model (evaluation
  uses ``main``);
- the first norm of each residual block outside the last stage (IBN-Net's "a" layout) becomes a
  `DuBIN`: instance norm (affine) on the first half of the channels, a `DualBatchNorm2d` on the
  rest.

`to_dubin(model)` converts an ipmix model in place (``build_model(name, n, norm="dubin")``), by
the layout of its class in `DUBIN_LAYOUTS`. Converted layers start from the batch norms they
replace (both branches copy its weights and running statistics; the instance norm takes the
affine weights of its channels), so a pretrained network keeps what it learnt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

#: The two branches of a `DualBatchNorm2d`.
ROUTES = ("main", "aux")
#: Values of the models' ``norm`` option.
NORMS = ("bn", "dubin")

#: Class name -> module names whose norm becomes a `DuBIN` (AugMax's layout, module docstring).
#: `small` has two residual pairs; the second is in its last stage.
DUBIN_LAYOUTS: dict[str, str] = {
    "CifarResNet": r"stage[123]\.\d+\.bn1",
    "WideResNet": r"group[12]\.\d+\.bn1",
    "CifarResNeXt": r"stage[12]\.\d+\.bn_reduce",
    "SmallResNet": r"body\.3\.body\.0\.1",
    "WrappedClassifier": r"body\.layer[123]\.\d+\.bn1",  # torchvision's ResNets
}


class DualBatchNorm2d(nn.Module):
    """Two `nn.BatchNorm2d` of `num_features` channels; `route` (``main``/``aux``) picks one."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features
        self.main = nn.BatchNorm2d(num_features)
        self.aux = nn.BatchNorm2d(num_features)
        self.route = "main"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.aux if self.route == "aux" else self.main)(x)

    def extra_repr(self) -> str:
        return f"{self.num_features}, route={self.route}"


class DuBIN(nn.Module):
    """Instance norm (affine) on the first ``int(channels * ratio)`` channels, a
    `DualBatchNorm2d` on the others, as AugMax's ``DuBIN(planes, ratio=0.5)``."""

    def __init__(self, num_features: int, ratio: float = 0.5) -> None:
        super().__init__()
        self.half = int(num_features * ratio)
        if not 0 < self.half < num_features:
            raise ValueError(f"DuBIN: {num_features} channels cannot be split at ratio {ratio}")
        self.instance = nn.InstanceNorm2d(self.half, affine=True)
        self.batch = DualBatchNorm2d(num_features - self.half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, rest = x[:, : self.half], x[:, self.half:]
        return torch.cat((self.instance(first.contiguous()), self.batch(rest.contiguous())), 1)


def _dual_from(norm: nn.BatchNorm2d, channels: slice) -> DualBatchNorm2d:
    dual = DualBatchNorm2d(len(range(norm.num_features)[channels]))
    for branch in (dual.main, dual.aux):
        state = {key: value[channels] if value.ndim else value
                 for key, value in norm.state_dict().items()}
        branch.load_state_dict(state)
    return dual


def _dubin_from(norm: nn.BatchNorm2d) -> DuBIN:
    layer = DuBIN(norm.num_features)
    with torch.no_grad():
        layer.instance.weight.copy_(norm.weight[: layer.half])
        layer.instance.bias.copy_(norm.bias[: layer.half])
    layer.batch = _dual_from(norm, slice(layer.half, None))
    return layer


def has_dubin_layout(model: nn.Module) -> bool:
    """Whether `to_dubin` knows where `model`'s DuBIN layers go."""
    return type(model).__name__ in DUBIN_LAYOUTS


def to_dubin(model: nn.Module) -> nn.Module:
    """Convert `model` in place to AugMax's DuBIN layout (module docstring); returns it."""
    layout = DUBIN_LAYOUTS.get(type(model).__name__)
    if layout is None:
        raise ValueError(f"DuBIN: no layout for {type(model).__name__}; known for "
                         f"{', '.join(DUBIN_LAYOUTS)}")
    norms = [(name, module) for name, module in model.named_modules()
             if type(module) is nn.BatchNorm2d]
    chosen = [name for name, _ in norms if re.fullmatch(layout, name)]
    if not chosen:
        raise ValueError(f"DuBIN: {type(model).__name__} has no norm layer matching {layout!r} "
                         "(the layout is known for torchvision's ResNets only)")
    for name, norm in norms:
        parent_name, _, attribute = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        replacement = _dubin_from(norm) if name in chosen else _dual_from(norm, slice(None))
        setattr(parent, attribute, replacement.to(norm.weight.device))
    return model


@contextmanager
def norm_route(model: nn.Module, route: str) -> Iterator[None]:
    """Route every `DualBatchNorm2d` of `model` to `route` inside the block (a no-op for models
    without one), restoring each one's route afterwards."""
    if route not in ROUTES:
        raise ValueError(f"route must be one of {ROUTES}, got {route!r}")
    duals = [module for module in model.modules() if isinstance(module, DualBatchNorm2d)]
    before = [dual.route for dual in duals]
    for dual in duals:
        dual.route = route
    try:
        yield
    finally:
        for dual, previous in zip(duals, before, strict=True):
            dual.route = previous


__all__ = ["DUBIN_LAYOUTS", "NORMS", "ROUTES", "DuBIN", "DualBatchNorm2d", "has_dubin_layout",
           "norm_route", "to_dubin"]
