"""The trainer: `train(TrainConfig) -> run directory`, for CIFAR and image folders alike.

Follows the authors' scripts (and AugMix/PixMix before them): SGD with Nesterov momentum 0.9,
a per-step cosine schedule from the base lr down to 1e-6, cross-entropy (soft-label for
MixUp/CutMix) or the JSD loss; the recipe (`ipmix.training.config`) sets lr, weight decay,
batch, epochs and model. Autocast on CUDA (float16, or bfloat16 for folders where supported),
float32 on CPU; channels-last memory format on CUDA.

A run directory holds ``config.json``, ``checkpoint.pt`` (rewritten atomically after every
epoch; epoch 0 = before training), ``log.jsonl`` (one JSON object per finished epoch) and, at
the end, ``final.pt``; ``.lock`` while a process trains in it (`ipmix.training.rundir`).
``resume=True`` continues from ``checkpoint.pt`` exactly: data order, augmentation streams and
label mixing are pure functions of (seed, epoch, rank, index/step), and the model, optimiser,
scheduler, scaler and torch's generators are restored, so a resumed float32 run ends with the
same weights as an uninterrupted one. SIGINT/SIGTERM (to the process or its whole group)
stop the run at the next step, or, when they come during an epoch's last step, evaluation or
save, once that epoch is saved (the last epoch included: ``final.pt`` is then written by the
resumed run); ``checkpoint.pt`` holds the last finished epoch and `train` raises
`TrainingInterrupted`, whatever the epoch.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ipmix.data.seeding import derive_seed, reseed
from ipmix.models import build_model, make_checkpoint
from ipmix.models.base import check_input_size
from ipmix.models.external import check_pretrained
from ipmix.training import distributed
from ipmix.training.checkpoint import (
    CHECKPOINT_NAME,
    FINAL_NAME,
    load_training_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from ipmix.training.config import (
    DEFAULT_EPOCHS,
    ConfigError,
    TrainConfig,
    check_resume,
    config_dict,
    describe_run,
    saved_config,
)
from ipmix.training.distributed import resolve_device
from ipmix.training.evaluation import autocast, evaluate, to_device
from ipmix.training.losses import cross_entropy, jsd_loss
from ipmix.training.pipeline import TrainingData, build_training_data
from ipmix.training.registry import Augmentation, build_augmentation
from ipmix.training.rundir import RunLock, prepare_run_dir, release_run_dir
from ipmix.training.signals import TrainingInterrupted, stop_on_signals, stop_signal_name
from ipmix.training.steps import StepModel
from ipmix.utils.io import atomic_write_bytes, atomic_write_json

__all__ = ["DEFAULT_EPOCHS", "ConfigError", "TrainConfig", "TrainingDiverged",
           "TrainingInterrupted", "evaluate", "train"]


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite (float32 training): the options make training unstable."""


def cosine_factor(step: int, total_steps: int, base_lr: float, min_lr: float) -> float:
    """lr(step) / base_lr for the per-step cosine schedule from `base_lr` to `min_lr`."""
    ratio = min_lr / base_lr
    return ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * step / total_steps))


class _Run:
    """The state of one training run (built once, then `fit` runs the remaining epochs)."""

    def __init__(self, config: TrainConfig) -> None:
        self.lock: RunLock | None = None
        self.created_dir = False
        wants_cuda = config.device.startswith("cuda") or (
            config.device == "auto" and torch.cuda.is_available()
        )
        self.dist = distributed.setup("cuda" if wants_cuda else "cpu")
        self.device = resolve_device(config.device, self.dist.local_rank)
        self.config = config = config.resolved(self.device.type)
        self.run_dir = Path(config.out)
        cuda = self.device.type == "cuda"
        amp = cuda if config.amp is None else config.amp
        if amp and not cuda:
            raise ConfigError("mixed precision (--amp) needs a CUDA device; CPU runs in float32")
        if config.sync_bn and self.dist.enabled and not cuda:
            raise ConfigError("--sync-bn needs CUDA devices (SyncBatchNorm has no CPU kernels)")
        self.amp_dtype = getattr(torch, config.amp_dtype) if amp else None  # type: ignore[arg-type]
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
        self.writer: Any = None
        assert config.model is not None and config.image_size is not None
        # before the run folder exists: a model too small for the images fails here, not later
        self.trains_on_one_image = check_input_size(
            build_model(config.model, 2, seed=0, **config.model_kwargs), config.image_size, config.model
        )
        self._claim()
        try:
            if config.resume:  # before any data is read (the checkpoint's copy is checked again)
                check_resume(self.run_dir, saved_config(self.run_dir), config, self.device.type)
            self._build()
        except BaseException:
            if hasattr(self, "data"):
                self.data.close()
            release_run_dir(self.lock, self.run_dir if self.created_dir else None)
            raise

    def _build(self) -> None:
        """Augmentation, data, model, optimiser: everything after the run folder is claimed."""
        config, cuda = self.config, self.device.type == "cuda"
        assert config.epochs is not None and config.model is not None and config.lr is not None
        pretrained = None if config.pretrained == "none" else config.pretrained
        if pretrained is not None:
            check_pretrained(config.model, pretrained)  # before a long folder scan
        self.augmentation: Augmentation = build_augmentation(
            config.aug, config.dataset, config.jsd, config.mixing_set, config.epochs, config.seed,
            batched=bool(config.batched), preset=config.preset, image_size=config.image_size,
            options=config.aug_options,
        )
        self.rank_seed = derive_seed(config.seed, "rank", self.dist.rank)
        self.data: TrainingData = build_training_data(
            config, self.augmentation, self.dist, self.device, self.rank_seed)
        self.num_classes = len(self.data.classes)
        if not self.trains_on_one_image and self.data.last_batch * (3 if self.augmentation.jsd else 1) == 1:
            raise ConfigError(  # it would fail after a whole epoch
                f"the last batch of every epoch holds 1 image ({len(self.data.sampler)} training "
                f"images per process, batch {config.batch_size}), and model {config.model!r} cannot "
                f"train on one {config.image_size} px image (batch norm needs more than one value per "
                "channel): choose another --batch-size or a larger --image-size"
            )
        self.steps_per_epoch = self.data.steps_per_epoch
        self.total_steps = self.steps_per_epoch * config.epochs

        # Model init from a private stream (the same on every rank).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(config.seed, "init"))
            model = build_model(config.model, self.num_classes, pretrained=pretrained,
                                **config.model_kwargs)
        if config.sync_bn and self.dist.enabled:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model
        self.ddp: nn.Module = (
            nn.parallel.DistributedDataParallel(model, device_ids=[self.device.index] if cuda else None)
            if self.dist.enabled else model
        )
        self.optimizer = torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum,
            nesterov=config.nesterov, weight_decay=config.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: cosine_factor(step, self.total_steps, config.lr, config.min_lr),
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.step_model = StepModel(model, self._forward, lambda: autocast(self.device, self.amp_dtype))
        self.epoch = 0
        self.log: list[dict[str, Any]] = []

    # ---- the run folder ----------------------------------------------------------------
    def _claim(self) -> None:
        """Rank 0 creates and locks the run folder; every rank fails if it could not."""
        failure: ConfigError | None = None
        if self.dist.is_main:
            try:
                self.created_dir = prepare_run_dir(self.run_dir)
                self.lock = RunLock(self.run_dir)
                self.lock.acquire()
            except ConfigError as error:
                failure = error
        if distributed.any_rank(failure is not None, self.dist, self.device):
            raise failure or ConfigError(f"rank 0 could not claim the run folder {self.run_dir}")

    def config_dict(self) -> dict[str, Any]:
        return config_dict(self.config)

    def checkpoint(self, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        state = make_checkpoint(
            self.model, self.config.model, self.num_classes, self.config.dataset,
            self.config.model_kwargs, self.config_dict(),
        )
        state.update(
            classes=list(self.data.classes),
            image_size=self.config.image_size,
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
            check_resume(self.run_dir, dict(state.get("config") or {}), self.config,
                         self.device.type)
            self.model.load_state_dict(state["model_state"])
            self.optimizer.load_state_dict(state["optimizer_state"])
            self.scheduler.load_state_dict(state["scheduler_state"])
            self.scaler.load_state_dict(state["scaler_state"])
            restore_rng_states(state["rng_states"])
            self.epoch = int(state["epoch"])
            self.log = self._read_log()[: self.epoch]
            if self.dist.is_main:  # the folder may have moved: record where it is now
                atomic_write_json(self.run_dir / "config.json", self.config_dict())
        else:
            if path.exists() or (self.run_dir / FINAL_NAME).exists():
                raise ConfigError(
                    f"{self.run_dir} already holds a run: pass --resume to continue it, "
                    f"or choose another --out"
                )
            distributed.barrier(self.dist)  # every rank has looked before rank 0 writes
            if self.dist.is_main:
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
        self.data.sampler.set_epoch(epoch)
        bar = tqdm(
            self.data.loader, total=self.steps_per_epoch, leave=False,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            disable=not (config.progress and self.dist.is_main),
        )
        for step, (batch, labels) in enumerate(bar):
            if distributed.any_rank(stop["signal"] is not None, self.dist, self.device):
                bar.close()
                return None
            images = self._images(batch)
            labels = labels.to(self.device, non_blocking=True)
            targets: torch.Tensor = labels
            model_step = self.augmentation.model_step
            if model_step is not None:  # the method runs the model itself (AugMax)
                reseed(model_step, derive_seed(self.rank_seed, "step", epoch, step))
                logits = model_step(images, labels, self.step_model)
            else:
                images = self._batch_transform(images, epoch, step)
                if mixer is not None:
                    reseed(mixer, derive_seed(self.rank_seed, "mix", epoch, step))
                    soft = nn.functional.one_hot(labels, self.num_classes).float()
                    images, targets = mixer(images, soft, epoch)
                logits = self._forward(images)
            if self.augmentation.jsd:
                views = logits.float().chunk(3)
                loss = jsd_loss(views, targets, config.jsd_weight)
                logits = views[0]
            else:
                loss = cross_entropy(logits.float(), targets)
            # Under float16 the scaler skips steps with overflowing gradients; otherwise a
            # non-finite loss would silently poison the weights, so stop with a clear message.
            if not self.scaler.is_enabled() and not torch.isfinite(loss.detach()):
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

    def _forward(self, images: torch.Tensor) -> torch.Tensor:
        """The training forward pass (through DDP, under the run's autocast)."""
        with autocast(self.device, self.amp_dtype):
            return self.ddp(images)

    def _batch_transform(self, images: torch.Tensor, epoch: int, step: int) -> torch.Tensor:
        """The method's per-batch transform on the device (``--batched``), JSD views stacked."""
        batch_transform = self.augmentation.batch_transform
        if batch_transform is None:
            return images
        reseed(batch_transform, derive_seed(self.rank_seed, "ipmix", epoch, step))
        with torch.no_grad():
            augmented = batch_transform(images)
        images = torch.cat([images, *augmented]) if self.augmentation.jsd else augmented
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def _images(self, batch: Any) -> torch.Tensor:
        """A loader batch as float [0, 1] images on the device (decoded there with --decode cuda)."""
        if self.config.decode == "cuda":
            from ipmix.training.gpu_decode import decode_batch

            assert self.config.image_size is not None
            batch = decode_batch(batch, self.config.image_size, self.device)
        return to_device(batch, self.device, self.channels_last)

    def fit(self) -> Path:
        config = self.config
        self.start_or_resume()
        if self.dist.is_main and config.progress:
            tqdm.write(describe_run(config, self.data.describe(), self.augmentation, self.device,
                                    self.dist.world_size, self.amp_dtype is not None))
        if self.writer_class is not None and self.dist.is_main:
            self.writer = self.writer_class(
                str(self.run_dir / "tensorboard"), purge_step=self.epoch
            )
        metrics: dict[str, Any] = dict(self.log[-1]) if self.log else {}
        with stop_on_signals() as stop:
            while self.epoch < config.epochs:
                lr = self.optimizer.param_groups[0]["lr"]
                result = self.train_epoch(stop)
                if result is None:
                    raise TrainingInterrupted(self.run_dir, self.epoch, stop_signal_name(stop))
                self.epoch += 1
                metrics = {"epoch": self.epoch, "lr": lr, **result}
                if self.epoch % config.eval_every == 0 or self.epoch == config.epochs:
                    metrics.update(evaluate(self.model, self.data.eval_loader, self.device,
                                            self.dist, self.amp_dtype, self.channels_last))
                self.log.append(metrics)
                self.save(metrics)
                self._report(metrics)
                # A signal during the epoch's last step, its evaluation or its save was not
                # seen by the per-step check: stop now that the epoch is saved (after the
                # last epoch too: final.pt is then written by the resumed run).
                if distributed.any_rank(stop["signal"] is not None, self.dist, self.device):
                    raise TrainingInterrupted(self.run_dir, self.epoch, stop_signal_name(stop))
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
        self.data.close()
        release_run_dir(self.lock, self.run_dir if self.created_dir else None)
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
