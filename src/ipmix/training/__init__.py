"""Training: augmentation registry, losses, checkpoints, DDP helpers and the trainer.

`train(TrainConfig(...)) -> run directory` is the entry point (``ipmix train`` wraps it).
"""

from ipmix.training.config import (
    DEFAULT_EPOCHS,
    RECIPES,
    ConfigError,
    TrainConfig,
    resume_config,
)
from ipmix.training.losses import JSD_WEIGHT, cross_entropy, jsd_consistency, jsd_loss
from ipmix.training.registry import (
    AUGMENTATION_NAMES,
    JSD_DEFAULTS,
    Augmentation,
    UnknownAugmentationError,
    build_augmentation,
    resolve_jsd,
)
from ipmix.training.trainer import TrainingDiverged, TrainingInterrupted, evaluate, train

__all__ = [
    "AUGMENTATION_NAMES",
    "DEFAULT_EPOCHS",
    "JSD_DEFAULTS",
    "JSD_WEIGHT",
    "RECIPES",
    "Augmentation",
    "ConfigError",
    "TrainConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "UnknownAugmentationError",
    "build_augmentation",
    "cross_entropy",
    "evaluate",
    "jsd_consistency",
    "jsd_loss",
    "resolve_jsd",
    "resume_config",
    "train",
]
