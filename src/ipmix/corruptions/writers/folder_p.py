"""ImageNet-P-style perturbation videos of any image folder (`ipmix make-p`).

Writes the layout of the ImageNet-P release, ``<out>/<perturbation>/<class>/<stem>.mp4``: one
video per image (``make_imagenet_p.py`` names it after the image without its extension), its
frames the perturbation sequence of ``ipmix.corruptions.perturbations`` (see ``video.py`` for the encoding:
lossless H.264 by default where the release is lossy; ``crf=20`` for the release's kind). The
harder noise levels go to their own folders (``gaussian_noise_2/``, ...), as in the release.
Preset ``imagenet``: Resize(256), perturb, crop 224; ``cifar``: 32 x 32 frames with CIFAR-P's
constants.

Seeding, resuming, parallelism and the folder record work as in ``folder_c.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ipmix.corruptions.perturbations import (
    IMAGENET_PERTURBATIONS,
    P_PRESETS,
    PerturbationError,
    PerturbationPreset,
    get_p_preset,
    perturb_sequence,
)
from ipmix.corruptions.tables import preset_identity
from ipmix.corruptions.writers.cifar import _claim_folder
from ipmix.corruptions.writers.folder_c import (
    GenerationSummary,
    image_stream,
    input_fingerprint,
    list_inputs,
    output_paths,
    prepare_image,
    prepare_output,
    run_tasks,
)
from ipmix.corruptions.writers.video import codec_settings, encode_video
from ipmix.utils.io import atomic_write_bytes


def video_name(path: Path) -> str:
    """``n01440764_1.JPEG`` -> ``n01440764_1.mp4``."""
    return path.stem + ".mp4"


@dataclass(frozen=True)
class _VideoTask:
    path: Path
    key: str
    outputs: tuple[tuple[str, Path], ...]  # (perturbation, file)
    preset: PerturbationPreset
    seed: int
    crf: int | None


def _perturb_one(task: _VideoTask) -> int:
    spec = task.preset
    image = prepare_image(task.path, spec.size, spec.resize, crop=False)
    for name, path in task.outputs:
        frames = perturb_sequence(image, name, image_stream(task.seed, name, 0, task.key), preset=spec)
        atomic_write_bytes(path, encode_video(frames, crf=task.crf, grain="noise" in name))
    return len(task.outputs)


def make_p_folder(
    images_dir: str | Path,
    out_dir: str | Path,
    *,
    preset: str | PerturbationPreset = "imagenet",
    perturbations: Sequence[str] = IMAGENET_PERTURBATIONS,
    workers: int = 1,
    seed: int = 0,
    crf: int | None = None,
    progress: bool = True,
) -> GenerationSummary:
    """Write one video per image and perturbation of the ImageFolder `images_dir` to `out_dir`:
    lossless H.264, or with `crf` the reference's lossy encoding (it used 20, see video.py).
    `preset` is a name or any `PerturbationPreset`."""
    spec = get_p_preset(preset)
    names = list(dict.fromkeys(perturbations))
    unknown = [name for name in names if name not in spec.table]
    if unknown:
        raise PerturbationError(
            f"unknown perturbation(s) {', '.join(unknown)} for preset {spec.name!r}; "
            f"known: {', '.join(spec.table)}"
        )
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    settings = codec_settings(crf)
    out_dir = prepare_output(images_dir, out_dir)
    index = list_inputs(images_dir, progress)
    relatives = output_paths(index, video_name)
    identity = preset_identity(spec, P_PRESETS)
    _claim_folder(out_dir, {"kind": "folder-p", **identity, "seed": int(seed), "codec": settings["codec"],
                            "crf": crf, "inputs_sha256": input_fingerprint(index)})
    tasks, skipped = [], 0
    for i, relative in enumerate(relatives):
        outputs = []
        for name in names:
            path = out_dir / name / relative
            if path.is_file():
                skipped += 1
            else:
                outputs.append((name, path))
        if outputs:
            key = index.relative_path(i)
            tasks.append(_VideoTask(index.path(i), key, tuple(outputs), spec, int(seed), crf))
    written = sum(run_tasks(tasks, _perturb_one, workers, progress, desc="make-p"))
    return GenerationSummary(written=written, skipped=skipped, images=len(index))
