"""Augmentation throughput: vanilla, torchvision AugMix, per-image IPMix and batched IPMix.

    .venv/bin/python benchmarks/throughput.py --out benchmarks/results/throughput.md

One process, one torch thread (`torch.set_num_threads(1)`), everything in the same run so the
ratios compare like with like on a shared machine. Inputs are CIFAR-10 test images
($IPMIX_DATA/cifar10.npz; upscaled bilinearly for the 224 px rows). Rows:

- vanilla: RandomCrop(32, padding=4) + RandomHorizontalFlip + ToTensor on a PIL image, the
  authors' CIFAR preprocessing without augmentation;
- torchvision v2 AugMix (severity 3, width 3, all_ops=False) on a PIL image;
- `ipmix.IPMix` on a PIL image (paper mode, CIFAR defaults);
- `ipmix.IPMixBatch` on a uint8 ``[B, 3, H, W]`` CPU tensor (same options), once per backend:
  the fused numba kernels (the CPU default, one thread; also with ``threads=N`` for each N of
  `--threads` above 1, whose scaling is a wall-clock ratio) and the grouped torch kernels (the
  path other devices take).

`--baseline SRC` compares with another version of the code (SRC: the `src` folder of another
checkout, e.g. `git archive REV src | tar -x -C /tmp/base`): after this version's rows, a child
process times torchvision AugMix and the numba rows with SRC first on the path, and the report
gives both versions' ratios to AugMix, each measured within its own process.

`--profile` adds where the numba backend's time goes at the largest size: its CPU time per
image with the default options and with one ingredient removed at a time (public options
only, so the same command profiles older versions of the code).

Mixing pictures: the first `--pictures` pictures of the built-in generated set, rendered once
before timing into a stored (array) set, so that no row pays for rendering. Each row runs for
at least `--seconds` after one warm-up call; the table gives images per second and the ratio
to torchvision AugMix at the same image size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def timed(call: Callable[[], int], seconds: float) -> tuple[float, float]:
    """Images per wall-clock second and per CPU second of `call` (which returns its image count).

    On a machine shared with other jobs the wall-clock rate depends on the load; the rate per
    CPU second of this (single-threaded) process is the steadier figure.
    """
    call()  # warm-up: caches, lazy set-up
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        done += call()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed, done / (time.process_time() - cpu)


def train_step_seconds(make_batch: Callable[[], tuple], steps: int, seed: int = 0) -> tuple[float, float]:
    """Wall and CPU seconds per training step (batch preparation included) of the `small` model."""
    import torch

    from ipmix.models import build_model

    torch.manual_seed(seed)
    model = build_model("small", 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)

    def step() -> None:
        images, labels = make_batch()
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps, (time.process_time() - cpu) / steps


def training_table(cifar: np.ndarray, mixing_set, steps: int, batch: int = 128) -> str:
    """Seconds per training step of the `small` model at batch 128 with each input pipeline.

    Every pipeline starts from PIL images and the authors' crop + flip; the model step (forward,
    backward, SGD) is the same. Per-image rows transform each image then stack; the batched
    rows stack uint8 crops and augment the batch with `IPMixBatch` (as `IPMixCollate` does),
    once per backend.
    """
    import torch
    from PIL import Image
    from torchvision.transforms import v2

    from ipmix import IPMix, IPMixBatch

    rng = np.random.default_rng(0)
    pils = [Image.fromarray(im) for im in cifar]
    labels = torch.as_tensor(rng.integers(0, 10, len(pils)))
    crop_flip = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()])
    to_tensor = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    to_uint8 = v2.ToImage()
    per_image_ipmix = IPMix(mixing_set, seed=0)
    backends = {backend: IPMixBatch(mixing_set, seed=0, backend=backend) for backend in ("numba", "torch")}

    def take() -> tuple[list, torch.Tensor]:
        index = rng.integers(0, len(pils), batch)
        return [pils[i] for i in index], labels[index]

    def vanilla() -> tuple:
        images, y = take()
        return torch.stack([to_tensor(crop_flip(im)) for im in images]), y

    def per_image() -> tuple:
        images, y = take()
        return torch.stack([to_tensor(per_image_ipmix(crop_flip(im))) for im in images]), y

    def batched(backend: str) -> Callable[[], tuple]:
        def make() -> tuple:
            images, y = take()
            stacked = torch.stack([to_uint8(crop_flip(im)) for im in images])
            return backends[backend](stacked).float().div_(255), y
        return make

    pipelines = [("vanilla (crop + flip)", vanilla), ("per-image ipmix.IPMix", per_image)]
    pipelines += [(f"ipmix.IPMixBatch ({backend})", batched(backend)) for backend in backends]
    results = {name: train_step_seconds(make, steps) for name, make in pipelines}
    base_wall, base_cpu = results["vanilla (crop + flip)"]
    lines = [
        f"Training step of the `small` model, batch {batch}, {steps} steps each (input pipeline included, "
        "no JSD):",
        "",
        "| input pipeline | s/step (wall) | s/step (CPU time) | x vanilla (CPU time) |",
        "|---|---|---|---|",
    ]
    for name, (wall, cpu) in results.items():
        lines.append(f"| {name} | {wall:.3f} | {cpu:.3f} | {cpu / base_cpu:.2f} |")
    return "\n".join(lines) + "\n"


def overhead_note(cifar: np.ndarray, mixing_set) -> str:
    """Operator calls of one IPMixBatch call (batch 128, 32 px) and the CPU time of a batch of 8.

    The fixed cost per call: what a GPU pays in kernel launches whatever the batch size.
    """
    import torch
    from torch.profiler import ProfilerActivity, profile

    from ipmix import IPMixBatch

    transform = IPMixBatch(mixing_set, seed=0, backend="torch")
    batch = torch.from_numpy(cifar[:128]).permute(0, 3, 1, 2).contiguous()
    transform(batch)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        transform(batch)
    calls = sum(event.count for event in prof.key_averages() if event.key.startswith("aten::"))
    small = batch[:8]
    transform(small)
    start = time.process_time()
    for _ in range(20):
        transform(small)
    per_call = (time.process_time() - start) / 20
    return (f"IPMixBatch(backend='torch'), 32 px: {calls:,} aten operator calls (nested calls included) "
            f"per call at batch 128 (torch.profiler); a batch of 8 takes {per_call * 1e3:.1f} ms CPU time.")


def range_check_note(batches: dict[int, np.ndarray], mixing_set, seconds: float) -> str:
    """CPU time of the float range check (`ipmix.utils.images.check_unit_range`) on a float
    batch, as a share of an `IPMixBatch` (numba) call on the same batch (which includes it)."""
    import torch

    from ipmix import IPMixBatch
    from ipmix.utils.images import check_unit_range

    def cpu_seconds(call: Callable[[], object]) -> float:
        call()
        start, count = time.process_time(), 0
        while time.process_time() - start < seconds or count < 3:
            call()
            count += 1
        return (time.process_time() - start) / count

    parts = []
    for size, array in batches.items():
        batch = torch.from_numpy(array).permute(0, 3, 1, 2).float().div_(255).contiguous()
        transform = IPMixBatch(mixing_set, seed=0, backend="numba")
        check = cpu_seconds(lambda batch=batch: check_unit_range(batch))
        call = cpu_seconds(lambda batch=batch, transform=transform: transform(batch))
        parts.append(f"{size} px, float [{len(batch)}, 3, {size}, {size}]: {check * 1e3:.2f} ms, "
                     f"{check / call:.3f}x an IPMixBatch (numba) call on it ({call * 1e3:.1f} ms)")
    return "Range check (`check_unit_range`, CPU time): " + "; ".join(parts) + "."


PROFILE_CONFIGS: dict[str, dict] = {
    "default options": {},
    "without rotate and shears": {"ops": ("equalize", "posterize", "solarize", "translate_x", "translate_y",
                                          "mirror", "invert")},
    "without multiply mixing": {"mixing_ops": ("add", "random_pixels", "random_elements")},
    "image level only": {"patch_level": False, "pixel_level": False},
    "P levels only (no image level)": {"image_level": False},
}


def baseline_table(args: argparse.Namespace, rows: list[tuple[str, int, str, float, float]]) -> str:
    """This version's and the baseline's numba rows as ratios to AugMix in their own processes."""
    command = [sys.executable, __file__, "--numba-only", "--sizes", args.sizes, "--batches", args.batches,
               "--seconds", str(args.seconds), "--pictures", str(args.pictures), "--data", args.data]
    env = {**os.environ, "PYTHONPATH": str(Path(args.baseline).resolve())}
    child = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    baseline = json.loads(child.stdout.splitlines()[-1])
    versions = {"this version": rows, f"baseline (`{args.baseline}`)": baseline}
    lines = ["Numba backend, this version against the baseline (CPU time; each ratio within one process):",
             "", "| version | image size | batch | IPMixBatch (numba) img/s | tv AugMix img/s "
             "| x tv AugMix |", "|---|---|---|---|---|---|"]
    for version, version_rows in versions.items():
        augmix = {size: cpu for name, size, _, _, cpu in version_rows if name == "torchvision v2 AugMix"}
        for name, size, batch, _, cpu in version_rows:
            if name == "ipmix.IPMixBatch (numba)":
                lines.append(f"| {version} | {size} px | {batch} | {cpu:,.0f} | {augmix[size]:,.0f} | "
                             f"{cpu / augmix[size]:.2f} |")
    return "\n".join(lines) + "\n"


def thread_scaling(rows: list[tuple[str, int, str, float, float]], thread_counts: list[int]) -> str:
    """Wall-clock speed-up of the numba rows with N threads over one thread (same size and batch)."""
    if len(thread_counts) < 2:
        return ""
    single = {(size, batch): wall for name, size, batch, wall, _ in rows
              if name == "ipmix.IPMixBatch (numba)"}
    lines = ["Numba backend with `threads=N` (wall clock: x one thread, same size and batch):", "",
             "| threads | image size | batch | img/s (wall) | x one thread |", "|---|---|---|---|---|"]
    for name, size, batch, wall, _ in rows:
        if name.startswith("ipmix.IPMixBatch (numba, "):
            threads = name.split(", ")[1].split()[0]
            speedup = wall / single[size, batch]
            lines.append(f"| {threads} | {size} px | {batch} | {wall:,.0f} | {speedup:.2f} |")
    return "\n".join(lines) + "\n"


def profile_table(mixing_set, images: np.ndarray, seconds: float) -> str:
    """CPU milliseconds per image of the numba backend, default options and ablations."""
    import torch

    from ipmix import IPMixBatch

    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()

    def rate(options: dict) -> float:
        transform = IPMixBatch(mixing_set, seed=0, backend="numba", **options)
        return timed(lambda: (transform(tensor), len(tensor))[1], seconds)[1]

    size = images.shape[1]
    lines = [f"Where the numba backend's time goes at {size} px (batch {len(images)}, CPU time):", "",
             "| options | ms per image | img/s |", "|---|---|---|"]
    for name, options in PROFILE_CONFIGS.items():
        per_second = rate(options)
        lines.append(f"| {name} | {1e3 / per_second:.3f} | {per_second:,.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum timed seconds per row")
    parser.add_argument("--pictures", type=int, default=1000, help="mixing pictures (generated set)")
    parser.add_argument("--batches", default="128,512")
    parser.add_argument("--sizes", default="32,224")
    parser.add_argument("--device", default="cpu",
                        help="device of the IPMixBatch rows (e.g. cuda); per-image rows run on the CPU")
    parser.add_argument("--threads", default="1,2",
                        help="numba threads of the IPMixBatch (numba) rows (1: the single-threaded default)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the numba backend at the largest size (ablations)")
    parser.add_argument("--train-steps", type=int, default=10,
                        help="training steps of the small model per pipeline (0: skip)")
    parser.add_argument("--baseline", default=None,
                        help="src folder of another version: its numba rows, timed in a child process")
    parser.add_argument("--numba-only", action="store_true",
                        help="(internal) time AugMix and the single-thread numba rows only, print JSON")
    parser.add_argument("--data", default=os.environ.get("IPMIX_DATA", "../shared/data"))
    parser.add_argument("--machine", default="2-core CPU dev box, shared with other jobs")
    parser.add_argument("--out", default="benchmarks/results/throughput.md")
    args = parser.parse_args(argv)

    import torch
    from PIL import Image
    from torchvision.transforms import v2
    from tqdm import tqdm

    from ipmix import IPMix, IPMixBatch, MixingSet
    from ipmix.mixing_sets import default_mixing_set
    from ipmix.utils.io import atomic_write_bytes

    torch.set_num_threads(1)
    load_start = os.getloadavg()[0]
    path = Path(args.data) / "cifar10.npz"
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 not found at {path}; pass --data or set IPMIX_DATA")
    with np.load(path) as data:
        cifar = data["x_test"][:512]
    generated = default_mixing_set(32)
    pictures = np.stack([generated.picture(i, 64) for i in tqdm(range(args.pictures), desc="pictures")])
    mixing_set = MixingSet.from_array(pictures)
    sizes = [int(s) for s in args.sizes.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    thread_counts = [int(n) for n in args.threads.split(",")]

    def images_at(size: int) -> np.ndarray:
        if size == 32:
            return cifar
        return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR))
                         for im in cifar[:64]])

    def per_image(transform: Callable, pils: list[Image.Image]) -> Callable[[], int]:
        def call() -> int:
            for image in pils:
                transform(image)
            return len(pils)
        return call

    device = torch.device(args.device)

    def batched(transform: IPMixBatch, tensor: torch.Tensor) -> Callable[[], int]:
        tensor = tensor.to(device)

        def call() -> int:
            transform(tensor)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return len(tensor)
        return call

    rows: list[tuple[str, int, str, float, float]] = []  # name, size, batch, img/s wall, CPU
    plan = []
    for size in sizes:
        array = images_at(size)
        pils = [Image.fromarray(im) for im in array[:64]]
        if size == 32 and not args.numba_only:
            vanilla = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip(), v2.ToImage(),
                                  v2.ToDtype(torch.float32, scale=True)])
            plan.append(("vanilla (crop + flip + ToTensor)", size, "1", per_image(vanilla, pils)))
        augmix = v2.AugMix(severity=3, mixture_width=3, chain_depth=-1, alpha=1.0, all_ops=False)
        plan.append(("torchvision v2 AugMix", size, "1", per_image(augmix, pils)))
        if not args.numba_only:
            plan.append(("ipmix.IPMix", size, "1", per_image(IPMix(mixing_set, seed=0), pils)))
        for batch in batches:
            repeats = -(-batch // len(array))
            tensor = torch.from_numpy(np.concatenate([array] * repeats)[:batch]).permute(0, 3, 1, 2)
            variants = [("numba", n) for n in thread_counts] + [("torch", 1)]
            variants = [("numba", 1)] if args.numba_only else variants
            for backend, threads in variants if device.type == "cpu" else [("torch", 1)]:
                extra = {"threads": threads} if threads > 1 else {}  # (older versions lack `threads`)
                transform = IPMixBatch(mixing_set, seed=0, backend=backend, **extra)
                detail = f", {threads} threads" if threads > 1 else ""
                name = f"ipmix.IPMixBatch ({backend}{detail}{'' if device.type == 'cpu' else f', {device}'})"
                plan.append((name, size, str(batch), batched(transform, tensor.contiguous())))
    for name, size, batch, call in tqdm(plan, desc="rows"):
        rows.append((name, size, batch, *timed(call, args.seconds)))
    if args.numba_only:
        print(json.dumps(rows))
        return 0
    comparison = baseline_table(args, rows) if args.baseline else ""
    print(comparison)

    reference = {size: cpu for name, size, _, _, cpu in rows if name == "torchvision v2 AugMix"}
    lines = [
        "| pipeline | image size | batch | img/s (wall) | img/s (CPU time) | x tv AugMix (CPU time) |",
        "|---|---|---|---|---|---|",
    ]
    for name, size, batch, wall, cpu in rows:
        ratio = cpu / reference[size]
        lines.append(f"| {name} | {size} px | {batch} | {wall:,.0f} | {cpu:,.0f} | {ratio:.2f} |")
    table = "\n".join(lines)
    print(table)
    scaling = thread_scaling(rows, thread_counts)
    print(scaling)

    overhead = overhead_note(cifar, mixing_set)
    print(overhead)
    largest, at_size = max(batches), {size: images_at(size) for size in sizes}
    range_note = range_check_note(
        {size: np.concatenate([a] * -(-largest // len(a)))[:largest] for size, a in at_size.items()},
        mixing_set, args.seconds)
    print(range_note)

    profile = profile_table(mixing_set, images_at(sizes[-1]), args.seconds) if args.profile else ""
    print(profile)

    train_table = ""
    if args.train_steps > 0:
        train_table = training_table(cifar, mixing_set, args.train_steps)
        print(train_table)
    command = "python benchmarks/throughput.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = "\n".join([
        "# Augmentation throughput",
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {args.machine} ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} logical CPUs, torch {torch.__version__}), one torch thread.  ",
        f"Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; 1-minute load average "
        f"{load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.  ",
        f"Inputs: CIFAR-10 test images (224 px: upscaled); mixing set: {args.pictures} pictures of the "
        "built-in generated set, stored as an array set. Per-image rows take PIL images; "
        "IPMixBatch takes a uint8 CPU tensor. At least "
        f"{args.seconds:g} s per row after one warm-up call.",
        "",
        table,
        "",
        scaling,
        "",
        comparison,
        "",
        overhead,
        "",
        range_note,


        profile,
        "",
        train_table,
    ])
    atomic_write_bytes(args.out, report.encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
