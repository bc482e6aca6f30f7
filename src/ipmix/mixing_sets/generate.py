"""Generate mixing sets: resumable, parallel, and deterministic per (seed, index).

Picture `i` of a set with seed `s` is drawn from its own generator,
``SeedSequence(s, spawn_key=(i,))`` (the i-th child of ``SeedSequence(s).spawn``), so it does
not depend on the number of workers, on which pictures were made before, or on the count: a
1,000-picture set is the first 1,000 pictures of a 13,000-picture one with the same seed.

In a mix of kinds, picture i's kind comes from a golden-ratio sequence offset by the seed, so
every prefix of the set follows the proportions to within a few pictures.

Outputs: a folder ``OUT/<kind>/<index>.png`` (an ImageFolder, kinds as classes) plus
``OUT/mixing-set.json``, or one uint8 ``[N, S, S, 3]`` array in ``OUT.npy`` / ``OUT.npz`` (key
``pictures``) with its settings in ``OUT.json``. Every file is written atomically; an
interrupted run leaves finished pictures (or 256-picture parts, kept in ``OUT.parts/`` for
arrays) that a rerun with the same settings keeps and does not redo.
"""

from __future__ import annotations

import functools
import io
import json
import multiprocessing
import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from ipmix.mixing_sets import escape_time, ifs, noise
from ipmix.mixing_sets.store import (
    GeneratedMixingSet,
    MixingSet,
    MixingSetError,
    resized_picture_size,
)
from ipmix.utils.io import atomic_open, atomic_write_bytes, atomic_write_json, make_dirs

#: Picture generators by kind: ``render(rng, side) -> uint8 [side, side, 3]``.
KINDS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "escape-time": escape_time.render,
    "ifs": ifs.render,
    "dead-leaves": noise.render_dead_leaves,
    "spectrum": noise.render_spectrum,
    "radial-contours": noise.render_radial_contours,
}
#: The paper's set mixes escape-time and IFS fractals (plus pictures we cannot make).
DEFAULT_PROPORTIONS = {"escape-time": 0.5, "ifs": 0.5}
#: Size of the authors' mixing set, used for the default set.
PAPER_SET_SIZE = 13_000
#: A picture below this pixel standard deviation (0-255) is redrawn from the same generator.
#: The quality report counts pictures under 10 as low-variance; this leaves a margin.
MIN_PICTURE_STD = 16.0
_REDRAWS = 8
#: Pictures per part file of an array output, and per task of a folder output.
ARRAY_PART = 256
FOLDER_TASK = 64
_GOLDEN = (5**0.5 - 1) / 2
_FORMAT_VERSION = 1
_SETTINGS_FILE = "mixing-set.json"


class GenerationError(MixingSetError):
    """Generation settings that cannot be honoured (conflicting resume, bad proportions...)."""


def parse_proportions(text: str) -> dict[str, float]:
    """Parse ``"escape-time=0.5,ifs=0.5"`` into normalised proportions."""
    proportions: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise GenerationError(f"proportion {item!r} is not KIND=WEIGHT")
        try:
            proportions[name] = float(value)
        except ValueError:
            raise GenerationError(f"proportion weight {value!r} for {name!r} is not a number") from None
    return normalise_proportions(proportions)


def normalise_proportions(proportions: dict[str, float]) -> dict[str, float]:
    """Check kinds and weights, drop zero weights, scale to sum 1 (sorted by kind)."""
    unknown = sorted(set(proportions) - set(KINDS))
    if unknown:
        raise GenerationError(f"unknown kind(s) {unknown} in proportions; choose from {sorted(KINDS)}")
    if any(not np.isfinite(w) or w < 0 for w in proportions.values()):
        raise GenerationError(f"proportions must be finite and >= 0, got {proportions}")
    total = sum(proportions.values())
    if total <= 0:
        raise GenerationError("proportions must have a positive weight")
    return {k: proportions[k] / total for k in sorted(proportions) if proportions[k] > 0}


def picture_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of picture `index` of the set with `seed`."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))


def box_downsample(picture: np.ndarray, factor: int) -> np.ndarray:
    """Average `factor` x `factor` blocks (supersampling's anti-aliasing filter)."""
    side = picture.shape[0] // factor
    blocks = picture[: side * factor, : side * factor].reshape(side, factor, side, factor, 3)
    return blocks.astype(np.float32).mean(axis=(1, 3)).round().astype(np.uint8)


@functools.lru_cache(maxsize=64)
def _kind_offset(seed: int) -> float:
    """Start of the golden-ratio sequence that assigns kinds in a mix, fixed by the seed."""
    return float(np.random.SeedSequence(seed).generate_state(1)[0] / 2**32)


@dataclass(frozen=True)
class Recipe:
    """What fixes every picture of a set: kinds and proportions, seed, supersampling."""

    proportions: tuple[tuple[str, float], ...]
    seed: int = 0
    supersample: int = 1

    @classmethod
    def make(
        cls, kind: str = "mix", seed: int = 0, proportions: dict[str, float] | None = None,
        supersample: int = 1,
    ) -> Recipe:
        """A recipe for one kind, or for ``kind="mix"`` with `proportions` (default 50/50)."""
        if kind == "mix":
            mix = normalise_proportions(DEFAULT_PROPORTIONS if proportions is None else proportions)
        elif kind in KINDS:
            if proportions is not None:
                raise GenerationError("proportions only apply to --kind mix")
            mix = {kind: 1.0}
        else:
            raise GenerationError(f"unknown kind {kind!r}; choose from {sorted(KINDS)} or 'mix'")
        if not isinstance(seed, int | np.integer) or seed < 0:
            raise GenerationError(f"seed must be a non-negative integer, got {seed!r}")
        if supersample < 1:
            raise GenerationError(f"supersample must be >= 1, got {supersample}")
        return cls(tuple(mix.items()), int(seed), int(supersample))

    def kind_of(self, index: int) -> str:
        """The kind of picture `index` (golden-ratio sequence against cumulative proportions)."""
        if len(self.proportions) == 1:
            return self.proportions[0][0]
        u = (_kind_offset(self.seed) + index * _GOLDEN) % 1.0
        cumulative = np.cumsum([w for _, w in self.proportions])
        position = int(np.searchsorted(cumulative, u, side="right"))
        return self.proportions[min(position, len(self.proportions) - 1)][0]

    def render(self, index: int, side: int) -> np.ndarray:
        """Picture `index` at `side` x `side`, uint8 RGB; redrawn while nearly uniform."""
        if index < 0:
            raise IndexError(f"picture index must be >= 0, got {index}")
        rng = picture_rng(self.seed, index)
        generator = KINDS[self.kind_of(index)]
        for _ in range(_REDRAWS):
            picture = generator(rng, side * self.supersample)
            if picture.std() >= MIN_PICTURE_STD:
                break
        return picture if self.supersample == 1 else box_downsample(picture, self.supersample)

    def describe(self) -> str:
        """A one-line summary, e.g. ``escape-time 0.5 + ifs 0.5, seed 0``."""
        mix = " + ".join(f"{k} {w:.2g}" for k, w in self.proportions)
        extra = f", supersample {self.supersample}" if self.supersample > 1 else ""
        return f"{mix}, seed {self.seed}{extra}"


def generated_mixing_set(
    kind: str = "mix", seed: int = 0, size: int = 2**31 - 1, native_side: int = 64,
    proportions: dict[str, float] | None = None, supersample: int = 1, cache_bytes: int = 0,
) -> MixingSet:
    """An on-the-fly set: picture i is rendered (at the requested side) when asked for.

    With the default `size`, a random index is practically always a picture never seen before;
    with a finite `size` and `cache_bytes`, it behaves like a stored set rendered lazily.
    """
    recipe = Recipe.make(kind, seed, proportions, supersample)
    return GeneratedMixingSet(
        recipe.render, size=size, native_side=native_side, name=recipe.describe(),
        cache_bytes=cache_bytes,
    )


#: Supersampling of the default set: the authors' pictures reach IPMix through an
#: anti-aliased resize from a larger size; rendering at 2x and averaging does the same.
DEFAULT_SUPERSAMPLE = 2


def default_mixing_set(image_size: int = 32) -> MixingSet:
    """The set IPMix uses when given none: 13,000 generated pictures, half escape-time and
    half IFS fractals (seed 0, 2x supersampled), rendered lazily at the size asked for and
    memoised.

    Nothing is downloaded or written; getting the set costs nothing until pictures are used.
    """
    return generated_mixing_set(
        "mix", seed=0, size=PAPER_SET_SIZE, native_side=resized_picture_size(image_size),
        supersample=DEFAULT_SUPERSAMPLE, cache_bytes=MixingSet.cache_bytes,
    )


# ---- writing sets to disk -------------------------------------------------------------------


def _png_bytes(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def _replace_unsynced(path: str, data: bytes) -> None:
    """Write via a temporary file and a rename (`ipmix.utils.io.atomic_open`), without fsync.

    The rename keeps a killed run from leaving half a picture (what resuming relies on).
    Syncing every file made writing a folder of small PNGs several times slower than
    rendering them on the dev box; `generate` calls `os.sync` once at the end instead.
    """
    with atomic_open(path, sync=False) as handle:
        handle.write(data)


def _render_pngs(recipe: Recipe, side: int, indices: Sequence[int], paths: Sequence[str]) -> int:
    for index, path in zip(indices, paths, strict=True):
        _replace_unsynced(path, _png_bytes(recipe.render(index, side)))
    return len(indices)


def _render_part(recipe: Recipe, side: int, start: int, stop: int, path: str) -> int:
    pictures = np.stack([recipe.render(i, side) for i in range(start, stop)])
    buffer = io.BytesIO()
    np.save(buffer, pictures)
    atomic_write_bytes(path, buffer.getvalue())
    return stop - start


def _settings(recipe: Recipe, side: int, count: int) -> dict[str, Any]:
    return {
        "format_version": _FORMAT_VERSION,
        "proportions": dict(recipe.proportions),
        "seed": recipe.seed,
        "supersample": recipe.supersample,
        "size": side,
        "count": count,
    }


def _check_resume(path: Path, wanted: dict[str, Any]) -> None:
    """Refuse to continue a set that was started with other settings."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise GenerationError(f"cannot read the settings of the existing set {path}: {error}") from None
    differing = [k for k in wanted if k != "count" and found.get(k) != wanted[k]]
    if differing:
        details = ", ".join(f"{k}: {found.get(k)!r} there, {wanted[k]!r} now" for k in differing)
        raise GenerationError(
            f"{path.parent if path.name == _SETTINGS_FILE else path} was generated with other "
            f"settings ({details}); choose another output or delete it"
        )
    if found.get("count", 0) > wanted["count"]:
        raise GenerationError(
            f"{path} holds a larger set ({found['count']} pictures) than asked for "
            f"({wanted['count']}); choose another output or delete it"
        )


def _remove_stale_temporaries(folder: Path) -> None:
    """Delete temporary files an interrupted atomic write left behind (``.name.xxx.tmp``)."""
    for stale in folder.rglob(".*.tmp"):
        stale.unlink(missing_ok=True)


def _run_tasks(
    tasks: list[tuple[Callable[..., int], tuple[Any, ...]]], workers: int, bar: tqdm,
    recipe: Recipe,
) -> None:
    """Run (function, args) tasks in-process or on `workers` processes, advancing the bar."""
    if workers == 1 or len(tasks) <= 1:
        for function, args in tasks:
            bar.update(function(*args))
        return
    # Load the compiled kernels once here, so forked workers inherit them.
    warmed: set[str] = set()
    for index in range(256):
        if recipe.kind_of(index) not in warmed:
            warmed.add(recipe.kind_of(index))
            recipe.render(index, 8)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(function, *args) for function, args in tasks]
        try:
            for future in as_completed(futures):
                bar.update(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _generate_folder(recipe: Recipe, out: Path, count: int, side: int, workers: int, bar) -> None:
    settings = _settings(recipe, side, count)
    settings_path = out / _SETTINGS_FILE
    if out.exists() and not out.is_dir():
        raise GenerationError(f"{out} is a file; --out must be a folder or end in .npy or .npz")
    if settings_path.exists():
        _check_resume(settings_path, settings)
    elif out.exists() and any(out.iterdir()):
        raise GenerationError(f"{out} exists and is not a mixing set made by ipmix; choose another output")
    make_dirs(out)
    _remove_stale_temporaries(out)
    atomic_write_json(settings_path, settings)
    width = max(6, len(str(count - 1)))
    pending = [
        (i, str(out / recipe.kind_of(i) / f"{i:0{width}d}.png"))
        for i in range(count)
    ]
    pending = [(i, p) for i, p in pending if not os.path.exists(p)]
    bar.update(count - len(pending))
    tasks = [
        (_render_pngs, (recipe, side, [i for i, _ in chunk], [p for _, p in chunk]))
        for chunk in (pending[k : k + FOLDER_TASK] for k in range(0, len(pending), FOLDER_TASK))
    ]
    _run_tasks(tasks, workers, bar, recipe)
    if hasattr(os, "sync"):
        os.sync()  # flush all pictures to disk at once (see _replace_unsynced)


def _assemble(parts: list[Path], out: Path, count: int, side: int) -> None:
    """Stream the part files into one .npy (or a .npz holding ``pictures``) atomically."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
              "shape": (count, side, side, 3)}
    with atomic_open(out) as handle:  # streamed: a large array is never held whole
        if out.suffix == ".npz":
            archive = zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED)
            target = archive.open("pictures.npy", "w", force_zip64=True)
        else:
            archive, target = None, handle
        np.lib.format.write_array_header_2_0(target, header)
        for part in parts:
            target.write(np.ascontiguousarray(np.load(part)).tobytes())
        if archive is not None:
            target.close()
            archive.close()


def _generate_array(recipe: Recipe, out: Path, count: int, side: int, workers: int, bar) -> None:
    settings = _settings(recipe, side, count)
    sidecar = out.with_suffix(".json")
    parts_dir = out.with_name(out.name + ".parts")
    parts_settings = parts_dir / _SETTINGS_FILE
    if parts_settings.exists():
        _check_resume(parts_settings, settings)
    elif out.exists():
        if sidecar.exists():
            _check_resume(sidecar, settings)
            if json.loads(sidecar.read_text()).get("count") == count:
                bar.update(count)
                return  # already complete
        raise GenerationError(f"{out} already exists; delete it or choose another output")
    make_dirs(parts_dir)
    _remove_stale_temporaries(parts_dir)
    atomic_write_json(parts_settings, settings)
    ranges = [(start, min(start + ARRAY_PART, count)) for start in range(0, count, ARRAY_PART)]
    parts = [parts_dir / f"part-{a:09d}-{b:09d}.npy" for a, b in ranges]
    tasks = []
    for (start, stop), part in zip(ranges, parts, strict=True):
        if part.exists():
            bar.update(stop - start)
        else:
            tasks.append((_render_part, (recipe, side, start, stop, str(part))))
    _run_tasks(tasks, workers, bar, recipe)
    _assemble(parts, out, count, side)
    atomic_write_json(sidecar, settings)
    shutil.rmtree(parts_dir)


def generate(
    out: str | Path, kind: str = "mix", count: int = PAPER_SET_SIZE, size: int = 32,
    seed: int = 0, workers: int = 1, proportions: dict[str, float] | None = None,
    supersample: int = 1, progress: bool = True,
) -> Path:
    """Write `count` pictures of `size` px to `out` (a folder, or a .npy/.npz file).

    Resumable: rerun the same command after an interruption and only missing pictures are
    made. The bytes written do not depend on `workers`.
    """
    if count < 1:
        raise GenerationError(f"count must be >= 1, got {count}")
    if size < 8:
        raise GenerationError(f"size must be >= 8 px, got {size}")
    if workers < 1:
        raise GenerationError(f"workers must be >= 1, got {workers}")
    recipe = Recipe.make(kind, seed, proportions, supersample)
    out = Path(out)
    with tqdm(total=count, desc=f"mixing set {out.name}", unit="pic", disable=not progress) as bar:
        if out.suffix in (".npy", ".npz"):
            make_dirs(out.parent)
            _generate_array(recipe, out, count, size, workers, bar)
        elif out.suffix:
            raise GenerationError(f"output {out} must be a folder or end in .npy or .npz")
        else:
            _generate_folder(recipe, out, count, size, workers, bar)
    return out


__all__ = [
    "DEFAULT_PROPORTIONS",
    "KINDS",
    "GenerationError",
    "Recipe",
    "default_mixing_set",
    "generate",
    "generated_mixing_set",
    "parse_proportions",
    "picture_rng",
]
