"""The options of a training run, their defaults (recipes) and the rules for resuming.

`TrainConfig` holds every option; `resolved(device_type)` fills what was left to defaults:

- the **recipe** (`RECIPES`): ``cifar`` (the authors' CIFAR script: WRN-40-4, SGD Nesterov
  lr 0.1, weight decay 5e-4, batch 128, epochs per model) for CIFAR, ``imagenet`` (paper
  Appendix A.2 and the authors' ``imagenet.py``: fine-tune torchvision's pretrained ResNet-50,
  weights IMAGENET1K_V1 as their ``pretrained=True``, 180 epochs, SGD Nesterov lr 0.01 with a
  per-step cosine, batch 256, weight decay 5e-4, 224 px) for image folders;
- the augmentation **preset** (`ipmix.training.registry.preset_name`: ImageNet's above 32 px);
- the image size (32 for CIFAR, 224 for folders), the training crop (CIFAR: zero-padded random
  crop; folders: RandomResizedCrop), ``--batched`` (on for IPMix on CUDA with folders), the
  autocast dtype (bfloat16 where the GPU supports it for folders, float16 for CIFAR as before)
  and the DataLoader workers (at most the CPUs this process may use).

Resuming: the saved configuration is the run's (`resume_config` reads it); options that do not
change the result (`RESUME_FREE_KEYS`) may differ, any other difference is refused with the
options named. Changing ``epochs`` is refused: the cosine schedule spans the whole run, so
more epochs would change every learning rate already used (start a new run from ``final.pt``
with ``--pretrained`` instead).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ipmix.data.splits import DATASETS, is_folder_dataset
from ipmix.data.transforms import TRAIN_CROPS
from ipmix.models import UnknownModelError, check_model_name, is_external
from ipmix.training.registry import (
    BATCHED,
    PRESETS,
    check_augmentation_options,
    jsd_weight,
    parse_augmentation,
    preset_name,
    resolve_jsd,
    uses_mixing_set,
)

#: Appendix A: 100 epochs for the Wide ResNets, 200 for ResNet-18 and ResNeXt-29; Appendix K:
#: 300 for the small ViT. `small` (not in the paper) gets the WRN budget.
DEFAULT_EPOCHS = {
    "wrn40_4": 100,
    "wrn28_10": 100,
    "resnext29_32x4d": 200,
    "resnet18": 200,
    "vit_small": 300,
    "small": 100,
}

#: Recipe -> defaults of the options left unset.
RECIPES: dict[str, dict[str, Any]] = {
    "cifar": {"model": "wrn40_4", "lr": 0.1, "batch_size": 128, "weight_decay": 5e-4,
              "pretrained": "none"},
    "imagenet": {"model": "resnet50", "lr": 0.01, "batch_size": 256, "weight_decay": 5e-4,
                 "epochs": 180, "pretrained": "default", "image_size": 224},
}
#: The weights the authors' ``models.resnet50(pretrained=True)`` loads.
PAPER_RESNET50_WEIGHTS = "IMAGENET1K_V1"
FOLDER_IMAGE_SIZE = 224
CIFAR_IMAGE_SIZE = 32
AMP_DTYPES = ("float16", "bfloat16")
DECODERS = ("pil", "cuda")

#: Options that may differ between a run and its resumption (they do not change the result).
RESUME_FREE_KEYS = frozenset({"out", "resume", "workers", "progress", "tensorboard", "device",
                              "eval_every"})  # evaluation draws nothing from training's streams
#: Options holding paths: compared as absolute paths.
PATH_KEYS = ("data", "train_dir", "val_dir", "mixing_set")


class ConfigError(ValueError):
    """An invalid training option or combination of options."""


@dataclass
class TrainConfig:
    """Every option of a training run (saved as ``config.json`` and inside checkpoints).

    None means "the default" (module docstring); `resolved` replaces it by the value used.
    """

    out: str
    dataset: str = "cifar10"
    model: str | None = None  # None: the recipe's (wrn40_4 / resnet50)
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    aug: str = "ipmix"  # a registry name or a config string (ipmix-k3-t3-a1)
    aug_options: dict[str, Any] = field(default_factory=dict)  # further IPMix options (ablations)
    batched: bool | None = None  # IPMix per batch on the device (ipmix.IPMixBatch)
    jsd: bool | None = None  # None: the method's default (on for augmix/ipmix, off for pixmix)
    jsd_weight: float | None = None  # None: the method's (12, AugMax's 10 on CIFAR)
    epochs: int | None = None  # None: the recipe's / DEFAULT_EPOCHS[model]
    batch_size: int | None = None  # per process
    lr: float | None = None
    min_lr: float = 1e-6
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float | None = None
    data: str | None = None  # None: $IPMIX_DATA (CIFAR)
    train_dir: str | None = None
    val_dir: str | None = None
    strict_data: bool = False
    image_size: int | None = None
    train_crop: str | None = None  # "pad" or "random-resized"
    recipe: str | None = None  # "cifar" or "imagenet"
    preset: str | None = None  # augmentation settings, a key of registry.PRESETS
    pretrained: str | None = None  # "none", "default", a weights tag or a file
    subset: int | None = None
    test_subset: int | None = None
    mixing_set: str | None = None  # None: the built-in generated set
    seed: int = 0
    device: str = "auto"
    workers: int | None = None
    amp: bool | None = None  # None: on for CUDA, off elsewhere
    amp_dtype: str | None = None
    channels_last: bool | None = None  # None: on for CUDA, off elsewhere
    sync_bn: bool = False
    decode: str = "pil"  # "cuda": JPEG decoding on the GPU (torchvision.io.decode_jpeg)
    eval_every: int = 1  # test-set evaluation every N epochs (and always after the last)
    resume: bool = False
    tensorboard: bool = False
    progress: bool = True

    def resolved(self, device_type: str = "cpu") -> TrainConfig:
        """A copy with defaults filled in for `device_type` and every option checked."""
        return _resolve(self, device_type)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_workers(folder: bool) -> int:
    """DataLoader workers per process: the CPUs available to each local rank, at most 4 (CIFAR)
    or 8 (image folders)."""
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, min(8 if folder else 4, available_cpus() // max(local, 1)))


def _absolute(path: str | None) -> str | None:
    return None if path is None else str(Path(path).expanduser().absolute())


def _fill_defaults(config: TrainConfig, device_type: str) -> None:
    folder = is_folder_dataset(config.dataset)
    if config.recipe is None:
        config.recipe = "imagenet" if folder else "cifar"
    if config.recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {config.recipe!r}; choose {', '.join(RECIPES)}")
    recipe = RECIPES[config.recipe]
    for key in ("model", "lr", "batch_size", "weight_decay"):
        if getattr(config, key) is None:
            setattr(config, key, recipe[key])
    if config.image_size is None:
        config.image_size = FOLDER_IMAGE_SIZE if folder else CIFAR_IMAGE_SIZE
    if config.pretrained is None:
        default = recipe["pretrained"] if is_external(config.model) else "none"
        resnet50 = config.model in ("resnet50", "torchvision:resnet50")
        config.pretrained = PAPER_RESNET50_WEIGHTS if default == "default" and resnet50 else default
    if config.epochs is None:
        config.epochs = recipe.get("epochs", DEFAULT_EPOCHS.get(config.model, 100))
    if config.train_crop is None:
        config.train_crop = "random-resized" if folder else "pad"
    if config.preset is None:
        config.preset = preset_name(config.dataset, config.image_size)
    if config.jsd_weight is None:
        config.jsd_weight = jsd_weight(config.aug, config.preset)
    if config.batched is None:  # IPMix on folders and PRIME (batched in its authors' code) on CUDA
        base = parse_augmentation(config.aug).name
        config.batched = device_type == "cuda" and base in BATCHED and (folder or base == "prime")
    if config.amp_dtype is None:
        bf16 = device_type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        config.amp_dtype = "bfloat16" if folder and bf16 else "float16"
    if config.workers is None:
        config.workers = default_workers(folder)
    for key in PATH_KEYS:
        setattr(config, key, _absolute(getattr(config, key)))
    if Path(config.pretrained).expanduser().is_file():  # a weights file, not a tag
        config.pretrained = _absolute(config.pretrained)


def _resolve(raw: TrainConfig, device_type: str) -> TrainConfig:
    config = dataclasses.replace(raw, model_kwargs=dict(raw.model_kwargs),
                                 aug_options=dict(raw.aug_options))
    if config.dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {config.dataset!r}; choose one of {', '.join(DATASETS)}")
    resolve_jsd(config.aug, config.jsd)  # unknown names and an unsupported --jsd fail first
    try:
        check_augmentation_options(config.aug, config.aug_options)
    except ValueError as error:
        raise ConfigError(str(error)) from error
    if config.mixing_set is not None and not uses_mixing_set(config.aug):
        raise ConfigError(f"--mixing-set feeds the ipmix variants and pixmix; {config.aug!r} mixes no "
                          "pictures, so the set would be ignored")
    _fill_defaults(config, device_type)
    assert config.model is not None and config.epochs is not None and config.lr is not None
    try:
        check_model_name(config.model)
    except UnknownModelError as error:
        raise ConfigError(str(error)) from None
    positive = {"epochs": config.epochs, "batch_size": config.batch_size,
                "eval_every": config.eval_every, "image_size": config.image_size}
    for name, value in positive.items():
        if value is None or value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    if not is_folder_dataset(config.dataset) and config.image_size != CIFAR_IMAGE_SIZE:
        raise ConfigError(f"{config.dataset} images are 32 px: --image-size {config.image_size} "
                          "needs an image-folder dataset")
    for name in ("subset", "test_subset"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be a positive number of images, got {value}")
    if config.lr <= 0 or config.min_lr < 0 or config.min_lr > config.lr:
        raise ConfigError(f"need 0 <= min_lr <= lr and lr > 0, got lr={config.lr}, "
                          f"min_lr={config.min_lr}")
    if config.weight_decay < 0 or config.jsd_weight < 0 or config.workers < 0:
        raise ConfigError("weight_decay, jsd_weight and workers must be >= 0")
    if config.seed < 0:
        raise ConfigError(f"seed must be >= 0, got {config.seed}")
    choices = {"train_crop": TRAIN_CROPS, "preset": tuple(PRESETS), "amp_dtype": AMP_DTYPES,
               "decode": DECODERS}
    for name, allowed in choices.items():
        if getattr(config, name) not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {getattr(config, name)!r}")
    if config.batched and parse_augmentation(config.aug).name not in BATCHED:
        raise ConfigError(f"--batched applies to {', '.join(BATCHED)}, not {config.aug!r}")
    if config.decode == "cuda":
        base = parse_augmentation(config.aug).name
        if device_type != "cuda" or not is_folder_dataset(config.dataset):
            raise ConfigError("--decode cuda needs a CUDA device and an image-folder dataset")
        if config.train_crop != "random-resized":
            raise ConfigError("--decode cuda supports --train-crop random-resized only")
        if not (config.batched or base in ("none", "mixup", "cutmix")):
            raise ConfigError(f"--decode cuda leaves no decoded image to the loader workers: "
                              f"use --batched with ipmix, or a batch-level method, not {config.aug!r}")
    return config


def config_dict(config: TrainConfig) -> dict[str, Any]:
    """The configuration as saved in ``config.json``."""
    return dataclasses.asdict(config)


def resume_config(out: str | Path, **overrides: Any) -> TrainConfig:
    """The configuration saved in run folder `out`, with `overrides`, ready to resume.

    `out` may be the folder under another name (absolute, with a trailing slash, moved or
    copied): the saved ``out`` is replaced by it.
    """
    path = Path(out).expanduser() / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"nothing to resume: {path} does not exist (start the run without --resume)")
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: not a readable run configuration ({error})") from error
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    if not isinstance(saved, dict) or not set(saved) <= known:
        extra = sorted(set(saved) - known) if isinstance(saved, dict) else []
        raise ConfigError(f"{path}: not an ipmix run configuration (unknown keys {extra})")
    return TrainConfig(**{**saved, **overrides, "out": str(out), "resume": True})


def resume_differences(saved: dict[str, Any], mine: dict[str, Any], device_type: str = "cpu") -> list[str]:
    """``key: saved -> mine`` for every option that may not change on resume.

    The saved options are resolved again first, so a run saved by an older ipmix (without the
    options added since) compares by the defaults it ran with.
    """
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(saved) - known)
    if unknown:
        raise ConfigError(f"the saved configuration has options this ipmix does not know: {unknown}")
    try:
        before_all = config_dict(TrainConfig(**saved).resolved(device_type))
    except TypeError as error:
        raise ConfigError(f"the saved configuration is not an ipmix run configuration ({error})") from error
    changed = []
    for key in sorted(known - RESUME_FREE_KEYS):
        before, after = before_all.get(key), mine.get(key)
        if before != after:
            changed.append(f"{key}: {before!r} -> {after!r}")
    return changed


def saved_config(run_dir: Path) -> dict[str, Any] | None:
    """The options in ``run_dir/config.json``, or None when it is absent or unreadable."""
    path = Path(run_dir) / "config.json"
    try:
        saved = json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


def check_resume(run_dir: Path, saved: dict[str, Any] | None, config: TrainConfig,
                 device_type: str) -> None:
    """Refuse to resume `run_dir` with options that would change the run (epochs first)."""
    if saved is None:
        return
    mine = config_dict(config)
    if "epochs" in saved and saved["epochs"] != mine["epochs"]:
        raise ConfigError(
            f"cannot resume {run_dir} with --epochs {mine['epochs']}: it was started for "
            f"{saved['epochs']} epochs and its cosine schedule spans all of them, so a new length "
            f"would change every learning rate already used; resume with --epochs "
            f"{saved['epochs']}, or start a new run from its final.pt (--pretrained RUN/final.pt)"
        )
    changed = resume_differences(saved, mine, device_type)
    if changed:
        raise ConfigError(f"cannot resume {run_dir} with different options ({', '.join(changed)})")


def describe_run(config: TrainConfig, data: str, augmentation: Any, device: torch.device,
                 world_size: int, autocast_on: bool) -> str:
    """The resolved set-up of a run, printed at its start."""
    c = config
    where = (c.data or "$IPMIX_DATA") if not (c.train_dir or c.val_dir) else f"{c.train_dir}, {c.val_dir}"
    lines = [
        f"data: {c.dataset} ({where}): {data}, {c.image_size} px, crop {c.train_crop}",
        f"model: {c.model} (pretrained {c.pretrained}), recipe {c.recipe}: SGD lr {c.lr:g}"
        f"{' Nesterov' if c.nesterov else ''}, cosine to {c.min_lr:g}, weight decay "
        f"{c.weight_decay:g}, batch {c.batch_size} x {world_size} process(es), {c.epochs} epochs",
        f"augmentation (preset {c.preset}): {augmentation.description}, JSD "
        f"{'on' if augmentation.jsd else 'off'}{', per batch on ' + device.type if c.batched else ''}",
        f"device: {device}, autocast {c.amp_dtype if autocast_on else 'off'}, "
        f"{c.workers} loader workers",
    ]
    return "\n".join(f"ipmix train: {line}" for line in lines)
