"""torchvision and timm classifiers as ipmix models: [0, 1] images in, normalisation inside.

Names: ``torchvision:NAME`` (any torchvision classification builder, ``resnet50`` is
``torchvision:resnet50``) and ``timm:NAME`` (needs the ``timm`` extra). The network is built
by its library; its final linear layer becomes the model's `head` (kept when the class count
matches the pretrained one, else a new layer), the rest its feature extractor, and the input
normalisation (ImageNet's mean and std, or the timm weights' own) lives in the model, as for
every ipmix model.

Pretrained weights (`pretrained`): ``"default"`` (the library's default weights), a weights
tag (``"IMAGENET1K_V1"``), or a local file (a state dict of the library's model, or an ipmix
checkpoint). Library weights are read from their cache (torch hub's ``checkpoints/`` folder,
the Hugging Face cache for timm): ipmix never downloads; when they are absent the error says
how to fetch them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ipmix.models.base import ImageClassifier

#: torchvision's and timm's ImageNet normalisation (torchvision's classification references).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
PREFIXES = ("torchvision:", "timm:")
#: Short names for torchvision builders.
ALIASES = {"resnet50": "torchvision:resnet50"}


class PretrainedWeightsError(FileNotFoundError):
    """Pretrained weights that are neither a readable local file nor in the library's cache."""


class ExternalModelError(ValueError):
    """A torchvision / timm model name or option the library does not accept."""


def is_external(name: str) -> bool:
    """Whether `name` is built by torchvision or timm (``resnet50`` included)."""
    return name in ALIASES or name.startswith(PREFIXES)


class WrappedClassifier(ImageClassifier):
    """A library network split into `body` (images -> features) and `head` (a linear layer)."""

    def __init__(self, body: nn.Module, head: nn.Linear, mean: Sequence[float],
                 std: Sequence[float]) -> None:
        super().__init__(mean, std)
        self.body = body
        self.head = head
        self.num_features = head.in_features

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _final_linear(net: nn.Module, name: str) -> tuple[nn.Module, str, nn.Linear]:
    """The last ``nn.Linear`` of `net` (its classifier) with its parent and attribute name."""
    found = [(qualified, module) for qualified, module in net.named_modules()
             if isinstance(module, nn.Linear)]
    if not found:
        raise ExternalModelError(f"{name}: no final linear layer to use as the classifier head")
    qualified, linear = found[-1]
    parent_name, _, attribute = qualified.rpartition(".")
    parent = net.get_submodule(parent_name) if parent_name else net
    return parent, attribute, linear


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for foreign bytes
        raise PretrainedWeightsError(f"{path}: not a readable weights file ({error})") from error
    if not isinstance(state, dict):
        raise PretrainedWeightsError(f"{path}: holds {type(state).__name__}, not a state dict")
    return state


def _torchvision_weights_file(builder: str, tag: str) -> Path:
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(builder)
        weights = enum.DEFAULT if tag == "default" else enum[tag]
    except (KeyError, ValueError) as error:
        raise PretrainedWeightsError(f"torchvision has no weights {tag!r} for {builder}") from error
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    if not cached.is_file():
        raise PretrainedWeightsError(
            f"{builder} weights {weights} are not in torch hub's cache ({cached}); ipmix does not "
            f"download: run once, online, python -c \"import torchvision; torchvision.models."
            f"get_model('{builder}', weights='{str(weights).split('.')[-1]}')\" (or copy the file "
            "there), or pass --pretrained FILE"
        )
    return cached


def _as_wrapped(net: nn.Module, name: str, num_classes: int, mean: Sequence[float],
                std: Sequence[float]) -> WrappedClassifier:
    parent, attribute, linear = _final_linear(net, name)
    setattr(parent, attribute, nn.Identity())
    head = linear if linear.out_features == num_classes else nn.Linear(linear.in_features, num_classes)
    return WrappedClassifier(net, head, mean, std)


def torchvision_classifier(builder: str, num_classes: int, pretrained: str | None = None,
                           mean: Sequence[float] = IMAGENET_MEAN,
                           std: Sequence[float] = IMAGENET_STD, **options: Any) -> WrappedClassifier:
    """torchvision's `builder` (e.g. ``resnet50``) as a `WrappedClassifier`."""
    import torchvision

    known = torchvision.models.list_models(module=torchvision.models)
    if builder not in known:
        raise ExternalModelError(
            f"torchvision has no classification model {builder!r}; e.g. {', '.join(known[:8])}, ..."
        )
    def make(classes: int) -> nn.Module:
        try:
            return torchvision.models.get_model(builder, weights=None, num_classes=classes, **options)
        except TypeError as error:
            raise ExternalModelError(f"torchvision:{builder}: {error}") from error

    net = make(num_classes)
    if pretrained is not None:
        path = Path(pretrained).expanduser()
        source = path if path.is_file() else _torchvision_weights_file(builder, pretrained)
        net = _with_weights(make, net, _read_state(source), f"torchvision:{builder}", source)
    return _as_wrapped(net, f"torchvision:{builder}", num_classes, mean, std)


def _with_weights(make: Any, net: nn.Module, state: dict[str, torch.Tensor], name: str,
                  source: Any) -> nn.Module:
    """`state` loaded into `net`, or into ``make(classes)`` when its head has another size."""
    head = next(q for q, m in reversed(list(net.named_modules())) if isinstance(m, nn.Linear))
    weight = state.get(f"{head}.weight")
    classes = int(weight.shape[0]) if isinstance(weight, torch.Tensor) else None
    if classes is not None and classes != net.get_submodule(head).out_features:
        net = make(classes)
    _load(net, state, name, source)
    return net


def _load(net: nn.Module, state: dict[str, torch.Tensor], name: str, source: Any) -> None:
    try:
        net.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise PretrainedWeightsError(f"{source}: weights do not fit {name} ({first})") from error


def _timm_cached_file(net: nn.Module, name: str) -> str:
    cfg = dict(getattr(net, "pretrained_cfg", None) or {})
    hub_id, url = cfg.get("hf_hub_id"), cfg.get("url")
    if hub_id:
        from huggingface_hub import try_to_load_from_cache

        for filename in filter(None, (cfg.get("hf_hub_filename"), "model.safetensors",
                                      "pytorch_model.bin")):
            found = try_to_load_from_cache(hub_id, filename)
            if isinstance(found, str):
                return found
    if url:
        cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
        if cached.is_file():
            return str(cached)
    where = f"Hugging Face cache ({hub_id})" if hub_id else f"torch hub cache ({url})"
    raise PretrainedWeightsError(
        f"timm:{name} weights are not in the {where}; ipmix does not download: run once, online, "
        f"python -c \"import timm; timm.create_model('{name}', pretrained=True)\", or pass "
        "--pretrained FILE"
    )


def timm_classifier(name: str, num_classes: int, pretrained: str | None = None,
                    mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                    **options: Any) -> WrappedClassifier:
    """timm's model `name` as a `WrappedClassifier` (normalised with its weights' mean/std)."""
    try:
        import timm
    except ImportError as error:
        raise ExternalModelError(f"timm:{name} needs timm: pip install 'ipmix[timm]'") from error
    if not timm.is_model(name):
        raise ExternalModelError(f"timm has no model {name!r} (timm.list_models() lists them)")
    def make(classes: int) -> nn.Module:
        try:
            return timm.create_model(name, pretrained=False, num_classes=classes, **options)
        except TypeError as error:
            raise ExternalModelError(f"timm:{name}: {error}") from error

    net = make(num_classes)
    if pretrained is not None:
        path = Path(pretrained).expanduser()
        if path.is_file():  # the user's file: loaded as it is
            net = _with_weights(make, net, _read_state(path), f"timm:{name}", path)
        elif pretrained == "default":  # the library's weights: timm adapts their head
            net = timm.create_model(name, pretrained=True, num_classes=num_classes,
                                    pretrained_cfg_overlay={"file": _timm_cached_file(net, name)},
                                    **options)
        else:
            raise PretrainedWeightsError(
                f"--pretrained {pretrained}: no such file (timm models take 'default' or a file)"
            )
    cfg = dict(getattr(net, "pretrained_cfg", None) or {})
    mean = tuple(mean if mean is not None else cfg.get("mean", IMAGENET_MEAN))
    std = tuple(std if std is not None else cfg.get("std", IMAGENET_STD))
    head = net.get_classifier()
    net.reset_classifier(0)
    if not isinstance(head, nn.Linear) or head.out_features != num_classes:
        head = nn.Linear(net.num_features, num_classes)
    return WrappedClassifier(net, head, mean, std)


def ipmix_checkpoint(pretrained: str | None) -> dict[str, Any] | None:
    """The content of `pretrained` when it is an ipmix checkpoint file (fine-tuning a run)."""
    if pretrained is None or not Path(pretrained).expanduser().is_file():
        return None
    path = Path(pretrained).expanduser()
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for foreign bytes
        raise PretrainedWeightsError(f"{path}: not a readable weights file ({error})") from error
    return content if isinstance(content, dict) and "model_state" in content else None


def check_pretrained(name: str, pretrained: str | None) -> None:
    """Fail early (before any data is read) when `pretrained` weights cannot be found.

    Local files and torchvision's cache are checked here; timm's cache when the model is built.
    The built-in models start only from an ipmix checkpoint.
    """
    if not is_external(name):
        if pretrained is not None and ipmix_checkpoint(pretrained) is None:
            raise PretrainedWeightsError(
                f"--pretrained {pretrained}: the built-in model {name!r} starts only from an ipmix "
                "checkpoint file (RUN/final.pt); library weights exist for torchvision/timm models"
            )
        return
    if pretrained is None or Path(pretrained).expanduser().is_file():
        return
    library, _, builder = ALIASES.get(name, name).partition(":")
    if library == "torchvision":
        _torchvision_weights_file(builder, pretrained)
    elif library != "timm" or pretrained != "default":
        raise PretrainedWeightsError(f"--pretrained {pretrained}: no such file")


def build_external(name: str, num_classes: int, pretrained: str | None = None,
                   **options: Any) -> WrappedClassifier:
    """The model `name` (``resnet50``, ``torchvision:NAME`` or ``timm:NAME``)."""
    full = ALIASES.get(name, name)
    library, _, builder = full.partition(":")
    if not builder:
        raise ExternalModelError(f"model name {name!r} lacks the model after {library}:")
    if library == "torchvision":
        return torchvision_classifier(builder, num_classes, pretrained, **options)
    return timm_classifier(builder, num_classes, pretrained, **options)
