"""ImageNet-C-style corrupted copies of any image folder (`ipmix make-c`).

Writes the layout of the ImageNet-C release, ``<out>/<corruption>/<severity>/<class>/<file>``
(severity ``1`` .. ``5``), and for the C-bar corruptions the layout of
facebookresearch/augmentation-corruption's ``make_imagenet_c_bar.py``,
``<out>/<corruption>/<level:.2f>/<class>/<file>`` (e.g. ``sparkles/3.00/n01440764/x.JPEG``).
Images are JPEG, quality 85 with ``optimize=True``, as both reference scripts save them; a
file keeps its name when it ends in .jpg/.jpeg and gets ``.jpg`` in place of its suffix
otherwise. The input folder is listed and checked by ``ipmix.data.folders`` (files that are not
readable images are skipped with a warning naming them) and decoded by ``ipmix.data.images``.

Every output image has its own random stream, seeded from (seed, corruption, severity, the
image's path under its class folder), so the result does not depend on the number of workers,
their order, or which files an interrupted run had already written. Finished files are
skipped; each file is written atomically. Tasks carry the preset itself (presets pickle), so
any preset object runs in any number of workers. ``ipmix-meta.json`` records the preset (the
name of a registered one; the name and a hash of the parameters of any other), the seed and a
fingerprint of the input images (their paths and bytes); a folder made with others, or made
from images changed since, is refused. So is, before anything is written, an output folder
inside the input folder (its files would become classes of the input), and a folder holding
files but no ``ipmix-meta.json`` (a file found at an output path would be taken as finished).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ipmix.corruptions.cbar import cbar_level, cbar_names, corrupt_bar
from ipmix.corruptions.imagenet_c import (
    ALL_CORRUPTIONS,
    BENCHMARK_CORRUPTIONS,
    SEVERITIES,
    check_severity,
    corrupt,
    frost_for,
)
from ipmix.corruptions.imagenet_c.presets import PRESETS, CorruptionError, CorruptionPreset, get_preset
from ipmix.corruptions.tables import preset_identity
from ipmix.corruptions.writers.cifar import META_FILE, BenchmarkFileError, _claim_folder
from ipmix.data.folders import FolderDataError, ImageFolderIndex, scan_image_folder
from ipmix.data.images import load_rgb
from ipmix.data.resize import center_crop, eval_resize, resize_shorter
from ipmix.utils.io import atomic_write_bytes, check_outside, make_dirs, reading

JPEG_QUALITY = 85
"""Quality (with ``optimize=True``) of ``make_imagenet_c.py`` and ``make_imagenet_c_bar.py``."""
#: Folder names of dataset splits: `--images` at a dataset root would make them the classes.
SPLIT_NAMES = ("train", "val", "validation", "test")


@dataclass(frozen=True)
class GenerationSummary:
    """What a generation call did: files written now, files found finished, the images read."""

    written: int
    skipped: int
    images: int

    def describe(self, unit: str, where: str | Path, seconds: float) -> str:
        """One line for the command's output, e.g. ``12 image(s) written, 0 already there, ...``."""
        return (
            f"{self.written} {unit}(s) written, {self.skipped} already there, from {self.images} "
            f"source image(s), in {where} ({seconds:.1f} s)"
        )


def output_name(path: Path) -> str:
    """The file name an image is stored under: its own if it is a JPEG name, else ``.jpg``."""
    return path.name if path.suffix.lower() in (".jpg", ".jpeg") else path.stem + ".jpg"


def prepare_image(path: Path, size: int, resize: int | None, *, crop: bool = True) -> np.ndarray:
    """Decode `path` as RGB and bring it to ``size x size`` (uint8 ``[size, size, 3]``).

    ``resize`` given: Resize(resize) (shorter side, bilinear, torchvision's PIL path) then
    CenterCrop(size), as the ImageNet scripts; without `crop` the resized image is returned
    (ImageNet-P perturbs it before cropping). None: images already ``size x size`` are used as
    they are, others get the eval transform, Resize(round(size * 256 / 224)) and CenterCrop.
    """
    image = load_rgb(path)
    if resize is None and image.size == (size, size):
        return np.asarray(image)
    image = resize_shorter(image, resize or eval_resize(size))
    return np.asarray(center_crop(image, size) if crop or resize is None else image)


def list_inputs(images_dir: str | Path, progress: bool) -> ImageFolderIndex:
    """The checked listing of an ImageFolder (``ipmix.data.folders``); a dataset root, whose
    folders are splits (train, val) rather than classes, is refused before it is scanned."""
    root = Path(images_dir).expanduser()
    folders = sorted(e.name for e in os.scandir(root) if e.is_dir()) if root.is_dir() else []
    if folders and set(folders) <= set(SPLIT_NAMES):
        split = "val" if "val" in folders else folders[0]
        raise FolderDataError(
            f"{root} looks like a dataset root: its folders {', '.join(folders)} are splits, not "
            f"classes; give one split, e.g. --images {root / split}"
        )
    return scan_image_folder(images_dir, check="header", progress=progress)


def prepare_output(images_dir: str | Path, out_dir: str | Path) -> Path:
    """Create the output folder of make-c / make-p once it is known to be a safe place: outside
    the input folder, and either new, empty or made by them (it holds ``ipmix-meta.json``)."""
    check_outside(out_dir, images_dir, ("--out", "--images"))
    out = make_dirs(Path(out_dir).expanduser())
    if not (out / META_FILE).is_file() and any(out.iterdir()):
        raise BenchmarkFileError(
            f"{out} holds files but no {META_FILE}, so ipmix did not make it: a file there would "
            "be taken for a finished output; use a new or empty folder"
        )
    return out


def input_fingerprint(index: ImageFolderIndex) -> str:
    """A hash of the listed images' paths and bytes: outputs of changed images are not reused."""
    digest = hashlib.sha256()
    for i in range(len(index)):
        with reading(index.path(i), "image"):
            data = index.path(i).read_bytes()
        digest.update(index.relative_path(i).encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:32]


def image_stream(seed: int, name: str, severity: int, key: str) -> np.random.Generator:
    """The generator of one output image: (seed, corruption, severity, image) and nothing else."""
    parts = [seed, zlib.crc32(name.encode()), severity, zlib.crc32(key.encode()), len(key)]
    return np.random.default_rng(np.random.SeedSequence(parts))


def jpeg_bytes(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    buffer = BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def output_paths(index: ImageFolderIndex, name_of: Callable[[Path], str] = output_name) -> list[str]:
    """``<class>/<name_of(file)>`` of every image (sub-folders flattened, as the reference
    scripts do); FolderDataError naming both files when two images would share one output."""
    seen: dict[str, str] = {}
    out = []
    for i in range(len(index)):
        key = index.relative_path(i)
        relative = f"{index.classes[index.labels[i]]}/{name_of(Path(key))}"
        if relative in seen:
            raise FolderDataError(
                f"{index.root / seen[relative]} and {index.root / key} would both be written as "
                f"{relative}; rename one"
            )
        seen[relative] = key
        out.append(relative)
    return out


def run_tasks(
    tasks: Sequence, work: Callable, workers: int, progress: bool, desc: str, unit: str = "img"
) -> Iterable:
    """Run `work` on every task, in `workers` processes (one BLAS thread each) or in
    this one; yields the results in completion order under a progress bar."""
    bar = tqdm(total=len(tasks), desc=desc, unit=unit, disable=not progress)
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield work(task)
            bar.update(1)
    else:
        # fork where there is one (as ipmix.data.folders): workers start without re-importing
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        with context.Pool(workers, initializer=_one_blas_thread) as pool:
            for result in pool.imap_unordered(work, tasks, chunksize=1):
                yield result
                bar.update(1)
    bar.close()


def _one_blas_thread() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


# ------------------------------------------------------------------------------------ C


def severity_folder(name: str, severity: int, preset: str) -> str:
    """The severity folder of a corruption: ``"3"`` for ImageNet-C, ``"4.00"`` for C-bar."""
    if name in ALL_CORRUPTIONS:
        return str(severity)
    return f"{cbar_level(name, severity, preset):.2f}"


@dataclass(frozen=True)
class _ImageTask:
    path: Path
    key: str
    outputs: tuple[tuple[str, int, Path], ...]  # (corruption, severity, file)
    preset: CorruptionPreset
    seed: int
    frost_dir: str | None


def _corrupt_one(task: _ImageTask) -> int:
    preset = task.preset
    image = prepare_image(task.path, preset.size, preset.resize)[None]
    for name, severity, path in task.outputs:
        rng = image_stream(task.seed, name, severity, task.key)
        if name in ALL_CORRUPTIONS:
            out = corrupt(image, name, severity, rng, frost_dir=task.frost_dir, preset=preset)
        else:
            out = corrupt_bar(image, name, severity, rng, preset=preset.name)
        atomic_write_bytes(path, jpeg_bytes(out[0]))
    return len(task.outputs)


def _check_names(names: Sequence[str], preset: str) -> list[str]:
    known = ALL_CORRUPTIONS + cbar_names(preset)
    requested = list(dict.fromkeys(names))
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise CorruptionError(
            f"unknown corruption(s) {', '.join(unknown)} for preset {preset!r}; known: {', '.join(known)}"
        )
    return requested


def make_c_folder(
    images_dir: str | Path,
    out_dir: str | Path,
    *,
    preset: str | CorruptionPreset = "imagenet",
    corruptions: Sequence[str] = BENCHMARK_CORRUPTIONS,
    severities: Sequence[int] = SEVERITIES,
    workers: int = 1,
    seed: int = 0,
    frost_dir: str | Path | None = None,
    require_frost: bool = False,
    progress: bool = True,
) -> GenerationSummary:
    """Write corrupted copies of the ImageFolder `images_dir` into `out_dir` (layouts above).

    `preset` picks the constants and the preprocessing (``imagenet``: Resize(256) and
    CenterCrop(224); ``cifar``, ``tinyimagenet``: their sizes), or is any `CorruptionPreset`
    object. `corruptions` may mix the 19 ImageNet-C names and the preset's ten C-bar names.
    Without frost textures frost is skipped with a warning (FrostTexturesNotFoundError with
    `require_frost`).
    """
    spec = get_preset(preset)
    names = _check_names(corruptions, spec.name)
    levels = sorted({check_severity(s) for s in severities})
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    found = frost_for(names, frost_dir, require_frost)
    frost = None if found is None else str(found)
    out_dir = prepare_output(images_dir, out_dir)
    index = list_inputs(images_dir, progress)
    relatives = output_paths(index)
    identity = preset_identity(spec, PRESETS)
    _claim_folder(out_dir, {"kind": "folder-c", **identity, "seed": int(seed),
                            "jpeg_quality": JPEG_QUALITY, "inputs_sha256": input_fingerprint(index)})
    tasks, skipped = [], 0
    for i, relative in enumerate(relatives):
        outputs = []
        for name in names:
            for severity in levels:
                path = out_dir / name / severity_folder(name, severity, spec.name) / relative
                if path.is_file():
                    skipped += 1
                else:
                    outputs.append((name, severity, path))
        if outputs:
            key = index.relative_path(i)
            tasks.append(_ImageTask(index.path(i), key, tuple(outputs), spec, int(seed), frost))
    written = sum(run_tasks(tasks, _corrupt_one, workers, progress, desc="make-c"))
    return GenerationSummary(written=written, skipped=skipped, images=len(index))
