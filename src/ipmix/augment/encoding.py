"""The one encoding of a plan that every `IPMixBatch` backend applies.

A plan (`ipmix.augment.plan.IPMixPlan`) says what to do; this module turns it into what the
kernels read, computed once on the host:

- `PictureSource`: where each row's mixing picture comes from (a bank of uint8 pictures on
  the batch's device, an index and a crop offset per row), the same for the mixing set and
  for pictures passed to `forward`;
- `StageArrays`: one stage of the plan per row, with each step's op parameters computed in
  float64 as `ops.py` computes them (`ipmix.augment.op_parameters`: PIL's affine coefficients,
  posterize masks, solarize thresholds, autocontrast cuts, blend factors);
- `pack_plan`: the same arrays packed into one float64 row per sample and stage (layout:
  `RowLayout`), so that a device backend uploads a whole plan in one copy. Every value of the
  encoding is exact in float64 (small integers, float32 values, float64 parameters; the
  64-bit mask seed travels as two 32-bit halves).

The numba kernels (`ipmix.augment.kernels.fused.apply`) take the `StageArrays` fields; the Triton kernel
(`ipmix.augment.kernels.triton.apply`) takes `pack_plan`'s rows; the grouped torch kernels
(`ipmix.augment.kernels.grouped.apply`) take the plan with its `PictureSource`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ipmix.augment.op_parameters import PARAMS, op_parameters
from ipmix.augment.plan import IPMixPlan


@dataclass
class PictureSource:
    """Row i mixes with ``bank[index[i]]`` (uint8 ``[N, 1 or 3, S, S']``) cropped at ``offset[i]``."""

    bank: torch.Tensor
    index: np.ndarray  # [rows] int64
    offset: np.ndarray  # [rows, 2] int64: top, left


@dataclass(frozen=True)
class StageArrays:
    """One stage of a plan as the fused kernels read it (B rows, k chains, t steps)."""

    chain_weights: np.ndarray  # [B, k] float32
    skip_weight: np.ndarray  # [B] float32
    depth: np.ndarray  # [B, k] int64
    step_level: np.ndarray  # [B, k, t] int8
    op: np.ndarray  # [B, k, t] int64
    params: np.ndarray  # [B, k, t, 6] float64 (`op_parameters`)
    source: np.ndarray  # [B, k, t] int8
    box: np.ndarray  # [B, k, t, 4] int64
    mixing_op: np.ndarray  # [B, k, t] int64
    mix_a: np.ndarray  # [B, k, t] float32
    mix_b: np.ndarray  # [B, k, t] float32
    threshold: np.ndarray  # [B, k, t] float32

    @classmethod
    def of(cls, stage: IPMixPlan, height: int, width: int) -> StageArrays:
        return cls(
            chain_weights=stage.chain_weights, skip_weight=stage.skip_weight, depth=stage.depth,
            step_level=stage.step_level, op=stage.op,
            params=op_parameters(stage.op, stage.op_level, stage.op_sign, height, width),
            source=stage.source, box=stage.box, mixing_op=stage.mixing_op, mix_a=stage.mix_a,
            mix_b=stage.mix_b, threshold=stage.mask_threshold,
        )


def encode_plan(plan: IPMixPlan, height: int, width: int) -> tuple[StageArrays, ...]:
    """The plan's stages (two for the mixed-input framework, else one) as `StageArrays`."""
    stages = (plan, plan.next) if plan.next is not None else (plan,)
    return tuple(StageArrays.of(stage, height, width) for stage in stages)
@dataclass(frozen=True)
class RowLayout:
    """Column offsets of one packed row (`pack_plan`) for k chains of t steps.

    A row holds: the sample's image index, picture index, crop offset (top, left), the mask
    seed's low and high 32 bits, the skip weight, k chain weights, k depths, then k * t steps
    of `STEP_FIELDS` values each (chain-major, as the plan's ``[k, t]`` arrays).
    """

    k: int
    t: int
    IMAGE = 0
    PICTURE = 1
    OFFSET = 2
    SEED = 4
    SKIP = 6
    WEIGHTS = 7
    #: Per step: level, op, source, mixing op, box (4), a, b, threshold, op parameters (6).
    STEP_FIELDS = 11 + PARAMS
    LEVEL, OP, SOURCE, MIXING, BOX, A, B, THRESHOLD, PARAM = 0, 1, 2, 3, 4, 8, 9, 10, 11

    @property
    def depths(self) -> int:
        return self.WEIGHTS + self.k

    @property
    def steps(self) -> int:
        return self.depths + self.k

    @property
    def width(self) -> int:
        return self.steps + self.k * self.t * self.STEP_FIELDS


def pack_plan(
    stages: tuple[StageArrays, ...], pictures: PictureSource | None, sample_image: np.ndarray, seed: int
) -> np.ndarray:
    """The stages as one float64 array ``[stages, B, RowLayout.width]`` (see `RowLayout`).

    Every stage row carries the row's image index (into the batch for the first stage; the
    second stage of the mixed-input framework reads the first stage's row i) and its picture.
    """
    count, k = stages[0].chain_weights.shape
    t = stages[0].step_level.shape[2]
    layout = RowLayout(k, t)
    out = np.zeros((len(stages), count, layout.width), dtype=np.float64)
    if pictures is not None:
        out[:, :, layout.PICTURE] = pictures.index
        out[:, :, layout.OFFSET : layout.OFFSET + 2] = pictures.offset
    out[:, :, layout.SEED] = seed & 0xFFFFFFFF
    out[:, :, layout.SEED + 1] = seed >> 32
    for number, stage in enumerate(stages):
        row = out[number]
        row[:, layout.IMAGE] = sample_image if number == 0 else np.arange(count)
        row[:, layout.SKIP] = stage.skip_weight
        row[:, layout.WEIGHTS : layout.WEIGHTS + k] = stage.chain_weights
        row[:, layout.depths : layout.depths + k] = stage.depth
        steps = row[:, layout.steps :].reshape(count, k, t, layout.STEP_FIELDS)
        for column, values in (
            (layout.LEVEL, stage.step_level), (layout.OP, stage.op), (layout.SOURCE, stage.source),
            (layout.MIXING, stage.mixing_op), (layout.A, stage.mix_a), (layout.B, stage.mix_b),
            (layout.THRESHOLD, stage.threshold),
        ):
            steps[..., column] = values
        steps[..., layout.BOX : layout.BOX + 4] = stage.box
        steps[..., layout.PARAM : layout.PARAM + PARAMS] = stage.params
    return out
