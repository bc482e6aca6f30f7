"""`ipmix demo`: the main job (IPMix against no augmentation, with intervals)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train the small model with and without IPMix on CIFAR-10, evaluate both, compare",
        description="The main job on a CPU budget (about 9 minutes on 2 cores): train the "
        "small model on all CIFAR-10 training images with no augmentation and with IPMix per "
        "batch, run the robustness suite, and print each metric for both with 95% bootstrap "
        "intervals over the test images and the paired difference (marked when inside the "
        "noise), plus each arm's epoch time. Report and plots go to OUT/report. Finished stages "
        "are skipped and interrupted training resumes when rerun.",
    )
    parser.add_argument("--out", default="runs/demo", help="folder for the runs and the report")
    parser.add_argument("--data", default=None, help="folder holding cifar10.npz (default: $IPMIX_DATA)")
    parser.add_argument("--subset", type=int, default=None, help="training images (default: all)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per arm (default 3)")
    parser.add_argument("--n-clean", type=int, default=10_000,
                        help="test images for clean error and calibration (default 10000)")
    parser.add_argument("--n", type=int, default=500,
                        help="test images for CIFAR-C, PGD and OOD (default 500)")
    parser.add_argument("--n-p", type=int, default=500, help="test images for CIFAR-P (default 500)")
    parser.add_argument("--jsd", action="store_true",
                        help="train the IPMix arm with the JSD loss (three passes per image)")
    parser.add_argument("--mixing-set-size", type=int, default=None, metavar="N",
                        help="generate an N-picture mixing set instead of rendering the built-in "
                        "13,000 (quick trials)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads (fixed, so that reruns give the same numbers)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--seed", type=int, default=0, help="seed of training and evaluation")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ipmix.demo import DemoConfig, run_demo, summary

    for name in ("epochs", "n_clean", "n", "n_p", "threads"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    for name in ("subset", "mixing_set_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    config = DemoConfig(
        out=args.out, data=args.data, subset=args.subset, epochs=args.epochs, n_clean=args.n_clean,
        n=args.n, n_p=args.n_p, jsd=args.jsd, mixing_set_size=args.mixing_set_size,
        workers=args.workers, threads=args.threads,
        device=args.device, seed=args.seed, progress=not args.no_progress,
    )
    report, plots = run_demo(config)
    print(summary(report, plots))
    return 0
