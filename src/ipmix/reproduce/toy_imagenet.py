"""A synthetic, tiny ImageNet for the smoke budget: every Table 5 / 13 value by the real code path.

Nothing of it is ImageNet but the layout and the class names: 32 px CIFAR-10 pictures filed
under real ImageNet wnids (the package's lists), so that ``--dataset imagenet`` (exactly the
1,000 wnid folders), the suite's 200-class masks of ImageNet-R/-A/-O and every reader run as they
would on the real data. Built once under ``OUT/benchmarks/imagenet-toy32/``:

- ``train/``: one CIFAR-10 training picture per ImageNet-1k wnid (1,000);
- ``val/``: one test picture per ImageNet-O wnid (ImageNet-O's in-distribution set needs its
  200 classes in val);
- ``imagenet-r/``, ``imagenet-a/``, ``imagenet-o/``: one test picture per wnid of each 200-class
  list;
- ``imagenet-c/``, ``imagenet-c-bar/``, ``imagenet-p/``: `ipmix make-c` / `make-p` of the first
  `SOURCE_IMAGES` val pictures: ImageNet-C's 15 corruptions with the CIFAR constants (preset
  ``cifar``, 32 px; frost needs its textures), ImageNet-C-bar's 10 corruptions at its published
  levels, ImageNet-P's 10 sequences with ImageNet-P's constants on 37 px pictures cropped to 32
  (the 256 -> 224 ratio), as the real ones are 224 px crops of 256 px pictures.

The numbers it gives check the pipeline and mean nothing; every table that uses it says so.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ipmix.reproduce.imagenet import BENCHMARK_OPTIONS, ImageNetData
from ipmix.utils.io import atomic_write_bytes, atomic_write_json

if TYPE_CHECKING:
    from ipmix.corruptions.imagenet_c.presets import CorruptionPreset
    from ipmix.corruptions.perturbations.presets import PerturbationPreset

TOY_SIZE = 32
TOY_FOLDER = f"imagenet-toy{TOY_SIZE}"
SOURCE_IMAGES = 3
MARKER = "toy.json"
DESCRIPTION = (f"SYNTHETIC ImageNet (smoke budget): {TOY_SIZE} px CIFAR-10 pictures filed under "
               "ImageNet wnids, one per class; ImageNet-C/-C-bar/-P made from "
               f"{SOURCE_IMAGES} of them by ipmix make-c / make-p. A pipeline check: the values "
               "mean nothing")


def toy_root(out: str | Path) -> Path:
    return Path(out) / "benchmarks" / TOY_FOLDER


def toy_data(out: str | Path) -> ImageNetData:
    """The toy's folders (built by `build_toy_imagenet` before the first cell uses them)."""
    root = toy_root(out)
    folders = {name: root / ("val" if name == "imagenet-val" else name) for name in BENCHMARK_OPTIONS}
    return ImageNetData(root=root, folders=folders, synthetic=True)


def _png(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "PNG")
    return buffer.getvalue()


def _write_classes(folder: Path, wnids: tuple[str, ...], pictures: np.ndarray, start: int) -> int:
    """One picture per wnid, taken cyclically from `pictures` from `start`; the next start."""
    for offset, wnid in enumerate(wnids):
        picture = pictures[(start + offset) % len(pictures)]
        atomic_write_bytes(folder / wnid / f"toy-{start + offset}.png", _png(picture))
    return start + len(wnids)


def toy_presets() -> tuple[CorruptionPreset, PerturbationPreset]:
    """The corruption preset of the toy's ImageNet-C-bar and the perturbation preset of its
    ImageNet-P (32 px versions of the ImageNet ones; see the module docstring). Unregistered:
    the folders made with them record their names and parameter hashes."""
    from ipmix.corruptions.imagenet_c.presets import get_preset
    from ipmix.corruptions.perturbations.presets import IMAGENET_P, PerturbationPreset

    # any preset name but "cifar" selects ImageNet-C-bar's corruptions and levels (corruptions/cbar/)
    c_bar = replace(get_preset("cifar"), name=f"imagenet-c-bar-toy{TOY_SIZE}",
                    source="ImageNet-C-bar levels on 32 px pictures (synthetic smoke data)")
    resize = int(round(TOY_SIZE * 256 / 224))
    p = PerturbationPreset(name=f"imagenet-p-toy{TOY_SIZE}", size=TOY_SIZE, resize=resize,
                           source="ImageNet-P constants on 37 px pictures cropped to 32 (synthetic)",
                           table=IMAGENET_P.table)
    return c_bar, p


def build_toy_imagenet(out: str | Path, data: str | Path | None, progress: bool = True) -> Path:
    """Build the toy under ``OUT/benchmarks`` once (a finished one has ``toy.json``)."""
    from ipmix.corruptions.cbar import cbar_names
    from ipmix.corruptions.imagenet_c import BENCHMARK_CORRUPTIONS
    from ipmix.corruptions.imagenet_c.weather_digital import find_frost_dir
    from ipmix.corruptions.perturbations import IMAGENET_PERTURBATIONS
    from ipmix.corruptions.writers.folder_c import make_c_folder
    from ipmix.corruptions.writers.folder_p import make_p_folder
    from ipmix.data.cifar import load_cifar
    from ipmix.data.classes import imagenet_wnids
    from ipmix.robustness.benchmarks.imagenet_subsets import subset_wnids

    root = toy_root(out)
    if (root / MARKER).is_file():
        return root
    frost = find_frost_dir(Path(data) / "frost" if data is not None else None)  # before writing
    train = load_cifar("cifar10", data, "train").images
    test = load_cifar("cifar10", data, "test").images
    _write_classes(root / "train", imagenet_wnids(), train, 0)
    start = _write_classes(root / "val", subset_wnids("imagenet-o"), test, 0)
    for benchmark in ("imagenet-r", "imagenet-a", "imagenet-o"):
        start = _write_classes(root / benchmark, subset_wnids(benchmark), test, start)
    sources = sorted((root / "val").iterdir())[:SOURCE_IMAGES]
    for folder in sources:
        picture = next(folder.iterdir())
        atomic_write_bytes(root / "source" / folder.name / picture.name, picture.read_bytes())
    c_bar, p = toy_presets()
    make_c_folder(root / "source", root / "imagenet-c", preset="cifar",
                  corruptions=BENCHMARK_CORRUPTIONS, frost_dir=frost, require_frost=True,
                  progress=progress)
    make_c_folder(root / "source", root / "imagenet-c-bar", preset=c_bar,
                  corruptions=cbar_names(c_bar.name), progress=progress)
    make_p_folder(root / "source", root / "imagenet-p", preset=p,
                  perturbations=IMAGENET_PERTURBATIONS, progress=progress)
    atomic_write_json(root / MARKER, {"synthetic": True, "description": DESCRIPTION,
                                      "size": TOY_SIZE, "source_images": SOURCE_IMAGES})
    return root
