"""Training checkpoints: atomic writes, RNG states, and loading for ``--resume``.

A training checkpoint is an ipmix checkpoint (`ipmix.models.make_checkpoint`: format, model
name and options, class count, dataset, weights, config) plus the training-only keys
``epoch`` (number of finished epochs), ``optimizer_state``, ``scheduler_state``,
``scaler_state``, ``rng_states`` and ``metrics``. Everything in it is tensors and plain
containers, so it loads with ``torch.load(weights_only=True)``.

Augmentation streams need no state of their own: they are re-derived from the seed, the epoch,
the rank and the sample index or step (`ipmix.data.seeding`), which the config and ``epoch``
hold. torch's global generators (dropout) are restarted from the same keys at every epoch;
their states are recorded as well, for inspection and for code that resumes mid-epoch.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from ipmix.models import CHECKPOINT_FORMAT, CheckpointFormatError, CheckpointNotFoundError
from ipmix.utils.io import atomic_write_bytes

CHECKPOINT_NAME = "checkpoint.pt"
FINAL_NAME = "final.pt"
TRAINING_KEYS = ("epoch", "optimizer_state", "scheduler_state", "scaler_state", "rng_states")


def rng_states() -> dict[str, Any]:
    """torch's global CPU generator and every CUDA device's generator."""
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Put back what `rng_states` recorded (CUDA states only where CUDA is present)."""
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        cuda_states = states["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


def save_checkpoint(path: str | Path, checkpoint: dict[str, Any]) -> Path:
    """Serialise `checkpoint` in memory, then write it atomically (never a half-written file)."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_training_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a training checkpoint for ``--resume``; clear errors if absent or not resumable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(
            f"nothing to resume: {path} does not exist (start the run without --resume)"
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # unpickling and I/O errors of every kind
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointFormatError(f"{path}: not a readable training checkpoint ({first})") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointFormatError(f"{path}: not an ipmix checkpoint ({CHECKPOINT_FORMAT})")
    missing = [key for key in TRAINING_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointFormatError(
            f"{path}: lacks {', '.join(missing)}: a final or evaluation-only file cannot be resumed"
        )
    return checkpoint
