"""The CIFAR trainer: `train(TrainConfig) -> run directory`.

Follows the authors' CIFAR script (and AugMix/PixMix before it): SGD with Nesterov momentum
0.9, lr 0.1, weight decay 5e-4, batch 128, a per-step cosine schedule from the base lr down to
1e-6, cross-entropy (soft-label for MixUp/CutMix) or the JSD loss. Mixed precision on CUDA,
float32 on CPU; channels-last memory format on CUDA.

A run directory holds ``config.json``, ``checkpoint.pt`` (rewritten atomically after every
epoch; epoch 0 = before training), ``log.jsonl`` (one JSON object per finished epoch) and, at
the end, ``final.pt``. ``resume=True`` continues from ``checkpoint.pt`` exactly: data order,
augmentation streams and label mixing are pure functions of (seed, epoch, rank, index/step),
and the model, optimiser, scheduler, scaler and torch's generators are restored, so a resumed
float32 run ends with the same weights as an uninterrupted one. SIGINT/SIGTERM stop the run at
the next step; ``checkpoint.pt`` then holds the last finished epoch.
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from ipmix.data.cifar import CIFAR_LAYOUTS, load_cifar
from ipmix.data.datasets import AugmentedCifar, EpochSampler, eval_tensors
from ipmix.data.seeding import derive_seed, reseed
from ipmix.models import MODEL_NAMES, build_model, make_checkpoint
from ipmix.training import distributed
from ipmix.training.checkpoint import (
    CHECKPOINT_NAME,
    FINAL_NAME,
    load_training_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from ipmix.training.losses import JSD_WEIGHT, cross_entropy, jsd_loss
from ipmix.training.registry import (
    AUGMENTATION_NAMES,
    Augmentation,
    build_augmentation,
    check_augmentation_options,
    resolve_jsd,
)
from ipmix.utils.io import atomic_write_bytes, atomic_write_json

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

#: Options that may differ between a run and its resumption (they do not change the result).
RESUME_FREE_KEYS = frozenset({"resume", "workers", "progress", "tensorboard", "device"})


class ConfigError(ValueError):
    """An invalid training option or combination of options."""


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite (float32 training): the options make training unstable."""


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM stopped the run; ``checkpoint.pt`` holds the last finished epoch."""

    def __init__(self, run_dir: Path, epoch: int, signal_name: str) -> None:
        super().__init__(
            f"{signal_name} received: stopped; {run_dir / CHECKPOINT_NAME} holds epoch {epoch} "
            f"(continue with --resume)"
        )
        self.run_dir, self.epoch, self.signal_name = run_dir, epoch, signal_name


@dataclass
class TrainConfig:
    """Every option of a training run (saved as ``config.json`` and inside checkpoints)."""

    out: str
    dataset: str = "cifar10"
    model: str = "wrn40_4"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    aug: str = "ipmix"
    aug_options: dict[str, Any] = field(default_factory=dict)  # IPMix keyword options (ablations)
    batched: bool = False  # IPMix per batch on the device (ipmix.IPMixBatch), not per image
    jsd: bool | None = None  # None: the method's default (on for augmix/ipmix, off for pixmix)
    jsd_weight: float = JSD_WEIGHT
    epochs: int | None = None  # None: DEFAULT_EPOCHS[model]
    batch_size: int = 128
    lr: float = 0.1
    min_lr: float = 1e-6
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    data: str | None = None  # None: $IPMIX_DATA
    subset: int | None = None
    test_subset: int | None = None
    mixing_set: str | None = None  # None: the built-in generated set
    seed: int = 0
    device: str = "auto"
    workers: int = 4
    amp: bool | None = None  # None: on for CUDA, off elsewhere
    channels_last: bool | None = None  # None: on for CUDA, off elsewhere
    eval_every: int = 1  # test-set evaluation every N epochs (and always after the last)
    resume: bool = False
    tensorboard: bool = False
    progress: bool = True

    def resolved(self) -> TrainConfig:
        """A copy with defaults filled in and every option checked."""
        config = dataclasses.replace(
            self, model_kwargs=dict(self.model_kwargs), aug_options=dict(self.aug_options)
        )
        if config.dataset not in CIFAR_LAYOUTS:
            raise ConfigError(f"unknown dataset {config.dataset!r}; choose cifar10 or cifar100")
        if config.model not in MODEL_NAMES:
            raise ConfigError(f"unknown model {config.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        if config.aug not in AUGMENTATION_NAMES:
            raise ConfigError(
                f"unknown augmentation {config.aug!r}; choose one of {', '.join(AUGMENTATION_NAMES)}"
            )
        resolve_jsd(config.aug, config.jsd)  # an unsupported --jsd fails before data loads
        try:
            check_augmentation_options(config.aug, config.aug_options)
        except ValueError as error:
            raise ConfigError(str(error)) from error
        if config.epochs is None:
            config.epochs = DEFAULT_EPOCHS[config.model]
        positive = {"epochs": config.epochs, "batch_size": config.batch_size,
                    "eval_every": config.eval_every}
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
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
        return config


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> this rank's CUDA device if any, else CPU; otherwise the named device."""
    if name == "auto":
        name = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    elif name == "cuda":
        name = f"cuda:{local_rank}"
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"unknown device {name!r}: {error}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    return device


def cosine_factor(step: int, total_steps: int, base_lr: float, min_lr: float) -> float:
    """lr(step) / base_lr for the per-step cosine schedule from `base_lr` to `min_lr`."""
    ratio = min_lr / base_lr
    return ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * step / total_steps))


@contextmanager
def _stop_on_signals() -> Iterator[dict[str, str | None]]:
    """Turn the first SIGINT/SIGTERM into a flag the loop checks (a second one acts as usual)."""
    flag: dict[str, str | None] = {"signal": None}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        flag["signal"] = signal.Signals(signum).name
        for sig, old in previous.items():
            signal.signal(sig, old)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _to_device(images: Any, device: torch.device, channels_last: bool) -> torch.Tensor:
    if isinstance(images, list | tuple):  # JSD: clean + views, stacked along the batch
        images = torch.cat(list(images))
    images = images.to(device, non_blocking=True)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images


@torch.no_grad()
def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device,
    info: distributed.DistInfo,
    batch_size: int = 500,
    amp: bool = False,
    channels_last: bool = False,
) -> dict[str, float]:
    """Clean test loss and accuracy (uint8 images; each rank takes every world_size-th image)."""
    was_training = model.training
    model.eval()
    shard = slice(info.rank, None, info.world_size)
    images, labels = images[shard], labels[shard]
    totals = torch.zeros(3, dtype=torch.float64, device=device)
    autocast = torch.autocast(device.type, dtype=torch.float16) if amp else nullcontext()
    for start in range(0, len(labels), batch_size):
        x = _to_device(images[start : start + batch_size], device, channels_last).float().div_(255)
        y = labels[start : start + batch_size].to(device)
        with autocast:
            logits = model(x)
        totals[0] += nn.functional.cross_entropy(logits.float(), y, reduction="sum")
        totals[1] += (logits.argmax(1) == y).sum()
        totals[2] += len(y)
    totals = distributed.all_reduce_sum(totals, info)
    model.train(was_training)
    count = max(totals[2].item(), 1.0)
    return {"test_loss": totals[0].item() / count, "test_acc": totals[1].item() / count}


class _Run:
    """The state of one training run (built once, then `fit` runs the remaining epochs)."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config = config.resolved()
        self.run_dir = Path(config.out)
        wants_cuda = config.device.startswith("cuda") or (
            config.device == "auto" and torch.cuda.is_available()
        )
        self.dist = distributed.setup("cuda" if wants_cuda else "cpu")
        self.device = resolve_device(config.device, self.dist.local_rank)
        cuda = self.device.type == "cuda"
        self.amp = cuda if config.amp is None else config.amp
        if self.amp and not cuda:
            raise ConfigError("mixed precision (--amp) needs a CUDA device; CPU runs in float32")
        self.channels_last = cuda if config.channels_last is None else config.channels_last
        self.writer_class: Any = None
        if config.tensorboard:  # checked before anything is written to the run directory
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as error:
                raise ConfigError(
                    "--tensorboard needs the tensorboard package (pip install 'ipmix[tensorboard]')"
                ) from error
            self.writer_class = SummaryWriter
        num_classes = CIFAR_LAYOUTS[config.dataset][2]
        self.num_classes = num_classes

        train_arrays = load_cifar(config.dataset, config.data, "train", config.subset)
        test_arrays = load_cifar(config.dataset, config.data, "test", config.test_subset)
        self.test_images, self.test_labels = eval_tensors(test_arrays)
        self.augmentation: Augmentation = build_augmentation(
            config.aug, config.dataset, config.jsd, config.mixing_set, config.epochs, config.seed,
            batched=config.batched, options=config.aug_options,
        )
        rank_seed = derive_seed(config.seed, "rank", self.dist.rank)
        self.dataset = AugmentedCifar(
            train_arrays, self.augmentation.dataset_transforms(), seed=derive_seed(rank_seed, "data")
        )
        self.sampler = EpochSampler(DistributedSampler(
            self.dataset, num_replicas=self.dist.world_size, rank=self.dist.rank,
            shuffle=True, seed=config.seed, drop_last=False,
        ))
        self.rank_seed = rank_seed
        # Samples carry their epoch (EpochSampler), so workers persist across epochs and keep
        # their caches (e.g. rendered mixing pictures).
        self.loader = DataLoader(
            self.dataset, batch_size=config.batch_size, sampler=self.sampler,
            num_workers=config.workers, pin_memory=self.device.type == "cuda", drop_last=False,
            persistent_workers=config.workers > 0,
            generator=torch.Generator().manual_seed(derive_seed(rank_seed, "loader")),
        )
        self.steps_per_epoch = math.ceil(len(self.sampler) / config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs

        # Model init from a private stream (the same on every rank).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(config.seed, "init"))
            model = build_model(config.model, num_classes, **config.model_kwargs)
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model
        self.ddp: nn.Module = (
            nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if cuda else None
            )
            if self.dist.enabled
            else model
        )
        self.optimizer = torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum,
            nesterov=config.nesterov, weight_decay=config.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: cosine_factor(step, self.total_steps, config.lr, config.min_lr),
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)
        self.epoch = 0
        self.log: list[dict[str, Any]] = []
        self.writer: Any = None

    # ---- persistence -------------------------------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)

    def checkpoint(self, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        state = make_checkpoint(
            self.model, self.config.model, self.num_classes, self.config.dataset,
            self.config.model_kwargs, self.config_dict(),
        )
        state.update(
            epoch=self.epoch,
            optimizer_state=self.optimizer.state_dict(),
            scheduler_state=self.scheduler.state_dict(),
            scaler_state=self.scaler.state_dict(),
            rng_states=rng_states(),
            metrics=dict(metrics or {}),
        )
        return state

    def save(self, metrics: dict[str, Any] | None = None) -> None:
        """Rank 0 writes checkpoint.pt then the log (all ranks wait for it)."""
        if self.dist.is_main:
            save_checkpoint(self.run_dir / CHECKPOINT_NAME, self.checkpoint(metrics))
            lines = "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in self.log)
            atomic_write_bytes(self.run_dir / "log.jsonl", lines.encode())
        distributed.barrier(self.dist)

    def start_or_resume(self) -> None:
        path = self.run_dir / CHECKPOINT_NAME
        if self.config.resume:
            state = load_training_checkpoint(path, map_location=self.device)
            saved = dict(state.get("config") or {})
            mine = self.config_dict()
            changed = sorted(
                key for key in set(saved) | set(mine)
                if key not in RESUME_FREE_KEYS and saved.get(key) != mine.get(key)
            )
            if changed:
                detail = ", ".join(f"{k}: {saved.get(k)!r} -> {mine.get(k)!r}" for k in changed)
                raise ConfigError(f"cannot resume {self.run_dir} with different options ({detail})")
            self.model.load_state_dict(state["model_state"])
            self.optimizer.load_state_dict(state["optimizer_state"])
            self.scheduler.load_state_dict(state["scheduler_state"])
            self.scaler.load_state_dict(state["scaler_state"])
            restore_rng_states(state["rng_states"])
            self.epoch = int(state["epoch"])
            self.log = self._read_log()[: self.epoch]
        else:
            if path.exists() or (self.run_dir / FINAL_NAME).exists():
                raise ConfigError(
                    f"{self.run_dir} already holds a run: pass --resume to continue it, "
                    f"or choose another --out"
                )
            distributed.barrier(self.dist)  # every rank has looked before rank 0 writes
            if self.dist.is_main:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                atomic_write_json(self.run_dir / "config.json", self.config_dict())
            self.save()

    def _read_log(self) -> list[dict[str, Any]]:
        path = self.run_dir / "log.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    # ---- training ----------------------------------------------------------------------
    def train_epoch(self, stop: dict[str, str | None]) -> dict[str, float] | None:
        """One epoch; None if a signal stopped it part-way."""
        config, epoch = self.config, self.epoch
        # Dropout draws from torch's global generators: restart them from (seed, rank, epoch)
        # so that a resumed epoch repeats exactly, on every rank of a DDP job too.
        torch.manual_seed(derive_seed(self.rank_seed, "torch", epoch))
        if self.device.type == "cuda":
            torch.cuda.manual_seed(derive_seed(self.rank_seed, "cuda", epoch))
        self.ddp.train()
        totals = torch.zeros(3, dtype=torch.float64, device=self.device)
        start = time.perf_counter()
        mixer = self.augmentation.batch_mixer
        autocast = (
            torch.autocast(self.device.type, dtype=torch.float16) if self.amp else nullcontext()
        )
        self.sampler.set_epoch(epoch)
        bar = tqdm(
            self.loader, total=self.steps_per_epoch, leave=False,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            disable=not (config.progress and self.dist.is_main),
        )
        for step, (images, labels) in enumerate(bar):
            if distributed.any_rank(stop["signal"] is not None, self.dist, self.device):
                bar.close()
                return None
            images = _to_device(images, self.device, self.channels_last)
            batch_transform = self.augmentation.batch_transform
            if batch_transform is not None:
                reseed(batch_transform, derive_seed(self.rank_seed, "ipmix", epoch, step))
                with torch.no_grad():
                    augmented = batch_transform(images)
                images = torch.cat([images, *augmented]) if self.augmentation.jsd else augmented
                if self.channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
            labels = labels.to(self.device, non_blocking=True)
            targets: torch.Tensor = labels
            if mixer is not None:
                reseed(mixer, derive_seed(self.rank_seed, "mix", epoch, step))
                soft = nn.functional.one_hot(labels, self.num_classes).float()
                images, targets = mixer(images, soft, epoch)
            with autocast:
                logits = self.ddp(images)
            if self.augmentation.jsd:
                views = logits.float().chunk(3)
                loss = jsd_loss(views, targets, config.jsd_weight)
                logits = views[0]
            else:
                loss = cross_entropy(logits.float(), targets)
            # Under AMP the scaler skips steps with overflowing gradients; in float32 a
            # non-finite loss would silently poison the weights, so stop with a clear message.
            if not self.amp and not torch.isfinite(loss.detach()):
                raise TrainingDiverged(
                    f"loss is {loss.item()} at epoch {epoch + 1}, step {step + 1}: training "
                    f"diverged (try a lower --lr than {config.lr}); checkpoint.pt holds epoch "
                    f"{epoch}"
                )
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            hard = targets if targets.ndim == 1 else targets.argmax(1)
            count = len(hard)
            totals[0] += loss.detach() * count
            totals[1] += (logits.argmax(1) == hard).sum()
            totals[2] += count
            if bar.disable is False and step % 10 == 0:
                seen = totals[2].item() * self.dist.world_size
                bar.set_postfix(
                    loss=f"{totals[0].item() / totals[2].item():.3f}",
                    acc=f"{totals[1].item() / totals[2].item():.3f}",
                    img_s=f"{seen / (time.perf_counter() - start):.0f}",
                )
        bar.close()
        seconds = time.perf_counter() - start
        totals = distributed.all_reduce_sum(totals, self.dist)
        count = max(totals[2].item(), 1.0)
        return {
            "train_loss": totals[0].item() / count,
            "train_acc": totals[1].item() / count,
            "train_images": int(count),
            "seconds": seconds,
            "images_per_s": count / seconds,
        }

    def fit(self) -> Path:
        config = self.config
        self.start_or_resume()
        if self.writer_class is not None and self.dist.is_main:
            self.writer = self.writer_class(
                str(self.run_dir / "tensorboard"), purge_step=self.epoch
            )
        metrics: dict[str, Any] = dict(self.log[-1]) if self.log else {}
        with _stop_on_signals() as stop:
            while self.epoch < config.epochs:
                lr = self.optimizer.param_groups[0]["lr"]
                result = self.train_epoch(stop)
                if result is None:
                    raise TrainingInterrupted(self.run_dir, self.epoch, str(stop["signal"]))
                self.epoch += 1
                metrics = {"epoch": self.epoch, "lr": lr, **result}
                if self.epoch % config.eval_every == 0 or self.epoch == config.epochs:
                    metrics.update(
                        evaluate(self.model, self.test_images, self.test_labels, self.device,
                                 self.dist, amp=self.amp, channels_last=self.channels_last)
                    )
                self.log.append(metrics)
                self.save(metrics)
                self._report(metrics)
        if self.dist.is_main:
            final = self.checkpoint(metrics)
            for key in ("optimizer_state", "scheduler_state", "scaler_state", "rng_states"):
                final.pop(key)
            save_checkpoint(self.run_dir / FINAL_NAME, final)
        distributed.barrier(self.dist)
        return self.run_dir

    def _report(self, metrics: dict[str, Any]) -> None:
        if not self.dist.is_main:
            return
        if self.writer is not None:
            for key, value in metrics.items():
                if key != "epoch" and isinstance(value, int | float):
                    self.writer.add_scalar(key, value, self.epoch)
            self.writer.flush()
        if self.config.progress:
            shown = ", ".join(
                f"{k} {v:.4g}" for k, v in metrics.items() if k != "epoch" and isinstance(v, float)
            )
            tqdm.write(f"epoch {self.epoch}/{self.config.epochs}: {shown}")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        distributed.teardown()


def train(config: TrainConfig) -> Path:
    """Run (or, with ``config.resume``, continue) a training run; returns its run directory."""
    run: _Run | None = None
    try:
        run = _Run(config)
        return run.fit()
    finally:
        if run is not None:
            run.close()
        else:
            distributed.teardown()
