"""ipmix.corruptions.corrupt against imagecorruptions 1.1.2, per image, in one run.

    IPMIX_DATA=/path/to/data python benchmarks/imagecorruptions.py [--sizes 224x224,375x500]

The reference is ``tests/corruptions/imagecorruptions_reference.py``: the release on PyPI with
the two fixes it needs on NumPy 2 and today's scikit-image, drawing from a generator where the
release draws from numpy's global state (glass blur's per-pixel draws included, as the release
makes them; its unreleased master compiles that loop with numba). For every corruption and
severity, on a real photo (``skimage.data``) of each size, the two run alternately on one
thread, `--repeats` times (each timing enough calls in a row to take 20 ms), after a warm-up call
of each; the speed-up is the ratio of their per-call times in this one run (medians, then the
mean over severities), and the outputs are compared on the same seed. Writes
``benchmarks/results/imagecorruptions.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "corruptions"))

import imagecorruptions_reference as reference  # noqa: E402


def _per_call(call, seed: int, number: int) -> float:
    """Seconds per call of `call`, over `number` calls in a row."""
    start = time.perf_counter()
    for offset in range(number):
        call(seed + offset)
    return (time.perf_counter() - start) / number


def time_size(size: tuple[int, int], repeats: int, frost_dir: str) -> list[dict]:
    """One row per corruption: milliseconds per call of each, the mean over severities 1..5 of
    the median of `repeats` timings (each of enough calls in a row to take 20 ms)."""
    from ipmix.corruptions import corrupt, get_corruption_names

    (image,) = reference.photos((size,))
    rows = []
    for name in get_corruption_names("all"):
        seconds = {"reference": 0.0, "ipmix": 0.0}
        same = True
        for severity in range(1, 6):
            calls = {
                "reference": functools.partial(_reference, image, severity, name, frost_dir),
                "ipmix": functools.partial(_ipmix, corrupt, image, severity, name, frost_dir),
            }
            outputs = {who: call(severity) for who, call in calls.items()}  # warm-up, and the bytes
            same &= bool(np.array_equal(outputs["reference"], outputs["ipmix"]))
            numbers = {who: max(1, math.ceil(0.02 / _per_call(call, 0, 1))) for who, call in calls.items()}
            timings: dict[str, list[float]] = {"reference": [], "ipmix": []}
            for repeat in range(repeats):
                for who, call in calls.items():
                    timings[who].append(_per_call(call, 1000 * repeat, numbers[who]))
            for who in seconds:
                seconds[who] += float(np.median(timings[who])) / 5
        rows.append({
            "name": name,
            "reference_ms": 1000 * seconds["reference"],
            "ipmix_ms": 1000 * seconds["ipmix"],
            "speedup": seconds["reference"] / seconds["ipmix"],
            "same": same,
        })  # fmt: skip
    return rows


def _reference(image: np.ndarray, severity: int, name: str, frost_dir: str, seed: int) -> np.ndarray:
    return reference.corrupt(image, severity, name, np.random.default_rng(seed), frost_dir)


def _ipmix(corrupt, image: np.ndarray, severity: int, name: str, frost_dir: str, seed: int) -> np.ndarray:
    return corrupt(image, severity, name, rng=np.random.default_rng(seed), frost_dir=frost_dir)


IMPORT_PROBE = """
import json, sys, time
start = time.perf_counter()
import ipmix.corruptions
package = time.perf_counter()
from ipmix.corruptions import corrupt
imported = time.perf_counter()
import numpy as np
corrupt(np.zeros((224, 224, 3), np.uint8), 3, "gaussian_noise", seed=0)
first = time.perf_counter()
third_party = sorted({m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names) - {"ipmix"})
print(json.dumps({"package": package - start, "corrupt": imported - package, "first_call": first - imported,
                  "torch": "torch" in sys.modules, "third_party": [m for m in third_party if m[0] != "_"]}))
"""


def import_costs(processes: int) -> list[str]:
    """What ``import ipmix.corruptions`` and ``from ipmix.corruptions import corrupt`` cost in a
    fresh process (medians over `processes`), and what they import; ``import torch`` for scale."""
    import json
    import subprocess

    def probe(code: str) -> str:
        return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout

    runs = [json.loads(probe(IMPORT_PROBE)) for _ in range(processes)]
    torch_code = "import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t)"
    torch_s = [float(probe(torch_code)) for _ in range(processes)]
    median = {key: 1000 * float(np.median([run[key] for run in runs]))
              for key in ("package", "corrupt", "first_call")}
    return [
        "", f"## Import (fresh processes, medians of {processes})", "",
        f"- `import ipmix.corruptions`: {median['package']:.0f} ms (the standard library and ipmix's own "
        "`__init__` only: the names load on first use);",
        f"- then `from ipmix.corruptions import corrupt`: {median['corrupt']:.0f} ms, importing "
        f"{', '.join(runs[0]['third_party'])}; torch imported: {'yes' if runs[0]['torch'] else 'no'};",
        f"- then the first call (gaussian_noise at 224 px, its kernels read from numba's cache): "
        f"{median['first_call']:.0f} ms;",
        f"- for scale, `import torch` alone: {1000 * float(np.median(torch_s)):.0f} ms.",
    ]  # fmt: skip


def table(rows: list[dict]) -> list[str]:
    lines = ["| corruption | imagecorruptions ms | ipmix ms | speed-up | same bytes |",
             "|---|---:|---:|---:|---|"]
    for row in rows:
        lines.append(
            f"| {row['name']} | {row['reference_ms']:.2f} | {row['ipmix_ms']:.2f} | {row['speedup']:.1f}x | "
            f"{'yes' if row['same'] else 'NO'} |"
        )
    reference_total = sum(row["reference_ms"] for row in rows)
    ipmix_total = sum(row["ipmix_ms"] for row in rows)
    speedup = reference_total / ipmix_total
    lines.append(f"| all 19 (sum) | {reference_total:.1f} | {ipmix_total:.1f} | {speedup:.1f}x | |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="224x224,375x500", help="comma-separated HxW")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per severity")
    parser.add_argument("--imports", type=int, default=7, help="fresh processes timing the import")
    parser.add_argument("--data", default=None, help="data folder (default: $IPMIX_DATA)")
    parser.add_argument("--frost", default=None, help="frost folder (default: DATA/frost)")
    parser.add_argument("--out", default="benchmarks/results/imagecorruptions.md")
    parser.add_argument("--machine", default="2-core CPU dev box")
    args = parser.parse_args(argv)

    import cv2
    from threadpoolctl import threadpool_limits

    from ipmix.data.cifar import data_root
    from ipmix.utils.io import atomic_write_bytes

    threadpool_limits(1)
    cv2.setNumThreads(1)
    frost = args.frost or str(data_root(args.data) / "frost")
    sizes = [tuple(int(side) for side in size.split("x")) for size in args.sizes.split(",")]
    load_start, start = os.getloadavg(), time.perf_counter()
    body = import_costs(args.imports)
    for size in sizes:
        body += ["", f"## {size[0]} x {size[1]} px", "", *table(time_size(size, args.repeats, frost))]
    load_end = os.getloadavg()
    import PIL
    import scipy
    import skimage

    lines = [
        "# ipmix.corruptions.corrupt against imagecorruptions 1.1.2",
        "",
        f"Machine: {args.machine} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"shared with other jobs); date {dt.date.today().isoformat()}; Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, scikit-image {skimage.__version__}, OpenCV "
        f"{cv2.__version__}, Pillow {PIL.__version__}; one thread for both (threadpoolctl, "
        f"cv2.setNumThreads); 1-minute load average {load_start[0]:.1f} at the start, {load_end[0]:.1f} "
        f"at the end; {time.perf_counter() - start:.0f} s.",
        "",
        f"Command: `python benchmarks/imagecorruptions.py --sizes {args.sizes} --repeats {args.repeats} "
        f"--imports {args.imports}`",
        "",
        "Per image: one `corrupt` call on a real photo (`skimage.data`), the mean over severities 1..5 of "
        f"the median of {args.repeats} timings (each of enough calls in a row to take 20 ms) after a warm-up "
        "call, the two alternating; the speed-up is the ratio of the two in this one run. "
        "imagecorruptions is the release with its NumPy 2 and scikit-image fixes "
        "(`tests/corruptions/imagecorruptions_reference.py`); same bytes: the outputs on the same seed "
        "are identical at every severity.",
        *body,
    ]
    atomic_write_bytes(Path(args.out), ("\n".join(lines) + "\n").encode())
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
