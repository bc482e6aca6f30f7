"""Same seed, same numbers? CPU training under the settings that differ between machines.

    .venv/bin/python benchmarks/determinism.py --out benchmarks/results/determinism.md

Trains the old main job's vanilla arm (`ipmix train --model small --aug none --subset 10000
--epochs 5 --test-subset 500 --seed 0`) in a fresh process per row, changing one thing a
machine decides: the torch thread count (OMP_NUM_THREADS; torch's default is the core count),
the vectorised ATen kernels (ATEN_CPU_CAPABILITY=avx2 is what an AVX2-only CPU runs), the oneDNN
convolution kernels (ONEDNN_MAX_CPU_ISA), MKL's code path (MKL_CBWR), and the loader workers.
Each row reports the final test error on the 500 test images, the first epoch whose logged
training loss differs from the reference row, and whether the final weights are bit-identical.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

#: Row name -> (environment changes, extra `ipmix train` options). The first row is the reference.
VARIANTS: dict[str, tuple[dict[str, str], list[str]]] = {
    "default (2 threads, AVX-512 kernels), 2 workers": ({"OMP_NUM_THREADS": "2"}, []),
    "same again, fresh process": ({"OMP_NUM_THREADS": "2"}, []),
    "0 loader workers": ({"OMP_NUM_THREADS": "2"}, ["--workers", "0"]),
    "1 thread": ({"OMP_NUM_THREADS": "1"}, []),
    "ATEN_CPU_CAPABILITY=avx2": ({"OMP_NUM_THREADS": "2", "ATEN_CPU_CAPABILITY": "avx2"}, []),
    "ONEDNN_MAX_CPU_ISA=AVX2": ({"OMP_NUM_THREADS": "2", "ONEDNN_MAX_CPU_ISA": "AVX2"}, []),
    "MKL_CBWR=AVX2": ({"OMP_NUM_THREADS": "2", "MKL_CBWR": "AVX2"}, []),
    "all three capped at AVX2, 2 threads": (
        {"OMP_NUM_THREADS": "2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
         "MKL_CBWR": "AVX2"}, []),
    "all three capped at AVX2, 2 threads, again": (
        {"OMP_NUM_THREADS": "2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
         "MKL_CBWR": "AVX2"}, []),
    "all three capped at AVX2, 1 thread": (
        {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
         "MKL_CBWR": "AVX2"}, []),
}
SETTING = ["--model", "small", "--aug", "none", "--subset", "10000", "--epochs", "5",
           "--test-subset", "500", "--seed", "0", "--workers", "2", "--no-progress"]


def weights_digest(path: Path) -> str:
    """sha256 of the model's tensors in name order (the checkpoint file also holds the config)."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def train(env_changes: dict[str, str], extra: list[str], out: Path, setting: list[str]) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")}
    env.update(env_changes)
    command = [sys.executable, "-m", "ipmix", "train", *setting, *extra, "--out", str(out)]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if line.strip()]
    return {"error": 100 * (1 - log[-1]["test_acc"]), "losses": [e["train_loss"] for e in log],
            "digest": weights_digest(out / "final.pt"),
            "seconds": sum(e["seconds"] for e in log)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", default="2-core CPU dev box, shared with other jobs")
    parser.add_argument("--out", default="benchmarks/results/determinism.md")
    parser.add_argument("--aug", default="none", help="augmentation of the run (default none)")
    parser.add_argument("--variants", default=None,
                        help="comma-separated row numbers to run (1-based; default all)")
    parser.add_argument("--append", action="store_true", help="append to --out")
    args = parser.parse_args(argv)
    setting = list(SETTING)
    setting[setting.index("--aug") + 1] = args.aug
    chosen = list(VARIANTS.items())
    if args.variants:
        chosen = [chosen[int(i) - 1] for i in args.variants.split(",")]
    if "IPMIX_DATA" not in os.environ:
        raise SystemExit("set IPMIX_DATA to the folder holding cifar10.npz")
    import torch

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, (env, extra)) in enumerate(chosen):
            rows[name] = train(env, extra, Path(tmp) / f"run{index}", setting)
            print(name, rows[name]["error"], rows[name]["digest"], flush=True)
    reference = next(iter(rows.values()))
    lines = [
        "# Same seed, same numbers: CPU training across the settings machines differ in", "",
        f"Command: `python benchmarks/determinism.py {' '.join(argv or sys.argv[1:])}`  ",
        f"Machine: {args.machine} ({platform.machine()}, {os.cpu_count()} logical CPUs, torch "
        f"{torch.__version__}, default CPU capability {torch.backends.cpu.get_cpu_capability()}).  ",
        f"Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.  ",
        f"Run: `ipmix train {' '.join(setting)}` in a fresh process per row (the old main "
        "job's setting; error on its 500 test images).", "",
        "| setting | test error (%) | first epoch whose train loss differs from row 1 | "
        "weights = row 1 | weights digest |",
        "|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        differs = next((str(i + 1) for i, (a, b) in enumerate(
            zip(row["losses"], reference["losses"], strict=True)) if a != b), "none")
        same = "yes" if row["digest"] == reference["digest"] else "no"
        lines.append(f"| {name} | {row['error']:.2f} | {differs} | {same} | `{row['digest']}` |")
    errors = [row["error"] for row in rows.values()]
    lines += ["", f"Spread of the test error over the rows: {min(errors):.2f} to {max(errors):.2f} "
              f"(500 test images: one image is 0.2 points).", ""]
    text = "\n".join(lines) + "\n"
    if args.append:
        text = Path(args.out).read_text() + "\n" + text.replace("# Same seed", "## Same seed", 1)
    Path(args.out).write_text(text)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
