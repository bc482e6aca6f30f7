"""Time CIFAR-C (and CIFAR-P) generation on the CIFAR-10 test set; write a markdown report.

    IPMIX_DATA=/path/to/data python benchmarks/corruptions.py --n 10000 \
        --out benchmarks/results/corruptions.md

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="test images for CIFAR-C")
    parser.add_argument("--p-n", type=int, default=200, help="test images for CIFAR-P timing")
    parser.add_argument("--data", default=None, help="data folder (default: $IPMIX_DATA)")
    parser.add_argument("--frost", default=None, help="frost folder (default: DATA/frost)")
    parser.add_argument("--corruptions", default="all", help="'all', 'benchmark' or a comma list")
    parser.add_argument("--out", default="benchmarks/results/corruptions.md")
    parser.add_argument("--machine", default="2-core CPU dev box")
    args = parser.parse_args(argv)

    from ipmix.data.cifar import data_root, load_cifar
    from ipmix.robustness.benchmark_files import load_cifar_c, make_cifar_c, make_cifar_p
    from ipmix.robustness.corruptions import ALL_CORRUPTIONS, BENCHMARK_CORRUPTIONS
    from ipmix.robustness.perturbations import PERTURBATIONS
    from ipmix.utils.io import atomic_write_bytes

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
        f"--corruptions {args.corruptions}`",
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
    lines += ["", f"- All ten, extrapolated: {p_total:.0f} s ({p_total / 60:.1f} min).", ""]
    atomic_write_bytes(args.out, "\n".join(lines).encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
