"""`ipmix train`: train a CIFAR classifier with one of the registered augmentations."""

from __future__ import annotations

import argparse
import json
import sys

from ipmix.models import MODEL_NAMES
from ipmix.training.distributed import env_info
from ipmix.training.registry import AUGMENTATION_NAMES, JSD_DEFAULTS
from ipmix.training.trainer import DEFAULT_EPOCHS, TrainConfig, TrainingInterrupted, train

EPILOG = """\
examples:
  ipmix train --dataset cifar10 --model wrn40_4 --aug ipmix --jsd --epochs 100 --out runs/x
  ipmix train --model small --aug augmix --subset 5000 --epochs 5 --out runs/cpu-augmix
  torchrun --nproc_per_node 2 -m ipmix.cli train --model wrn40_4 --aug ipmix --out runs/ddp
  ipmix train --out runs/x --resume          (continue an interrupted run with the same options)

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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a CIFAR classifier (every augmentation of the paper, JSD, DDP, resume)",
        description="Train a CIFAR-10/100 classifier with the authors' recipe: SGD Nesterov "
        "(momentum 0.9), lr 0.1 with a per-step cosine schedule to 1e-6, weight decay 5e-4, "
        "batch 128, random crop (4-pixel zero padding) and horizontal flip, then the chosen "
        "augmentation. Mixed precision and channels-last on CUDA, float32 on CPU.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=("cifar10", "cifar100"), default="cifar10",
                      help="training set (default cifar10)")
    data.add_argument("--data", metavar="DIR", default=None,
                      help="folder holding cifar10.npz / cifar100.npz or torchvision's "
                      "cifar-10-batches-py / cifar-100-python (default: $IPMIX_DATA)")
    data.add_argument("--subset", type=_positive, metavar="N", default=None,
                      help="train on the first N training images only (CPU budgets)")
    data.add_argument("--test-subset", type=_positive, metavar="N", default=None,
                      help="evaluate on the first N test images only")
    data.add_argument("--workers", type=_non_negative, default=4, metavar="N",
                      help="DataLoader worker processes per rank (default 4; 0 = in-process). "
                      "Results do not depend on it for the torchvision-based methods")

    method = parser.add_argument_group("augmentation")
    method.add_argument("--aug", choices=AUGMENTATION_NAMES, default="ipmix", metavar="NAME",
                        help="augmentation method (default ipmix): " + ", ".join(AUGMENTATION_NAMES))
    jsd = method.add_mutually_exclusive_group()
    jsd.add_argument("--jsd", dest="jsd", action="store_const", const=True, default=None,
                     help="use the JSD consistency loss (clean + 2 augmented views, weight 12); "
                     f"available for {', '.join(JSD_DEFAULTS)}; default on for augmix and ipmix")
    jsd.add_argument("--no-jsd", dest="jsd", action="store_const", const=False,
                     help="plain cross-entropy on one augmented view (default for pixmix)")
    method.add_argument("--jsd-weight", type=float, default=12.0, metavar="W",
                        help="weight of the JSD term (default 12, as AugMix and the IPMix code)")
    method.add_argument("--mixing-set", metavar="PATH", default=None,
                        help="folder of mixing pictures for ipmix/pixmix (ImageFolder layouts "
                        "too; default: the built-in generated set)")
    method.add_argument("--aug-options", type=_json_object, default={}, metavar="JSON",
                        help="further ipmix.IPMix options for the ipmix variants, as JSON, e.g. "
                        "'{\"framework\": \"linear\"}' or '{\"box_shapes\": [\"scar\"]}' "
                        "(the paper's ablations)")
    method.add_argument("--batched", action="store_true",
                        help="apply IPMix per batch on the training device (ipmix.IPMixBatch) "
                        "instead of per image in the loader workers; ipmix variants only")

    model = parser.add_argument_group("model and optimisation")
    model.add_argument("--model", choices=MODEL_NAMES, default="wrn40_4",
                       help="architecture (default wrn40_4; small = ~0.4M params for CPU)")
    model.add_argument("--model-kwargs", type=_json_object, default={}, metavar="JSON",
                       help="architecture options as JSON, e.g. '{\"dropout\": 0.0}'")
    model.add_argument("--epochs", type=_positive, default=None,
                       help="epochs (default per model, paper Appendix A/K: "
                       + ", ".join(f"{k} {v}" for k, v in DEFAULT_EPOCHS.items()) + ")")
    model.add_argument("--batch-size", type=_positive, default=128,
                       help="batch size per rank (default 128)")
    model.add_argument("--lr", type=float, default=0.1, help="initial learning rate (default 0.1)")
    model.add_argument("--min-lr", type=float, default=1e-6,
                       help="end of the per-step cosine schedule (default 1e-6)")
    model.add_argument("--weight-decay", type=float, default=5e-4,
                       help="weight decay (default 5e-4 as the authors' code; the paper's "
                       "Appendix A says 1e-4)")
    model.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    model.add_argument("--no-nesterov", dest="nesterov", action="store_false",
                       help="plain momentum instead of Nesterov")

    run = parser.add_argument_group("run")
    run.add_argument("--out", required=True, metavar="DIR", help="run directory (created)")
    run.add_argument("--resume", action="store_true",
                     help="continue the run in --out from its last finished epoch "
                     "(the other options must match the saved config.json)")
    run.add_argument("--seed", type=_non_negative, default=0,
                     help="seed of data order, augmentation, model init and dropout (default 0)")
    run.add_argument("--device", default="auto",
                     help="auto (CUDA if available, else CPU), cpu, cuda or cuda:N")
    amp = run.add_mutually_exclusive_group()
    amp.add_argument("--amp", dest="amp", action="store_const", const=True, default=None,
                     help="float16 mixed precision (default on for CUDA)")
    amp.add_argument("--no-amp", dest="amp", action="store_const", const=False,
                     help="train in float32 on CUDA too")
    cl = run.add_mutually_exclusive_group()
    cl.add_argument("--channels-last", dest="channels_last", action="store_const", const=True,
                    default=None, help="channels-last memory format (default on for CUDA)")
    cl.add_argument("--no-channels-last", dest="channels_last", action="store_const",
                    const=False, help="keep the contiguous NCHW format")
    run.add_argument("--eval-every", type=_positive, default=1, metavar="N",
                     help="evaluate on the test set every N epochs (and after the last)")
    run.add_argument("--tensorboard", action="store_true",
                     help="also write TensorBoard scalars to DIR/tensorboard (needs tensorboard)")
    run.add_argument("--no-progress", dest="progress", action="store_false",
                     help="no progress bar or per-epoch lines")
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Build the `TrainConfig` from the parsed options and train."""
    config = TrainConfig(
        out=args.out, dataset=args.dataset, model=args.model, model_kwargs=args.model_kwargs,
        aug=args.aug, aug_options=args.aug_options, batched=args.batched, jsd=args.jsd,
        jsd_weight=args.jsd_weight, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, min_lr=args.min_lr, momentum=args.momentum,
        nesterov=args.nesterov, weight_decay=args.weight_decay, data=args.data,
        subset=args.subset, test_subset=args.test_subset, mixing_set=args.mixing_set,
        seed=args.seed, device=args.device, workers=args.workers, amp=args.amp,
        channels_last=args.channels_last, eval_every=args.eval_every, resume=args.resume,
        tensorboard=args.tensorboard, progress=args.progress,
    )
    try:
        run_dir = train(config)
    except TrainingInterrupted as stopped:
        print(f"ipmix train: {stopped}", file=sys.stderr)
        return 130 if stopped.signal_name == "SIGINT" else 143
    if env_info().is_main:  # under torchrun, one line for the job, not one per rank
        print(f"ipmix train: finished; model in {run_dir / 'final.pt'}")
    return 0
