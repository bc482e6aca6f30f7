"""What the benchmark modules share: percentages of the calibration error, hints, announcements."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from ipmix.robustness import metrics
from ipmix.robustness.predict import SuiteError


def rms_percent(confidence: np.ndarray, correct: np.ndarray) -> dict[str, float | None]:
    """RMS calibration error in percent: every bin (``rms``) and Hendrycks' loop (``rms_reference``,
    the last bin left out, as published numbers were computed; None below one bin of 100)."""
    return {
        "rms": 100 * metrics.rms_calibration_error(confidence, correct),
        "rms_reference": reference_rms(confidence, correct),
    }


def reference_rms(confidence: np.ndarray, correct: np.ndarray) -> float | None:
    """Hendrycks' RMS (last bin skipped), in percent; None below one bin of 100 samples."""
    if len(confidence) < 100:
        return None
    return 100 * metrics.rms_calibration_error(confidence, correct, skip_last_bin=True)


def subfolders(folder: Path) -> list[str]:
    """The names of `folder`'s sub-folders, sorted, hidden ones left out."""
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def open_made_folder(root: str | Path, what: str, layout: str) -> tuple[Path, list[str]]:
    """A make-c / make-p folder and its top-level folders; errors name a folder that does not
    exist or holds none (`layout`: the layout expected)."""
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise SuiteError(f"{what} folder {folder} does not exist")
    names = subfolders(folder)
    if not names:
        raise SuiteError(f"{folder} holds no {layout}")
    return folder, names


def made_by_ipmix(folder: Path, option: str) -> str:
    """A hint for a folder ``ipmix make-c`` / ``make-p`` wrote (its ``ipmix-meta.json`` says
    so) when it was given as a published benchmark: the option that evaluates it as it is."""
    from ipmix.corruptions.writers.cifar import META_FILE

    try:
        meta = json.loads((folder / META_FILE).read_text())
    except (OSError, ValueError):
        return ""
    meta = meta if isinstance(meta, dict) else {}
    kind = {"folder-c": "make-c", "folder-p": "make-p"}.get(meta.get("kind"))
    if kind is None:
        return ""
    return (f"; {folder} is an ipmix {kind} folder (preset {meta.get('preset')}): evaluate it as it "
            f"is with {option} DIR")


def announce(message: str) -> None:
    """Tell the user, on stderr, about something done on their behalf (a set generated...)."""
    print(f"ipmix: {message}", file=sys.stderr, flush=True)
