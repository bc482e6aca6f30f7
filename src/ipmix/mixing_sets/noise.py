"""Statistical and procedural pictures from the paper's Table 8: dead leaves, spectrum noise,
radial contours.

- Dead leaves (Baradad et al., "Learning to See by Looking at Noise", NeurIPS 2021): shapes
  (circles, squares, rotated squares, rectangles, triangles, quadrilaterals) of uniformly random
  colour and radius r with density proportional to ``r^-3 - rmax^-3`` on [0.03, 1] x side,
  until every pixel is covered. Baradad et al. paint each new shape on top; we paint front to
  back (each new shape goes under the earlier ones), the exact simulation of the dead-leaves
  model (Kendall & Thoennes 1999): the shapes already seen never change when more are needed,
  so a picture is the same at every size.
- Spectrum noise (same paper): random phases under the amplitude spectrum
  ``1 / (|f_x|^a_x + |f_y|^a_y)``, slope a drawn in [0.5, 3.5] with a small random anisotropy,
  channels correlated through a random colour basis, stretched to the full 0-255 range.
- Radial contours (after RCDB, Kataoka et al., "Replacing Labeled Real-image Datasets with
  Auto-generated Contours", CVPR 2022): nested, radially perturbed polygons drawn as lines.
"""

from __future__ import annotations

import numba
import numpy as np
from PIL import Image, ImageDraw

from ipmix.mixing_sets.colour import apply_palette, random_palette

# ---- dead leaves ---------------------------------------------------------------------------

#: Radius range relative to the picture side, and the power of the radius density.
LEAF_RMIN, LEAF_RMAX, LEAF_SIGMA = 0.03, 1.0, 3.0
LEAF_SHAPES = ("circle", "square", "oriented_square", "rectangle", "triangle", "quadrilateral")
#: Shapes are drawn in blocks until the picture is covered, at most this many in all.
LEAF_MAX_SHAPES = 5000
_LEAF_BLOCK = 384


def _radius_table(k: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Radii on a grid and the CDF of their density ``r^-sigma - rmax^-sigma``."""
    radii = np.linspace(LEAF_RMIN, LEAF_RMAX, k)
    density = radii**-LEAF_SIGMA - LEAF_RMAX**-LEAF_SIGMA
    cdf = np.cumsum(density)
    return radii, cdf / cdf[-1]


_RADII, _RADIUS_CDF = _radius_table()


#: Uniform draws per shape: kind, radius, centre (2), colour (3), rotation, corner angles (4).
_LEAF_DRAWS = 12


@numba.njit(cache=True)
def _shape_vertices(kind: int, radius: float, u: np.ndarray, out: np.ndarray) -> int:
    """Polygon vertices of a shape relative to its centre; returns their count (0 = disc).

    Squares have corners at 45 + 90k degrees (rotated by a random angle when oriented),
    rectangles at (a, pi - a, pi + a, -a), triangles and quadrilaterals at sorted random
    angles on the circle of the shape's radius.
    """
    if kind == 0:
        return 0
    angles = np.empty(4)
    count = 3 if kind == 4 else 4
    if kind == 1 or kind == 2:
        spin = u[8] * 2.0 * np.pi if kind == 2 else 0.0
        for k in range(4):
            angles[k] = (0.25 + 0.5 * k) * np.pi + spin
    elif kind == 3:
        a = u[8] * 0.5 * np.pi
        angles[0], angles[1], angles[2], angles[3] = a, np.pi - a, np.pi + a, 2.0 * np.pi - a
    else:
        for k in range(count):
            angles[k] = u[8 + k] * 2.0 * np.pi
        angles[:count] = np.sort(angles[:count])
    for k in range(count):
        out[k, 0] = radius * np.cos(angles[k])
        out[k, 1] = radius * np.sin(angles[k])
    return count


@numba.njit(cache=True)
def _paint_leaves(
    canvas: np.ndarray, covered: np.ndarray, uncovered: int, draws: np.ndarray,
    kinds: np.ndarray, radii: np.ndarray, cdf: np.ndarray,
) -> tuple[int, int]:
    """Paint one shape per row of `draws`, front to back (a shape only fills pixels no earlier
    shape covers), until all pixels are covered.

    Returns (shapes painted, pixels still uncovered).
    """
    side = canvas.shape[0]
    vertices = np.empty((4, 2))
    for s in range(len(draws)):
        u = draws[s]
        kind = kinds[min(int(u[0] * len(kinds)), len(kinds) - 1)]
        r = max(radii[np.searchsorted(cdf, u[1])] * side, 1.0)
        cx, cy = u[2] * side, u[3] * side
        nv = _shape_vertices(kind, r, u, vertices)
        r0, r1 = max(0, int(cy - r)), min(side - 1, int(cy + r) + 1)
        c0, c1 = max(0, int(cx - r)), min(side - 1, int(cx + r) + 1)
        for row in range(r0, r1 + 1):
            py = row + 0.5 - cy
            for col in range(c0, c1 + 1):
                if covered[row, col]:
                    continue
                px = col + 0.5 - cx
                if nv == 0:
                    inside = px * px + py * py <= r * r
                else:  # convex polygon: the point is on one side of every edge
                    positive, negative = False, False
                    for k in range(nv):
                        ax, ay = vertices[k, 0], vertices[k, 1]
                        bx, by = vertices[(k + 1) % nv, 0], vertices[(k + 1) % nv, 1]
                        cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
                        if cross > 0:
                            positive = True
                        elif cross < 0:
                            negative = True
                    inside = not (positive and negative)
                if inside:
                    for ch in range(3):
                        canvas[row, col, ch] = min(int(u[4 + ch] * 256.0), 255)
                    covered[row, col] = True
                    uncovered -= 1
        if uncovered == 0:
            return s + 1, 0
    return len(draws), uncovered


def render_dead_leaves(
    rng: np.random.Generator, side: int, shapes: tuple[str, ...] = LEAF_SHAPES
) -> np.ndarray:
    """One dead-leaves picture, uint8 ``[side, side, 3]``."""
    unknown = set(shapes) - set(LEAF_SHAPES)
    if not shapes or unknown:
        raise ValueError(f"unknown dead-leaves shapes {sorted(unknown)}; choose from {LEAF_SHAPES}")
    kinds = np.array([LEAF_SHAPES.index(s) for s in shapes], dtype=np.int64)
    canvas = np.zeros((side, side, 3), np.uint8)
    covered = np.zeros((side, side), np.bool_)
    uncovered, painted = side * side, 0
    while uncovered and painted < LEAF_MAX_SHAPES:
        draws = rng.random((min(_LEAF_BLOCK, LEAF_MAX_SHAPES - painted), _LEAF_DRAWS))
        used, uncovered = _paint_leaves(canvas, covered, uncovered, draws, kinds, _RADII, _RADIUS_CDF)
        painted += used
    return canvas


# ---- spectrum noise ------------------------------------------------------------------------

SPECTRUM_SLOPES = (0.5, 3.5)


def render_spectrum(rng: np.random.Generator, side: int) -> np.ndarray:
    """One random 1/f^a noise picture, uint8 ``[side, side, 3]``."""
    slope = rng.uniform(*SPECTRUM_SLOPES)
    skew = rng.standard_normal() * (SPECTRUM_SLOPES[1] - SPECTRUM_SLOPES[0]) / 60.0
    basis, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    strengths = np.array([1.0, rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.5)])
    mean_colour = rng.uniform(-0.5, 0.5, 3)
    fy = np.abs(np.fft.fftfreq(side))[:, None]
    fx = np.abs(np.fft.rfftfreq(side))[None, :]
    magnitude = 1.0 / (1e-12 + fx ** (slope + skew) + fy ** (slope - skew))
    magnitude[0, 0] = 0.0  # no gain on the mean
    phase = rng.uniform(0.0, 2 * np.pi, (3, side, side // 2 + 1))
    channels = np.fft.irfft2(magnitude * np.exp(1j * phase), s=(side, side), axes=(-2, -1))
    channels /= channels.std(axis=(1, 2), keepdims=True) + 1e-12
    # Correlate the channels: a random orthonormal colour basis with decreasing strengths
    # (a dominant "luminance" direction), then stretch to the full 0-255 range.
    rgb = np.einsum("chw,dc->hwd", channels, basis * strengths) + mean_colour
    rgb -= rgb.min()
    return (rgb * (255.0 / max(rgb.max(), 1e-12))).round().astype(np.uint8)


# ---- radial contours (RCDB-style) --------------------------------------------------------


def render_radial_contours(rng: np.random.Generator, side: int) -> np.ndarray:
    """Nested polygons with smooth radial noise, drawn as coloured lines on a dark ground."""
    scale = 2  # draw at twice the size, then downsample: smoother, anti-aliased lines
    big = side * scale
    n_vertices = int(rng.integers(3, 65))
    n_contours = int(rng.integers(8, 41))
    centre = rng.uniform(0.25, 0.75, 2) * big
    outer = rng.uniform(0.4, 1.0) * big
    theta = np.linspace(0.0, 2 * np.pi, n_vertices, endpoint=False) + rng.uniform(0, 2 * np.pi)
    # Smooth radial perturbation: a few random low-frequency harmonics, growing outwards.
    harmonics = rng.integers(1, 7, 4)
    amplitude = rng.uniform(0.0, 0.25, 4)
    offsets = rng.uniform(0.0, 2 * np.pi, 4)
    wobble = (amplitude[:, None] * np.sin(harmonics[:, None] * theta + offsets[:, None])).sum(0)
    palette = random_palette(rng)
    tone = rng.uniform(0.0, 1.0)
    width = max(1, int(round(rng.uniform(0.5, 2.0) * big / 48)))
    image = Image.new("RGB", (big, big), tuple(int(v) for v in rng.integers(0, 40, 3)))
    draw = ImageDraw.Draw(image)
    fractions = 1.0 - np.arange(n_contours) / n_contours
    colours = apply_palette((tone + 0.5 * fractions) % 1.0, palette).tolist()
    radii = outer * fractions[:, None] * (1.0 + wobble * fractions[:, None])
    xs = (centre[0] + radii * np.cos(theta)).tolist()
    ys = (centre[1] + radii * np.sin(theta)).tolist()
    for k in range(n_contours):
        polygon = list(zip(xs[k], ys[k], strict=True))
        draw.line(polygon + [polygon[0]], fill=tuple(colours[k]), width=width)
    return np.asarray(image.resize((side, side), Image.Resampling.BOX))
