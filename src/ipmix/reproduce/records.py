"""Per-image predictions of an evaluation (`predictions.npz`) and bootstrap intervals from them.

`PredictionRecorder` is the suite's ``on_predictions`` hook: it keeps the top-1 class and its
probability for every image of every set the suite scores (clean, each CIFAR-C set, CIFAR-P
frames, outliers, PGD images), so that intervals over test images can be computed later
without evaluating again. `bootstrap` resamples test images (the same resamples for every run
of a comparison, so differences between runs are paired).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ipmix.utils.io import atomic_write_bytes

RECORD_FILE = "predictions.npz"
BOOTSTRAP_RESAMPLES = 1000
INTERVAL = 0.95


class PredictionRecorder:
    """Collects ``(label, probabilities)`` from the suite into compact arrays."""

    def __init__(self) -> None:
        self.predictions: dict[str, np.ndarray] = {}
        self.confidences: dict[str, np.ndarray] = {}

    def __call__(self, label: str, probabilities: np.ndarray) -> None:
        if label in self.predictions:  # one set scored twice (never by the suite): keep the first
            return
        dtype = np.uint8 if probabilities.shape[1] <= 256 else np.int32
        self.predictions[label] = probabilities.argmax(1).astype(dtype)
        self.confidences[label] = probabilities.max(1).astype(np.float32)

    def save(self, path: str | Path, labels: np.ndarray) -> Path:
        """Write the record with the test labels of the evaluated subset, atomically."""
        arrays = {"labels": np.asarray(labels, np.int64)}
        for index, label in enumerate(sorted(self.predictions)):
            arrays[f"name_{index}"] = np.array(label)
            arrays[f"pred_{index}"] = self.predictions[label]
            arrays[f"conf_{index}"] = self.confidences[label]
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return atomic_write_bytes(path, buffer.getvalue())


@dataclass(frozen=True)
class Record:
    """One evaluation's per-image predictions."""

    labels: np.ndarray
    predictions: Mapping[str, np.ndarray]
    confidences: Mapping[str, np.ndarray]

    @property
    def n(self) -> int:
        return len(self.labels)

    def wrong(self, label: str) -> np.ndarray:
        """Per image of `label`'s set: 1.0 where the top-1 class is wrong."""
        return (self.predictions[label] != self.labels).astype(np.float64)


def load_record(path: str | Path) -> Record:
    """Read a `predictions.npz` written by `PredictionRecorder.save`."""
    with np.load(Path(path)) as archive:
        count = sum(1 for key in archive.files if key.startswith("name_"))
        names = [str(archive[f"name_{i}"]) for i in range(count)]
        predictions = {name: archive[f"pred_{i}"] for i, name in enumerate(names)}
        confidences = {name: archive[f"conf_{i}"] for i, name in enumerate(names)}
        labels = archive["labels"]
    return Record(labels, predictions, confidences)


# ---- per-image statistics: metric -> (record -> statistic over resampled image indices) ------


def _corruption_sets(record: Record, names: tuple[str, ...] | None = None) -> list[str]:
    """The labels of the 5 severities of every corruption in `names` (default: CIFAR-C's 15),
    or [] when the record lacks one."""
    from ipmix.corruptions.imagenet_c import BENCHMARK_CORRUPTIONS

    sets = [f"{name} s{s}" for name in names or BENCHMARK_CORRUPTIONS for s in range(1, 6)]
    return sets if all(label in record.predictions for label in sets) else []


def _mean_of(values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda index: values[index].mean(axis=-1)


def _error(record: Record) -> Callable[[np.ndarray], np.ndarray] | None:
    return _mean_of(100 * record.wrong("clean")) if "clean" in record.predictions else None


def _mce(record: Record, names: tuple[str, ...] | None = None
         ) -> Callable[[np.ndarray], np.ndarray] | None:
    sets = _corruption_sets(record, names)
    if not sets:
        return None
    per_image = 100 * np.mean([record.wrong(label) for label in sets], axis=0)
    return _mean_of(per_image)


def _cifar_cbar() -> tuple[str, ...]:
    from ipmix.corruptions.cbar.levels import CIFAR_CBAR

    return CIFAR_CBAR


def _pgd(record: Record) -> Callable[[np.ndarray], np.ndarray] | None:
    return _mean_of(100 * record.wrong("pgd")) if "pgd" in record.predictions else None


def _mfr(record: Record) -> Callable[[np.ndarray], np.ndarray] | None:
    from ipmix.corruptions.perturbations import PERTURBATIONS
    from ipmix.robustness.metrics import is_noise_perturbation

    if not all(name in record.predictions for name in PERTURBATIONS):
        return None
    per_image = []
    for name in PERTURBATIONS:  # flip fraction of each sequence, as metrics.flip_probability
        frames = record.predictions[name].reshape(record.n, -1)
        reference = frames[:, :1] if is_noise_perturbation(name) else frames[:, :-1]
        per_image.append((frames[:, 1:] != reference).mean(axis=1))
    return _mean_of(100 * np.mean(per_image, axis=0))


def _rms(record: Record) -> Callable[[np.ndarray], np.ndarray] | None:
    from ipmix.robustness.metrics import rms_calibration_error

    if "clean" not in record.predictions:
        return None
    confidence = record.confidences["clean"].astype(np.float64)
    correct = 1.0 - record.wrong("clean")

    def statistic(index: np.ndarray) -> np.ndarray:
        return np.array([100 * rms_calibration_error(confidence[i], correct[i]) for i in index])

    return statistic


def _anomaly(record: Record, measure: str) -> Callable[[np.ndarray], np.ndarray] | None:
    from ipmix.robustness.metrics import anomaly_measures

    sources = sorted(label for label in record.confidences if label.startswith("OOD "))
    if not sources or "clean" not in record.confidences:
        return None
    normal = -record.confidences["clean"].astype(np.float64)
    outliers = [-record.confidences[label].astype(np.float64) for label in sources]
    seed = np.random.SeedSequence(len(normal))

    def statistic(index: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(seed)  # outliers resampled too, alike for every run
        values = []
        for row in index:
            scores = []
            for anomalies in outliers:
                picked = anomalies[rng.integers(0, len(anomalies), len(anomalies))]
                scores.append(getattr(anomaly_measures(picked, normal[row]), measure))
            values.append(100 * float(np.mean(scores)))
        return np.array(values)

    return statistic


#: Metrics with a per-image bootstrap (the others get mean ± std over seeds only).
STATISTICS: dict[str, Callable[[Record], Callable[[np.ndarray], np.ndarray] | None]] = {
    "error": _error,
    "mce": _mce,
    "cbar": lambda record: _mce(record, _cifar_cbar()),
    "rms": _rms,
    "mfr": _mfr,
    "pgd": _pgd,
    "auroc": lambda record: _anomaly(record, "auroc"),
    "aupr": lambda record: _anomaly(record, "aupr"),
}
#: Cheaper resampling for the metrics that sort or rank every resample.
_RESAMPLES = {"rms": 400, "auroc": 200, "aupr": 200}


def resample_indices(n: int, resamples: int, seed: int = 0) -> np.ndarray:
    """`resamples` bootstrap resamples of ``range(n)`` (rows), the same for a given n and seed."""
    return np.random.default_rng([seed, n]).integers(0, n, size=(resamples, n), dtype=np.int32)


def bootstrap(
    records: list[Record], metric: str, resamples: int | None = None, seed: int = 0
) -> np.ndarray | None:
    """The metric on the same image resamples for each record: ``[len(records), resamples]``.

    All records must hold the same test images (the same labels). None if a record lacks the
    sets the metric needs.
    """
    if metric not in STATISTICS or not records:
        return None
    if any(not np.array_equal(r.labels, records[0].labels) for r in records[1:]):
        raise ValueError("paired bootstrap needs records of the same test images")
    statistics = [STATISTICS[metric](record) for record in records]
    if any(s is None for s in statistics):
        return None
    count = resamples or _RESAMPLES.get(metric, BOOTSTRAP_RESAMPLES)
    index = resample_indices(records[0].n, count, seed)
    return np.stack([statistic(index) for statistic in statistics if statistic is not None])


def interval(samples: np.ndarray, point: float | None = None,
             level: float = INTERVAL) -> tuple[float, float]:
    """The percentile interval of bootstrap samples, shifted by the bootstrap's bias when the
    `point` estimate is given (``mean(samples) - point``; about 0 for means of per-image values,
    but resampling with replacement inflates RMS calibration error, whose interval would
    otherwise lie above the value)."""
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    shift = float(np.mean(samples)) - point if point is not None else 0.0
    return float(low) - shift, float(high) - shift
