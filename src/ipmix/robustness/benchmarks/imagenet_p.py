"""ImageNet-P: per-class video sequences, flip probability and top-5 distance.

Layout (ImageNet-P release): ``<root>/<perturbation>/<wnid>/<name>.mp4``, one sequence of
224 x 224 frames per file. Videos are decoded with PyAV (``av`` on PyPI bundles FFmpeg; no
system FFmpeg) to RGB frames, which the model sees as they are (hendrycks/robustness
``ImageNet-P/test.py``: ``ToTensor`` only). The reference decodes with OpenCV, whose FFmpeg
backend converts YUV to RGB with its own rounding: a frame may differ from PyAV's by a grey
level, which can move a prediction that sits on a decision boundary.

Protocol (``ImageNet-P/test.py``, difficulty 1):

- flip probability FP_p: per sequence, the fraction of consecutive frame pairs (noise
  perturbations, ``'noise' in name``: every frame against frame 0) whose top-1 prediction
  differs; the mean over sequences;
- top-5 distance T5D_p: the same pairs, each scored by ``sum_{j<5} |j - min(r_j, 5)|``, where
  ``r_j`` is the 0-based rank in the second frame of the class ranked j-th in the first
  (ties ranked by class index, as ``rankdata(-scores, method="ordinal")``);
- mFR and mT5D: the means of FP_p / FP_p^AlexNet and T5D_p / T5D_p^AlexNet over the 10
  perturbations of the paper. AlexNet's raw ImageNet-P values are not in the reference code
  (only in Hendrycks' spreadsheets), so ipmix normalises by a baseline run's raw values when
  one is given (evaluate torchvision's AlexNet with ipmix for the paper's normalisation) and
  always reports the unnormalised means beside them, labelled as such.

Perturbation videos of any folder (``--perturbed``: what ``ipmix make-p`` writes, of any preset
and perturbations): FP and T5D of every perturbation folder and their plain means, with no
normalisation. A model of fewer than 5 classes is ranked over all of them (top-k distance, k =
its class count).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ipmix.robustness.benchmarks.common import made_by_ipmix, open_made_folder, subfolders
from ipmix.robustness.predict import Streamer, SuiteError, _one_line, top_classes

#: The 10 perturbations of mFR / mT5D on ImageNet-P (Hendrycks & Dietterich, ICLR 2019).
IMAGENET_P_PERTURBATIONS: tuple[str, ...] = (
    "gaussian_noise", "shot_noise", "motion_blur", "zoom_blur", "snow",
    "brightness", "translate", "rotate", "tilt", "scale",
)
#: The release's other sequences (``test.py`` accepts them), reported apart.
EXTRA_PERTURBATIONS: tuple[str, ...] = ("speckle_noise", "gaussian_blur", "spatter", "shear")
VIDEO_SUFFIX = ".mp4"


def read_video(path: str | Path) -> np.ndarray:
    """All frames of a video file as uint8 ``[F, H, W, 3]`` RGB; errors name the file."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise SuiteError(f"{path} holds no video stream")
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    except (av.error.FFmpegError, OSError) as error:
        raise SuiteError(f"cannot decode video {path}: {error}") from error
    if not frames:
        raise SuiteError(f"{path} holds no frames")
    return np.stack(frames)


def list_videos(root: Path, model_classes: Sequence[str], what: str) -> tuple[list[Path], np.ndarray]:
    """The ``<class>/<name>.mp4`` files under `root`, sorted, with model label indices."""
    if not root.is_dir():
        raise SuiteError(f"{what} folder {root} does not exist")
    positions = {name: i for i, name in enumerate(model_classes)}
    files: list[Path] = []
    labels: list[int] = []
    classes = subfolders(root)
    unknown = [name for name in classes if name not in positions]
    if unknown:
        raise SuiteError(f"{root}: {what} class folders the model lacks: {', '.join(unknown[:5])}")
    for name in classes:
        videos = sorted(p for p in (root / name).iterdir() if p.suffix.lower() == VIDEO_SUFFIX)
        if not videos:
            raise SuiteError(f"{root / name}: no {VIDEO_SUFFIX} sequences")
        files += videos
        labels += [positions[name]] * len(videos)
    if not files:
        raise SuiteError(f"{root}: no class folders of {VIDEO_SUFFIX} sequences")
    return files, np.array(labels, dtype=np.int64)


class VideoSequences(Dataset):
    """``(uint8 [F, 3, N, N] frames, label)`` per video, frames checked to be N x N."""

    def __init__(self, files: Sequence[Path], labels: np.ndarray, size: int) -> None:
        self.files, self.labels, self.size = list(files), labels, size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        frames = read_video(self.files[index])
        if frames.shape[1:3] != (self.size, self.size):
            raise SuiteError(
                f"{self.files[index]}: frames are {frames.shape[2]}x{frames.shape[1]} but the model "
                f"evaluates {self.size}x{self.size} images; ImageNet-P frames are not resized"
            )
        if len(frames) < 2:
            raise SuiteError(f"{self.files[index]}: a sequence needs at least 2 frames")
        return torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous(), int(self.labels[index])


def top5_distance(top5: np.ndarray, noise: bool) -> float:
    """Mean top-5 distance over sequences; `top5` is ``[N, F, 5]`` (best class first), or
    ``[N, F, k]`` for a model of k < 5 classes (the top-k distance)."""
    top5 = np.asarray(top5)
    if top5.ndim != 3 or top5.shape[1] < 2 or not 1 <= top5.shape[2] <= 5:
        raise SuiteError(f"top-5 rankings must be [N, F >= 2, 5], got {top5.shape}")
    k = top5.shape[2]
    reference = np.repeat(top5[:, :1], top5.shape[1] - 1, axis=1) if noise else top5[:, :-1]
    later = top5[:, 1:]
    # rank of reference[..., j] in `later`: its position there, or k when it left the top k
    match = reference[..., :, None] == later[..., None, :]  # [N, F-1, k (j), k (position)]
    ranks = np.where(match.any(-1), match.argmax(-1), k)
    distance = np.abs(np.arange(k) - ranks).sum(-1)  # [N, F-1]
    return float(distance.mean(axis=1).mean())


def flip_probability(predicted: np.ndarray, noise: bool) -> float:
    """Mean flip probability over sequences; `predicted` is ``[N, F]``."""
    from ipmix.robustness.metrics import flip_probability as flips

    return flips(predicted, noise)


def _rankings(streamer: Streamer, dataset: VideoSequences, num_classes: int, desc: str
              ) -> list[np.ndarray]:
    """The top-5 classes ``[F, 5]`` of every frame, per sequence (frame counts may differ)."""
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=streamer.workers)
    rankings = []
    try:
        for frames, _ in tqdm(loader, desc=desc, disable=not streamer.progress, leave=False):
            ranked = []
            for start in range(0, len(frames), streamer.batch_size):
                batch = frames[start : start + streamer.batch_size].to(streamer.device).float() / 255
                ranked.append(top_classes(streamer.logits(batch, num_classes, desc), 5).cpu())
            rankings.append(torch.cat(ranked).numpy())
    except (ValueError, FileNotFoundError) as error:
        raise _one_line(error) from None
    return rankings


def perturbation_part(
    streamer: Streamer, root: str | Path, model_classes: Sequence[str], size: int,
    baseline: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """ImageNet-P: FP and T5D per perturbation, their means, and the baseline-normalised ones."""
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise SuiteError(f"ImageNet-P folder {folder} does not exist")
    lacking = [name for name in IMAGENET_P_PERTURBATIONS if not (folder / name).is_dir()]
    if lacking:
        raise SuiteError(f"ImageNet-P folder {folder} lacks perturbation folder(s) {', '.join(lacking)}"
                         + made_by_ipmix(folder, "--perturbed"))
    names = [*IMAGENET_P_PERTURBATIONS, *(n for n in EXTRA_PERTURBATIONS if (folder / n).is_dir())]
    flips, distances, counts = _score(streamer, folder, names, model_classes, size, "ImageNet-P")
    main = IMAGENET_P_PERTURBATIONS
    results: dict[str, Any] = {
        "flip_probability": flips,
        "top5_distance": distances,
        "mfr_unnormalized": float(np.mean([flips[n] for n in main])),
        "mt5d_unnormalized": float(np.mean([distances[n] for n in main])),
        "mfr": None,
        "mt5d": None,
        "normalized_by": None,
        "counts": counts,
        "source": str(folder),
    }
    base = (baseline or {}).get("imagenet_p") if baseline else None
    if base:
        results["mfr"] = 100 * _normalised(flips, base.get("flip_probability", {}), main, "FP")
        results["mt5d"] = 100 * _normalised(distances, base.get("top5_distance", {}), main, "T5D")
        results["normalized_by"] = (baseline.get("meta") or {}).get("model_name") or "baseline run"
    return results


def _score(streamer: Streamer, folder: Path, names: Sequence[str], model_classes: Sequence[str],
           size: int, what: str) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    """Flip probability (%), top-5 distance and sequence count of each perturbation folder."""
    flips: dict[str, float] = {}
    distances: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name in names:
        files, labels = list_videos(folder / name, model_classes, what)
        rankings = _rankings(
            streamer, VideoSequences(files, labels, size), len(model_classes), f"{what} {name}"
        )
        noise = "noise" in name  # test.py: noise sequences are compared with their first frame
        # per sequence, then the mean over sequences (test.py: result += mean / len(videos))
        flips[name] = 100 * float(np.mean([flip_probability(r[None, :, 0], noise) for r in rankings]))
        distances[name] = float(np.mean([top5_distance(r[None], noise) for r in rankings]))
        counts[name] = len(files)
    return flips, distances, counts


def perturbed_part(
    streamer: Streamer, root: str | Path, model_classes: Sequence[str], size: int
) -> dict[str, Any]:
    """Perturbation videos of any folder (module docstring): FP and T5D per perturbation folder
    and their plain means."""
    folder, names = open_made_folder(root, "perturbation videos", "perturbation folders "
                                     "(<perturbation>/<class>/<name>.mp4, as ipmix make-p writes them)")
    flips, distances, counts = _score(streamer, folder, names, model_classes, size, "perturbation videos")
    return {
        "flip_probability": flips,
        "top5_distance": distances,
        "mean_flip_probability": float(np.mean(list(flips.values()))),
        "mean_top5_distance": float(np.mean(list(distances.values()))),
        "top_k": min(5, len(model_classes)),
        "counts": counts,
        "source": str(folder),
    }


def _normalised(ours: Mapping[str, float], theirs: Mapping[str, float], names: Sequence[str],
                what: str) -> float:
    missing = [name for name in names if name not in theirs]
    if missing:
        raise SuiteError(f"the baseline's ImageNet-P results lack {what} of {', '.join(missing)}")
    if any(theirs[name] <= 0 for name in names):
        raise SuiteError(f"the baseline's ImageNet-P {what} is 0 somewhere: cannot normalise by it")
    return float(np.mean([ours[name] / theirs[name] for name in names]))
