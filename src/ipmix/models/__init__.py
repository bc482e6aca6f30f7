"""Classifiers by name (the paper's CIFAR models, torchvision's and timm's), and loading them
back from ipmix checkpoints.

Every model takes [0, 1] images ``[B, 3, H, W]`` and normalises inside (mean = std = 0.5 for
the CIFAR models, ImageNet's for torchvision/timm ones), returns logits, and exposes
`forward_features` (penultimate-layer embedding).

- `build_model(name, num_classes, **kwargs)` builds one of `MODEL_NAMES` or any
  ``torchvision:NAME`` / ``timm:NAME`` (`ipmix.models.external`; ``resnet50`` is torchvision's).
- `make_checkpoint(...)` returns the keys every ipmix checkpoint has (format
  ``ipmix-checkpoint/1``); trainers add their own keys (epoch, optimiser state, ...).
- `load_classifier(path_or_run_dir)` rebuilds the model in eval mode from such a file.
"""

from __future__ import annotations

import inspect
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ipmix.models.base import DEFAULT_MEAN, DEFAULT_STD, ImageClassifier, Normalize
from ipmix.models.dubin import DUBIN_LAYOUTS, NORMS, to_dubin
from ipmix.models.external import (
    ALIASES,
    ExternalModelError,
    PretrainedWeightsError,
    WrappedClassifier,
    _load,
    build_external,
    ipmix_checkpoint,
    is_external,
)
from ipmix.models.resnet import CifarResNet
from ipmix.models.resnext import CifarResNeXt
from ipmix.models.small import SmallResNet
from ipmix.models.vit import VisionTransformer
from ipmix.models.wrn import WideResNet

#: The value of a checkpoint's ``format`` key.
CHECKPOINT_FORMAT = "ipmix-checkpoint/1"

#: Files a run directory may hold, in the order `load_classifier` looks for them.
RUN_DIR_CHECKPOINTS = ("final.pt", "checkpoint.pt")

#: name -> (class, the options the name fixes). Other options keep the class defaults, which
#: are the paper's settings (e.g. dropout 0.3 for the WRNs, as the authors' script).
_REGISTRY: dict[str, tuple[type[ImageClassifier], dict[str, Any]]] = {
    "wrn40_4": (WideResNet, {"depth": 40, "widen_factor": 4}),
    "wrn28_10": (WideResNet, {"depth": 28, "widen_factor": 10}),
    # The reference code's resnext29(): cardinality 4, base width 32 (see resnext.py).
    "resnext29_32x4d": (CifarResNeXt, {"depth": 29}),
    "resnet18": (CifarResNet, {"blocks": (2, 2, 2, 2)}),
    "vit_small": (VisionTransformer, {}),
    "small": (SmallResNet, {}),
}

#: The paper's CIFAR models by name; `build_model` also accepts ``resnet50`` and any
#: ``torchvision:NAME`` / ``timm:NAME``.
MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


class UnknownModelError(ValueError):
    """A model name (or option) that the registry does not know."""


class CheckpointNotFoundError(FileNotFoundError):
    """No checkpoint file where one was expected."""


class CheckpointFormatError(ValueError):
    """A file that is not a readable, consistent ipmix checkpoint."""


def is_known_model(name: str) -> bool:
    """Whether `build_model` accepts the name (torchvision/timm names are checked when built)."""
    return name in _REGISTRY or is_external(name)


def check_model_name(name: str, where: str = "") -> None:
    """`UnknownModelError` listing the names `build_model` takes, unless it takes `name`."""
    if not is_known_model(name):
        raise UnknownModelError(
            f"{where}unknown model {name!r}; choose one of {', '.join((*MODEL_NAMES, *ALIASES))}, "
            "torchvision:NAME or timm:NAME"
        )


def model_options(name: str) -> tuple[str, ...]:
    """Keyword options `build_model(name, ...)` accepts besides `num_classes` (for
    torchvision/timm models: ``mean``, ``std``, ``norm``; their builders check the rest).
    ``norm`` (``bn`` or ``dubin``, `ipmix.models.dubin`) is there for models with a DuBIN layout."""
    if is_external(name):
        return ("mean", "std", "norm")
    cls, fixed = _REGISTRY[name]
    params = inspect.signature(cls.__init__).parameters
    own = tuple(p for p in params if p not in {"self", "num_classes"} and p not in fixed)
    return own + (("norm",) if cls.__name__ in DUBIN_LAYOUTS else ())


def build_model(
    name: str, num_classes: int, seed: int | None = None, pretrained: str | None = None,
    **kwargs: Any,
) -> ImageClassifier:
    """The model `name` (one of `MODEL_NAMES`, ``torchvision:NAME``, ``timm:NAME``).

    `kwargs` are the architecture's options (e.g. ``dropout`` for the WRNs, ``width`` for
    `small`, ``mean``/``std`` of the input normalisation; a torchvision/timm builder's own
    keywords); an unknown one is an error. With a `seed`, the initial weights depend on it
    alone: they are drawn from a forked torch RNG seeded with it, leaving the caller's global
    RNG state untouched. `pretrained` (torchvision/timm models): ``"default"``, a weights tag
    or a local file, see `ipmix.models.external`; for every model, an ipmix checkpoint of the
    same model (fine-tuning a finished run: its weights, with a new head when the class count
    differs). ``norm="dubin"`` converts the model to AugMax's DuBIN layout
    (`ipmix.models.dubin.to_dubin`, after loading a library's pretrained weights).
    """
    checkpoint = ipmix_checkpoint(pretrained)
    if checkpoint is not None:
        return _fine_tuned(name, num_classes, checkpoint, str(pretrained), seed, kwargs)
    norm = kwargs.pop("norm", "bn")
    if norm not in NORMS:
        raise UnknownModelError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    model = _build(name, num_classes, seed, pretrained, **kwargs)
    if norm == "dubin":
        try:
            to_dubin(model)
        except ValueError as error:
            raise UnknownModelError(f"model {name!r}: {error}") from error
    return model


def _build(name: str, num_classes: int, seed: int | None, pretrained: str | None,
           **kwargs: Any) -> ImageClassifier:
    if is_external(name):
        try:
            if seed is None:
                return build_external(name, num_classes, pretrained, **kwargs)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                return build_external(name, num_classes, pretrained, **kwargs)
        except ExternalModelError as error:
            raise UnknownModelError(str(error)) from error
    if pretrained is not None:
        raise UnknownModelError(
            f"pretrained weights exist for torchvision/timm models, not for {name!r} (which starts "
            "only from an ipmix checkpoint, RUN/final.pt)"
        )
    check_model_name(name)
    unknown = set(kwargs) - set(model_options(name))
    if unknown:
        raise UnknownModelError(
            f"model {name!r} has no option(s) {', '.join(sorted(unknown))}; it accepts "
            f"{', '.join(model_options(name))}"
        )
    cls, fixed = _REGISTRY[name]
    if seed is None:
        return cls(num_classes, **fixed, **kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(num_classes, **fixed, **kwargs)


def _fine_tuned(name: str, num_classes: int, checkpoint: Mapping[str, Any], source: str,
                seed: int | None, kwargs: Mapping[str, Any]) -> ImageClassifier:
    """Model `name` with the weights of an ipmix checkpoint; a new head for another class count."""
    saved = str(checkpoint.get("model_name"))
    if ALIASES.get(saved, saved) != ALIASES.get(name, name):
        raise UnknownModelError(f"{source} is a checkpoint of model {saved!r}, not of {name!r}")
    classes = int(checkpoint.get("num_classes", num_classes))
    model = build_model(name, classes, seed=seed, **kwargs)
    _load(model, _strip_wrappers(checkpoint["model_state"]), name, source)
    if classes != num_classes:
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            model.head = nn.Linear(model.num_features, num_classes)
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def make_checkpoint(
    model: nn.Module,
    model_name: str,
    num_classes: int,
    dataset: str,
    model_kwargs: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The keys every ipmix checkpoint holds; save it with `torch.save` (atomically).

    Trainers add their training-only keys (``epoch``, ``optimizer_state``, ...) to the dict.
    `model` may be wrapped (DDP, `torch.compile`): its state is stored unwrapped.
    """
    check_model_name(model_name)
    unknown = set(model_kwargs or {}) - set(model_options(model_name))
    if unknown and not is_external(model_name):
        raise UnknownModelError(
            f"model {model_name!r} has no option(s) {', '.join(sorted(unknown))}; the "
            "checkpoint could not be loaded back"
        )
    return {
        "format": CHECKPOINT_FORMAT,
        "model_name": model_name,
        "model_kwargs": dict(model_kwargs or {}),
        "num_classes": int(num_classes),
        "dataset": dataset,
        "model_state": _strip_wrappers(model.state_dict()),
        "config": dict(config or {}),
    }


def _strip_wrappers(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the key prefixes DDP (``module.``) and `torch.compile` (``_orig_mod.``) add."""
    state = dict(state)
    changed = True
    while changed and state:
        changed = False
        for prefix in ("module.", "_orig_mod."):
            if all(key.startswith(prefix) for key in state):
                state = {key[len(prefix):]: value for key, value in state.items()}
                changed = True
    return state


def resolve_checkpoint(path_or_run_dir: str | Path) -> Path:
    """The checkpoint file: the path itself, or a run dir's final.pt, else its checkpoint.pt."""
    path = Path(path_or_run_dir).expanduser()
    if path.is_dir():
        for name in RUN_DIR_CHECKPOINTS:
            if (path / name).is_file():
                return path / name
        raise CheckpointNotFoundError(
            f"run directory {path} holds neither {' nor '.join(RUN_DIR_CHECKPOINTS)}"
        )
    if not path.is_file():
        raise CheckpointNotFoundError(f"checkpoint not found: {path}")
    return path


def load_classifier(
    path_or_run_dir: str | Path,
    map_location: str | torch.device = "cpu",
    trusted: bool = False,
) -> tuple[ImageClassifier, dict[str, Any]]:
    """Rebuild a classifier from an ipmix checkpoint (or a run dir), in eval mode.

    Returns ``(model, info)``; `info` holds ``dataset``, ``num_classes``, ``model_name``,
    ``model_kwargs``, ``config``, ``path`` and, when present, ``epoch``, ``classes`` (the
    class names in logit order) and ``image_size`` (the input size it was trained at; ipmix's
    trainer records both). The file is read with
    ``torch.load(weights_only=True)``, which refuses arbitrary pickled objects; pass
    ``trusted=True`` only for files you trust that hold other objects. The file is read on the
    CPU and the model then moved to `map_location`, so a device that is not there is reported
    as such (a ValueError naming the device), not as an unreadable checkpoint.
    """
    path = resolve_checkpoint(path_or_run_dir)
    try:  # read on the CPU: whether a file is a checkpoint never depends on the device
        checkpoint = torch.load(path, map_location="cpu", weights_only=not trusted)
    except pickle.UnpicklingError as error:
        raise CheckpointFormatError(
            f"{path}: holds objects beyond tensors and plain containers, refused by "
            f"weights_only loading (pass trusted=True only if you trust the file): {error}"
        ) from error
    except Exception as error:  # torch raises many types for foreign bytes; report them as one
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointFormatError(f"{path}: not a readable torch checkpoint ({first})") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else type(checkpoint)
        raise CheckpointFormatError(
            f"{path}: not an ipmix checkpoint (expected format {CHECKPOINT_FORMAT!r}, "
            f"found {found!r})"
        )
    missing = [key for key in ("model_name", "num_classes", "model_state") if key not in checkpoint]
    if missing:
        raise CheckpointFormatError(f"{path}: checkpoint lacks the key(s) {', '.join(missing)}")
    name = checkpoint["model_name"]
    check_model_name(name, f"{path}: checkpoint names an ")
    model_kwargs = dict(checkpoint.get("model_kwargs") or {})
    model = build_model(name, int(checkpoint["num_classes"]), **model_kwargs)
    try:
        model.load_state_dict(_strip_wrappers(checkpoint["model_state"]))
    except RuntimeError as error:
        raise CheckpointFormatError(
            f"{path}: weights do not fit model {name!r} with options {model_kwargs}: {error}"
        ) from error
    try:
        model.to(map_location).eval()
    except (RuntimeError, AssertionError) as error:  # e.g. cuda on a machine without CUDA
        raise ValueError(f"cannot put the model of {path} on device {str(map_location)!r}: {error}") from None
    info: dict[str, Any] = {
        "path": str(path),
        "model_name": name,
        "model_kwargs": model_kwargs,
        "num_classes": int(checkpoint["num_classes"]),
        "dataset": checkpoint.get("dataset"),
        "config": dict(checkpoint.get("config") or {}),
    }
    if "epoch" in checkpoint:
        info["epoch"] = checkpoint["epoch"]
    if "classes" in checkpoint:  # the class names, in the order of the logits
        info["classes"] = [str(name) for name in checkpoint["classes"]]
    size = checkpoint.get("image_size") or info["config"].get("image_size")
    if size:  # the input size it was trained at
        info["image_size"] = int(size)
    return model, info


__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointFormatError",
    "CheckpointNotFoundError",
    "CifarResNeXt",
    "CifarResNet",
    "DEFAULT_MEAN",
    "DEFAULT_STD",
    "ImageClassifier",
    "MODEL_NAMES",
    "Normalize",
    "PretrainedWeightsError",
    "WrappedClassifier",
    "SmallResNet",
    "UnknownModelError",
    "VisionTransformer",
    "WideResNet",
    "build_model",
    "check_model_name",
    "count_parameters",
    "is_known_model",
    "load_classifier",
    "make_checkpoint",
    "model_options",
    "resolve_checkpoint",
]
