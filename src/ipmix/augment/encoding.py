"""The one encoding of a plan that every `IPMixBatch` backend applies.

A plan (`ipmix.augment.plan.IPMixPlan`) says what to do; this module turns it into what the
kernels read, computed once on the host:

- `PictureSource`: where each row's mixing picture comes from (a bank of uint8 pictures on
  the batch's device, an index and a crop offset per row), the same for the mixing set and
  for pictures passed to `forward`;
- `StageArrays`: one stage of the plan per row, with each step's op parameters computed in
  float64 as `ops.py` computes them (`op_parameters`: PIL's affine coefficients, posterize
  masks, solarize thresholds, autocontrast cut-offs, blend factors).

The numba kernels (`ipmix.augment.fused`) take the `StageArrays` fields; the grouped torch
kernels (`ipmix.augment.grouped`) take the plan with its `PictureSource`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ipmix.augment.ops import ALL_OPS
from ipmix.augment.plan import IPMixPlan
from ipmix.augment.tensor_ops import (
    AFFINE_OPS,
    ENHANCE_OPS,
    affine_coefficients,
    autocontrast_cutoffs,
    enhance_factors,
    posterize_masks,
    solarize_thresholds,
)

_AFFINE = np.asarray([name in AFFINE_OPS for name in ALL_OPS])
_ENHANCE = np.asarray([name in ENHANCE_OPS for name in ALL_OPS])
#: Number of op parameters per step (`op_parameters`).
PARAMS = 6


def op_parameters(op: np.ndarray, level: np.ndarray, sign: np.ndarray, height: int, width: int) -> np.ndarray:
    """Each step's op parameters, float64 ``[..., 6]``, computed on the host as `ops.py` does.

    Affine ops get PIL's coefficients (`tensor_ops.affine_coefficients`); the others keep one
    number in column 0 (the same `tensor_ops` helpers as the tensor kernels): posterize's bit
    mask, solarize's threshold, autocontrast's cutoff (in percent) and the enhance ops' blend
    factor.
    """
    shape = op.shape
    op, level, sign = op.reshape(-1), level.reshape(-1).astype(np.float64), sign.reshape(-1)
    params = np.zeros((len(op), PARAMS), dtype=np.float64)
    affine = _AFFINE[op]
    if affine.any():
        names = np.asarray(ALL_OPS, dtype=object)[op[affine]]
        params[affine] = affine_coefficients(names, level[affine], sign[affine], height, width)
    for rows, value in (
        (op == ALL_OPS.index("posterize"), posterize_masks),
        (op == ALL_OPS.index("solarize"), solarize_thresholds),
        (op == ALL_OPS.index("autocontrast"), autocontrast_cutoffs),
        (_ENHANCE[op], enhance_factors),
    ):
        if rows.any():
            params[rows, 0] = value(level[rows])
    return params.reshape(*shape, PARAMS)


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
