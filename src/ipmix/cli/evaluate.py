"""`ipmix evaluate`: the robustness suite on a checkpoint or run directory."""

from __future__ import annotations

import argparse
import os
import sys

#: Benchmark folder options: option -> help; the keyword of `evaluate_imagenet` is the name.
IMAGENET_OPTIONS = {
    "--imagenet-val": "ImageNet validation folder (<wnid>/*.JPEG): clean error, and the "
    "in-distribution set of ImageNet-O",
    "--imagenet-c": "ImageNet-C folder (<corruption>/<1..5>/<wnid>/*.JPEG): mCE normalised by "
    "AlexNet, relative mCE, unnormalised mean, RMS",
    "--imagenet-c-bar": "ImageNet-C-bar folder (augmentation-corruption layout): mean error",
    "--imagenet-p": "ImageNet-P folder (<perturbation>/<wnid>/*.mp4): flip probability, top-5 "
    "distance (normalised by --baseline's when given)",
    "--imagenet-r": "ImageNet-R folder (200 wnid folders): error on the 200 classes, RMS",
    "--imagenet-a": "ImageNet-A folder (200 wnid folders): accuracy on the 200 classes, RMS",
    "--imagenet-o": "ImageNet-O folder (200 wnid folders): AUPR, anomalies positive (needs "
    "--imagenet-val)",
    "--imagenet-v2": "ImageNet-V2 folder (class-index folders 0..999): accuracy",
    "--imagenet-sketch": "ImageNet-Sketch folder (wnid folders): accuracy",
    "--stylized-imagenet": "Stylized-ImageNet folder (wnid folders): accuracy",
    "--objectnet": "ObjectNet 1.0 release (images/ + mappings/): accuracy on its 113 ImageNet "
    "classes (each the maximum of its ImageNet logits; 2 px border cropped)",
    "--corrupted": "corrupted copies of any folder of the model's classes, as `ipmix make-c` writes "
    "them (<corruption>/<severity>/<class>/*): error per corruption and severity, their mean, RMS",
    "--perturbed": "perturbation videos of any folder of the model's classes, as `ipmix make-p` "
    "writes them (<perturbation>/<class>/*.mp4): flip probability, top-5 distance, their means",
}


def _default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(4, cpus)


def _shift(text: str) -> tuple[str, str]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    return name, folder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure clean error, corruption, perturbation, calibration, PGD, OOD and "
        "ImageNet benchmarks of a checkpoint",
        description="Run the robustness suite on an ipmix checkpoint (or a run directory holding "
        "final.pt / checkpoint.pt) and write results.json and results.md next to it (or to "
        "--out). CIFAR checkpoints run the --suite parts on the test set (CIFAR-C / CIFAR-P "
        "generated into a cache unless folders are given); every benchmark folder given runs "
        "with its reference protocol, on the classes the checkpoint records; a benchmark not "
        "given is not run, and the report says so. Earlier results in results.json are kept: a "
        "part measured again replaces its old value.",
    )
    parser.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="run directory or .pt file")
    parser.add_argument(
        "--suite", default="all",
        help="CIFAR checkpoints: 'all', 'none' or a comma-separated subset of "
        "clean,c,p,calibration,pgd,ood (default: all)",
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
        help="official CIFAR-C folder (<corruption>.npy + labels.npy), checked against the test "
        "set; a missing file is an error unless --generate (default: a generated set cached "
        "under $IPMIX_CACHE or ~/.cache/ipmix)",
    )
    parser.add_argument(
        "--cifar-p", default=None, metavar="DIR", help="CIFAR-P folder (same rules as --cifar-c)"
    )
    parser.add_argument(
        "--generate", action="store_true",
        help="generate the CIFAR-C/-P files missing from --cifar-c/--cifar-p there (announced)",
    )
    parser.add_argument("--cifar-c-bar", default=None, metavar="DIR",
                        help="CIFAR-10/100-C-bar folder (<corruption>.npy + labels.npy)")
    parser.add_argument("--frost", default=None, metavar="DIR", help="frost textures folder")
    parser.add_argument(
        "--ood", nargs="+", default=None, metavar="SOURCE",
        help="OOD sets: gaussian, rademacher, blobs, an image folder or a .npy array "
        "(default: the three synthetic sets)",
    )
    parser.add_argument(
        "--ood-all", action="store_true",
        help="score whole OOD folders/arrays (default: N // 5 images of each, as Hendrycks' protocol)",
    )
    parser.add_argument(
        "--pgd-reference", action="store_true",
        help="PGD as the authors' cifar.py runs it: the random start moves the projection "
        "centre (images up to 2 eps from the clean ones)",
    )
    for option, text in IMAGENET_OPTIONS.items():
        parser.add_argument(option, default=None, metavar="DIR", help=text)
    parser.add_argument(
        "--shift", action="append", type=_shift, default=[], metavar="NAME=DIR",
        help="an image folder of the model's classes (wnids, CIFAR class names or class "
        "indices) scored as a natural shift; repeatable",
    )
    parser.add_argument("--image-size", type=int, default=None,
                        help="input size for the benchmark folders (default: the size the run "
                        "was trained at; 224 for checkpoints that do not record it)")
    parser.add_argument(
        "--baseline", default=None, metavar="RUN",
        help="a run with results.json: normalises CIFAR mCE and ImageNet-P mFR/mT5D by its values",
    )
    parser.add_argument("--out", default=None, help="folder for results.json and results.md")
    parser.add_argument("--batch-size", type=int, default=256, help="images per forward pass")
    parser.add_argument("--workers", type=int, default=None,
                        help="DataLoader workers decoding image folders and videos "
                        "(default: the CPUs available, at most 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of PGD, outliers, generated sets")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ipmix.robustness.ood import SYNTHETIC_OUTLIERS
    from ipmix.robustness.report import comparison_table
    from ipmix.robustness.report.imagenet import has_imagenet, imagenet_tables
    from ipmix.robustness.suite import evaluate_checkpoint
    from ipmix.utils.devices import torch_device

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    torch_device(args.device, "--device")  # before anything is read or generated
    workers = _default_workers() if args.workers is None else args.workers
    if workers < 0:
        raise ValueError(f"--workers must be >= 0, got {workers}")
    names = [name for name, _ in args.shift]
    if len(set(names)) != len(names):
        raise ValueError(f"--shift names must be unique, got {', '.join(names)}")
    imagenet = {
        option[2:].replace("-", "_"): getattr(args, option[2:].replace("-", "_"))
        for option in IMAGENET_OPTIONS
    }
    imagenet = {key: value for key, value in imagenet.items() if value is not None}
    if args.image_size is not None:
        imagenet["image_size"] = args.image_size
    results, folder = evaluate_checkpoint(
        args.run,
        suite=args.suite,
        n=args.n,
        device=args.device,
        data=args.data,
        dataset=args.dataset,
        out=args.out,
        baseline_run=args.baseline,
        imagenet=imagenet,
        shifts=dict(args.shift),
        cifar_c_dir=args.cifar_c,
        cifar_p_dir=args.cifar_p,
        generate=args.generate,
        cifar_c_bar_dir=args.cifar_c_bar,
        frost_dir=args.frost,
        ood_sources=tuple(args.ood) if args.ood else SYNTHETIC_OUTLIERS,
        ood_count="all" if args.ood_all else "protocol",
        pgd_reference=args.pgd_reference,
        batch_size=args.batch_size,
        workers=workers,
        seed=args.seed,
        progress=not args.no_progress,
    )
    meta = results["meta"]
    if meta.get("suite"):
        print(comparison_table({str(args.run): results}), end="")
    if has_imagenet(results):
        print(imagenet_tables({str(args.run): results}), end="")
    epoch, epochs = meta.get("epoch"), meta.get("config", {}).get("epochs")
    if epoch is not None and epochs is not None and epoch < epochs:
        print(f"ipmix evaluate: note: {meta['checkpoint']} holds epoch {epoch} of {epochs}: the run "
              "has not finished training", file=sys.stderr)
    trained = f", epoch {epoch}" if epoch is not None else ""
    print(f"evaluated {meta['checkpoint']}{trained}; wrote {folder / 'results.json'} and "
          f"{folder / 'results.md'}")
    return 0
