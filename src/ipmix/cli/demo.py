"""`ipmix demo`: the main job (train with and without IPMix, evaluate, compare)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train the small model with and without IPMix on CIFAR-10, evaluate both, compare",
        description="The main job on a CPU budget: train the small model on a CIFAR-10 subset "
        "with no augmentation and with IPMix (+JSD), run the robustness suite on a test subset, "
        "and print a side-by-side table (report and plots are written under OUT/report). "
        "Finished stages are skipped and interrupted training resumes when rerun.",
    )
    parser.add_argument("--out", default="runs/demo", help="folder for the two runs and the report")
    parser.add_argument("--data", default=None, help="folder holding cifar10.npz (default: $IPMIX_DATA)")
    parser.add_argument("--subset", type=int, default=10_000, help="training images")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run")
    parser.add_argument("--n", type=int, default=500, help="test images for the robustness suite")
    parser.add_argument(
        "--suite", default="all", help="suite parts: all or a subset of clean,c,p,calibration,pgd,ood"
    )
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--seed", type=int, default=0, help="seed of training and evaluation")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ipmix.demo import DemoConfig, run_demo, summary

    if min(args.subset, args.epochs, args.n) < 1:
        raise ValueError("--subset, --epochs and --n must be >= 1")
    config = DemoConfig(
        out=args.out, data=args.data, subset=args.subset, epochs=args.epochs, n=args.n,
        suite=args.suite, workers=args.workers, device=args.device, seed=args.seed,
        progress=not args.no_progress,
    )
    report, plots = run_demo(config)
    print(summary(report, plots))
    return 0
