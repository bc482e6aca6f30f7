"""The random plan of IPMix: every random choice for a batch of images, drawn in one place.

`sample_plan` draws, per sample, everything Algorithm 1 (paper, Appendix D) leaves to chance:
chain weights, skip weight, the level of each chain (or step), depths, image ops with their
levels and signs, patch boxes (size, square or scar, position), mixing ops with their
coefficients and mask thresholds, the mixing picture with its crop offset, and the seed of the
uniform noise that random pixel/element masks threshold (hashed per element from the seed and
the element's coordinates, `ipmix.augment.kernels.cpu_math`). The per-image transform (`ipmix.IPMix`)
and the batched path apply plans; neither draws anything else. numpy draws a stage's random
numbers in three calls and a compiled loop (numba) turns them into the plan, so a plan costs
about 15 us for one image and 1 us per image in blocks (`benchmarks/results/per_image.md`).

Arrays are batch-first numpy arrays: ``[B]``, ``[B, k]`` or ``[B, k, t]`` for k chains of at
most t steps. Steps at or beyond a chain's depth are drawn too (fixed shapes) and ignored when
applying.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cache

import numba
import numpy as np

from ipmix.augment.mixing import MIXING_OPS
from ipmix.augment.ops import ALL_OPS
from ipmix.augment.options import IPMixOptions
from ipmix.mixing_sets.store import resized_picture_size

IMAGE_LEVEL, P_LEVEL = 0, 1  # values of `IPMixPlan.step_level`
FROM_PICTURE, FROM_IMAGE_OP = 0, 1  # values of `IPMixPlan.source`


@dataclass
class IPMixPlan:
    """Every random choice of IPMix for B samples (k chains, at most t steps each).

    `next` is the second stage of the mixed-input framework (P-level chains applied to the
    output of this, image-level, stage); None otherwise.
    """

    chain_weights: np.ndarray  # [B, k] float32, Dirichlet(alpha)
    skip_weight: np.ndarray  # [B] float32, Beta(alpha, alpha): weight of the mixed result
    depth: np.ndarray  # [B, k] int64, steps applied in each chain
    step_level: np.ndarray  # [B, k, t] int8: IMAGE_LEVEL or P_LEVEL
    op: np.ndarray  # [B, k, t] int64: index into ALL_OPS
    op_level: np.ndarray  # [B, k, t] float32 in [0.1, op_severity]
    op_sign: np.ndarray  # [B, k, t] int64 in {-1, +1}
    source: np.ndarray  # [B, k, t] int8: FROM_PICTURE or FROM_IMAGE_OP (op applied to x)
    patch_size: np.ndarray  # [B, k, t] int64 nominal size
    box: np.ndarray  # [B, k, t, 4] int64: top, left, height, width
    mixing_op: np.ndarray  # [B, k, t] int64: index into MIXING_OPS
    mix_a: np.ndarray  # [B, k, t] float32
    mix_b: np.ndarray  # [B, k, t] float32
    mask_threshold: np.ndarray  # [B, k, t] float32 in [0, 1): keep share of random masks
    picture: np.ndarray  # [B] int64 index into the mixing set
    picture_offset: np.ndarray  # [B, 2] int64: top, left of the crop in the resized picture
    picture_side: int  # side of the resized square picture
    mask_seed: int = 0  # seed of the mask noise (`ipmix.augment.mask_noise`), shared by all rows
    next: IPMixPlan | None = None

    @property
    def batch_size(self) -> int:
        return len(self.skip_weight)

    def step_active(self) -> np.ndarray:
        """[B, k, t] bool: which steps are applied (step index < chain depth)."""
        t = self.step_level.shape[2]
        return np.arange(t)[None, None, :] < self.depth[:, :, None]

    def select(self, index: np.ndarray | slice | int) -> IPMixPlan:
        """The plan of a subset of samples (batch dimension kept)."""
        if isinstance(index, int | np.integer):
            index = slice(int(index), int(index) + 1)
        values = {
            f.name: getattr(self, f.name)[index]
            for f in fields(self)
            if f.name not in ("picture_side", "mask_seed", "next")
        }
        nxt = self.next.select(index) if self.next is not None else None
        return IPMixPlan(**values, picture_side=self.picture_side, mask_seed=self.mask_seed, next=nxt)

    def share_picture(self) -> IPMixPlan:
        """The same plan with every sample using sample 0's mixing picture and crop."""
        return replace(
            self,
            picture=np.full_like(self.picture, self.picture[0]),
            picture_offset=np.broadcast_to(self.picture_offset[0], self.picture_offset.shape).copy(),
            next=self.next.share_picture() if self.next is not None else None,
        )


@numba.njit(cache=True)
def coefficients_from_uniforms(
    choice: float, first: float, second: float, beta: float
) -> tuple[float, float]:
    """Coefficients (a, b) of add/multiply mixing, as PixMix's and the authors' `get_ab`, from
    three uniforms in [0, 1).

    With probability 0.5 (`choice`): ``a ~ Beta(beta, 1)``, ``b ~ Beta(1, beta)``; otherwise
    ``a = 1 + Beta(1, beta)``, ``b = -Beta(1, beta)`` (extrapolating away from the picture).
    Beta(beta, 1) is ``U ** (1 / beta)`` and Beta(1, beta) is ``1 - U ** (1 / beta)``.
    """
    high, low = first ** (1.0 / beta), 1.0 - second ** (1.0 / beta)
    if choice < 0.5:
        return high, low
    return 1.0 + (1.0 - high), -low


def mixing_coefficients(rng: np.random.Generator, beta: float) -> tuple[float, float]:
    """`coefficients_from_uniforms` with three uniforms from `rng`."""
    choice, first, second = rng.random(3)
    return coefficients_from_uniforms(choice, first, second, beta)


@cache
def _constants(options: IPMixOptions, height: int, width: int) -> tuple[np.ndarray, ...]:
    """What a stage's sampling derives from its options and image size, computed once: the
    settings `_draw_stage` reads (see there), op ids, nominal patch sizes and mixing-op ids."""
    if options.image_level and options.uses_p_level:
        p_level_share = 0.5
    else:
        p_level_share = 1.0 if options.uses_p_level else 0.0
    paper = options.mode == "paper"
    settings = np.array([
        options.width, options.depth, options.alpha, 1 if paper else 0, p_level_share,
        options.framework == "linear", options.op_severity, paper and options.image_level,
        {("square",): 0.0, ("scar",): 1.0}.get(options.box_shapes, 0.5), paper, height, width,
        options.mixing_severity, resized_picture_size(max(height, width), options.picture_scale),
    ], dtype=np.float64)
    op_ids = np.asarray([ALL_OPS.index(name) for name in options.op_names])
    sizes = options.patch_size_choices(height, width) if options.uses_p_level else np.array([2])
    mixing_ids = np.asarray([MIXING_OPS.index(name) for name in options.mixing_ops])
    return settings, op_ids, sizes, mixing_ids


#: `IPMixPlan`'s fields that `_draw_stage` returns, in its order.
_DRAWN = ("chain_weights", "skip_weight", "depth", "step_level", "op", "op_level", "op_sign", "source",
          "patch_size", "box", "mixing_op", "mix_a", "mix_b", "mask_threshold", "picture", "picture_offset")


@cache
def _stage_options(options: IPMixOptions) -> tuple[IPMixOptions, IPMixOptions]:
    """The mixed-input framework's two stages: image level only, then P levels only."""
    return (options.replace(framework="chain", patch_level=False, pixel_level=False),
            options.replace(framework="chain", image_level=False))


def sample_plan(
    options: IPMixOptions,
    batch_size: int,
    height: int,
    width: int,
    picture_count: int,
    rng: np.random.Generator,
) -> IPMixPlan:
    """Draw the IPMix plan of `batch_size` images of size `height x width`.

    The stages first (two for the mixed-input framework), then the mask seed.
    """
    if options.uses_p_level and picture_count < 1:
        raise ValueError("IPMix: the mixing set is empty")
    if options.framework != "mixed-input":
        return _sample_stage(options, batch_size, height, width, picture_count, rng, seed=True)
    image_stage, p_stage = _stage_options(options)
    first = _sample_stage(image_stage, batch_size, height, width, picture_count, rng, seed=False)
    second = _sample_stage(p_stage, batch_size, height, width, picture_count, rng, seed=True)
    return replace(first, next=second, mask_seed=second.mask_seed)


#: Uniforms each sample takes from one array (`_draw_stage`): per chain, per step, and for the
#: picture. Every sample takes as many, used or not.
_PER_CHAIN, _PER_STEP, _PER_PICTURE = 2, 16, 3


def _sample_stage(
    options: IPMixOptions,
    batch_size: int,
    height: int,
    width: int,
    picture_count: int,
    rng: np.random.Generator,
    seed: bool,
) -> IPMixPlan:
    """One chain or linear stage of a plan; with `seed`, the mask seed last.

    numpy draws the stage's uniforms, its gammas (chain weights) and Betas (skip weights) in
    three calls; `_draw_stage` turns them into the plan's fields (compiled: a one-image plan
    costs microseconds, not the tens a field-by-field numpy sampler spends on its calls).
    """
    settings, op_ids, sizes, mixing_ids = _constants(options, height, width)
    k, t = options.width, options.depth
    uniforms = rng.random(batch_size * (k * (_PER_CHAIN + t * _PER_STEP) + _PER_PICTURE))
    gammas = rng.standard_gamma(options.alpha, (batch_size, k))
    skips = rng.beta(options.alpha, options.alpha, batch_size)
    drawn = _draw_stage(uniforms, gammas, skips, settings, op_ids, sizes, mixing_ids, max(picture_count, 1))
    return IPMixPlan(**dict(zip(_DRAWN, drawn, strict=True)), picture_side=int(settings[13]),
                     mask_seed=int(rng.integers(0, 2**63)) if seed else 0)


@numba.njit(cache=True)
def _draw_stage(uniforms, gammas, skips, settings, op_ids, sizes, mixing_ids, picture_count):
    """Every field of a stage for ``len(skips)`` samples from their uniforms (`_PER_CHAIN`,
    `_PER_STEP` and `_PER_PICTURE` each, sample after sample), gammas and skip weights.

    `settings` (`_constants`): k, t, alpha, the lowest depth, the P-level share, whether each
    step draws its level (linear framework), op severity, whether P-level steps may take an op
    of x, the scar share, paper mode, H, W, the mixing severity (beta), the picture side.

    Per sample: chain weights (Dirichlet(alpha): normalised Gamma(alpha) draws), the skip weight
    (Beta(alpha, alpha)), then per chain its depth (uniform in [low_depth, t]) and level, then
    per step: level (linear framework), op, op level (uniform in [0.1, op_severity]) and sign,
    source (an op of x with probability 1/2 in paper mode), patch size, box (scar with
    probability `p_scar`, sides uniform in [2, s]; paper mode: the whole image for a size as
    large as the image, else uniform over the positions where it fits; official mode: corner
    uniform in [0, H - s] x [0, W - s]), mixing op, coefficients (`coefficients_from_uniforms`)
    and mask threshold; last the mixing picture and its crop offset. Integers come from one
    uniform each, ``low + floor(u (high - low))``.
    """
    b, k, t, low_depth = len(skips), int(settings[0]), int(settings[1]), int(settings[3])
    p_level_share, per_step_level, op_severity = settings[4], settings[5] != 0, settings[6]
    image_op_branch, p_scar, paper_mode = settings[7] != 0, settings[8], settings[9] != 0
    height, width, beta, side = int(settings[10]), int(settings[11]), settings[12], int(settings[13])
    chain_weights = np.empty((b, k), np.float32)
    skip_weight = np.empty(b, np.float32)
    depth = np.empty((b, k), np.int64)
    step_level = np.empty((b, k, t), np.int8)
    op = np.empty((b, k, t), np.int64)
    op_level = np.empty((b, k, t), np.float32)
    op_sign = np.empty((b, k, t), np.int64)
    source = np.zeros((b, k, t), np.int8)
    patch_size = np.empty((b, k, t), np.int64)
    box = np.empty((b, k, t, 4), np.int64)
    mixing_op = np.empty((b, k, t), np.int64)
    mix_a = np.empty((b, k, t), np.float32)
    mix_b = np.empty((b, k, t), np.float32)
    mask_threshold = np.empty((b, k, t), np.float32)
    picture = np.empty(b, np.int64)
    picture_offset = np.empty((b, 2), np.int64)
    full = max(height, width)
    n = 0  # the next uniform
    for i in range(b):
        total = gammas[i].sum()
        for j in range(k):
            chain_weights[i, j] = gammas[i, j] / total
        skip_weight[i] = skips[i]
        for j in range(k):
            u = uniforms[n : n + _PER_CHAIN]
            n += _PER_CHAIN
            depth[i, j] = low_depth + int(u[0] * (t + 1 - low_depth))
            chain_level = P_LEVEL if u[1] < p_level_share else IMAGE_LEVEL
            for s in range(t):
                u = uniforms[n : n + _PER_STEP]
                n += _PER_STEP
                if per_step_level:
                    chain_level = P_LEVEL if u[0] < p_level_share else IMAGE_LEVEL
                step_level[i, j, s] = chain_level
                op[i, j, s] = op_ids[int(u[1] * len(op_ids))]
                op_level[i, j, s] = 0.1 + (op_severity - 0.1) * u[2]
                op_sign[i, j, s] = -1 if u[3] < 0.5 else 1
                if image_op_branch:
                    source[i, j, s] = FROM_IMAGE_OP if u[4] < 0.5 else FROM_PICTURE
                size = sizes[int(u[5] * len(sizes))]
                patch_size[i, j, s] = size
                box_h = box_w = size
                if u[6] < p_scar:
                    box_h, box_w = 2 + int(u[7] * (size - 1)), 2 + int(u[8] * (size - 1))
                if paper_mode:
                    box_h = height if size >= full else min(box_h, height)
                    box_w = width if size >= full else min(box_w, width)
                    top, left = int(u[9] * (height - box_h + 1)), int(u[10] * (width - box_w + 1))
                else:
                    top = int(u[9] * (max(height - size, 0) + 1))
                    left = int(u[10] * (max(width - size, 0) + 1))
                    box_h, box_w = min(box_h, height - top), min(box_w, width - left)
                box[i, j, s, 0], box[i, j, s, 1], box[i, j, s, 2], box[i, j, s, 3] = top, left, box_h, box_w
                mixing_op[i, j, s] = mixing_ids[int(u[11] * len(mixing_ids))]
                mix_a[i, j, s], mix_b[i, j, s] = coefficients_from_uniforms(u[12], u[13], u[14], beta)
                mask_threshold[i, j, s] = u[15]
        u = uniforms[n : n + _PER_PICTURE]
        n += _PER_PICTURE
        picture[i] = int(u[0] * picture_count)
        picture_offset[i, 0] = int(u[1] * (side - height + 1))
        picture_offset[i, 1] = int(u[2] * (side - width + 1))
    return (chain_weights, skip_weight, depth, step_level, op, op_level, op_sign, source, patch_size, box,
            mixing_op, mix_a, mix_b, mask_threshold, picture, picture_offset)
