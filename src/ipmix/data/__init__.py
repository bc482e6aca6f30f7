"""CIFAR data: readers for both layouts, training datasets with per-sample seeded augmentation."""

from ipmix.data.cifar import (
    DATASET_NAMES,
    CifarArrays,
    DataNotFoundError,
    data_root,
    load_cifar,
    load_cifar10,
    load_cifar100,
    load_cifar_folder,
    load_cifar_npz,
)
from ipmix.data.datasets import (
    AugmentedCifar,
    EpochSampler,
    JSDViews,
    RandomCropFlip,
    eval_tensors,
    to_tensor,
)
from ipmix.data.seeding import TorchRandom, derive_seed, reseed, sample_seed

__all__ = [
    "DATASET_NAMES",
    "AugmentedCifar",
    "CifarArrays",
    "DataNotFoundError",
    "EpochSampler",
    "JSDViews",
    "RandomCropFlip",
    "TorchRandom",
    "data_root",
    "derive_seed",
    "eval_tensors",
    "load_cifar",
    "load_cifar10",
    "load_cifar100",
    "load_cifar_folder",
    "load_cifar_npz",
    "reseed",
    "sample_seed",
    "to_tensor",
]
