"""The 224 px rows of benchmarks/corruptions.py: ipmix against the reference, in one run.

For every ImageNet-C corruption, ImageNet-C-bar corruption and ImageNet-P perturbation (and the
five CIFAR-10-C-bar ones ImageNet-C-bar lacks, at 32 px), on real photos (``skimage.data``
crops), this times ipmix and the transcription of the reference function
(``tests/corruptions/hendrycks_reference.py``, ``cbar_reference.py``,
``hendrycks_p_reference.py``) on the same images, alternating them, on one thread, and
compares their outputs on the same seeds. With Wand installed (``--wand DIR`` holding
``pip install --target DIR Wand`` and a system ImageMagick), motion blur and snow run the real
ImageMagick in the reference, so both their time and their bytes are compared with it.
Glass blur's reference is timed with its own per-pixel draws.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "corruptions"))

import cbar_reference  # noqa: E402
import hendrycks_p_reference  # noqa: E402
import hendrycks_reference  # noqa: E402


def _row(name: str, ref_s: float, ours_s: float, calls: int, diff: np.ndarray, note: str = "") -> dict:
    return {
        "name": name,
        "ref_ms": 1000 * ref_s / calls,
        "ours_ms": 1000 * ours_s / calls,
        "ratio": ref_s / max(ours_s, 1e-12),
        "max_diff": int(diff.max()),
        "share": float((diff > 0).mean()),
        "note": note,
    }


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    out = function(*args, **kwargs)
    return out, time.perf_counter() - start


def imagenet_c_rows(photos: np.ndarray, frost_dir: str) -> list[dict]:
    from ipmix.corruptions.imagenet_c import ALL_CORRUPTIONS, corrupt

    rows = []
    for name in ALL_CORRUPTIONS:
        for severity in range(1, 6):  # warm every severity's kernels (numba compiles per type)
            corrupt(photos[:1], name, severity, np.random.default_rng(0), preset="imagenet",
                    frost_dir=frost_dir)
        ref_s = ours_s = 0.0
        diffs = []
        for severity in range(1, 6):
            for index, image in enumerate(photos):
                seed = 100 * severity + index
                options = {"per_pixel_draws": True} if name == "glass_blur" else {}
                expected, seconds = _timed(hendrycks_reference.imagenet_c, image, name, severity,
                                           np.random.default_rng(seed), frost_dir, **options)  # fmt: skip
                ref_s += seconds
                ours, seconds = _timed(corrupt, image[None], name, severity, np.random.default_rng(seed),
                                       preset="imagenet", frost_dir=frost_dir)  # fmt: skip
                ours_s += seconds
                if name == "glass_blur":  # fidelity on the same (block) draws
                    expected = hendrycks_reference.imagenet_c(
                        image, name, severity, np.random.default_rng(seed)
                    )
                diffs.append(np.abs(ours[0].astype(np.int64) - expected))
        rows.append(_row(name, ref_s, ours_s, 5 * len(photos), np.stack(diffs)))
    return rows


def cbar_rows(photos: np.ndarray, small: np.ndarray, severities: tuple[int, ...]) -> list[dict]:
    from ipmix.corruptions.cbar import corrupt_bar
    from ipmix.corruptions.cbar.levels import CBAR_LEVELS, IMAGENET_CBAR

    rows = []
    jobs = [(name, "imagenet", photos) for name in IMAGENET_CBAR]
    jobs += [(name, "cifar", small) for name in CBAR_LEVELS["cifar"] if name not in IMAGENET_CBAR]
    for name, preset, images in jobs:
        size = images.shape[1]
        corrupt_bar(images[:1], name, 1, np.random.default_rng(0), preset=preset)  # warm (numba caches)
        ref_s = ours_s = 0.0
        diffs = []
        for severity in severities:
            level = CBAR_LEVELS[preset][name][severity - 1]
            for index, image in enumerate(images):
                seed = 10 * severity + index
                expected, seconds = _timed(cbar_reference.CBAR[name], image.copy(), level,
                                           np.random.default_rng(seed), size)  # fmt: skip
                ref_s += seconds
                ours, seconds = _timed(corrupt_bar, image[None], name, severity, np.random.default_rng(seed),
                                       preset=preset)  # fmt: skip
                ours_s += seconds
                diffs.append(np.abs(ours[0].astype(np.int64) - expected))
        note = "" if size == 224 else f"CIFAR-10-C-bar only, {size} px"
        rows.append(_row(name, ref_s, ours_s, len(severities) * len(images), np.stack(diffs), note))
    return rows


def imagenet_p_rows(pictures: list) -> list[dict]:
    from ipmix.corruptions.perturbations import perturb_sequence
    from ipmix.corruptions.perturbations.presets import IMAGENET_P

    rows = []
    for name in IMAGENET_P.table:
        perturb_sequence(np.asarray(pictures[0]), name, np.random.default_rng(0), preset="imagenet")  # warm
        ref_s = ours_s = 0.0
        diffs = []
        for index, picture in enumerate(pictures):
            expected, seconds = _timed(
                hendrycks_p_reference.frames, picture, name, np.random.default_rng(index)
            )
            ref_s += seconds
            ours, seconds = _timed(perturb_sequence, np.asarray(picture), name, np.random.default_rng(index),
                                   preset="imagenet")  # fmt: skip
            ours_s += seconds
            diffs.append(np.abs(ours.astype(np.int64) - np.stack(expected)))
        rows.append(
            _row(name, ref_s, ours_s, len(pictures), np.concatenate(diffs), "per 31- or 41-frame sequence")
        )
    return rows


def table(rows: list[dict], unit: str) -> list[str]:
    lines = [
        f"| name | reference ms / {unit} | ipmix ms / {unit} | speed-up | >= 5x | max level diff "
        "| values differing | note |",
        "|---|---:|---:|---:|:---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['ref_ms']:.1f} | {r['ours_ms']:.1f} | {r['ratio']:.1f}x | "
            f"{'yes' if r['ratio'] >= 5 else '**no**'} | {r['max_diff']} | {100 * r['share']:.4f}% "
            f"| {r['note']} |"
        )
    return lines


def run(photos_count: int, cbar_photos: int, frost_dir: str, wand_dir: str | None) -> list[str]:
    """Markdown lines of the 224 px section (timing tables and the fidelity columns)."""
    from PIL import Image
    from threadpoolctl import threadpool_limits
    from torchvision.transforms import functional as tvf

    threadpool_limits(1)
    motion = "ipmix's re-implementation (Wand not installed): motion blur and snow compare the pipeline only"
    if wand_dir:
        sys.path.insert(0, wand_dir)
        motion = f"real Wand / {hendrycks_reference.use_wand()}"
    photos = hendrycks_reference.photos(photos_count)
    small = hendrycks_reference.photos(photos_count, size=32)
    c_rows = imagenet_c_rows(photos, frost_dir)
    print("C done", flush=True)
    bar_rows = cbar_rows(photos[:cbar_photos], small, (1, 3, 5))
    print("C-bar done", flush=True)
    import skimage.data

    pictures = [tvf.resize(Image.fromarray(getattr(skimage.data, n)()), 256) for n in ("coffee", "chelsea")]
    p_rows = imagenet_p_rows(pictures[:photos_count])
    groups = (("ImageNet-C", c_rows), ("C-bar", bar_rows), ("ImageNet-P", p_rows))
    misses = [f"{label}: " + ", ".join(r["name"] for r in rows if r["ratio"] < 5) for label, rows in groups]
    return [
        f"Reference motion blur (ImageNet-C motion_blur, snow; ImageNet-P motion_blur, snow): {motion}.",
        "",
        f"### ImageNet-C at 224 px: {photos_count} photos x 5 severities (make_imagenet_c.py)",
        "",
        *table(c_rows, "image"),
        "",
        f"### C-bar: ImageNet-C-bar at 224 px ({cbar_photos} photo(s)), the CIFAR-only five at 32 px "
        f"({photos_count} photos), severities 1, 3, 5 (augmentation-corruption corrupt.py)",
        "",
        *table(bar_rows, "image"),
        "",
        f"### ImageNet-P: {len(pictures[:photos_count])} photo(s), Resize(256), frames of 224 px "
        "(make_imagenet_p.py)",
        "",
        *table(p_rows, "sequence"),
        "",
        f"- Below the 5x target: {'; '.join(misses)}.",
        "- 'max level diff' / 'values differing': ipmix against the reference on the same seeds, all "
        "rows' images and severities (glass blur: the reference with ipmix's block of draws).",
        "",
    ]
