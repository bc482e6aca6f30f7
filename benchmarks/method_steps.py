"""Training cost of the methods beyond the paper against vanilla, on a shared CPU.

    IPMIX_DATA=/path OMP_NUM_THREADS=1 .venv/bin/python benchmarks/method_steps.py \
        --out benchmarks/results/method_steps.md

`ipmix.training.train` (`small` model, batch 128, `--workers 0`, one torch thread) for two
epochs on the first `--subset` CIFAR-10 training images, once per method and repetition, the
methods interleaved so that a busy neighbour slows them all alike; the second epoch's training
seconds, median over the repetitions, and its multiple of vanilla's. The multiple is what
`ipmix reproduce --dry-run` scales its estimates by (`ipmix.reproduce.cost`); the row's first
word is its cost key (method, ``-batched``, ``-jsd``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

#: cost key -> (description, TrainConfig options).
METHODS: dict[str, tuple[str, dict]] = {
    "none": ("vanilla (crop + flip)", {"aug": "none"}),
    "augmax-jsd": ("AugMax-DuBIN: 10 ascent steps, three forwards, its JSD loss",
                   {"aug": "augmax", "model_kwargs": {"norm": "dubin"}}),
    "prime-batched": ("PRIME per batch (PRIMEBatch), no JSD",
                      {"aug": "prime", "batched": True, "jsd": False}),
    "prime-batched-jsd": ("PRIME per batch, JSD (two views)", {"aug": "prime", "batched": True, "jsd": True}),
    "layermix": ("LayerMix per image, no JSD", {"aug": "layermix", "jsd": False}),
}


def epoch_seconds(options: dict, subset: int, out: Path) -> float:
    from ipmix.training import TrainConfig, train

    run = train(TrainConfig(out=str(out), model="small", epochs=2, subset=subset, test_subset=100,
                            workers=0, progress=False, eval_every=2, **options))
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    return float(log[-1]["seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=int, default=512, help="training images per epoch (512)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per method (3)")
    parser.add_argument("--machine", default="2-core CPU dev box, shared with other jobs")
    parser.add_argument("--out", default="benchmarks/results/method_steps.md")
    args = parser.parse_args(argv)
    if "IPMIX_DATA" not in os.environ:
        raise SystemExit("set IPMIX_DATA to the folder holding cifar10.npz")

    import numpy as np
    import torch

    torch.set_num_threads(1)
    seconds: dict[str, list[float]] = {key: [] for key in METHODS}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for key, (_, options) in METHODS.items():
                seconds[key].append(epoch_seconds(options, args.subset, Path(tmp) / f"{key}-{repeat}"))
                print(f"{key}: {seconds[key][-1]:.2f} s", flush=True)
    median = {key: float(np.median(values)) for key, values in seconds.items()}
    lines = [
        "# Training cost of AugMax, PRIME and LayerMix against vanilla (CPU, small model)", "",
        "Command: `python benchmarks/method_steps.py "
        + " ".join(argv if argv is not None else sys.argv[1:]) + "`  ",
        f"Machine: {args.machine} ({platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"logical CPUs, torch {torch.__version__}, 1 torch thread).  ",
        f"Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.  ",
        f"Each value: the second epoch of `ipmix train --model small --epochs 2 --workers 0` on "
        f"{args.subset:,} CIFAR-10 images (batch 128), median of {args.repeats} interleaved runs.", "",
        "| cost key | method | epoch seconds (runs) | x vanilla |",
        "|---|---|---|---|",
    ]
    for key, (description, _) in METHODS.items():
        runs = ", ".join(f"{v:.1f}" for v in seconds[key])
        lines.append(f"| {key} | {description} | {median[key]:.2f} ({runs}) | "
                     f"{median[key] / median['none']:.2f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
