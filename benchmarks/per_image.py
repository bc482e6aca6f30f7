"""The per-image `ipmix.IPMix` on its backends against torchvision's AugMix, and where its time goes.

    .venv/bin/python benchmarks/per_image.py --out benchmarks/results/per_image.md

One process, one torch thread, every row in the same run (ratios compare like with like on a
shared machine), images per CPU second. Both transforms take their ImageNet presets
(`ipmix.training.registry.PRESETS["imagenet"]`: IPMix op severity 1, mixing severity 4, all
ops; AugMix severity 1) at both sizes, on PIL images (CIFAR-10 test images, upscaled
bilinearly to 224 px). Also:

- the split of one image's cost at B = 1 (a plan drawn and encoded for each image, as in
  training, where every sample reseeds its stream) and with the default blocks of 64 plans:
  sampling, encoding, the kernel (`ipmix.augment.kernels.fused.apply.apply_rows` on one row) and the rest of
  the call (layout changes, the mixing picture's crop, the transform's own overhead);
- the first call in a fresh process (a DataLoader worker started by spawn): the import and the
  first image, wall time, with numba's disk cache warm (every later worker) and empty
  (``NUMBA_CACHE_DIR`` pointed at an empty folder: the first run on a machine compiles).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

FIRST_CALL = """
import time
start = time.perf_counter()
import numpy as np, PIL.Image
from ipmix import IPMix
imported = time.perf_counter()
IPMix(np.zeros((4, 64, 64, 3), np.uint8), seed=0)(PIL.Image.new("RGB", ({size}, {size})))
print(imported - start, time.perf_counter() - imported)
"""


def cpu_rate(call: Callable[[], int], seconds: float) -> float:
    """Images per CPU second of `call` (it returns its image count), after one warm-up call."""
    call()
    done, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        done += call()
    return done / (time.process_time() - start)


def cpu_seconds(call: Callable[[], object], repeats: int) -> float:
    call()
    start = time.process_time()
    for _ in range(repeats):
        call()
    return (time.process_time() - start) / repeats


def split_rows(transform, pils: list, size: int, seconds: float) -> list[str]:
    """One image's CPU time per plan block (1 and 64): sampling, encoding, the kernel
    (`fused.apply_rows` on one row) and the rest of the call, each averaged over 64 images'
    plans (plans differ a lot in cost)."""
    from ipmix.augment.encoding import encode_plan
    from ipmix.augment.inputs import planar
    from ipmix.augment.kernels.fused.apply import apply_rows

    chw = planar(np.asarray(pils[0]))[None]
    rows = []
    for block in (1, 64):
        transform.plan_block = block
        plans = [transform.sample_plan(size, size, block) for _ in range(64 // block)]
        encoded = [encode_plan(plan, size, size) for plan in plans]
        sample = cpu_seconds(lambda block=block: transform.sample_plan(size, size, block), 200) / block
        encode = cpu_seconds(lambda plan=plans[0]: encode_plan(plan, size, size), 200) / block
        banks = [[transform._picture_bank(plan, i, size, size) for i in range(block)] for plan in plans]
        zeros, offsets = np.zeros(block, np.int64), np.zeros((block, 2), np.int64)

        def kernel(plans=plans, encoded=encoded, banks=banks, zeros=zeros, offsets=offsets) -> None:
            for plan, stages, bank in zip(plans, encoded, banks, strict=True):
                for i in range(plan.batch_size):
                    apply_rows(chw, stages, plan.mask_seed, (bank[i], zeros, offsets), zeros, (i, i + 1),
                               as_bytes=True)

        applied = cpu_seconds(kernel, 10) / 64
        total = 1 / cpu_rate(lambda: sum(1 for image in pils if transform(image) is not None), seconds)
        rest = total - sample - encode - applied
        rows.append(f"| {size} px | {block} | {sample * 1e6:.0f} | {encode * 1e6:.0f} | "
                    f"{applied * 1e6:.0f} | {rest * 1e6:.0f} | {total * 1e6:.0f} | "
                    f"{(sample + encode) / applied:.2f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum CPU seconds per row")
    parser.add_argument("--sizes", default="32,224")
    parser.add_argument("--pictures", type=int, default=200, help="mixing pictures (generated set)")
    parser.add_argument("--data", default=os.environ.get("IPMIX_DATA", "../shared/data"))
    parser.add_argument("--machine", default="2-core CPU dev box, shared with other jobs")
    parser.add_argument("--out", default="benchmarks/results/per_image.md")
    args = parser.parse_args(argv)

    import torch
    from PIL import Image
    from torchvision.transforms import v2

    from ipmix import IPMix, MixingSet
    from ipmix.mixing_sets import default_mixing_set
    from ipmix.training.registry import PRESETS
    from ipmix.utils.io import atomic_write_bytes

    torch.set_num_threads(1)
    load_start = os.getloadavg()[0]
    with np.load(Path(args.data) / "cifar10.npz") as data:
        cifar = data["x_test"][:64]
    sizes = [int(s) for s in args.sizes.split(",")]
    settings = PRESETS["imagenet"]
    rows, splits, first_calls = [], [], []
    for size in sizes:
        images = cifar if size == 32 else np.stack(
            [np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in cifar])
        pils = [Image.fromarray(im) for im in images]
        side = round(size * settings["ipmix"].picture_scale)
        generated = default_mixing_set(32)
        pictures = MixingSet.from_array(np.stack([generated.picture(i, side) for i in range(args.pictures)]))

        def ipmix(backend: str, pictures: MixingSet = pictures) -> IPMix:
            transform = IPMix(pictures, seed=0, backend=backend)
            transform.options = settings["ipmix"]
            return transform

        def per_image(transform: Callable, pils: list = pils) -> Callable[[], int]:
            return lambda: sum(1 for image in pils if transform(image) is not None)

        transforms = {"torchvision v2 AugMix": v2.AugMix(**settings["augmix"]),
                      "ipmix.IPMix (numba, default)": ipmix("numba"),
                      "ipmix.IPMix (backend='pil')": ipmix("pil")}
        rates = {name: cpu_rate(per_image(t), args.seconds) for name, t in transforms.items()}
        augmix = rates["torchvision v2 AugMix"]
        rows += [f"| {name} | {size} px | {rate:,.0f} | {rate / augmix:.2f} |"
                 for name, rate in rates.items()]
        splits += split_rows(ipmix("numba"), pils, size, args.seconds)
        timings = []
        for cache in ("warm", "empty"):
            with tempfile.TemporaryDirectory() as empty:
                env = {**os.environ, **({"NUMBA_CACHE_DIR": empty} if cache == "empty" else {})}
                child = subprocess.run([sys.executable, "-c", FIRST_CALL.format(size=size)], env=env,
                                       capture_output=True, text=True, check=True)
            timings.append([float(v) for v in child.stdout.split()])
        (imported, first), (_, cold) = timings
        first_calls.append(f"| {size} px | {imported:.2f} s | {first * 1e3:.0f} ms | {cold:.1f} s |")
    load_end = os.getloadavg()[0]
    command = "python benchmarks/per_image.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = "\n".join([
        "# Per-image IPMix",
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {args.machine} ({platform.machine()}, {os.cpu_count()} logical CPUs, torch "
        f"{torch.__version__}), one torch thread; 1-minute load average {load_start:.1f} at the start, "
        f"{load_end:.1f} at the end.  ",
        f"Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.  ",
        "Inputs: 64 CIFAR-10 test images as PIL images (224 px: upscaled); ImageNet presets of both "
        f"transforms; {args.pictures} generated mixing pictures. At least {args.seconds:g} CPU seconds "
        "per row.",
        "",
        "| pipeline | image size | img/s (CPU time) | x tv AugMix |",
        "|---|---|---|---|",
        *rows,
        "",
        "One image's CPU time (microseconds) on the numba backend, with plans drawn one at a time "
        "(block 1, as in training with per-sample streams) or in blocks of 64 (the default):",
        "",
        "| image size | block | sampling | encoding | kernel | the rest of the call | total "
        "| (sampling + encoding) / kernel |",
        "|---|---|---|---|---|---|---|---|",
        *splits,
        "",
        "A fresh process (as a spawned DataLoader worker), wall time:",
        "",
        "| image size | import ipmix | first image (numba's disk cache warm) | first image (cache empty: "
        "compiling) |",
        "|---|---|---|---|",
        *first_calls,
        "",
    ])
    print(report)
    atomic_write_bytes(args.out, report.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
