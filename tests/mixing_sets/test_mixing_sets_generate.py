"""Set generation: determinism, worker-count independence, resumability, outputs, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipmix.mixing_sets import generate as gen
from ipmix.mixing_sets.generate import GenerationError, Recipe, generate, parse_proportions
from ipmix.mixing_sets.store import MixingSet


def folder_bytes(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path (the settings file included)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_folder_output_is_an_image_folder_and_independent_of_workers(tmp_path: Path) -> None:
    one = generate(tmp_path / "one", count=40, size=16, seed=3, workers=1, progress=False)
    two = generate(tmp_path / "two", count=40, size=16, seed=3, workers=2, progress=False)
    assert folder_bytes(one) == folder_bytes(two)
    classes = sorted(p.name for p in one.iterdir() if p.is_dir())
    assert classes == ["escape-time", "ifs"]
    assert len(list(one.rglob("*.png"))) == 40
    assert len(MixingSet.from_source(one)) == 40


def test_array_outputs_hold_the_same_pictures_as_the_folder(tmp_path: Path) -> None:
    kwargs = dict(kind="mix", count=30, size=16, seed=5, progress=False,
                  proportions={"dead-leaves": 1, "spectrum": 1, "radial-contours": 1})
    npy = np.load(generate(tmp_path / "set.npy", workers=2, **kwargs))
    npz = np.load(generate(tmp_path / "set.npz", workers=1, **kwargs))["pictures"]
    folder = MixingSet.from_source(generate(tmp_path / "set", workers=1, **kwargs))
    assert npy.shape == (30, 16, 16, 3) and npy.dtype == np.uint8
    assert np.array_equal(npy, npz)
    recipe = Recipe.make(**{k: kwargs[k] for k in ("kind", "seed", "proportions")})
    by_index = {int(p.stem): np.asarray(folder[i]) for i, p in enumerate(folder.paths)}
    assert all(np.array_equal(npy[i], by_index[i]) for i in range(30))
    assert np.array_equal(npy[7], recipe.render(7, 16))
    settings_file = json.loads((tmp_path / "set.json").read_text())
    assert settings_file["count"] == 30 and settings_file["seed"] == 5
    assert not (tmp_path / "set.npy.parts").exists()


def test_a_set_is_a_prefix_of_a_larger_set_and_can_grow(tmp_path: Path) -> None:
    small = np.load(generate(tmp_path / "small.npy", count=10, size=16, progress=False))
    large = np.load(generate(tmp_path / "large.npy", count=20, size=16, progress=False))
    assert np.array_equal(small, large[:10])
    folder = generate(tmp_path / "grow", count=10, size=16, progress=False)
    before = folder_bytes(folder)
    generate(folder, count=20, size=16, progress=False)
    after = folder_bytes(folder)
    assert all(after[name] == data for name, data in before.items() if name.endswith(".png"))
    assert sum(name.endswith(".png") for name in after) == 20


def test_interrupted_array_run_resumes_to_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gen, "ARRAY_PART", 8)
    clean = generate(tmp_path / "clean.npy", kind="ifs", count=30, size=16, progress=False)
    original = Recipe.render
    calls: list[int] = []

    def flaky(self: Recipe, index: int, side: int) -> np.ndarray:
        calls.append(index)
        if index == 20:
            raise KeyboardInterrupt
        return original(self, index, side)

    monkeypatch.setattr(Recipe, "render", flaky)
    out = tmp_path / "resumed.npy"
    with pytest.raises(KeyboardInterrupt):
        generate(out, kind="ifs", count=30, size=16, progress=False)
    parts = sorted(p.name for p in (tmp_path / "resumed.npy.parts").glob("part-*.npy"))
    assert parts == ["part-000000000-000000008.npy", "part-000000008-000000016.npy"]
    assert not out.exists()
    monkeypatch.setattr(Recipe, "render", original)
    calls.clear()
    monkeypatch.setattr(Recipe, "render", lambda self, i, s: (calls.append(i), original(self, i, s))[1])
    generate(out, kind="ifs", count=30, size=16, progress=False)
    assert min(calls) == 16  # finished parts were not redone
    assert out.read_bytes() == clean.read_bytes()


def test_killed_folder_run_resumes_to_the_same_bytes(tmp_path: Path) -> None:
    """SIGKILL a real generation process mid-run, rerun it, compare with a clean run."""
    count, size = 80, 96  # with 2x supersampling: about 10 ms a picture, a 1 s window to kill
    clean = generate(tmp_path / "clean", kind="escape-time", count=count, size=size,
                     supersample=2, progress=False)
    out = tmp_path / "killed"
    command = [sys.executable, "-c",
               "import sys; from ipmix.mixing_sets.generate import generate; "
               f"generate(sys.argv[1], kind='escape-time', count={count}, size={size}, "
               "supersample=2, workers=1, progress=False)", str(out)]
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and len(list(out.rglob("*.png"))) < 3:
            time.sleep(0.02)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    done = len(list(out.rglob("*.png")))
    assert 3 <= done < count, "the process should be killed mid-run"
    generate(out, kind="escape-time", count=count, size=size, supersample=2, progress=False)
    assert folder_bytes(out) == folder_bytes(clean)


def test_conflicting_resume_and_bad_outputs_are_errors(tmp_path: Path) -> None:
    out = generate(tmp_path / "set", count=4, size=16, seed=1, progress=False)
    with pytest.raises(GenerationError, match="other settings.*seed"):
        generate(out, count=4, size=16, seed=2, progress=False)
    with pytest.raises(GenerationError, match="larger set"):
        generate(out, count=2, size=16, seed=1, progress=False)
    (tmp_path / "stranger").mkdir()
    (tmp_path / "stranger" / "notes.txt").write_text("mine")
    with pytest.raises(GenerationError, match="not a mixing set made by ipmix"):
        generate(tmp_path / "stranger", count=4, size=16, progress=False)
    with pytest.raises(GenerationError, match=r"\.npy or \.npz"):
        generate(tmp_path / "set.png", count=4, size=16, progress=False)
    array = generate(tmp_path / "a.npy", count=4, size=16, progress=False)
    assert generate(array, count=4, size=16, progress=False) == array  # complete: nothing to do
    with pytest.raises(GenerationError, match="other settings"):
        generate(array, count=4, size=32, progress=False)
    for bad in (dict(count=0), dict(size=4), dict(workers=0), dict(kind="clouds"),
                dict(seed=-1), dict(supersample=0), dict(kind="ifs", proportions={"ifs": 1})):
        with pytest.raises(GenerationError):
            generate(tmp_path / "never", **{"count": 2, "size": 16, "progress": False, **bad})


def test_supersampling_averages_a_larger_render_of_the_same_picture() -> None:
    plain = Recipe.make("escape-time", seed=2).render(0, 32).astype(float)
    smooth = Recipe.make("escape-time", seed=2, supersample=2).render(0, 32)
    large = Recipe.make("escape-time", seed=2).render(0, 64)
    assert np.array_equal(smooth, gen.box_downsample(large, 2))
    smooth = smooth.astype(float)
    assert np.abs(np.diff(smooth, axis=1)).mean() < np.abs(np.diff(plain, axis=1)).mean()


def test_parse_proportions() -> None:
    assert parse_proportions("escape-time=1, ifs=3") == {"escape-time": 0.25, "ifs": 0.75}
    assert parse_proportions("spectrum=2,ifs=0") == {"spectrum": 1.0}
    for text, message in [("ifs", "KIND=WEIGHT"), ("ifs=x", "not a number"),
                          ("fog=1", "unknown kind"), ("ifs=-1", ">= 0"), ("ifs=0", "positive")]:
        with pytest.raises(GenerationError, match=message):
            parse_proportions(text)


@settings(max_examples=25, deadline=None)
@given(weights=st.lists(st.integers(1, 9), min_size=2, max_size=5), seed=st.integers(0, 10**6),
       count=st.integers(50, 400))
def test_mix_follows_the_proportions_in_every_prefix(weights: list[int], seed: int, count: int) -> None:
    kinds = sorted(gen.KINDS)[: len(weights)]
    recipe = Recipe.make("mix", seed=seed, proportions=dict(zip(kinds, weights, strict=True)))
    drawn = [recipe.kind_of(i) for i in range(count)]
    for kind, share in recipe.proportions:
        # The golden-ratio sequence's worst interval count error for 50-400 points is 3.3.
        assert abs(drawn.count(kind) - share * count) <= 4


def test_picture_generators_are_independent_per_index() -> None:
    a = gen.picture_rng(0, 1).random(4)
    assert np.array_equal(a, gen.picture_rng(0, 1).random(4))
    assert not np.array_equal(a, gen.picture_rng(0, 2).random(4))
    assert not np.array_equal(a, gen.picture_rng(1, 1).random(4))
    child = np.random.SeedSequence(0).spawn(2)[1]
    assert np.array_equal(a, np.random.Generator(np.random.PCG64(child)).random(4))
