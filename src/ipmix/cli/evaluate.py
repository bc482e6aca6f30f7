"""`ipmix evaluate`: the robustness suite on a checkpoint or run directory."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure clean error, CIFAR-C mCE, calibration, CIFAR-P mFR, PGD error and OOD "
        "detection of a checkpoint",
        description="Run the robustness suite on an ipmix checkpoint (or a run directory holding "
        "final.pt / checkpoint.pt) and write results.json and results.md next to it (or to "
        "--out). Missing CIFAR-C / CIFAR-P files are generated from the test subset and cached.",
    )
    parser.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="run directory or .pt file")
    parser.add_argument(
        "--suite", default="all",
        help="'all' or a comma-separated subset of clean,c,p,calibration,pgd,ood (default: all)",
    )
    parser.add_argument("--n", type=int, default=None, help="evaluate on the first N test images")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0")
    parser.add_argument("--data", default=None, help="data folder (default: $IPMIX_DATA)")
    parser.add_argument(
        "--dataset", default=None, choices=("cifar10", "cifar100"),
        help="dataset to evaluate on (default: the checkpoint's; a different one is an error)",
    )
    parser.add_argument(
        "--cifar-c", default=None, metavar="DIR",
        help="CIFAR-C folder: official <corruption>.npy + labels.npy are read, missing ones "
        "generated there (default: a cache under $IPMIX_CACHE or ~/.cache/ipmix)",
    )
    parser.add_argument(
        "--cifar-p", default=None, metavar="DIR", help="CIFAR-P folder (same rules as --cifar-c)"
    )
    parser.add_argument("--frost", default=None, metavar="DIR", help="frost textures folder")
    parser.add_argument(
        "--ood", nargs="+", default=None, metavar="SOURCE",
        help="OOD sets: gaussian, rademacher, blobs, an image folder or a .npy array "
        "(default: the three synthetic sets)",
    )
    parser.add_argument(
        "--baseline", default=None, metavar="RUN",
        help="a run with results.json, for the normalised mCE (ImageNet protocol)",
    )
    parser.add_argument("--out", default=None, help="folder for results.json and results.md")
    parser.add_argument("--batch-size", type=int, default=256, help="images per forward pass")
    parser.add_argument("--seed", type=int, default=0, help="seed of PGD, outliers, generated sets")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ipmix.robustness.ood import SYNTHETIC_OUTLIERS
    from ipmix.robustness.report import comparison_table
    from ipmix.robustness.suite import evaluate_checkpoint
    from ipmix.utils.devices import torch_device

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    torch_device(args.device, "--device")  # before anything is read or generated
    results, folder = evaluate_checkpoint(
        args.run,
        suite=args.suite,
        n=args.n,
        device=args.device,
        data=args.data,
        dataset=args.dataset,
        out=args.out,
        baseline_run=args.baseline,
        cifar_c_dir=args.cifar_c,
        cifar_p_dir=args.cifar_p,
        frost_dir=args.frost,
        ood_sources=tuple(args.ood) if args.ood else SYNTHETIC_OUTLIERS,
        batch_size=args.batch_size,
        seed=args.seed,
        progress=not args.no_progress,
    )
    print(comparison_table({str(args.run): results}), end="")
    print(f"wrote {folder / 'results.json'} and {folder / 'results.md'}")
    return 0
