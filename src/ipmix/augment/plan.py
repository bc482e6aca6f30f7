"""The random plan of IPMix: every random choice for a batch of images, drawn in one place.

`sample_plan` draws, per sample, everything Algorithm 1 (paper, Appendix D) leaves to chance:
chain weights, skip weight, the level of each chain (or step), depths, image ops with their
levels and signs, patch boxes (size, square or scar, position), mixing ops with their
coefficients and mask thresholds, the mixing picture with its crop offset, and the seed of the
uniform noise that random pixel/element masks threshold (hashed per element from the seed and
the element's coordinates, `ipmix.augment.cpu_math`). The per-image transform (`ipmix.IPMix`)
and the batched path apply plans; neither draws anything else. The sampler is compiled (numba)
and draws sample after sample, so a plan costs about 20 us for one image and 1.5 us per image
in blocks (`benchmarks/results/per_image.md`).

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
def mixing_coefficients(rng: np.random.Generator, beta: float) -> tuple[float, float]:
    """Coefficients (a, b) of add/multiply mixing, as PixMix's and the authors' `get_ab`.

    With probability 0.5: ``a ~ Beta(beta, 1)``, ``b ~ Beta(1, beta)``; otherwise
    ``a = 1 + Beta(1, beta)``, ``b = -Beta(1, beta)`` (extrapolating away from the picture).
    """
    if rng.random() < 0.5:
        return rng.beta(beta, 1.0), rng.beta(1.0, beta)
    return 1.0 + rng.beta(1.0, beta), -rng.beta(1.0, beta)


@cache
def _constants(
    options: IPMixOptions, height: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """What a stage's sampling derives from its options and image size, computed once:
    op ids, nominal patch sizes, mixing-op ids and the mixing picture's side."""
    op_ids = np.asarray([ALL_OPS.index(name) for name in options.op_names])
    sizes = options.patch_size_choices(height, width) if options.uses_p_level else np.array([2])
    mixing_ids = np.asarray([MIXING_OPS.index(name) for name in options.mixing_ops])
    side = resized_picture_size(max(height, width), options.picture_scale)
    return op_ids, sizes, mixing_ids, side


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
    if options.framework == "mixed-input":
        image_stage, p_stage = _stage_options(options)
        first = _sample_stage(image_stage, batch_size, height, width, picture_count, rng)
        second = _sample_stage(p_stage, batch_size, height, width, picture_count, rng)
        plan = replace(first, next=second)
    else:
        plan = _sample_stage(options, batch_size, height, width, picture_count, rng)
    plan.mask_seed = int(rng.integers(0, 2**63))
    return plan


def _sample_stage(
    options: IPMixOptions,
    batch_size: int,
    height: int,
    width: int,
    picture_count: int,
    rng: np.random.Generator,
) -> IPMixPlan:
    """One chain or linear stage of a plan (every field but the mask seed), by `_draw_stage`."""
    if picture_count < 1 and options.uses_p_level:
        raise ValueError("IPMix: the mixing set is empty")
    op_ids, sizes, mixing_ids, side = _constants(options, height, width)
    if options.image_level and options.uses_p_level:
        p_level_share = 0.5
    else:
        p_level_share = 1.0 if options.uses_p_level else 0.0
    drawn = _draw_stage(
        rng, batch_size, options.width, options.depth, float(options.alpha),
        1 if options.mode == "paper" else 0, p_level_share, options.framework == "linear", op_ids,
        float(options.op_severity), options.mode == "paper" and options.image_level, sizes,
        {("square",): 0.0, ("scar",): 1.0}.get(options.box_shapes, 0.5), options.mode == "paper",
        height, width, mixing_ids, float(options.mixing_severity), max(picture_count, 1), side,
    )
    names = [f.name for f in fields(IPMixPlan)][: len(drawn)]  # the drawn fields come first, in order
    return IPMixPlan(**dict(zip(names, drawn, strict=True)), picture_side=side)


@numba.njit(cache=True)
def _draw_stage(rng, b, k, t, alpha, low_depth, p_level_share, per_step_level, op_ids, op_severity,
                image_op_branch, sizes, p_scar, paper_mode, height, width, mixing_ids, beta, picture_count,
                side):
    """Every field of a stage for `b` samples, drawn sample after sample (so a plan of B samples
    is the B one-sample plans the same stream gives one after the other).

    Per sample: chain weights (Dirichlet(alpha) as normalised gammas), the skip weight
    (Beta(alpha, alpha)), then per chain its depth (uniform in [low_depth, t]) and level, then
    per step: level (linear framework), op, op level (uniform in [0.1, op_severity]) and sign,
    source (an op of x with probability 1/2 in paper mode), patch size, box (scar with
    probability `p_scar`, sides uniform in [2, s]; paper mode: the whole image for a size as
    large as the image, else uniform over the positions where it fits; official mode: corner
    uniform in [0, H - s] x [0, W - s]), mixing op, coefficients (`mixing_coefficients`) and
    mask threshold; last the mixing picture and its crop offset. Integers come from one uniform
    each, ``low + floor(u (high - low))``.
    """
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
    gammas = np.empty(k)
    full = max(height, width)
    for i in range(b):
        for j in range(k):
            gammas[j] = rng.standard_gamma(alpha)
        total = gammas.sum()
        for j in range(k):
            chain_weights[i, j] = gammas[j] / total
        skip_weight[i] = rng.beta(alpha, alpha)
        for j in range(k):
            depth[i, j] = low_depth + int(rng.random() * (t + 1 - low_depth))
            chain_level = P_LEVEL if rng.random() < p_level_share else IMAGE_LEVEL
            for s in range(t):
                if per_step_level:
                    chain_level = P_LEVEL if rng.random() < p_level_share else IMAGE_LEVEL
                step_level[i, j, s] = chain_level
                op[i, j, s] = op_ids[int(rng.random() * len(op_ids))]
                op_level[i, j, s] = rng.uniform(0.1, op_severity)
                op_sign[i, j, s] = -1 if rng.random() < 0.5 else 1
                if image_op_branch:
                    source[i, j, s] = FROM_IMAGE_OP if rng.random() < 0.5 else FROM_PICTURE
                size = sizes[int(rng.random() * len(sizes))]
                patch_size[i, j, s] = size
                box_h = box_w = size
                if rng.random() < p_scar:
                    box_h = 2 + int(rng.random() * (size - 1))
                    box_w = 2 + int(rng.random() * (size - 1))
                if paper_mode:
                    box_h = height if size >= full else min(box_h, height)
                    box_w = width if size >= full else min(box_w, width)
                    top = int(rng.random() * (height - box_h + 1))
                    left = int(rng.random() * (width - box_w + 1))
                else:
                    top = int(rng.random() * (max(height - size, 0) + 1))
                    left = int(rng.random() * (max(width - size, 0) + 1))
                    box_h, box_w = min(box_h, height - top), min(box_w, width - left)
                box[i, j, s, 0], box[i, j, s, 1], box[i, j, s, 2], box[i, j, s, 3] = top, left, box_h, box_w
                mixing_op[i, j, s] = mixing_ids[int(rng.random() * len(mixing_ids))]
                mix_a[i, j, s], mix_b[i, j, s] = mixing_coefficients(rng, beta)
                mask_threshold[i, j, s] = rng.random()
        picture[i] = int(rng.random() * picture_count)
        picture_offset[i, 0] = int(rng.random() * (side - height + 1))
        picture_offset[i, 1] = int(rng.random() * (side - width + 1))
    return (chain_weights, skip_weight, depth, step_level, op, op_level, op_sign, source, patch_size, box,
            mixing_op, mix_a, mix_b, mask_threshold, picture, picture_offset)
