"""Time mixing-set generation per kind and size, and report the quality of each set.

    .venv/bin/python benchmarks/mixing_sets.py --out benchmarks/results/mixing_sets.md

For every kind and size, runs the real command (``ipmix mixing-set generate ... --workers W``)
in a fresh process writing a ``.npy`` file to a temporary folder, and times it wall-clock:
start-up (Python, torch, numba cache) included. One small warm run first builds numba's JIT
cache, as the issue allows. Start-up alone is measured as the time of a 1-picture run; counts
smaller than 13,000 are extrapolated to 13,000 pictures as ``startup + (time - startup) *
13000 / count`` and marked as such. The quality columns come from `inspect_set` on the
generated file.

The box is shared, so wall-clock times depend on what else runs. A second table reports the
CPU time per picture in this process (``time.process_time`` over `--cpu-count` pictures per
kind and size, rendering only), which other users' load barely affects.
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

PAPER_SET = 13_000


def run_generate(kind: str, count: int, size: int, workers: int, out: Path, seed: int) -> float:
    """Run the CLI in a fresh process; return its wall-clock seconds."""
    command = [sys.executable, "-m", "ipmix.cli", "mixing-set", "generate", "--kind", kind,
               "--count", str(count), "--size", str(size), "--seed", str(seed), "--out", str(out),
               "--workers", str(workers), "--quiet"]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="escape-time,ifs,dead-leaves,spectrum,radial-contours,mix")
    parser.add_argument("--sizes", default="32,64,256")
    parser.add_argument("--counts", default="13000,2000,500",
                        help="pictures to time at each size (same order as --sizes)")
    parser.add_argument("--folder-kinds", default="mix",
                        help="kinds also timed writing a PNG folder at the first size")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cpu-count", type=int, default=300,
                        help="pictures per kind and size for the CPU-time table (256 px: a tenth)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/mixing_sets.md")
    parser.add_argument("--machine", default="2-core CPU dev box")
    args = parser.parse_args(argv)

    from ipmix.mixing_sets.generate import Recipe
    from ipmix.mixing_sets.inspect import inspect_set
    from ipmix.mixing_sets.store import MixingSet
    from ipmix.utils.io import atomic_write_bytes

    kinds = args.kinds.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    counts = [int(c) for c in args.counts.split(",")]
    if len(counts) != len(sizes):
        parser.error("--counts needs one count per size")
    rows = []
    loads = []
    startups = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            for count in (64, 1):  # warm run (JIT cache), then start-up alone
                seconds = run_generate(kind, count, 32, args.workers, Path(tmp) / "w.npy", args.seed)
                Path(tmp, "w.npy").unlink()
                Path(tmp, "w.json").unlink()
            startups.append(seconds)
            print(f"{kind}: start-up {seconds:.1f} s", flush=True)
            for size, count in zip(sizes, counts, strict=True):
                out = Path(tmp) / f"{kind}-{size}.npy"
                loads.append(os.getloadavg()[0])
                seconds = run_generate(kind, count, size, args.workers, out, args.seed)
                report = inspect_set(MixingSet.from_file(out))
                rows.append((kind, size, count, seconds, report, startups[-1]))
                print(f"{kind:16s} {size:4d} px {count:6d} pictures {seconds:7.1f} s "
                      f"({count / seconds:7.0f}/s) low-var {report.low_variance} "
                      f"dup {report.duplicates}", flush=True)
                out.unlink()
                out.with_suffix(".json").unlink()
            if kind in args.folder_kinds.split(","):
                folder = Path(tmp) / f"{kind}-png"
                seconds = run_generate(kind, counts[0], sizes[0], args.workers, folder, args.seed)
                report = inspect_set(MixingSet.from_source(folder))
                rows.append((f"{kind} (PNG folder)", sizes[0], counts[0], seconds, report,
                             startups[-1]))
                print(f"{kind} PNG folder: {seconds:.1f} s", flush=True)
                shutil.rmtree(folder)

    cpu_rows = []
    for kind in kinds:
        recipe = Recipe.make(kind, seed=args.seed)
        recipe.render(0, 32)  # load the compiled kernels
        for size in sizes:
            n = max(10, args.cpu_count // 10 if size >= 256 else args.cpu_count)
            start = time.process_time()
            for index in range(n):
                recipe.render(index, size)
            cpu_rows.append((kind, size, n, (time.process_time() - start) / n))
            print(f"{kind:16s} {size:4d} px CPU {1e3 * cpu_rows[-1][3]:.2f} ms/picture", flush=True)

    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python benchmarks/mixing_sets.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        "# Mixing-set generation: speed and quality",
        "",
        f"Machine: {args.machine} ({os.cpu_count()} cores, {platform.python_version()}, "
        f"{platform.machine()}); date: {date}; workers: {args.workers}; seed {args.seed}.",
        f"Load average (1 min) before the runs: {min(loads):.1f} to {max(loads):.1f} "
        "(the box is shared, so times are upper bounds).",
        f"Command: `{command.strip()}`",
        f"Start-up (a 1-picture run: Python, the generators (torch is not imported), numba "
        f"cache, worker fork): {min(startups):.1f} to {max(startups):.1f} s.",
        "",
        "Wall-clock time of `ipmix mixing-set generate --out X.npy` (or a PNG folder where "
        "marked) in a fresh process, start-up "
        "included, after one warm run per kind. `13,000 (s)` is measured when the count is "
        "13,000, otherwise extrapolated as start-up + (time - start-up) x 13,000 / count "
        "(marked ~).",
        "Quality columns from `inspect_set` on all the generated pictures: share "
        "with pixel std < 10, exact duplicates at 32 px, Hasler-Suesstrunk colourfulness, mean "
        "pairwise absolute difference at 32 px (0-255).",
        "",
        "| kind | size | pictures | time (s) | pictures/s | 13,000 (s) | low-var | duplicates "
        "| colourfulness | pairwise diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, size, count, seconds, report, startup in rows:
        if count == PAPER_SET:
            full = f"{seconds:.1f}"
        else:
            full = f"~{startup + max(seconds - startup, 0.0) * PAPER_SET / count:.0f}"
        lines.append(
            f"| {kind} | {size} | {count} | {seconds:.1f} | {count / seconds:.0f} | {full} | "
            f"{100 * report.low_variance_share:.2f}% | {report.duplicates} | "
            f"{report.colourfulness_mean:.1f} | {report.mean_pairwise_difference:.1f} |"
        )
    lines += [
        "",
        "CPU time per picture, rendering only, one process (`time.process_time`); the last "
        "column is 13,000 x that / workers, the generation time with the workers' cores free "
        "(add the start-up above).",
        "",
        "| kind | size | pictures | CPU ms/picture | 13,000 on "
        f"{args.workers} free cores (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, size, n, seconds in cpu_rows:
        lines.append(f"| {kind} | {size} | {n} | {1e3 * seconds:.2f} | "
                     f"{PAPER_SET * seconds / args.workers:.1f} |")
    atomic_write_bytes(args.out, ("\n".join(lines) + "\n").encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
