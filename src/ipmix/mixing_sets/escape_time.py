"""Escape-time fractals (paper Appendix E): Mandelbrot and Julia sets of z -> z^2 + c.

Pictures are coloured by an "orbit trap": for each pixel, the smallest distance between its
orbit z_1, z_2, ... and a trap shape (a point, a line, a cross or a circle) placed in the orbit
plane, mapped through a random palette. Views are chosen on the set's boundary (where the
structure is) by bisection along a random ray between a point inside the set and one outside,
and a cheap 16 px probe rejects near-uniform views before the full render.

The pixel loop is compiled with numba: a vectorised numpy version (escaped pixels compacted
away each iteration) was several times slower at 256 px, too slow for the 3-minute target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ipmix.mixing_sets.colour import random_palette

TRAPS = ("point", "line", "cross", "circle")
FRACTALS = ("mandelbrot", "julia")

#: Points known to lie inside the Mandelbrot set (centres of hyperbolic components): the
#: inner ends of the boundary-finding rays.
_MANDELBROT_INTERIOR = (
    (0.0, 0.0),
    (-0.25, 0.0),
    (-1.0, 0.0),
    (-0.1226, 0.7449),
    (-0.1226, -0.7449),
    (-1.7549, 0.0),
)
#: Side of the probe render that rejects dull views cheaply (fixed, so that a picture does not
#: depend on the size it is rendered at).
_PROBE_SIDE = 16
#: A probe whose pixel standard deviation (0-255) falls below this is rejected.
_PROBE_MIN_STD = 28.0


@numba.njit(cache=True)
def _escapes(zr: float, zi: float, cr: float, ci: float, max_iter: int) -> bool:
    for _ in range(max_iter):
        zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
        if zr * zr + zi * zi > 4.0:
            return True
    return False


@numba.njit(cache=True)
def _boundary_radius(
    julia: bool, cr: float, ci: float, ox: float, oy: float, dx: float, dy: float,
    r_out: float, max_iter: int, steps: int,
) -> tuple[float, float]:
    """Bisect along the ray o + r (dx, dy) between r = 0 (inside) and r_out (outside)."""
    lo, hi = 0.0, r_out
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        x, y = ox + mid * dx, oy + mid * dy
        if julia:
            out = _escapes(x, y, cr, ci, max_iter)
        else:
            out = _escapes(0.0, 0.0, x, y, max_iter)
        if out:
            hi = mid
        else:
            lo = mid
    return lo, hi


@numba.njit(cache=True)
def _trap_field(
    side: int, cx: float, cy: float, half: float, cos_t: float, sin_t: float,
    julia: bool, jr: float, ji: float, max_iter: int,
    trap: int, tx: float, ty: float, tcos: float, tsin: float, radius: float,
) -> np.ndarray:
    """Minimum orbit-to-trap distance for every pixel of the view (float64 [side, side])."""
    out = np.empty((side, side))
    for row in range(side):
        v = (row + 0.5) / side * 2.0 - 1.0
        for col in range(side):
            u = (col + 0.5) / side * 2.0 - 1.0
            x = cx + half * (u * cos_t - v * sin_t)
            y = cy + half * (u * sin_t + v * cos_t)
            if julia:
                zr, zi, cr, ci = x, y, jr, ji
            else:
                zr, zi, cr, ci = 0.0, 0.0, x, y
            best = np.inf
            for _ in range(max_iter):
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                ax, ay = zr - tx, zi - ty
                if trap == 0:
                    d = np.sqrt(ax * ax + ay * ay)
                elif trap == 1:
                    d = abs(ay * tcos - ax * tsin)
                elif trap == 2:
                    d = min(abs(ay * tcos - ax * tsin), abs(ax * tcos + ay * tsin))
                else:
                    d = abs(np.sqrt(ax * ax + ay * ay) - radius)
                if d < best:
                    best = d
                if zr * zr + zi * zi > 4.0:
                    break
            out[row, col] = best
    return out


@dataclass(frozen=True)
class EscapeTimeParams:
    """Everything that fixes one escape-time picture (apart from its resolution)."""

    fractal: str
    c: complex  # Julia constant (unused for the Mandelbrot set)
    centre: complex
    half_width: float
    angle: float
    max_iter: int
    trap: str
    trap_centre: complex
    trap_angle: float
    trap_radius: float
    cycles: float
    phase: float
    invert: bool
    palette: np.ndarray  # float [256, 3]


def _random_ray(rng: np.random.Generator) -> tuple[float, float]:
    angle = rng.uniform(0.0, 2.0 * np.pi)
    return float(np.cos(angle)), float(np.sin(angle))


def sample_params(rng: np.random.Generator, fractal: str | None = None) -> EscapeTimeParams:
    """Draw a fractal, a view on its boundary, a trap and a palette."""
    if fractal is None:
        fractal = FRACTALS[int(rng.integers(len(FRACTALS)))]
    if fractal not in FRACTALS:
        raise ValueError(f"unknown escape-time fractal {fractal!r}; choose from {FRACTALS}")
    # A point on the Mandelbrot boundary: the view centre (Mandelbrot) or the Julia constant.
    ox, oy = _MANDELBROT_INTERIOR[int(rng.integers(len(_MANDELBROT_INTERIOR)))]
    dx, dy = _random_ray(rng)
    lo, hi = _boundary_radius(False, 0.0, 0.0, ox, oy, dx, dy, 3.0, 256, 24)
    c = complex(ox + lo * dx, oy + lo * dy)  # the inside end: a connected Julia set
    if fractal == "mandelbrot":
        centre = complex(ox + hi * dx, oy + hi * dy)
        half_width = float(np.exp(rng.uniform(np.log(0.004), np.log(1.0))))
    elif rng.random() < 0.3:  # the whole Julia set
        centre = complex(0.0, 0.0)
        half_width = float(rng.uniform(1.1, 1.6))
    else:  # a zoom onto the Julia set's boundary, found along a ray from z = 0
        dx, dy = _random_ray(rng)
        lo, hi = _boundary_radius(True, c.real, c.imag, 0.0, 0.0, dx, dy, 2.5, 256, 24)
        centre = complex(hi * dx, hi * dy)
        half_width = float(np.exp(rng.uniform(np.log(0.02), np.log(1.0))))
    # Deeper zooms need longer orbits to resolve the boundary.
    max_iter = int(np.clip(48 + 16 * np.log2(1.0 / half_width), 48, 160))
    trap = TRAPS[int(rng.integers(len(TRAPS)))]
    trap_radius = float(np.sqrt(rng.uniform(0.0, 1.0)))
    trap_angle = rng.uniform(0.0, 2.0 * np.pi)
    return EscapeTimeParams(
        fractal=fractal,
        c=c,
        centre=centre,
        half_width=half_width,
        angle=float(rng.uniform(0.0, 2.0 * np.pi)),
        max_iter=max_iter,
        trap=trap,
        trap_centre=trap_radius * complex(np.cos(trap_angle), np.sin(trap_angle)),
        trap_angle=float(rng.uniform(0.0, np.pi)),
        trap_radius=float(rng.uniform(0.1, 1.0)),
        cycles=float(rng.uniform(0.5, 2.5)),
        phase=float(rng.uniform(0.0, 1.0)),
        invert=bool(rng.random() < 0.5),
        palette=random_palette(rng),
    )


@numba.njit(cache=True)
def _colourise(
    field: np.ndarray, invert: bool, cycles: float, phase: float, palette: np.ndarray
) -> np.ndarray:
    """Trap distances -> colours: log distance stretched between its 1st and 99th percentiles
    (so every view uses the whole palette), then a triangle wave through the palette (several
    colour bands, without seams). `palette` is uint8 [K, 3]."""
    side = field.shape[0]
    logs = np.log(field.ravel() + 1e-9)
    n = len(logs)
    lo = np.partition(logs, int(0.01 * (n - 1)))[int(0.01 * (n - 1))]
    hi = np.partition(logs, int(0.99 * (n - 1)))[int(0.99 * (n - 1))]
    scale = 1.0 / max(hi - lo, 1e-9)
    last = len(palette) - 1
    out = np.empty((side, side, 3), np.uint8)
    for i in range(n):
        t = min(max((logs[i] - lo) * scale, 0.0), 1.0)
        if invert:
            t = 1.0 - t
        s = (t * cycles + phase) % 1.0
        k = int(round((1.0 - abs(2.0 * s - 1.0)) * last))
        row, col = i // side, i % side
        out[row, col, 0] = palette[k, 0]
        out[row, col, 1] = palette[k, 1]
        out[row, col, 2] = palette[k, 2]
    return out


def render_params(params: EscapeTimeParams, side: int) -> np.ndarray:
    """Render one picture from its parameters as uint8 ``[side, side, 3]``."""
    field = _trap_field(
        side, params.centre.real, params.centre.imag, params.half_width,
        float(np.cos(params.angle)), float(np.sin(params.angle)),
        params.fractal == "julia", params.c.real, params.c.imag, params.max_iter,
        TRAPS.index(params.trap), params.trap_centre.real, params.trap_centre.imag,
        float(np.cos(params.trap_angle)), float(np.sin(params.trap_angle)), params.trap_radius,
    )
    palette = (params.palette * 255.0).round().astype(np.uint8)
    return _colourise(field, params.invert, params.cycles, params.phase, palette)


def render(rng: np.random.Generator, side: int, fractal: str | None = None) -> np.ndarray:
    """One random orbit-trap picture, uint8 ``[side, side, 3]``.

    Up to 8 parameter draws are probed at 16 px and the first lively one is rendered, so the
    same generator state gives the same picture at every size.
    """
    if side < 1:
        raise ValueError(f"escape-time pictures need side >= 1, got {side}")
    for _ in range(8):
        params = sample_params(rng, fractal)
        if render_params(params, _PROBE_SIDE).std() >= _PROBE_MIN_STD:
            break
    return render_params(params, side)
