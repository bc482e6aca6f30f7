"""Data: CIFAR arrays and image folders behind one interface, transforms, per-sample seeding.

A source (`LabelledImages`) gives ``(image, label)`` by index and its ``classes``: CIFAR arrays
(`load_cifar`) or an image folder (`ipmix.data.folders`); `open_split` opens either by dataset
name. `AugmentedImages` and `EvalImages` turn a source into training / evaluation samples.

Names are imported on first use: ``ipmix.data.folders``, ``images`` and ``resize`` (listing,
decoding and resizing image folders) import no torch, and the corruption writers use them alone.
"""

from __future__ import annotations

from ipmix.utils.lazy import lazy_names

_LAZY = {
    "CifarArrays": "ipmix.data.cifar",
    "DATASET_NAMES": "ipmix.data.cifar",
    "DataNotFoundError": "ipmix.data.cifar",
    "data_root": "ipmix.data.cifar",
    "load_cifar": "ipmix.data.cifar",
    "load_cifar10": "ipmix.data.cifar",
    "load_cifar100": "ipmix.data.cifar",
    "load_cifar_folder": "ipmix.data.cifar",
    "load_cifar_npz": "ipmix.data.cifar",
    "ClassMap": "ipmix.data.classes",
    "UnknownClassError": "ipmix.data.classes",
    "check_imagenet_classes": "ipmix.data.classes",
    "imagenet_wnids": "ipmix.data.classes",
    "map_classes": "ipmix.data.classes",
    "AugmentedCifar": "ipmix.data.datasets",
    "AugmentedImages": "ipmix.data.datasets",
    "EpochSampler": "ipmix.data.datasets",
    "EvalImages": "ipmix.data.datasets",
    "ImageFolderDataset": "ipmix.data.datasets",
    "JSDViews": "ipmix.data.datasets",
    "LabelledImages": "ipmix.data.datasets",
    "eval_tensors": "ipmix.data.datasets",
    "to_tensor": "ipmix.data.datasets",
    "to_uint8_tensor": "ipmix.data.datasets",
    "FolderDataError": "ipmix.data.folders",
    "ImageFolderIndex": "ipmix.data.folders",
    "SkippedFile": "ipmix.data.folders",
    "scan_image_folder": "ipmix.data.folders",
    "CorruptImageError": "ipmix.data.images",
    "IMAGE_EXTENSIONS": "ipmix.data.images",
    "check_image": "ipmix.data.images",
    "load_rgb": "ipmix.data.images",
    "eval_resize": "ipmix.data.resize",
    "TorchRandom": "ipmix.data.seeding",
    "derive_seed": "ipmix.data.seeding",
    "reseed": "ipmix.data.seeding",
    "sample_seed": "ipmix.data.seeding",
    "DATASETS": "ipmix.data.splits",
    "DataSpec": "ipmix.data.splits",
    "FOLDER_DATASETS": "ipmix.data.splits",
    "is_folder_dataset": "ipmix.data.splits",
    "open_split": "ipmix.data.splits",
    "RandomCropFlip": "ipmix.data.transforms",
    "RandomResizedCropFlip": "ipmix.data.transforms",
    "eval_transform": "ipmix.data.transforms",
    "train_crop": "ipmix.data.transforms",
}
__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY)
