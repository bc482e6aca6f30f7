"""Parameter counts and training / inference throughput of every registered model.

For each model: parameters (10 classes); inference img/s at a small batch (always); then, if a
training step at the full batch is predicted to take at most ``--max-step-seconds`` (from the
small-batch forward time), training img/s (forward, backward and an SGD Nesterov step with
weight decay, the trainer's optimiser) and inference img/s at the full batch. Float32, random
[0, 1] inputs of 32x32, random labels. Writes a markdown table (atomically).

    .venv/bin/python benchmarks/models.py --out benchmarks/results/models.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ipmix.models import MODEL_NAMES, build_model, count_parameters
from ipmix.utils.io import atomic_write_bytes


def throughput(
    step: Callable[[], None], batch: int, min_seconds: float, min_steps: int, repeats: int
) -> float:
    """Images per second of `step`: the best of `repeats` windows after one warm-up call.

    Each window runs at least `min_steps` steps and `min_seconds`. The best window is the one
    least disturbed by other processes on a shared machine.
    """
    step()
    best = 0.0
    for _ in range(repeats):
        steps, start = 0, time.perf_counter()
        while steps < min_steps or time.perf_counter() - start < min_seconds:
            step()
            steps += 1
        best = max(best, batch * steps / (time.perf_counter() - start))
    return best


def measure(
    name: str,
    batch: int,
    small_batch: int,
    channels_last: bool,
    device: torch.device,
    max_step_seconds: float,
    min_seconds: float,
    repeats: int,
) -> dict[str, object]:
    """One row of the table for model `name`."""
    generator = torch.Generator().manual_seed(0)
    model = build_model(name, 10, seed=0).to(device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)

    def inputs(size: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.rand(size, 3, 32, 32, generator=generator).to(device, memory_format=memory_format)
        return x, torch.randint(0, 10, (size,), generator=generator).to(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def inference_step(x: torch.Tensor) -> Callable[[], None]:
        def step() -> None:
            with torch.no_grad():
                model(x)
            sync()
        return step

    row: dict[str, object] = {"model": name, "params": count_parameters(model)}
    model.eval()
    x_small, _ = inputs(small_batch)
    row["infer_small"] = throughput(inference_step(x_small), small_batch, min_seconds, 2, repeats)
    # A training step costs about 3 forwards; scale the small-batch forward time to `batch`.
    predicted = 3 * batch / float(row["infer_small"])
    row["predicted_step_s"] = predicted
    if predicted > max_step_seconds:
        return row

    x, y = inputs(batch)
    row["infer"] = throughput(inference_step(x), batch, min_seconds, 2, repeats)
    model.train()
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4
    )

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        sync()

    row["train"] = throughput(train_step, batch, min_seconds, 3, repeats)
    return row


def _fmt(value: object) -> str:
    return f"{value:,.0f}" if isinstance(value, float) else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    parser.add_argument("--batch", type=int, default=128, help="full batch (training, inference)")
    parser.add_argument("--small-batch", type=int, default=8, help="batch of the first forward")
    parser.add_argument("--threads", type=int, nargs="+", default=[2],
                        help="torch CPU thread counts to measure (one row each)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--layouts", nargs="+", default=["nchw"], choices=["nchw", "channels_last"],
                        help="memory layouts to measure (one row per model and layout)")
    parser.add_argument("--max-step-seconds", type=float, default=3.0,
                        help="skip full-batch runs predicted slower than this per training step")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="length of a timing window")
    parser.add_argument("--repeats", type=int, default=3, help="windows per number (best is kept)")
    parser.add_argument("--machine", default="2-core CPU dev box")
    parser.add_argument("--out", default=None, help="markdown file to write (else stdout only)")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    load_before = os.getloadavg()
    runs = [
        (name, layout, threads)
        for name in args.models for layout in args.layouts for threads in args.threads
    ]
    rows = []
    for name, layout, threads in tqdm(runs, desc="models"):
        torch.set_num_threads(threads)
        row = measure(name, args.batch, args.small_batch, layout == "channels_last", device,
                      args.max_step_seconds, args.min_seconds, args.repeats)
        rows.append(row | {"layout": layout, "threads": threads})
    load_after = os.getloadavg()

    command = " ".join(["python", "benchmarks/models.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [
        "# Model sizes and throughput",
        "",
        f"- Machine: {args.machine} ({platform.processor() or platform.machine()}), "
        f"device `{args.device}`; torch {torch.__version__}.",
        f"- Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. Command: `{command}`.",
        "- float32, 32x32 inputs, 10 classes. Training = forward + backward + SGD "
        f"(Nesterov, weight decay) step at batch {args.batch}. Inference = eval-mode forward "
        f"without gradients. Each number is the best of {args.repeats} windows of at least "
        f"{args.min_seconds:g} s.",
        f"- Load average (1 min) before / after: {load_before[0]:.2f} / {load_after[0]:.2f} "
        "(the box is shared with other developers: with another busy process, 2 threads can be "
        "several times slower than 1, as both threads wait for the descheduled one).",
        f"- Full-batch numbers are skipped ('-') when a training step is predicted to take more "
        f"than {args.max_step_seconds:g} s (predicted from the batch-{args.small_batch} forward).",
        "",
        f"| model | layout | threads | parameters | train img/s (b{args.batch}) "
        f"| inference img/s (b{args.batch}) | inference img/s (b{args.small_batch}) "
        "| predicted train step (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| `{row['model']}` | {row['layout']} | {row['threads']} | {row['params']:,} | "
            f"{_fmt(row.get('train'))} | {_fmt(row.get('infer'))} | {_fmt(row['infer_small'])} | "
            f"{float(row['predicted_step_s']):.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        atomic_write_bytes(args.out, text.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
