"""CPU training epochs of the `small` model with each input pipeline, through `ipmix train`.

    .venv/bin/python benchmarks/training_epoch.py --out benchmarks/results/training_epoch.md
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/training_epoch.py --methods --subset 512 \
        --repeats 3 --out benchmarks/results/training_epoch_methods.md

Runs `ipmix train --model small --epochs 2 --workers 0` once per pipeline and repetition (the
pipelines interleaved, so that a busy neighbour slows them all alike) and reports the second
epoch's training time from each run's `log.jsonl` (median over repetitions): the first epoch
also pays one-off costs (the built-in mixing set is rendered on first use, numba kernels load).
`--workers 0` keeps the whole input pipeline in the training process, so an epoch's time is the
sum of augmentation and model time, as on a machine without spare cores.

Pipelines: vanilla (`--aug none`), per-image IPMix (`--aug ipmix`), batched IPMix (`--aug ipmix
--batched`), all without JSD; with `--methods`, vanilla and the methods beyond the paper
(AugMax-DuBIN, batched PRIME with and without JSD, LayerMix), whose rows start with their cost
key (method, ``-batched``, ``-jsd``): `ipmix reproduce --dry-run` scales its estimates by their
"x vanilla" (`ipmix.reproduce.cost`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

VANILLA = "vanilla (crop + flip)"
PIPELINES = {
    VANILLA: ["--aug", "none", "--no-jsd"],
    "per-image ipmix.IPMix": ["--aug", "ipmix", "--no-jsd"],
    "ipmix.IPMixBatch (--batched)": ["--aug", "ipmix", "--batched", "--no-jsd"],
}
METHODS = {
    VANILLA: PIPELINES[VANILLA],
    "augmax-jsd (AugMax-DuBIN: 10 ascent steps, three forwards, its JSD loss)": [
        "--aug", "augmax", "--model-kwargs", '{"norm": "dubin"}', "--jsd"],
    "prime-batched (PRIMEBatch, no JSD)": ["--aug", "prime", "--batched", "--no-jsd"],
    "prime-batched-jsd (PRIMEBatch, JSD: two views)": ["--aug", "prime", "--batched", "--jsd"],
    "layermix (per image, no JSD)": ["--aug", "layermix", "--no-jsd"],
}


def epoch_seconds(extra: list[str], args: argparse.Namespace, out: Path) -> float:
    """Training seconds of the last epoch of one `ipmix train` run."""
    command = [
        sys.executable, "-m", "ipmix", "train", "--model", "small", "--epochs", str(args.epochs),
        "--workers", "0", "--test-subset", "500", "--seed", "0", "--no-progress",
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
    parser.add_argument("--repeats", type=int, default=1, help="interleaved runs per pipeline (median)")
    parser.add_argument("--methods", action="store_true",
                        help="time vanilla and the methods beyond the paper instead")
    parser.add_argument("--machine", default="2-core CPU dev box, shared with other jobs")
    parser.add_argument("--out", default="benchmarks/results/training_epoch.md")
    args = parser.parse_args(argv)
    if "IPMIX_DATA" not in os.environ:
        raise SystemExit("set IPMIX_DATA to the folder holding cifar10.npz")

    import torch

    pipelines = METHODS if args.methods else PIPELINES
    runs: dict[str, list[float]] = {name: [] for name in pipelines}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for number, (name, extra) in enumerate(pipelines.items()):
                runs[name].append(epoch_seconds(extra, args, Path(tmp) / f"{repeat}-{number}"))
                print(f"{name}: {runs[name][-1]:.1f} s", flush=True)
    seconds = {name: statistics.median(values) for name, values in runs.items()}
    base = seconds[VANILLA]
    images = args.subset or 50_000
    repeated = f", median of {args.repeats} interleaved runs" if args.repeats > 1 else ""
    lines = [
        "# CPU training epoch, small model" + (": the methods beyond the paper" if args.methods else ""),
        "",
        "Command: `python benchmarks/training_epoch.py "
        + " ".join(argv if argv is not None else sys.argv[1:]) + "`  ",
        f"Machine: {args.machine} ({platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"logical CPUs, torch {torch.__version__}, {torch.get_num_threads()} torch threads).  ",
        f"Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.  ",
        f"Each row: `ipmix train --model small --epochs {args.epochs} --workers 0` (no JSD unless the "
        f"row says so) on {images:,} CIFAR-10 training images; time of epoch {args.epochs} "
        f"(training only){repeated}.",
        "",
        "| input pipeline | epoch seconds | img/s | x vanilla |",
        "|---|---|---|---|",
    ]
    for name, value in seconds.items():
        each = f" ({', '.join(f'{v:.1f}' for v in runs[name])})" if args.repeats > 1 else ""
        lines.append(f"| {name} | {value:.1f}{each} | {images / value:,.0f} | {value / base:.2f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
