"""Loader throughput per worker at 224 px on an image folder, and folder listing speed.

    .venv/bin/python benchmarks/imagefolder.py --out benchmarks/results/imagefolder.md

One process, one torch thread: what one DataLoader worker does per image, every pipeline in
the same run and interleaved round by round, so the ratios compare like with like on a shared
machine. Inputs: JPEG photos of ImageNet's typical size (crops of scikit-image's photos,
resized to 500 x 375 or 375 x 500, quality 90) in an ImageFolder tree, or your own folder
(``--folder``). Rows, each from file to a 224 px tensor (`ipmix.data.ImageFolderDataset`,
Pillow decoding):

- vanilla: decode + RandomResizedCrop(224) + flip, what a ``--batched`` worker does;
- per-image IPMix (ImageNet preset) after the crop, in the worker, on its default (numba)
  backend and on the PIL reference backend;
- torchvision's AugMix (ImageNet preset: severity 1) after the crop, in the worker;
- ``--batched``: the vanilla loader cost plus `ipmix.IPMixBatch` (ImageNet preset, numba
  backend, batch ``--batch``) per image on one thread, as if it ran on the CPU; on a GPU it
  runs on the device instead and the loader cost alone remains.

Mixing set: ``--pictures`` pictures of the built-in generated set rendered once at 256 px
before timing. Listing: the default file check (``check_image(level="header")``) on the photos,
and ``--listing-files`` empty files in 1,000 class folders listed with
``scan_image_folder(check="none")`` from scratch and from its cache (wall time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field",
          "retina", "colorwheel")


def write_photos(root: Path, count: int, seed: int = 0) -> None:
    """`count` JPEGs of 500 x 375 (or portrait) in 4 class folders."""
    import skimage.data
    from PIL import Image

    rng = np.random.default_rng(seed)
    photos = [getattr(skimage.data, name)() for name in PHOTOS]
    for i in range(count):
        photo = photos[i % len(photos)]
        scale = float(rng.uniform(1.0, 1.6))
        image = Image.fromarray(photo).convert("RGB")
        image = image.resize((int(image.width * scale), int(image.height * scale)), Image.BILINEAR)
        size = (500, 375) if i % 3 else (375, 500)
        left = int(rng.integers(0, max(1, image.width - size[0])))
        top = int(rng.integers(0, max(1, image.height - size[1])))
        crop = image.crop((left, top, left + size[0], top + size[1]))
        folder = root / f"class_{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        crop.save(folder / f"photo_{i:04d}.JPEG", quality=90)


def cpu_rate(call: Callable[[], int]) -> float:
    """Images per CPU second of one call (returns its image count)."""
    start = time.process_time()
    done = call()
    return done / max(time.process_time() - start, 1e-9)


def check_row(index) -> str:
    """Files per second of the default file check (`check_image(level="header")`), one process."""
    from ipmix.data import check_image

    paths = [index.path(i) for i in range(len(index))]
    start = time.process_time()
    for _ in range(5):
        for path in paths:
            check_image(path, "header")
    rate = 5 * len(paths) / max(time.process_time() - start, 1e-9)
    return (f"| header check of the {len(paths)} photos (`check_image`, per process, CPU time) | "
            f"{5 * len(paths) / rate:.2f} s | {rate:,.0f} files/s |")


def listing_rows(files: int) -> list[str]:
    """Listing times of `files` empty files in 1,000 class folders, from scratch and cached."""
    from ipmix.data import scan_image_folder

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        per_class = -(-files // 1000)
        for c in range(1000):
            folder = root / f"n{c:08d}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                (folder / f"n{c:08d}_{i}.JPEG").touch()
        os.environ["IPMIX_CACHE"] = str(Path(tmp) / "cache")
        for label, cache in (("from scratch", False), ("first scan, writing the cache", True),
                             ("cached", True)):
            start = time.perf_counter()
            index = scan_image_folder(root, check="none", cache=cache, progress=False)
            seconds = time.perf_counter() - start
            rows.append(f"| {len(index):,} files, 1,000 classes, {label} | {seconds:.2f} s | "
                        f"{len(index) / seconds:,.0f} files/s |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help="an ImageFolder tree of your own (default: photos written here)")
    parser.add_argument("--images", type=int, default=48, help="images per round (default 48)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median taken)")
    parser.add_argument("--batch", type=int, default=64, help="IPMixBatch batch size")
    parser.add_argument("--pictures", type=int, default=256, help="mixing pictures")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--listing-files", type=int, default=200_000,
                        help="files of the listing test (0: skip)")
    parser.add_argument("--machine", default="2-core CPU dev box, shared with other jobs")
    parser.add_argument("--out", default="benchmarks/results/imagefolder.md")
    args = parser.parse_args(argv)

    import torch
    from torchvision.transforms import v2
    from tqdm import tqdm

    from ipmix import IPMix, IPMixBatch, MixingSet
    from ipmix.augment.options import IPMixOptions
    from ipmix.data import ImageFolderDataset, RandomResizedCropFlip, scan_image_folder, to_uint8_tensor
    from ipmix.mixing_sets import default_mixing_set
    from ipmix.training.registry import PRESETS
    from ipmix.utils.io import atomic_write_bytes

    torch.set_num_threads(1)
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    tmp = tempfile.TemporaryDirectory()
    root = Path(args.folder) if args.folder else Path(tmp.name) / "photos"
    if not args.folder:
        write_photos(root, args.images)
    index = scan_image_folder(root, cache=False, progress=False)
    dataset = ImageFolderDataset(index)
    count = min(args.images, len(dataset))
    size = args.size
    options = IPMixOptions.preset("imagenet")
    side = round(size * options.picture_scale)
    generated = default_mixing_set(size)
    pictures = np.stack([generated.picture(i, side) for i in tqdm(range(args.pictures), desc="pictures")])
    mixing_set = MixingSet.from_array(pictures)
    crop = RandomResizedCropFlip(size, seed=0)
    ipmix = IPMix(mixing_set, seed=0)
    ipmix.options = options
    ipmix_pil = IPMix(mixing_set, seed=0, backend="pil")
    ipmix_pil.options = options
    augmix = v2.AugMix(**PRESETS["imagenet"]["augmix"])
    batch_transform = IPMixBatch(mixing_set, seed=0, backend="numba")
    batch_transform.options = options
    crops = torch.stack([to_uint8_tensor(crop(dataset[i % count][0])) for i in range(args.batch)])
    batch_transform(crops)  # warm-up: numba compilation, pictures on the device

    def per_image(after_crop: Callable | None) -> Callable[[], int]:
        def call() -> int:
            for i in range(count):
                image = crop(dataset[i][0])
                to_uint8_tensor(after_crop(image) if after_crop is not None else image)
            return count
        return call

    def batched() -> int:
        batch_transform(crops)
        return len(crops)

    pipelines = {
        "vanilla (decode + RandomResizedCrop + flip)": per_image(None),
        "per-image ipmix.IPMix (ImageNet preset)": per_image(ipmix),
        "per-image ipmix.IPMix (ImageNet preset, backend='pil')": per_image(ipmix_pil),
        "torchvision v2 AugMix (ImageNet preset)": per_image(augmix),
        "IPMixBatch alone (numba, one thread)": batched,
    }
    for call in pipelines.values():
        call()  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in pipelines}
    for _ in tqdm(range(args.rounds), desc="rounds"):
        for name, call in pipelines.items():
            rates[name].append(cpu_rate(call))
    median = {name: statistics.median(values) for name, values in rates.items()}
    vanilla = median["vanilla (decode + RandomResizedCrop + flip)"]
    augmix_rate = median["torchvision v2 AugMix (ImageNet preset)"]
    batch_rate = median.pop("IPMixBatch alone (numba, one thread)")
    combined = 1 / (1 / vanilla + 1 / batch_rate)
    lines = ["| pipeline (per worker, one thread, 224 px) | img/s (CPU time) | x vanilla | x AugMix |",
             "|---|---|---|---|"]
    for name, rate in median.items():
        lines.append(f"| {name} | {rate:,.0f} | {rate / vanilla:.2f} | {rate / augmix_rate:.2f} |")
    lines.append(f"| --batched: loader workers (= vanilla) | {vanilla:,.0f} | 1.00 | "
                 f"{vanilla / augmix_rate:.2f} |")
    lines.append(f"| --batched: loader + IPMixBatch on the same CPU thread | {combined:,.0f} | "
                 f"{combined / vanilla:.2f} | {combined / augmix_rate:.2f} |")
    lines.append(f"| IPMixBatch alone (numba, batch {args.batch}) | {batch_rate:,.0f} | "
                 f"{batch_rate / vanilla:.2f} | {batch_rate / augmix_rate:.2f} |")
    table = "\n".join(lines)
    print(table)
    listing = "\n".join(["| listing and checking | time | rate |", "|---|---|---|", check_row(index),
                         *(listing_rows(args.listing_files) if args.listing_files else [])])
    print(listing)
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    command = "python benchmarks/imagefolder.py " + " ".join(argv if argv is not None else sys.argv[1:])
    source = args.folder or (f"{count} JPEG photos (crops of scikit-image's photos, 500 x 375 and "
                             "375 x 500, quality 90)")
    report = "\n".join([
        "# Image-folder loader throughput",
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {args.machine} ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} logical CPUs, torch {torch.__version__}), one torch thread.  ",
        f"Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; 1-minute load average "
        f"{load_start:.1f} at the start, {load_end:.1f} at the end.  ",
        f"Inputs: {source}; mixing set: {args.pictures} generated pictures at {side} px (array "
        f"set). Median of {args.rounds} interleaved rounds of {count} images (IPMixBatch: one "
        f"batch of {args.batch} crops per round), images per CPU second of this process.",
        "",
        table,
        "",
        listing,
        "",
    ])
    atomic_write_bytes(args.out, report.encode())
    print(f"wrote {args.out}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
