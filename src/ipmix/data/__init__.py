"""Data: CIFAR arrays and image folders behind one interface, transforms, per-sample seeding.

A source (`LabelledImages`) gives ``(image, label)`` by index and its ``classes``: CIFAR arrays
(`load_cifar`) or an image folder (`ipmix.data.folders`); `open_split` opens either by dataset
name. `AugmentedImages` and `EvalImages` turn a source into training / evaluation samples.
"""

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
from ipmix.data.classes import (
    ClassMap,
    UnknownClassError,
    check_imagenet_classes,
    imagenet_wnids,
    map_classes,
)
from ipmix.data.datasets import (
    AugmentedCifar,
    AugmentedImages,
    EpochSampler,
    EvalImages,
    JSDViews,
    LabelledImages,
    eval_tensors,
    to_tensor,
    to_uint8_tensor,
)
from ipmix.data.folders import (
    FolderDataError,
    ImageFolderDataset,
    ImageFolderIndex,
    SkippedFile,
    scan_image_folder,
)
from ipmix.data.images import IMAGE_EXTENSIONS, CorruptImageError, check_image, load_rgb
from ipmix.data.seeding import TorchRandom, derive_seed, reseed, sample_seed
from ipmix.data.splits import DATASETS, FOLDER_DATASETS, DataSpec, is_folder_dataset, open_split
from ipmix.data.transforms import (
    RandomCropFlip,
    RandomResizedCropFlip,
    eval_resize,
    eval_transform,
    train_crop,
)

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "FOLDER_DATASETS",
    "IMAGE_EXTENSIONS",
    "AugmentedCifar",
    "AugmentedImages",
    "CifarArrays",
    "ClassMap",
    "CorruptImageError",
    "DataNotFoundError",
    "DataSpec",
    "EpochSampler",
    "EvalImages",
    "FolderDataError",
    "ImageFolderDataset",
    "ImageFolderIndex",
    "JSDViews",
    "LabelledImages",
    "RandomCropFlip",
    "RandomResizedCropFlip",
    "SkippedFile",
    "TorchRandom",
    "UnknownClassError",
    "check_image",
    "check_imagenet_classes",
    "data_root",
    "derive_seed",
    "eval_resize",
    "eval_tensors",
    "eval_transform",
    "imagenet_wnids",
    "is_folder_dataset",
    "load_cifar",
    "load_cifar10",
    "load_cifar100",
    "load_cifar_folder",
    "load_cifar_npz",
    "load_rgb",
    "map_classes",
    "open_split",
    "reseed",
    "sample_seed",
    "scan_image_folder",
    "to_tensor",
    "to_uint8_tensor",
    "train_crop",
]
