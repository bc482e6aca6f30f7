"""Time CIFAR-C (and CIFAR-P) generation on the CIFAR-10 test set; write a markdown report.

    IPMIX_DATA=/path/to/data python benchmarks/corruptions.py --n 10000 \
        --out benchmarks/results/corruptions.md
    IPMIX_DATA=/path/to/data python benchmarks/corruptions.py --part 224 --wand DIR

`--part cifar` (default) is the CIFAR-10 test-set run below; `--part 224` the 224 px rows of
``corruptions_224.py`` (ipmix against the reference implementations, speed and bytes). Each part
rewrites its own section of the results file and keeps the other's.

Generates every requested corruption into a fresh temporary folder with `make_cifar_c` (the
same code path as `ipmix make-cifar-c`), timing each one, then times a second call (all
cached), and reports the mean PSNR to the clean images per corruption and severity. CIFAR-P is
timed on `--p-n` images and the full-set time extrapolated linearly (marked as such).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def psnr_per_severity(clean: np.ndarray, stack: np.ndarray) -> list[float]:
    """Mean over images of the per-image PSNR (dB) to the clean image, for each severity."""
    out = []
    for severity_images in stack:
        diff = severity_images.astype(np.float64) - clean.astype(np.float64)
        mse = np.maximum((diff**2).mean(axis=(1, 2, 3)), 1e-10)
        out.append(float(np.mean(10 * np.log10(255.0**2 / mse))))
    return out


def imagemagick() -> str | None:
    """A real ImageMagick ``convert`` (some machines carry a stand-in script), or None."""
    for name in ("convert-im6.q16", "magick", "convert"):
        path = shutil.which(name)
        if path is None:
            continue
        probe = subprocess.run([path, "-version"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.startswith("Version: ImageMagick"):
            return path
    return None


def reference_check(images: np.ndarray, seed: int = 0) -> list[str]:
    """Compare the re-implemented kernels with the libraries the reference scripts called.

    Motion blur against ImageMagick's ``-motion-blur`` (what Wand's ``motion_blur`` calls),
    HSV and Gaussian filtering against scikit-image, when those are installed.
    """
    from PIL import Image

    from ipmix.corruptions.kernels import common

    lines = ["## Reference check", ""]
    rng = np.random.default_rng(seed)
    convert = imagemagick()
    if convert is None:
        lines.append("- ImageMagick not found: motion blur not compared.")
    else:
        version = subprocess.run([convert, "-version"], capture_output=True, text=True).stdout
        # radius, sigma of CIFAR-C motion blur (5 severities), CIFAR-P motion blur, snow (5)
        params = [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5), (6, 1.8)]
        params += [(8, 3), (10, 4), (12, 6), (14, 12)]
        total = equal = worst = 0
        with tempfile.TemporaryDirectory(prefix="ipmix-im-") as folder:
            src, dst = Path(folder) / "in.png", Path(folder) / "out.png"
            for radius, sigma in params:
                for image in images:
                    for picture in (image, image[..., 0]):  # RGB and grey (the snow layer)
                        angle = float(rng.uniform(-180, 180))
                        Image.fromarray(picture).save(src)
                        blur = f"{radius}x{sigma}{angle:+.6f}"
                        subprocess.run([convert, str(src), "-motion-blur", blur, str(dst)], check=True)
                        mode = "RGB" if picture.ndim == 3 else "L"
                        ref = np.asarray(Image.open(dst).convert(mode)).astype(np.int64)
                        ours = common.magick_motion_blur_uint8(picture[None], radius, sigma, [angle])[0]
                        total += ref.size
                        equal += int((ref == ours).sum())
                        worst = max(worst, int(np.abs(ref - ours).max()))
        lines.append(
            f"- Motion blur vs `{version.splitlines()[0]}` `-motion-blur`: {len(images)} CIFAR-10 "
            f"test images, RGB and grey, {len(params)} (radius, sigma) pairs (C, P and snow), "
            f"random angles: {equal}/{total} pixel values equal ({100 * equal / total:.2f}%), "
            f"largest difference {worst}."
        )
    try:
        import skimage
        from skimage import color, filters
    except ImportError:
        lines.append("- scikit-image not importable: HSV and Gaussian filter not compared.")
    else:
        x = images / 255.0
        hsv = np.abs(common.rgb_to_hsv(x) - color.rgb2hsv(x)).max()
        rgb = np.abs(common.hsv_to_rgb(color.rgb2hsv(x)) - color.hsv2rgb(color.rgb2hsv(x))).max()
        blur = max(
            np.abs(
                common.gaussian_filter_hw(x[i : i + 1], sigma)[0]
                - filters.gaussian(x[i], sigma=sigma, channel_axis=-1)
            ).max()
            for i in range(len(x))
            for sigma in (0.4, 0.6, 0.7, 0.8, 1.0, 0.05, 0.25)
        )
        lines.append(
            f"- scikit-image {skimage.__version__}: rgb2hsv max |difference| {hsv:.1e}, hsv2rgb {rgb:.1e}, "
            f"gaussian (blur and glass-blur sigmas) {blur:.1e}, on the same images."
        )
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="test images for CIFAR-C")
    parser.add_argument("--p-n", type=int, default=200, help="test images for CIFAR-P timing")
    parser.add_argument("--data", default=None, help="data folder (default: $IPMIX_DATA)")
    parser.add_argument("--frost", default=None, help="frost folder (default: DATA/frost)")
    parser.add_argument("--corruptions", default="all", help="'all', 'benchmark' or a comma list")
    parser.add_argument("--out", default="benchmarks/results/corruptions.md")
    parser.add_argument("--machine", default="2-core CPU dev box")
    parser.add_argument(
        "--reference-check",
        type=int,
        default=0,
        metavar="K",
        help="also compare motion blur with ImageMagick and HSV / Gaussian with scikit-image "
        "on K test images (when installed)",
    )
    parser.add_argument("--part", default="cifar", choices=("cifar", "224"))
    parser.add_argument("--photos", type=int, default=2, help="224 px part: photos per row")
    parser.add_argument("--cbar-photos", type=int, default=1, help="224 px part: photos per C-bar row")
    parser.add_argument("--wand", default=None, metavar="DIR", help="224 px part: folder holding Wand")
    args = parser.parse_args(argv)
    if args.part == "224":
        return main_224(args)

    from ipmix.corruptions.imagenet_c import ALL_CORRUPTIONS, BENCHMARK_CORRUPTIONS
    from ipmix.corruptions.perturbations import PERTURBATIONS
    from ipmix.corruptions.writers.cifar import make_cifar_c, make_cifar_p
    from ipmix.data.cifar import data_root, load_cifar
    from ipmix.robustness.benchmarks.cifar_files import load_cifar_c, load_cifar_p

    groups = {"all": ALL_CORRUPTIONS, "benchmark": BENCHMARK_CORRUPTIONS}
    names = list(groups.get(args.corruptions, args.corruptions.split(",")))
    root = data_root(args.data)
    frost = Path(args.frost) if args.frost else root / "frost"
    test = load_cifar("cifar10", root, split="test", subset=args.n)
    load_start = os.getloadavg()
    seconds: dict[str, float] = {}
    psnr: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="ipmix-cifar-c-") as folder:
        for name in names:
            start = time.perf_counter()
            make_cifar_c(test.images, test.labels, folder, [name], frost_dir=frost, progress=False)
            seconds[name] = time.perf_counter() - start
            stack, _ = load_cifar_c(folder, name, mmap=True)
            psnr[name] = psnr_per_severity(test.images, stack)
            print(f"{name:18s} {seconds[name]:7.1f} s  PSNR " + " ".join(f"{p:5.1f}" for p in psnr[name]))
            sys.stdout.flush()
        start = time.perf_counter()
        make_cifar_c(test.images, test.labels, folder, names, frost_dir=frost, progress=False)
        cached = time.perf_counter() - start

    p_test = load_cifar("cifar10", root, split="test", subset=args.p_n)
    p_seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ipmix-cifar-p-") as folder:
        for name in PERTURBATIONS:
            start = time.perf_counter()
            make_cifar_p(p_test.images, folder, [name], progress=False)
            p_seconds[name] = time.perf_counter() - start
            print(f"P {name:16s} {p_seconds[name]:6.1f} s for {args.p_n} images")
            if name == "spatter":  # frames left black once the water has run off (see docs)
                frames = load_cifar_p(folder, name, mmap=True)
                black = frames.reshape(*frames.shape[:2], -1).max(axis=2) == 0
                spatter_black = (float(black.mean()), float(black.any(axis=1).mean()))

    load_end = os.getloadavg()
    bench = [n for n in names if n in BENCHMARK_CORRUPTIONS]
    total_bench = sum(seconds[n] for n in bench)
    lines = [
        "# CIFAR-C / CIFAR-P generation time",
        "",
        f"Machine: {args.machine} ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, shared with other jobs); date {dt.date.today().isoformat()}; "
        f"Python {platform.python_version()}, numpy {np.__version__}; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
        f"1-minute load average {load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end "
        "(other developers' jobs share the cores, so these are upper bounds).",
        "",
        f"Command: `python benchmarks/corruptions.py --n {args.n} --p-n {args.p_n} "
        f"--corruptions {args.corruptions} --reference-check {args.reference_check}`",
        "",
        f"## CIFAR-C: {args.n} CIFAR-10 test images x 5 severities, measured (not extrapolated)",
        "",
        "| corruption | seconds | PSNR s1 | s2 | s3 | s4 | s5 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        cells = " | ".join(f"{p:.1f}" for p in psnr[name])
        lines.append(f"| {name} | {seconds[name]:.1f} | {cells} |")
    lines += [
        "",
        f"- The 15 benchmark corruptions: **{total_bench:.0f} s ({total_bench / 60:.1f} min)**"
        + (" (all 15 measured)." if len(bench) == 15 else f" ({len(bench)} of 15 measured)."),
        f"- All {len(names)} requested: {sum(seconds.values()):.0f} s.",
        f"- Second call with every file present (cache check only): {cached:.2f} s.",
        "- PSNR (dB) is the mean over images of each image's PSNR to its clean version.",
        "",
        f"## CIFAR-P: measured on {args.p_n} images, extrapolated linearly to 10,000",
        "",
        f"| perturbation | seconds ({args.p_n} images) | extrapolated seconds (10,000) |",
        "|---|---:|---:|",
    ]
    for name in PERTURBATIONS:
        lines.append(f"| {name} | {p_seconds[name]:.1f} | {p_seconds[name] * 10000 / args.p_n:.0f} |")
    p_total = sum(p_seconds.values()) * 10000 / args.p_n
    lines += [
        "",
        f"- All ten, extrapolated: {p_total:.0f} s ({p_total / 60:.1f} min).",
        f"- spatter: {100 * spatter_black[0]:.1f}% of frames are black (the water has run off "
        f"the image, as with the reference script), in {100 * spatter_black[1]:.1f}% "
        "of the sequences.",
        "",
    ]
    if args.reference_check:
        lines += reference_check(test.images[: args.reference_check])
    write_section(args.out, "cifar", lines)
    return 0


SECTION = "<!-- section {name}: written by benchmarks/corruptions.py --part {name} -->"


def write_section(out: str, name: str, lines: list[str]) -> None:
    """Replace section `name` of the results file with `lines`, keeping the other sections."""
    from ipmix.utils.io import atomic_write_bytes

    path = Path(out)
    sections: dict[str, str] = {}
    if path.is_file():
        current = None
        for line in path.read_text().splitlines():
            for key in ("cifar", "224"):
                if line == SECTION.format(name=key):
                    current = key
                    sections[key] = ""
            if current is not None and line != SECTION.format(name=current):
                sections[current] += line + "\n"
        if not sections:  # a file written before sections existed: it is the CIFAR part
            sections["cifar"] = path.read_text()
    sections[name] = "\n".join(lines) + "\n"
    present = [key for key in ("cifar", "224") if key in sections]
    text = "".join(SECTION.format(name=key) + "\n" + sections[key] for key in present)
    atomic_write_bytes(path, text.encode())
    print(f"wrote section {name} of {out}")


def main_224(args: argparse.Namespace) -> int:
    import corruptions_224

    from ipmix.data.cifar import data_root

    frost = args.frost or str(data_root(args.data) / "frost")
    load_start = os.getloadavg()
    start = time.perf_counter()
    body = corruptions_224.run(args.photos, args.cbar_photos, frost, args.wand)
    load_end = os.getloadavg()
    lines = [
        "# 224 px corruptions: ipmix against the reference implementations",
        "",
        f"Machine: {args.machine} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"shared with other jobs); date {dt.date.today().isoformat()}; Python {platform.python_version()}, "
        f"numpy {np.__version__}; one thread for both (threadpoolctl); 1-minute load average "
        f"{load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end; "
        f"{time.perf_counter() - start:.0f} s.",
        "",
        f"Command: `python benchmarks/corruptions.py --part 224 --photos {args.photos} --cbar-photos "
        f"{args.cbar_photos}" + (" --wand DIR`" if args.wand else "`"),
        "",
        "Times are per image (per sequence for ImageNet-P), the corruption alone (no decoding or "
        "JPEG writing), ipmix and reference alternating on the same inputs; the speed-up is the ratio "
        "of their totals in this one run.",
        "",
        *body,
    ]
    write_section(args.out, "224", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
