"""The data side of a run: sources, per-sample pipelines, samplers and loaders.

Everything about files stays in `ipmix.data`: this module asks it for the training and
validation sources of the configured dataset (`ipmix.data.open_split`) and builds

- the training dataset: crop + flip at the image size (CIFAR: the authors' zero-padded random
  crop; folders: RandomResizedCrop, or the padded crop), then the method's per-image
  augmentation unless it runs per batch; samples are uint8 tensors (scaled on the device),
  seeded per sample, epoch and rank;
- the evaluation dataset: CIFAR images as they are, folder images through
  ``Resize(round(N * 256 / 224)) + CenterCrop(N)``; each rank takes every world-size-th image;
- their DataLoaders (workers ignore stop signals: `ipmix.training.signals`).

With ``--batched`` the loader workers decode, crop and flip only; IPMix runs on the training
device (`ipmix.IPMixBatch`). With ``--decode cuda`` they read the JPEG bytes and draw the crop,
and decoding happens on the GPU too (`ipmix.training.gpu_decode`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset

from ipmix.data.datasets import AugmentedImages, EpochSampler, EvalImages, LabelledImages
from ipmix.data.seeding import derive_seed
from ipmix.data.splits import DataSpec, is_folder_dataset, open_split
from ipmix.data.transforms import RandomCropFlip, eval_transform, train_crop
from ipmix.training.config import TrainConfig
from ipmix.training.distributed import DistInfo
from ipmix.training.registry import Augmentation
from ipmix.training.signals import ignore_stop_signals

EVAL_BATCH = 500


@dataclass
class TrainingData:
    """Sources and loaders of one run."""

    train: LabelledImages
    val: LabelledImages
    dataset: AugmentedImages
    sampler: EpochSampler
    loader: DataLoader
    eval_loader: DataLoader
    steps_per_epoch: int

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.train.classes)

    @property
    def last_batch(self) -> int:
        """Images in the last batch of each epoch on this process."""
        return len(self.sampler) - (self.steps_per_epoch - 1) * int(self.loader.batch_size or 1)

    def describe(self) -> str:
        return (f"train {len(self.train)} images in {len(self.classes)} classes, "
                f"val {len(self.val)}")

    def close(self) -> None:
        """Stop the loaders' persistent workers now (they ignore a first SIGTERM, so they are
        not left for the interpreter's exit to terminate)."""
        for loader in (self.loader, self.eval_loader):
            iterator = getattr(loader, "_iterator", None)
            shutdown = getattr(iterator, "_shutdown_workers", None)
            if callable(shutdown):
                shutdown()
            loader._iterator = None


def data_spec(config: TrainConfig) -> DataSpec:
    return DataSpec(config.dataset, config.data, config.train_dir, config.val_dir,
                    strict=config.strict_data, progress=config.progress)


def crop_for(config: TrainConfig) -> Any:
    """The training crop + flip of `config`."""
    assert config.image_size is not None and config.train_crop is not None
    if not is_folder_dataset(config.dataset) and config.train_crop == "pad":
        return RandomCropFlip()  # CIFAR at its own size, as the authors
    return train_crop(config.image_size, config.train_crop)  # type: ignore[arg-type]


def build_training_data(config: TrainConfig, augmentation: Augmentation, dist: DistInfo,
                        device: torch.device, rank_seed: int) -> TrainingData:
    """The sources, datasets, samplers and loaders of the run `config` describes."""
    assert config.batch_size is not None and config.workers is not None
    spec = data_spec(config)
    train = open_split(spec, "train", config.subset)
    val = open_split(spec, "val", config.test_subset)
    folder = is_folder_dataset(config.dataset)
    if config.decode == "cuda":
        from ipmix.training.gpu_decode import EncodedCrops

        dataset: Any = EncodedCrops(train, crop_for(config), seed=derive_seed(rank_seed, "data"))
    else:
        dataset = AugmentedImages(train, augmentation.dataset_transforms(crop_for(config)),
                                  seed=derive_seed(rank_seed, "data"), dtype=torch.uint8)
    sampler = EpochSampler(DistributedSampler(
        dataset, num_replicas=dist.world_size, rank=dist.rank, shuffle=True, seed=config.seed,
        drop_last=False,
    ))
    workers = config.workers
    # Samples carry their epoch (EpochSampler), so workers persist across epochs and keep
    # their caches (e.g. rendered mixing pictures).
    loader = DataLoader(
        dataset, batch_size=config.batch_size, sampler=sampler, num_workers=workers,
        pin_memory=device.type == "cuda", drop_last=False, persistent_workers=workers > 0,
        worker_init_fn=ignore_stop_signals if workers > 0 else None,
        collate_fn=getattr(dataset, "collate", None),
        generator=torch.Generator().manual_seed(derive_seed(rank_seed, "loader")),
        prefetch_factor=4 if workers > 0 and folder else None,
    )
    eval_set = EvalImages(val, eval_transform(config.image_size) if folder else None)
    shard = Subset(eval_set, range(dist.rank, len(eval_set), dist.world_size))
    eval_workers = workers if folder else 0
    eval_loader = DataLoader(
        shard, batch_size=EVAL_BATCH, shuffle=False, num_workers=eval_workers,
        pin_memory=device.type == "cuda", persistent_workers=eval_workers > 0,
        worker_init_fn=ignore_stop_signals if eval_workers > 0 else None,
    )
    steps = -(-len(sampler) // config.batch_size)
    return TrainingData(train, val, dataset, sampler, loader, eval_loader, steps)
