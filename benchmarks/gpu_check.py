"""One-shot GPU check of IPMixBatch: CUDA tests, throughput, training-step overhead, CUDA graphs.

    python benchmarks/gpu_check.py                    # on a CUDA machine: writes benchmarks/results/gpu.md
    python benchmarks/gpu_check.py --dry-run          # anywhere: every step on the CPU, no timings

Sections, all in one process (the tests in a subprocess that runs while this process compiles
its own kernels, before any timing):

1. the CUDA-marked tests (``pytest -m cuda tests/augment``: the Triton backend against the
   numba backend, launch counts, staged plans) on the GPU;
2. throughput of the torch and Triton backends at 32 and 224 px, batch 128 and 512, uint8
   and float inputs, and the CUDA kernels each call launches;
3. the cost of IPMixBatch in a training step, as ratios measured in this run: WRN-40-4 at
   32 px, batch 128, and torchvision's ResNet-50 at 224 px, batch 256, both bf16 autocast
   and channels-last; a vanilla step against the same step with IPMixBatch, without views
   (cross-entropy) and with ``views=2`` (clean + 2 views through the model, JSD loss, against
   the same step with three clean copies);
4. a CUDA graph of one WRN-40-4 training step with IPMixBatch (`stage_plan` before each
   replay, `apply_staged` captured): its batch must equal `forward`'s on the same stream,
   and its step time is compared with the eager step;
5. registers and spills of every kernel variant as this GPU's driver loaded it, next to what
   ptxas reported when `ipmix.augment.kernels.triton.compile` (the test suite's compile check, run
   without a GPU) compiled it for this GPU's architecture.

The issue's targets (IPMixBatch at most 5% of a WRN-40-4 step and 3% of a ResNet-50 step;
at least 20,000 img/s at 224 px) are printed against the measured figures. ``--dry-run`` runs
every section on the CPU with Triton's interpreter, on tiny batches (8 px images for the
throughput rows, 32 and 64 px steps, batch 2), and skips the timings and the graph capture;
it writes a report only with ``--out``. Images are synthetic (smooth gradients plus noise);
the mixing set is 64 pictures of the built-in generator.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU, Triton interpreter, tiny shapes, no timings")
    parser.add_argument("--out", default=None,
                        help="report path (default: benchmarks/results/gpu.md on a GPU, none in a dry run)")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum timed seconds per throughput row")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per row")
    parser.add_argument("--skip-tests", action="store_true", help="leave out section 1")
    return parser.parse_args(argv)


def run_tests(dry: bool) -> subprocess.Popen:
    """Start ``pytest -m cuda tests/augment`` in a subprocess (the interpreter's in a dry run)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "pytest", "-m", "cuda", "-p", "no:cacheprovider", "tests/augment"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def images(count: int, size: int, device, seed: int = 0):
    """Synthetic uint8 ``[count, 3, size, size]`` images: gradients plus noise."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0, 255, size)
    base = (ramp[None, :] + ramp[:, None]) / 2
    noise = torch.randn((count, 3, size, size), generator=generator) * 40
    return (base + noise).clamp(0, 255).to(torch.uint8).to(device)


def timed(call: Callable[[], object], seconds: float, cuda: bool, minimum: int = 3) -> float:
    """Seconds per call after two warm-up calls, at least `minimum` calls and `seconds`."""
    import torch

    call()
    call()
    if cuda:
        torch.cuda.synchronize()
    calls, start = 0, time.perf_counter()
    while calls < minimum or time.perf_counter() - start < seconds:
        call()
        calls += 1
        if cuda:
            torch.cuda.synchronize()
    return (time.perf_counter() - start) / calls


def kernels_per_call(transform, batch) -> int:
    """CUDA kernels one call launches (torch.profiler)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    transform(batch)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        transform(batch)
        torch.cuda.synchronize()
    return sum(1 for event in prof.events() if event.device_type == torch.autograd.DeviceType.CUDA)


def throughput(mixing_set, device, dry: bool, seconds: float) -> list[str]:
    """Rows of the backends' throughput table (section 2); first calls (compilation) timed apart."""
    import torch

    from ipmix import IPMixBatch

    cuda = device.type == "cuda"
    sizes, batches = ((8,), (2,)) if dry else ((32, 224), (128, 512))
    lines = ["| backend | image size | batch | input | img/s | ms per call | first call s | CUDA kernels |",
             "|---|---|---|---|---|---|---|---|"]
    for size in sizes:
        for batch in batches:
            data = images(batch, size, device)
            for dtype in ("uint8", "float"):
                batch_in = data if dtype == "uint8" else data.float().div_(255)
                for backend in ("torch", "triton"):
                    transform = IPMixBatch(mixing_set, seed=0, backend=backend)
                    start = time.perf_counter()
                    out = transform(batch_in)
                    if cuda:
                        torch.cuda.synchronize()
                    first = time.perf_counter() - start
                    assert out.shape == batch_in.shape and out.dtype == batch_in.dtype
                    if dry:
                        lines.append(f"| {backend} | {size} px | {batch} | {dtype} | (dry run) | | "
                                     f"{first:.1f} | |")
                        continue
                    per_call = timed(lambda t=transform, b=batch_in: t(b), seconds, cuda)
                    kernels = kernels_per_call(transform, batch_in)
                    lines.append(f"| {backend} | {size} px | {batch} | {dtype} | {batch / per_call:,.0f} | "
                                 f"{per_call * 1e3:.2f} | {first:.1f} | {kernels:,} |")
    return lines


LAUNCH_CONFIGS = ((512, 8), (1024, 8), (256, 4))  # (pixels per tile, warps): the default first


def launch_sweep(mixing_set, device, dry: bool, seconds: float) -> list[str]:
    """The Triton backend at 224 px, batch 512, uint8, per launch configuration (section 2)."""
    from ipmix import IPMixBatch
    from ipmix.augment.kernels.triton import apply as fused_triton

    if dry:
        return ["(dry run: no sweep)"]
    data = images(512, 224, device)
    default = fused_triton.BLOCK, fused_triton.NUM_WARPS
    lines = ["| pixels per tile | warps | img/s |", "|---|---|---|"]
    transform = IPMixBatch(mixing_set, seed=0, backend="triton")
    for block, warps in LAUNCH_CONFIGS:
        fused_triton.BLOCK, fused_triton.NUM_WARPS = block, warps
        per_call = timed(lambda: transform(data), seconds, True)
        lines.append(f"| {block} | {warps} | {512 / per_call:,.0f} |")
    fused_triton.BLOCK, fused_triton.NUM_WARPS = default
    return lines


def training_step(model, optimizer, augment, batch, labels, views: int, cuda: bool) -> Callable[[], object]:
    """One SGD step (bf16 autocast, channels-last): IPMixBatch or identity, then the model."""
    import torch

    from ipmix.training.losses import cross_entropy, jsd_loss

    autocast = torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16, cache_enabled=False)

    def step() -> torch.Tensor:
        clean = batch.float().div(255)
        if views == 1:
            inputs = [augment(batch).float().div(255) if augment is not None else clean]
        else:
            augmented = augment(batch) if augment is not None else (batch, batch)
            inputs = [clean, *(view.float().div(255) for view in augmented)]
        x = torch.cat(inputs).contiguous(memory_format=torch.channels_last)
        with autocast:
            logits = model(x)
        loss = cross_entropy(logits, labels) if views == 1 else jsd_loss(logits.chunk(1 + views), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    return step


def build(name: str, device):
    import torch
    import torchvision

    from ipmix.models import build_model

    if name == "wrn40_4":
        model = build_model("wrn40_4", 10, seed=0)
    else:
        model = torchvision.models.resnet50(num_classes=1000)
    model = model.to(device).to(memory_format=torch.channels_last)
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)


def step_overhead(mixing_set, device, dry: bool, steps: int) -> list[str]:
    """Rows of the training-step table (section 3): vanilla vs IPMixBatch, views 1 and 2."""
    import torch

    from ipmix import IPMixBatch

    cuda = device.type == "cuda"
    setups = [("WRN-40-4", "wrn40_4", 32, 128, 10, 0.05), ("ResNet-50", "resnet50", 224, 256, 1000, 0.03)]
    lines = ["| model | image size | batch | views | vanilla s/step | with IPMixBatch s/step | ratio "
             "| target |", "|---|---|---|---|---|---|---|---|"]
    for label, name, size, batch, classes, target in setups:
        size, batch = (min(size, 64), 2) if dry else (size, batch)
        model, optimizer = build(name, device)
        data = images(batch, size, device, seed=1)
        labels = torch.arange(batch, device=device) % classes
        for views in (1, 2):
            augment = IPMixBatch(mixing_set, seed=0, views=views, backend="triton")
            times = []
            for with_ipmix in (False, True):
                transform = augment if with_ipmix else None
                step = training_step(model, optimizer, transform, data, labels, views, cuda)
                if dry:
                    step()
                    continue
                times.append(timed(step, 0.0, cuda, minimum=steps))
            if dry:
                lines.append(f"| {label} | {size} px | {batch} | {views} | (dry run) | | | |")
                continue
            ratio = times[1] / times[0]
            verdict = "met" if ratio <= 1 + target else "missed"
            lines.append(f"| {label} | {size} px | {batch} | {views} | {times[0]:.4f} | {times[1]:.4f} | "
                         f"{ratio:.3f} | <= {1 + target:.2f}: {verdict} |")
        del model, optimizer
    return lines


def graph_check(mixing_set, device, dry: bool, steps: int) -> list[str]:
    """Section 4: a CUDA graph of a WRN-40-4 step with IPMixBatch (eager staged steps in a dry run)."""
    import torch

    from ipmix import IPMixBatch

    cuda = device.type == "cuda"
    size, batch = (32, 2) if dry else (32, 128)
    model, optimizer = build("wrn40_4", device)
    data = images(batch, size, device, seed=2)
    labels = torch.arange(batch, device=device) % 10
    staged, eager = (IPMixBatch(mixing_set, seed=5, backend="triton") for _ in range(2))
    captured = {}

    def augment(images_in):
        out = staged.apply_staged(images_in)
        captured["batch"] = out
        return out

    step = training_step(model, optimizer, augment, data, labels, 1, cuda)
    if not cuda:
        for _ in range(2):
            staged.stage_plan(data)
            step()
            assert torch.equal(captured["batch"], eager(data)), "staged plan differs from forward"
        return ["Dry run: two staged steps run eagerly; their batches equal `forward`'s."]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            staged.stage_plan(data)
            step()
            eager(data)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    staged.stage_plan(data)
    eager(data)  # keep the two streams in step
    with torch.cuda.graph(graph):
        step()
    same = True
    for _ in range(3):
        staged.stage_plan(data)
        graph.replay()
        same &= torch.equal(captured["batch"], eager(data))
    torch.cuda.synchronize()

    def replay() -> None:
        staged.stage_plan(data)
        graph.replay()

    replayed = timed(replay, 0.0, True, minimum=steps)
    other = IPMixBatch(mixing_set, seed=6, backend="triton")
    eager_step = training_step(model, optimizer, other, data, labels, 1, True)
    eager_time = timed(eager_step, 0.0, True, minimum=steps)
    return [f"CUDA graph of a WRN-40-4 step with IPMixBatch (32 px, batch {batch}): captured and replayed; "
            f"replayed batches equal `forward`'s: {same}; {replayed:.4f} s per replayed step "
            f"(stage_plan included) vs {eager_time:.4f} s eager ({replayed / eager_time:.2f}x)."]


def registers(device, dry: bool) -> list[str]:
    """Section 5: each kernel variant's registers as compiled offline (ptxas) and as loaded here."""
    import torch

    from ipmix.augment.kernels.triton import apply as fused_triton
    from ipmix.augment.kernels.triton.compile import VARIANTS, compile_all, variant_launch, variant_name

    if dry:
        return ["(dry run: nothing compiled)"]
    major, minor = torch.cuda.get_device_capability(device)
    offline = compile_all((major * 10 + minor,), workers=8, report=lambda line: None)
    lines = [f"| kernel | offline for sm_{major}{minor} (ptxas) | registers here | n_spills here "
             "(local bytes / 4) |", "|---|---|---|---|"]
    for variant, report in zip(VARIANTS, offline, strict=True):
        grid, args, options = variant_launch(*variant, device=device)
        kernel = fused_triton._stage_kernel[grid](*args, **options)  # the launch returns the loaded kernel
        compiled = report.splitlines()[0] if isinstance(report, str) else (
            f"{report.registers} registers, {report.spill_stores} B spill stores")
        lines.append(f"| {variant_name(*variant)} | {compiled} | {kernel.n_regs} | {kernel.n_spills} |")
    torch.cuda.synchronize()
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.dry_run:
        os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported
    import numpy as np
    import torch
    import triton

    from ipmix import MixingSet
    from ipmix.mixing_sets import default_mixing_set
    from ipmix.utils.io import atomic_write_bytes

    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device; run with --dry-run to check the script on the CPU")
    device = torch.device("cpu" if args.dry_run else "cuda")
    tests = None if args.skip_tests else run_tests(args.dry_run)
    generated = default_mixing_set(32)
    mixing_set = MixingSet.from_array(np.stack([generated.picture(i, 64) for i in range(64)]))
    started = time.perf_counter()
    from ipmix import IPMixBatch

    default = IPMixBatch(mixing_set)._backend_for(device)  # what backend="auto" picks here
    # Compile the kernels (uint8 and float outputs) while the tests run; time nothing before they end.
    if not args.dry_run:
        from ipmix.augment.kernels.triton import apply as fused_triton

        for data in (images(2, 32, device), images(2, 32, device).float() / 255):
            IPMixBatch(mixing_set, seed=0, backend="triton")(data)
        for block, warps in LAUNCH_CONFIGS[1:]:  # the sweep's other configurations
            fused_triton.BLOCK, fused_triton.NUM_WARPS = block, warps
            IPMixBatch(mixing_set, seed=0, backend="triton")(images(2, 32, device))
        fused_triton.BLOCK, fused_triton.NUM_WARPS = LAUNCH_CONFIGS[0]
    test_lines = ["(skipped)"]
    if tests is not None:
        output, _ = tests.communicate()
        summary = [line for line in output.splitlines() if line.strip()][-1:]
        test_lines = [f"`pytest -m cuda tests/augment`: exit status {tests.returncode}; {' '.join(summary)}"]
        if tests.returncode != 0:
            test_lines += ["", "```", *output.splitlines()[-40:], "```"]
    rows = throughput(mixing_set, device, args.dry_run, args.seconds)
    sweep = launch_sweep(mixing_set, device, args.dry_run, args.seconds)
    steps = step_overhead(mixing_set, device, args.dry_run, args.steps)
    graph = graph_check(mixing_set, device, args.dry_run, args.steps)
    compiled = registers(device, args.dry_run)
    name = "CPU (dry run, Triton interpreter)"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    report = "\n".join([
        "# IPMixBatch on a GPU",
        "",
        f"Command: `python benchmarks/gpu_check.py {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
        f"Device: {name}; torch {torch.__version__}, triton {triton.__version__}.  ",
        f"Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; sections 2-5 took "
        f"{time.perf_counter() - started:.0f} s.  ",
        "Images: synthetic; mixing set: 64 generated pictures; default IPMix options; "
        f"`IPMixBatch()`'s backend on this device: {default}.",
        "",
        "## 1. CUDA-marked tests", "", *test_lines, "",
        "## 2. Throughput (target: at least 20,000 img/s at 224 px, Triton backend)", "", *rows, "",
        "Triton launch configurations (224 px, batch 512, uint8):", "", *sweep, "",
        "## 3. Training step with IPMixBatch (bf16 autocast, channels-last)", "", *steps, "",
        "## 4. CUDA graph", "", *graph, "",
        "## 5. Registers of the Triton kernel", "", *compiled, "",
    ])
    print(report)
    out = args.out or (None if args.dry_run else str(ROOT / "benchmarks/results/gpu.md"))
    if out:
        atomic_write_bytes(out, report.encode())
        print(f"wrote {out}")
    return 0 if tests is None or tests.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
