"""What the benchmark modules share: percentages of the calibration error, announcements."""

from __future__ import annotations

import sys

import numpy as np

from ipmix.robustness import metrics


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


def announce(message: str) -> None:
    """Tell the user, on stderr, about something done on their behalf (a set generated...)."""
    print(f"ipmix: {message}", file=sys.stderr, flush=True)
