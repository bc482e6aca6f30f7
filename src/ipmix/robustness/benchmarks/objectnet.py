"""ObjectNet (Barbu et al., NeurIPS 2019): accuracy on its 113 classes that ImageNet shares.

Layout of the ObjectNet 1.0 release (``objectnet-1.0/``, or the folder holding it):

- ``images/<folder>/*.png``: 313 object folders, each image with a 1-pixel red border;
- ``mappings/folder_to_objectnet_label.json``: folder name -> ObjectNet class name;
- ``mappings/objectnet_to_imagenet_1k.json``: ObjectNet class name -> the ImageNet class names it
  covers, ``"; "``-separated (113 classes);
- ``mappings/imagenet_to_label_2012_v2``: ImageNet class names, one per line;
- ``mappings/pytorch_to_imagenet_2012_id.json``: PyTorch class index (the sorted-wnid order of
  every torchvision checkpoint) -> line of ``imagenet_to_label_2012_v2``.

Protocol, as in the evaluations of Taori et al. (modestyachts/imagenet-testbed) and
mlfoundations/model-soups ``datasets/objectnet.py``: only the images of the 113 mapped classes
are scored; 2 pixels are cropped off every side (the border) before the eval transform
(``Resize(256) + CenterCrop(224)``); each ObjectNet class scores the maximum of the logits of its
ImageNet classes, and the arg-max over the 113 is the prediction. The mapping files are read
from the user's release (its licence does not allow redistributing them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from ipmix.data.classes import imagenet_wnids
from ipmix.data.datasets import ImageFolderDataset
from ipmix.robustness import metrics
from ipmix.robustness.benchmarks.common import rms_percent
from ipmix.robustness.benchmarks.image_sets import natural_transform, restrict_classes, scan
from ipmix.robustness.predict import Streamer, SuiteError

MAPPING_FILES = ("folder_to_objectnet_label.json", "objectnet_to_imagenet_1k.json",
                 "imagenet_to_label_2012_v2", "pytorch_to_imagenet_2012_id.json")
#: Pixels cropped off each side: the release's 1-pixel red border, with the references' margin.
BORDER = 2


def release_root(folder: str | Path) -> Path:
    """The folder holding ``images/`` and ``mappings/``: `folder` itself or its ``objectnet-1.0``."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise SuiteError(f"ObjectNet folder {root} does not exist")
    for candidate in (root, root / "objectnet-1.0"):
        if (candidate / "images").is_dir() or (candidate / "mappings").is_dir():
            return candidate
    raise SuiteError(f"{root}: not an ObjectNet 1.0 release (no images/ or mappings/ folder)")


def class_groups(root: Path) -> dict[str, tuple[int, ...]]:
    """Folder name -> the PyTorch indices of its ImageNet classes, for the mapped classes."""
    mappings = root / "mappings"
    missing = [name for name in MAPPING_FILES if not (mappings / name).is_file()]
    if missing:
        raise SuiteError(f"{mappings}: ObjectNet mapping file(s) missing: {', '.join(missing)}")
    folder_of = {label: folder for folder, label in _json(mappings / MAPPING_FILES[0]).items()}
    covered = _json(mappings / MAPPING_FILES[1])
    lines = (mappings / MAPPING_FILES[2]).read_text().splitlines()
    try:
        pytorch_of_line = {int(line): int(index)
                           for index, line in _json(mappings / MAPPING_FILES[3]).items()}
    except (TypeError, ValueError):
        raise SuiteError(f"{mappings / MAPPING_FILES[3]}: expected class index -> line number") from None
    if len(lines) != 1000 or sorted(pytorch_of_line.values()) != list(range(1000)):
        raise SuiteError(f"{mappings}: {MAPPING_FILES[2]} and {MAPPING_FILES[3]} must describe "
                         f"the 1,000 ImageNet classes ({len(lines)} lines, "
                         f"{len(pytorch_of_line)} indices)")
    index_of_name = {name.strip(): pytorch_of_line[line] for line, name in enumerate(lines)
                     if line in pytorch_of_line}
    groups: dict[str, tuple[int, ...]] = {}
    for label, names in covered.items():
        if not isinstance(names, str):
            raise SuiteError(f"{mappings / MAPPING_FILES[1]}: {label!r} should map to a string of "
                             f"ImageNet class names, got {names!r}")
        if label not in folder_of:
            raise SuiteError(f"{mappings / MAPPING_FILES[0]}: no folder for ObjectNet class {label!r}")
        lacking = [name for name in names.split("; ") if name not in index_of_name]
        if lacking:
            raise SuiteError(f"{mappings}: ImageNet class {lacking[0]!r} of ObjectNet class "
                             f"{label!r} is not in {MAPPING_FILES[2]} / {MAPPING_FILES[3]}")
        groups[folder_of[label]] = tuple(index_of_name[name] for name in names.split("; "))
    if not groups:
        raise SuiteError(f"{mappings / MAPPING_FILES[1]}: no ObjectNet class maps to ImageNet")
    return dict(sorted(groups.items()))


def _json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SuiteError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise SuiteError(f"{path}: expected a JSON object")
    return value


class BorderedImages(ImageFolderDataset):
    """ObjectNet's images, each loaded without its outer `BORDER` pixels."""

    def load(self, index: int) -> Image.Image:
        image = super().load(index)
        width, height = image.size
        if width <= 2 * BORDER or height <= 2 * BORDER:
            raise SuiteError(f"{self.index.path(index)} is {width}x{height}: nothing is left "
                             f"inside ObjectNet's {BORDER}-pixel border")
        return image.crop((BORDER, BORDER, width - BORDER, height - BORDER))


def objectnet_part(
    streamer: Streamer, folder: str | Path, model_classes: Sequence[str], size: int,
    resize_ratio: float,
) -> dict[str, Any]:
    """Accuracy (and error, RMS) on the images of ObjectNet's ImageNet classes."""
    root = release_root(folder)
    groups = class_groups(root)
    index = scan(root / "images", "ObjectNet", streamer.progress)
    absent = [name for name in groups if name not in index.classes]
    if absent:
        raise SuiteError(f"{index.root}: ObjectNet lacks the image folder(s) of mapped classes "
                         f"{', '.join(absent[:5])}" + (" ..." if len(absent) > 5 else ""))
    images = restrict_classes(index, tuple(groups))
    dataset = BorderedImages(images, natural_transform(size, resize_ratio))
    columns = _model_columns(groups, model_classes)
    outputs = streamer.predict(dataset, len(model_classes), "ObjectNet", keep=columns)
    error = 100 * metrics.error_rate(outputs.predicted, outputs.labels)
    return {
        "accuracy": 100 - error,
        "error": error,
        **rms_percent(outputs.confidence, outputs.correct),
        "count": len(outputs),
        "classes": len(groups),
        "matched_by": "objectnet mappings",
        "source": str(root),
    }


def _model_columns(groups: dict[str, tuple[int, ...]], model_classes: Sequence[str]
                   ) -> list[tuple[int, ...]]:
    """Per ObjectNet class, the model's logit columns of its ImageNet classes."""
    wnids = imagenet_wnids()
    positions = {name: i for i, name in enumerate(model_classes)}
    needed = sorted({wnids[i] for members in groups.values() for i in members})
    lacking = [wnid for wnid in needed if wnid not in positions]
    if lacking:
        raise SuiteError(
            f"ObjectNet needs a model of ImageNet classes; the model's {len(model_classes)} "
            f"classes lack {len(lacking)} of the wnids it maps to (e.g. {', '.join(lacking[:3])})"
        )
    return [tuple(positions[wnids[i]] for i in members) for members in groups.values()]
