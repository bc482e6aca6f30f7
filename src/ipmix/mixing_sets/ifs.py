"""IFS fractals in the style of Anderson & Farrell, "Improving Fractal Pre-training" (WACV 2022).

An iterated function system is N in {2, 3, 4} contractive affine maps ``x -> A_i x + b_i``.
Each ``A_i = R(theta) diag(s1, s2) R(phi) D`` with random rotations, a random reflection D and
singular values 1 >= s1 >= s2 >= 0. Anderson & Farrell's "sigma factor"
``alpha = sum_i (s1_i + 2 s2_i)``, drawn uniformly in ``[(5 + N) / 2, (6 + N) / 2]``, keeps the
attractor between a blob (large alpha) and dust (small alpha). Translations are uniform in
[-1, 1]; maps are picked with probability proportional to ``|det A_i|``.

The attractor is drawn by the chaos game, starting at the fixed point of the first map (a point
of the attractor, so no burn-in is needed), counted into a density image, coloured with a random
hue ramp and composited over a random plasma (diamond-square) background, as in their code.
"""

from __future__ import annotations

import numba
import numpy as np

from ipmix.mixing_sets.colour import hsv_to_rgb, to_uint8

#: Points drawn per pixel of the picture (Anderson & Farrell: 100,000 points at 256 px).
POINTS_PER_PIXEL = 1.5
#: A fractal lighting fewer than this share of pixels is redrawn (a near-degenerate system).
MIN_COVERAGE = 0.03


def sample_singular_values(rng: np.random.Generator, n: int, alpha: float) -> np.ndarray:
    """Draw n pairs (s1, s2) with 1 >= s1 >= s2 >= 0 and ``sum(s1 + 2 s2) == alpha``.

    Pairs are drawn one after another, each within the bounds that still let the remaining pairs
    reach `alpha` (each pair contributes between 0 and 3). `alpha` must lie in [0, 3n].
    """
    if not 0.0 <= alpha <= 3.0 * n:
        raise ValueError(f"sigma factor {alpha} outside [0, {3 * n}] for {n} maps")
    values = np.empty((n, 2))
    remaining = alpha
    for i in range(n - 1):
        rest = 3.0 * (n - 1 - i)  # the most the later pairs can still contribute
        # s1 + 2 s2 <= 3 s1 and >= s1: keep the remainder within reach of the later pairs.
        s1 = rng.uniform(max(0.0, (remaining - rest) / 3.0), min(1.0, remaining))
        low = max(0.0, (remaining - rest - s1) / 2.0)
        s2 = rng.uniform(low, max(low, min(s1, (remaining - s1) / 2.0)))
        values[i] = s1, s2
        remaining -= s1 + 2.0 * s2
    # The last pair takes what is left: s1 = remaining - 2 s2 with s2 <= s1 <= 1.
    remaining = min(max(remaining, 0.0), 3.0)  # rounding only
    s2 = rng.uniform(max(0.0, (remaining - 1.0) / 2.0), remaining / 3.0)
    values[-1] = remaining - 2.0 * s2, s2
    return values


def _rotations(angles: np.ndarray) -> np.ndarray:
    cos, sin = np.cos(angles), np.sin(angles)
    return np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)


def sample_system(rng: np.random.Generator, n_maps: int | None = None) -> np.ndarray:
    """A random contractive IFS as float ``[N, 2, 3]`` (``[A_i | b_i]`` rows)."""
    n = int(rng.integers(2, 5)) if n_maps is None else n_maps
    if n < 1:
        raise ValueError(f"an IFS needs at least one map, got {n}")
    alpha = rng.uniform((5.0 + n) / 2.0, (6.0 + n) / 2.0)
    singular = sample_singular_values(rng, n, alpha)
    reflect = np.sign(rng.random((n, 2)) - 0.5)
    left = _rotations(rng.uniform(-np.pi, np.pi, n))
    right = _rotations(rng.uniform(-np.pi, np.pi, n)) * reflect[:, None, :]
    system = np.empty((n, 2, 3))
    system[:, :, :2] = left * singular[:, None, :] @ right
    system[:, :, 2] = rng.uniform(-1.0, 1.0, (n, 2))
    return system


@numba.njit(cache=True)
def _chaos_game(system: np.ndarray, cumulative: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Points of the attractor: one map per draw, chosen by inverse CDF."""
    a, b = system[0, 0, 0], system[0, 0, 1]
    c, d = system[0, 1, 0], system[0, 1, 1]
    e, f = system[0, 0, 2], system[0, 1, 2]
    # Fixed point of map 0: (I - A) p = t.
    det = (1.0 - a) * (1.0 - d) - b * c
    x = ((1.0 - d) * e + b * f) / det
    y = (c * e + (1.0 - a) * f) / det
    points = np.empty((len(draws), 2))
    for i in range(len(draws)):
        k = 0
        while k < len(cumulative) - 1 and draws[i] >= cumulative[k]:
            k += 1
        x, y = (
            system[k, 0, 0] * x + system[k, 0, 1] * y + system[k, 0, 2],
            system[k, 1, 0] * x + system[k, 1, 1] * y + system[k, 1, 2],
        )
        points[i, 0] = x
        points[i, 1] = y
    return points


@numba.njit(cache=True)
def _density(points: np.ndarray, side: int, patch: np.ndarray) -> np.ndarray:
    """Count points per pixel, the bounding box stretched to the picture; each point stamps
    the offsets in `patch` (a random 3x3 pattern at large sizes, as Anderson & Farrell)."""
    x0, y0 = points[0, 0], points[0, 1]
    x1, y1 = x0, y0
    for i in range(len(points)):
        x0 = min(x0, points[i, 0])
        x1 = max(x1, points[i, 0])
        y0 = min(y0, points[i, 1])
        y1 = max(y1, points[i, 1])
    sx = (side - 1) / max(x1 - x0, 1e-12)
    sy = (side - 1) / max(y1 - y0, 1e-12)
    counts = np.zeros((side, side))
    for i in range(len(points)):
        row = int((points[i, 1] - y0) * sy)
        col = int((points[i, 0] - x0) * sx)
        for j in range(len(patch)):
            r, q = row + patch[j, 0], col + patch[j, 1]
            if 0 <= r < side and 0 <= q < side:
                counts[r, q] += 1.0
    return counts


@numba.njit(cache=True)
def _diamond_square(noise: np.ndarray, levels: int, decay: float) -> np.ndarray:
    """Diamond-square plasma on a (2^levels + 1)^2 grid.

    `noise` holds uniform(-1, 1) draws, consumed in a fixed order: the 4 corners, then level by
    level the square centres and the edge midpoints, row-major. Level k has the same number
    of points whatever `levels`, so a finer grid refines a coarser one drawn from the same
    noise: a plasma is the same picture at every size.
    """
    size = 2**levels + 1
    grid = np.zeros((size, size))
    last = size - 1
    grid[0, 0], grid[0, last] = noise[0], noise[1]
    grid[last, 0], grid[last, last] = noise[2], noise[3]
    used = 4
    step, level = last, 1
    while step > 1:
        half = step // 2
        amplitude = 0.5 * np.exp(decay * (1 - level))
        for r in range(half, size, step):  # diamond step: centres of squares
            for c in range(half, size, step):
                mean = 0.25 * (
                    grid[r - half, c - half] + grid[r - half, c + half]
                    + grid[r + half, c - half] + grid[r + half, c + half]
                )
                grid[r, c] = mean + amplitude * noise[used]
                used += 1
        for r in range(0, size, half):  # square step: edge midpoints (wrapping around)
            for c in range((r + half) % step, size, step):
                total = (
                    grid[(r - half) % last, c] + grid[(r + half) % last, c]
                    + grid[r, (c - half) % last] + grid[r, (c + half) % last]
                )
                grid[r, c] = 0.25 * total + amplitude * noise[used]
                used += 1
        step, level = half, level + 1
    return grid


def plasma(rng: np.random.Generator, side: int) -> np.ndarray:
    """A random colourful plasma background, uint8 ``[side, side, 3]``.

    Colour ranges follow Anderson & Farrell's background: a wide hue ramp, muted saturation
    and mid values, all scaled by the plasma height.
    """
    levels = max(1, int(np.ceil(np.log2(max(side - 1, 1)))))
    decay = rng.uniform(0.4, 0.8)
    noise_rng = np.random.default_rng(int(rng.integers(2**63)))
    size = 2**levels + 1
    height = _diamond_square(noise_rng.uniform(-1.0, 1.0, size * size), levels, decay)
    # Sample the grid evenly: the same plasma whatever the size.
    index = np.round(np.linspace(0, size - 1, side)).astype(np.int64)
    height = height[np.ix_(index, index)]
    hue = height * rng.uniform(0.25, 1.0) + rng.uniform(0.0, 1.0)
    saturation = np.clip(height * rng.uniform(0.1, 0.3) + rng.uniform(0.4, 0.6), 0.0, 1.0)
    value = np.clip(height * rng.uniform(0.3, 0.6) + rng.uniform(0.4, 0.6), 0.0, 1.0)
    return to_uint8(hsv_to_rgb(hue, saturation, value))


#: Side and point count of the coverage check (fixed, so that the choice of system, and thus
#: the picture, does not depend on the size it is rendered at).
_CHECK_SIDE, _CHECK_POINTS = 48, 4000


def render(rng: np.random.Generator, side: int, background: bool = True) -> np.ndarray:
    """One random IFS fractal over a plasma background, uint8 ``[side, side, 3]``.

    All random choices are made before anything size-dependent (the chaos game and the plasma
    get their own seeds), so a generator state gives the same picture at every size.
    """
    if side < 2:
        raise ValueError(f"IFS pictures need side >= 2, got {side}")
    n_points = max(_CHECK_POINTS, int(POINTS_PER_PIXEL * side * side))
    no_patch = np.zeros((1, 2), dtype=np.int64)
    for _ in range(8):
        system = sample_system(rng)
        det = np.abs(system[:, 0, 0] * system[:, 1, 1] - system[:, 0, 1] * system[:, 1, 0])
        cumulative = np.cumsum(det) / det.sum()
        chaos_seed = int(rng.integers(2**63))
        check = _chaos_game(system, cumulative, np.random.default_rng(chaos_seed).random(_CHECK_POINTS))
        if (_density(check, _CHECK_SIDE, no_patch) > 0).mean() >= MIN_COVERAGE:
            break
    # Thicker strokes at large sizes: a random subset of the 3x3 neighbourhood per point.
    mask = rng.random(9) < 0.5
    mask[4] = True
    patch = np.argwhere(mask.reshape(3, 3)) - 1 if side >= 128 else no_patch
    points = _chaos_game(system, cumulative, np.random.default_rng(chaos_seed).random(n_points))
    counts = _density(points, side, patch)
    lit = counts > 0
    t = np.log1p(counts) / np.log1p(counts.max())
    hue = rng.uniform(0.0, 1.0) + rng.uniform(0.15, 1.0) * t
    colour = hsv_to_rgb(hue, rng.uniform(0.3, 1.0), rng.uniform(0.5, 1.0) * (0.6 + 0.4 * t))
    plasma_rng = np.random.default_rng(int(rng.integers(2**63)))
    picture = plasma(plasma_rng, side) if background else np.zeros((side, side, 3), np.uint8)
    picture[lit] = to_uint8(colour)[lit]
    return picture
