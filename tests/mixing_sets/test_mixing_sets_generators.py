"""The picture generators: shapes, determinism, quality on a few hundred draws, invariants."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipmix.mixing_sets import escape_time, ifs, noise
from ipmix.mixing_sets.colour import hsv_to_rgb, random_palette
from ipmix.mixing_sets.generate import KINDS, MIN_PICTURE_STD, Recipe, box_downsample
from ipmix.mixing_sets.inspect import LOW_VARIANCE_STD

DRAWS = 200  # per kind, at 32 px: the issue asks for a few hundred draws in all


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_generator_is_deterministic_per_generator_state(kind: str) -> None:
    render = KINDS[kind]
    first = render(np.random.default_rng(7), 32)
    again = render(np.random.default_rng(7), 32)
    other = render(np.random.default_rng(8), 32)
    assert first.shape == (32, 32, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_low_variance_pictures_and_no_duplicates(kind: str) -> None:
    recipe = Recipe.make(kind, seed=11)
    pictures = np.stack([recipe.render(i, 32) for i in range(DRAWS)])
    stds = pictures.reshape(DRAWS, -1).std(axis=1)
    assert stds.min() >= LOW_VARIANCE_STD  # the issue allows < 0.5%; we redraw to get none
    assert len({p.tobytes() for p in pictures}) == DRAWS


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_generators_render_at_other_sizes(kind: str) -> None:
    picture = Recipe.make(kind, seed=1).render(3, 48)
    assert picture.shape == (48, 48, 3)
    assert picture.std() >= MIN_PICTURE_STD


@pytest.mark.parametrize("kind", ["escape-time", "ifs", "dead-leaves", "radial-contours"])
def test_a_picture_is_the_same_at_every_size(kind: str) -> None:
    """Rendered at 128 px and averaged down, picture i matches its 32 px render far better
    than another picture does (spectrum noise draws new phases per size and is excluded)."""
    recipe = Recipe.make(kind, seed=1)
    for index in range(6):
        small = recipe.render(index, 32).astype(float)
        same = np.abs(small - box_downsample(recipe.render(index, 128), 4)).mean()
        other = np.abs(small - box_downsample(recipe.render(index + 50, 128), 4)).mean()
        assert same < 0.8 * other


# ---- escape-time --------------------------------------------------------------------------


@pytest.mark.parametrize("trap", escape_time.TRAPS)
@pytest.mark.parametrize("fractal", escape_time.FRACTALS)
def test_every_trap_and_fractal_renders_a_lively_view(fractal: str, trap: str) -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        params = escape_time.sample_params(rng, fractal)
        params = escape_time.EscapeTimeParams(**{**params.__dict__, "trap": trap})
        picture = escape_time.render_params(params, 24)
        if picture.std() >= 20:
            return
    pytest.fail(f"no lively {fractal} view with a {trap} trap in 5 draws")


def test_mandelbrot_views_hold_both_the_set_and_its_outside() -> None:
    """Views are centred on the boundary: a grid over the view has points in and out."""
    rng = np.random.default_rng(5)
    grid = np.linspace(-1, 1, 24)
    for _ in range(20):
        params = escape_time.sample_params(rng, "mandelbrot")
        points = [params.centre + params.half_width * complex(u, v) for u in grid for v in grid]
        escaped = [escape_time._escapes(0.0, 0.0, z.real, z.imag, 256) for z in points]
        assert any(escaped) and not all(escaped)


def test_unknown_fractal_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown escape-time fractal"):
        escape_time.sample_params(np.random.default_rng(0), "burning-ship")


# ---- IFS ------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 6), fraction=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_singular_values_meet_the_sigma_factor_constraints(n: int, fraction: float, seed: int) -> None:
    alpha = fraction * 3 * n
    values = ifs.sample_singular_values(np.random.default_rng(seed), n, alpha)
    s1, s2 = values[:, 0], values[:, 1]
    tol = 1e-9
    assert np.all(s1 <= 1 + tol) and np.all(s2 >= -tol) and np.all(s2 <= s1 + tol)
    assert np.isclose((s1 + 2 * s2).sum(), alpha)


def test_sigma_factor_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="sigma factor"):
        ifs.sample_singular_values(np.random.default_rng(0), 2, 6.5)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_sampled_systems_are_contractive_with_anderson_farrell_sigma(seed: int) -> None:
    system = ifs.sample_system(np.random.default_rng(seed))
    n = len(system)
    assert 2 <= n <= 4
    singular = np.linalg.svd(system[:, :, :2], compute_uv=False)
    assert singular.max() <= 1 + 1e-9
    sigma = (singular[:, 0] + 2 * singular[:, 1]).sum()
    assert (5 + n) / 2 - 1e-9 <= sigma <= (6 + n) / 2 + 1e-9
    assert np.all(np.abs(system[:, :, 2]) <= 1)


def test_chaos_game_stays_on_the_attractor_of_a_known_system() -> None:
    """Sierpinski triangle: every point lies in [0, 1]^2 above the anti-diagonal's mirror."""
    half = np.array([[0.5, 0.0], [0.0, 0.5]])
    system = np.stack([np.hstack([half, np.array([[bx], [by]])]) for bx, by in
                       [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5)]])
    points = ifs._chaos_game(system, np.array([1 / 3, 2 / 3, 1.0]),
                             np.random.default_rng(0).random(5000))
    assert points.min() >= -1e-12 and points.max() <= 1 + 1e-12
    assert np.all(points.sum(axis=1) <= 1 + 1e-9)  # the triangle x + y <= 1
    # No point in the removed middle triangle (x, y >= 0.5 - x ... i.e. x < .5, y < .5, x+y > .5).
    middle = (points[:, 0] < 0.5 - 1e-9) & (points[:, 1] < 0.5 - 1e-9) & (points.sum(1) > 0.5 + 1e-9)
    assert not middle.any()


def test_plasma_fills_the_picture_with_smooth_colour() -> None:
    picture = ifs.plasma(np.random.default_rng(1), 64).astype(float)
    assert picture.shape == (64, 64, 3)
    neighbour = np.abs(np.diff(picture, axis=1)).mean()
    shuffled = np.random.default_rng(2).permutation(picture.reshape(-1, 3)).reshape(64, 64, 3)
    assert neighbour < 0.5 * np.abs(np.diff(shuffled, axis=1)).mean()  # spatially correlated


# ---- noise ----------------------------------------------------------------------------------


def test_dead_leaves_cover_every_pixel() -> None:
    side = 32
    canvas = np.zeros((side, side, 3), np.uint8)
    covered = np.zeros((side, side), np.bool_)
    draws = np.random.default_rng(4).random((noise.LEAF_MAX_SHAPES, noise._LEAF_DRAWS))
    kinds = np.arange(len(noise.LEAF_SHAPES))
    used, uncovered = noise._paint_leaves(canvas, covered, side * side, draws, kinds,
                                          noise._RADII, noise._RADIUS_CDF)
    assert uncovered == 0 and covered.all() and used < noise.LEAF_MAX_SHAPES


def test_dead_leaves_shape_subsets_and_errors() -> None:
    discs = noise.render_dead_leaves(np.random.default_rng(0), 32, shapes=("circle",))
    assert discs.shape == (32, 32, 3)
    with pytest.raises(ValueError, match="unknown dead-leaves shapes"):
        noise.render_dead_leaves(np.random.default_rng(0), 32, shapes=("hexagon",))


def test_dead_leaves_radius_density_follows_the_power_law() -> None:
    """Radii are drawn with density r^-3 - 1: most leaves are small."""
    cdf = noise._RADIUS_CDF
    small = np.searchsorted(noise._RADII, 0.06)  # r <= 2 rmin
    assert 0.6 < cdf[small] < 0.85


def test_spectrum_slope_controls_smoothness(monkeypatch: pytest.MonkeyPatch) -> None:
    def roughness(slopes: tuple[float, float]) -> float:
        monkeypatch.setattr(noise, "SPECTRUM_SLOPES", slopes)
        pictures = [noise.render_spectrum(np.random.default_rng(i), 64) for i in range(8)]
        return float(np.mean([np.abs(np.diff(p.astype(float), axis=0)).mean() for p in pictures]))

    assert roughness((3.0, 3.0)) < 0.5 * roughness((0.5, 0.5))


def test_spectrum_uses_the_full_range() -> None:
    picture = noise.render_spectrum(np.random.default_rng(0), 32)
    assert picture.min() == 0 and picture.max() == 255


# ---- colour ---------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=20))
def test_hsv_to_rgb_matches_colorsys(values: list[tuple[float, float, float]]) -> None:
    h, s, v = (np.array(c) for c in zip(*values, strict=True))
    expected = np.array([colorsys.hsv_to_rgb(*x) for x in values])
    assert np.allclose(hsv_to_rgb(h, s, v), expected, atol=1e-12)


def test_palettes_are_valid_colour_tables() -> None:
    for seed in range(20):
        palette = random_palette(np.random.default_rng(seed))
        assert palette.shape == (256, 3) and palette.min() >= 0 and palette.max() <= 1


def test_box_downsample_averages_blocks() -> None:
    picture = np.zeros((4, 4, 3), np.uint8)
    picture[:2, :2] = 200
    assert box_downsample(picture, 2)[:, :, 0].tolist() == [[200, 0], [0, 0]]
