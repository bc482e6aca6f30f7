"""Wall time of the robustness suite, part by part, for the small CPU model.

Generates CIFAR-C (15 + 4 corruptions x 5 severities) and CIFAR-P (10 perturbations) for the
first N CIFAR-10 test images into a fresh cache folder (timed separately), then runs every
suite part on the cached sets and records each part's wall time. The model is the `small`
network, from a checkpoint if given, else untrained (timing only: its metrics are not shown).
A second `evaluate` call checks that the generated sets are read back, not regenerated.

    IPMIX_DATA=/work/shared/data .venv/bin/python benchmarks/suite.py --n 1000 \
        --out benchmarks/results/suite.md
    IPMIX_DATA=/work/shared/data .venv/bin/python benchmarks/suite.py --n 10000 \
        --suite clean,c,calibration,pgd,ood --out benchmarks/results/suite.md --append
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from ipmix.corruptions.imagenet_c import ALL_CORRUPTIONS
from ipmix.corruptions.perturbations import PERTURBATIONS
from ipmix.corruptions.writers.cifar import make_cifar_c, make_cifar_p
from ipmix.data.cifar import load_cifar
from ipmix.models import build_model, load_classifier
from ipmix.robustness.report import comparison_table
from ipmix.robustness.suite import evaluate, parse_suite
from ipmix.utils.io import atomic_write_bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="test images (10000 = all)")
    parser.add_argument("--checkpoint", default=None, help="small-model checkpoint (optional)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--machine", default="2-core CPU dev box", help="machine description")
    parser.add_argument("--suite", default="all", help="suite parts to time (default: all)")
    parser.add_argument("--out", default=None, help="markdown file to write")
    parser.add_argument("--append", action="store_true", help="add to --out instead of replacing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.checkpoint:
        model, info = load_classifier(args.checkpoint)
        described = f"`small` from {args.checkpoint}"
    else:
        model, info = build_model("small", 10), {}
        described = "`small`, untrained (timing only)"
    test = load_cifar("cifar10", split="test", subset=args.n)

    parts = parse_suite(args.suite)
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="ipmix-suite-bench-") as tmp:
        c_dir, p_dir = Path(tmp) / "c", Path(tmp) / "p"
        if "c" in parts:
            start = time.perf_counter()
            make_cifar_c(test.images, labels=test.labels, out_dir=c_dir,
                         corruptions=ALL_CORRUPTIONS, seed=0)
            rows.append((f"generate CIFAR-C ({len(ALL_CORRUPTIONS)} x 5 x {args.n})",
                         time.perf_counter() - start))
        if "p" in parts:
            start = time.perf_counter()
            make_cifar_p(test.images, out_dir=p_dir, perturbations=PERTURBATIONS, seed=0,
                         labels=test.labels)
            rows.append((f"generate CIFAR-P ({len(PERTURBATIONS)} x {args.n} sequences)",
                         time.perf_counter() - start))
        start = time.perf_counter()
        results = evaluate(model, suite=parts, data=test, cifar_c_dir=c_dir, cifar_p_dir=p_dir,
                           batch_size=args.batch_size, seed=0)
        total = time.perf_counter() - start
        for part, seconds in results["meta"]["seconds"].items():
            rows.append((f"suite part `{part}`", seconds))
        rows.append((f"suite total ({','.join(parts)}; sets cached)", total))
        if any(results.get(key, {}).get("generated") for key in ("corruption", "perturbation")):
            raise RuntimeError("the suite regenerated sets that were already there")

    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "" if args.append else "# Robustness suite wall time",
        "",
        f"## {args.n} test images, parts {','.join(parts)}",
        "",
        f"Machine: {args.machine} ({platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {args.threads} threads, shared with other jobs); {date}.",
        f"Model: {described}; {args.n} CIFAR-10 test images; batch {args.batch_size}.",
        "",
        "Command: `" + " ".join([Path(sys.executable).name, *sys.argv]) + "`",
        "",
        "| Step | Seconds |",
        "|---|---|",
        *(f"| {name} | {seconds:.1f} |" for name, seconds in rows),
        "",
        "The `c` part reads 19 x 5 sets, `p` predicts every frame of the 10 sequences, `pgd` runs",
        "20 forward/backward passes per image, `ood` scores 3 synthetic sets of N / 5 images.",
    ]
    if args.checkpoint:
        lines += ["", comparison_table({info.get("path", args.checkpoint): results})]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        before = Path(args.out).read_text() if args.append and Path(args.out).is_file() else ""
        atomic_write_bytes(args.out, (before + text).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
