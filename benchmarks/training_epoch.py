"""CPU training epochs of the `small` model with each input pipeline, through `ipmix train`.

    .venv/bin/python benchmarks/training_epoch.py --out benchmarks/results/training_epoch.md

Runs `ipmix train --model small --epochs 2 --workers 0 --no-jsd` once per pipeline (vanilla:
`--aug none`; per-image IPMix: `--aug ipmix`; batched IPMix: `--aug ipmix --batched`) and
reports the second epoch's training time from each run's `log.jsonl`: the first epoch also
pays one-off costs (the built-in mixing set is rendered on first use, numba kernels load).
`--workers 0` keeps the whole input pipeline in the training process, so an epoch's time is the
sum of augmentation and model time, as on a machine without spare cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

PIPELINES = {
    "vanilla (crop + flip)": ["--aug", "none"],
    "per-image ipmix.IPMix": ["--aug", "ipmix"],
    "ipmix.IPMixBatch (--batched)": ["--aug", "ipmix", "--batched"],
}


def epoch_seconds(extra: list[str], args: argparse.Namespace, out: Path) -> float:
    """Training seconds of the last epoch of one `ipmix train` run."""
    command = [
        sys.executable, "-m", "ipmix", "train", "--model", "small", "--epochs", str(args.epochs),
        "--workers", "0", "--no-jsd", "--test-subset", "500", "--seed", "0", "--no-progress",
        "--out", str(out), *extra,
    ]
    if args.subset:
        command += ["--subset", str(args.subset)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if line.strip()]
    return float(records[-1]["seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (the last one is timed)")
    parser.add_argument("--subset", type=int, default=0, help="training images (0: all 50,000)")
    parser.add_argument("--machine", default="2-core CPU dev box, shared with other jobs")
    parser.add_argument("--out", default="benchmarks/results/training_epoch.md")
    args = parser.parse_args(argv)
    if "IPMIX_DATA" not in os.environ:
        raise SystemExit("set IPMIX_DATA to the folder holding cifar10.npz")

    import torch

    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for number, (name, extra) in enumerate(PIPELINES.items()):
            seconds[name] = epoch_seconds(extra, args, Path(tmp) / str(number))
            print(f"{name}: {seconds[name]:.1f} s")
    base = seconds["vanilla (crop + flip)"]
    images = args.subset or 50_000
    lines = [
        "# CPU training epoch, small model",
        "",
        "Command: `python benchmarks/training_epoch.py "
        + " ".join(argv if argv is not None else sys.argv[1:]) + "`  ",
        f"Machine: {args.machine} ({platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"logical CPUs, torch {torch.__version__}, default torch threads).  ",
        f"Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.  ",
        f"Each row: `ipmix train --model small --epochs {args.epochs} --workers 0 --no-jsd` on "
        f"{images:,} CIFAR-10 training images; time of epoch {args.epochs} (training only).",
        "",
        "| input pipeline | epoch seconds | img/s | x vanilla |",
        "|---|---|---|---|",
    ]
    for name, value in seconds.items():
        lines.append(f"| {name} | {value:.1f} | {images / value:,.0f} | {value / base:.2f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
