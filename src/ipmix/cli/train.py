"""`ipmix train`: train a classifier on CIFAR or any image folder with a registered augmentation."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from ipmix.data.splits import DATASETS
from ipmix.data.transforms import TRAIN_CROPS
from ipmix.models import MODEL_NAMES
from ipmix.training import TrainingInterrupted, train
from ipmix.training.config import AMP_DTYPES, DECODERS, DEFAULT_EPOCHS, RECIPES, TrainConfig, resume_config
from ipmix.training.distributed import env_info
from ipmix.training.registry import AUGMENTATION_NAMES, JSD_DEFAULTS, PRESETS

EPILOG = """\
examples:
  ipmix train --dataset cifar10 --model wrn40_4 --aug ipmix --jsd --epochs 100 --out runs/x
  ipmix train --model small --aug augmix --subset 5000 --epochs 5 --out runs/cpu-augmix
  ipmix train --dataset imagenet --data ~/imagenet --aug ipmix --out runs/in-ipmix
  ipmix train --dataset imagefolder --data ~/photos --model resnet50 --pretrained none \\
              --image-size 128 --aug ipmix-k3-t3-a1 --out runs/photos
  torchrun --nproc_per_node 2 -m ipmix.cli train --model wrn40_4 --aug ipmix --out runs/ddp
  ipmix train --out runs/x --resume          (continue any run with its saved options)

The run directory holds config.json, checkpoint.pt (every epoch), log.jsonl and final.pt.
See docs/training.md for the command of every experiment in the paper.
"""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from error
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from error
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"expected a JSON object: {error}") from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, e.g. '{{\"width\": 8}}', got {text!r}")
    return value


def _pair(group: argparse._ArgumentGroup, name: str, dest: str, on: str, off: str) -> None:
    """``--name`` / ``--no-name`` storing True / False in `dest` (absent: the default)."""
    both = group.add_mutually_exclusive_group()
    both.add_argument(f"--{name}", dest=dest, action="store_const", const=True, help=on)
    both.add_argument(f"--no-{name}", dest=dest, action="store_const", const=False, help=off)


def register(subparsers: argparse._SubParsersAction) -> None:
    # Options the user does not give stay out of the namespace: defaults are TrainConfig's (or,
    # with --resume, the run's saved ones).
    parser = subparsers.add_parser(
        "train",
        help="train a classifier on CIFAR or an image folder (every augmentation of the paper)",
        description="Train a classifier with the authors' recipes: on CIFAR, SGD Nesterov lr 0.1, "
        "per-step cosine to 1e-6, weight decay 5e-4, batch 128, padded random crop and flip; on "
        "image folders (--recipe imagenet), fine-tuning of torchvision's pretrained ResNet-50 for "
        "180 epochs at lr 0.01, batch 256, RandomResizedCrop 224 and flip (paper Appendix A.2). "
        "Then the chosen augmentation, with the dataset's preset. Autocast and channels-last on "
        "CUDA, float32 on CPU.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS,
                      help="cifar10 (default), cifar100, imagefolder (DATA/train, DATA/val in the "
                      "ImageFolder layout) or imagenet (the same, checked for ImageNet-1k's 1,000 "
                      "wnid folders)")
    data.add_argument("--data", metavar="DIR",
                      help="CIFAR: folder holding cifar10.npz / cifar100.npz or torchvision's "
                      "cifar-*-py folders (default: $IPMIX_DATA); folders: DIR/train and DIR/val")
    data.add_argument("--train-dir", metavar="DIR", help="training folder (instead of DATA/train)")
    data.add_argument("--val-dir", metavar="DIR", help="validation folder (instead of DATA/val)")
    data.add_argument("--strict-data", action="store_true",
                      help="unreadable, truncated or non-image files are an error (default: "
                      "skipped with one warning naming them)")
    data.add_argument("--image-size", type=_positive, metavar="N",
                      help="training and evaluation resolution (folders; default 224)")
    data.add_argument("--train-crop", choices=TRAIN_CROPS,
                      help="folders: random-resized (default, RandomResizedCrop + flip) or pad "
                      "(the paper's 'random crop with zero padding'); CIFAR: pad")
    data.add_argument("--subset", type=_positive, metavar="N",
                      help="train on N training images only (CIFAR: the first N; folders: "
                      "evenly spaced, every class keeps its share)")
    data.add_argument("--test-subset", type=_positive, metavar="N",
                      help="evaluate on N test/val images only")
    data.add_argument("--workers", type=_non_negative, metavar="N",
                      help="DataLoader worker processes per rank (default: the CPUs available, "
                      "at most 4 for CIFAR and 8 for folders; 0 = in-process). Results do not "
                      "depend on it")
    data.add_argument("--decode", choices=DECODERS,
                      help="where training JPEGs are decoded: pil (default, loader workers) or "
                      "cuda (torchvision.io.decode_jpeg on the GPU)")

    method = parser.add_argument_group("augmentation")
    method.add_argument("--aug", metavar="NAME",
                        help="augmentation (default ipmix): " + ", ".join(AUGMENTATION_NAMES)
                        + "; or a config string such as ipmix-k3-t3-a1 or augmix-m3-w3-d2")
    method.add_argument("--preset", choices=tuple(PRESETS),
                        help="augmentation settings (default: imagenet above 32 px, else the "
                        "CIFAR dataset's)")
    jsd = method.add_mutually_exclusive_group()
    jsd.add_argument("--jsd", dest="jsd", action="store_const", const=True,
                     help="use the JSD consistency loss (clean + 2 augmented views, weight 12); "
                     f"available for {', '.join(JSD_DEFAULTS)}; default on for augmix and ipmix")
    jsd.add_argument("--no-jsd", dest="jsd", action="store_const", const=False,
                     help="plain cross-entropy on one augmented view (default for pixmix)")
    method.add_argument("--jsd-weight", type=float, metavar="W",
                        help="weight of the JSD term (default the method's: 12 as AugMix and the "
                        "IPMix code; AugMax's lambda, 10 on CIFAR, 12 on ImageNet)")
    method.add_argument("--mixing-set", metavar="PATH",
                        help="folder of mixing pictures for ipmix/pixmix/layermix (ImageFolder layouts "
                        "too; default: the built-in generated set)")
    method.add_argument("--aug-options", type=_json_object, metavar="JSON",
                        help="further ipmix.IPMix options for the ipmix variants, as JSON, e.g. "
                        "'{\"framework\": \"linear\"}' or '{\"box_shapes\": [\"scar\"]}' "
                        "(the paper's ablations)")
    _pair(method, "batched", "batched",
          "apply IPMix or PRIME per batch on the training device (ipmix.IPMixBatch, PRIMEBatch); "
          "loader workers then only decode, crop and flip (default on CUDA: IPMix for folders, "
          "PRIME always)",
          "apply IPMix or PRIME per image in the loader workers")

    model = parser.add_argument_group("model and optimisation")
    model.add_argument("--recipe", choices=tuple(RECIPES),
                       help="defaults of model, lr, batch, weight decay, epochs, pretrained "
                       "weights and image size: cifar (default for CIFAR) or imagenet (default "
                       "for folders: Appendix A.2)")
    model.add_argument("--model", metavar="NAME",
                       help="architecture: " + ", ".join(MODEL_NAMES) + ", resnet50, torchvision:NAME or "
                       "timm:NAME (default: wrn40_4 / resnet50 by recipe)")
    model.add_argument("--pretrained", nargs="?", const="default", metavar="SOURCE",
                       help="torchvision/timm weights: default, a tag (IMAGENET1K_V1), a local "
                       "file (also an ipmix checkpoint), or none (the imagenet recipe uses "
                       "IMAGENET1K_V1 for resnet50). Read from the library's cache, never "
                       "downloaded")
    model.add_argument("--model-kwargs", type=_json_object, metavar="JSON",
                       help="architecture options as JSON, e.g. '{\"dropout\": 0.0}', or "
                       "'{\"norm\": \"dubin\"}' for AugMax's DuBIN normalisation")
    model.add_argument("--epochs", type=_positive,
                       help="epochs (default per model, paper Appendix A/K: "
                       + ", ".join(f"{k} {v}" for k, v in DEFAULT_EPOCHS.items())
                       + "; imagenet recipe 180)")
    model.add_argument("--batch-size", type=_positive, help="batch size per rank (default 128; "
                       "imagenet recipe 256)")
    model.add_argument("--lr", type=float, help="initial learning rate (default 0.1; imagenet "
                       "recipe 0.01)")
    model.add_argument("--min-lr", type=float, help="end of the per-step cosine schedule (default 1e-6)")
    model.add_argument("--weight-decay", type=float,
                       help="weight decay (default 5e-4 as the authors' code; the paper's "
                       "Appendix A says 1e-4)")
    model.add_argument("--momentum", type=float, help="SGD momentum (default 0.9)")
    model.add_argument("--no-nesterov", dest="nesterov", action="store_false",
                       help="plain momentum instead of Nesterov")
    model.add_argument("--sync-bn", action="store_true",
                       help="synchronise batch-norm statistics across DDP processes (CUDA)")

    run = parser.add_argument_group("run")
    run.add_argument("--out", required=True, metavar="DIR", help="run directory (created)")
    run.add_argument("--resume", action="store_true",
                     help="continue the run in --out from its last finished epoch with its saved "
                     "options (options given again must match them; --workers, --device, "
                     "--tensorboard and --no-progress may change)")
    run.add_argument("--seed", type=_non_negative,
                     help="seed of data order, augmentation, model init and dropout (default 0)")
    run.add_argument("--device", help="auto (default: CUDA if available, else CPU), cpu, cuda or cuda:N")
    _pair(run, "amp", "amp", "autocast mixed precision (default on for CUDA)",
          "train in float32 on CUDA too")
    run.add_argument("--amp-dtype", choices=AMP_DTYPES,
                     help="autocast dtype (default: bfloat16 for folders where the GPU supports it, "
                     "else float16)")
    _pair(run, "channels-last", "channels_last",
          "channels-last memory format (default on for CUDA)", "keep the contiguous NCHW format")
    run.add_argument("--eval-every", type=_positive, metavar="N",
                     help="evaluate on the test set every N epochs (and after the last)")
    run.add_argument("--tensorboard", action="store_true",
                     help="also write TensorBoard scalars to DIR/tensorboard (needs tensorboard)")
    run.add_argument("--no-progress", dest="progress", action="store_false",
                     help="no progress bar, set-up or per-epoch lines")
    parser.set_defaults(func=run_command)


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      line: str | None = None) -> str:
    return f"ipmix train: warning: {message}\n"


def run_command(args: argparse.Namespace) -> int:
    """Build the `TrainConfig` (new run) or read the saved one (``--resume``) and train."""
    given = {key: value for key, value in vars(args).items() if key not in ("func", "command")}
    if given.pop("resume", False):
        config = resume_config(given.pop("out"), **given)
    else:
        config = TrainConfig(**given)
    try:
        with warnings.catch_warnings():
            warnings.formatwarning = _one_line_warning  # type: ignore[assignment]
            run_dir = train(config)
    except TrainingInterrupted as stopped:
        print(f"ipmix train: {stopped}", file=sys.stderr)
        return 130 if stopped.signal_name == "SIGINT" else 143
    if env_info().is_main:  # under torchrun, one line for the job, not one per rank
        print(f"ipmix train: finished; model in {run_dir / 'final.pt'}")
    return 0
