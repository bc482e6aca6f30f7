"""`IPMix`: the per-image transform (torchvision v2 style).

The transform draws plans (`ipmix.augment.plan`) in blocks and applies one row per image with
a backend: by default the fused numba kernels of `IPMixBatch` (`ipmix.augment.kernels.fused.apply`, one
compiled pass per image, each block of plans encoded once), or with ``backend="pil"`` the
readable reference of PIL image ops and numpy mixing (`ipmix.augment.kernels.reference`). Both give
the same bytes for the same plan.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ipmix.augment.encoding import StageArrays, encode_plan
from ipmix.augment.inputs import ImageTransform, as_image_array, as_planar_image, planar
from ipmix.augment.kernels import reference
from ipmix.augment.kernels.fused.apply import apply_rows
from ipmix.augment.options import IPMixOptions
from ipmix.augment.plan import IPMixPlan, sample_plan
from ipmix.augment.seeding import ProcessGenerator
from ipmix.mixing_sets.store import MixingSet

#: Values of `IPMix(backend=...)`.
BACKENDS: tuple[str, ...] = ("numba", "pil")


@dataclass
class _PlanBlock:
    """Plans drawn together for images of one size; `used` rows of them are taken."""

    plan: IPMixPlan
    size: tuple[int, int]
    used: int = 0
    stages: tuple[StageArrays, ...] | None = None  # the encoded plan (numba backend), made on first use


class IPMix(ImageTransform):
    """IPMix (Huang et al., NeurIPS 2023) for one image at a time.

    Accepts a PIL image (RGB or L), a uint8 or float (in [0, 1]) tensor ``[C, H, W]`` with
    C = 1 or 3, a `tv_tensors.Image`, or a numpy ``[H, W, C]`` / ``[H, W]`` array, and returns
    the same kind (`ipmix.augment.inputs`). Float images outside [0, 1] or holding NaN/inf are
    an error, not clamped. Works inside `torchvision.transforms.v2.Compose`; bounding boxes,
    masks and labels pass through; a sample without an image is an error.

    Args:
        mixing_set: pictures to mix with: a `MixingSet`, a folder path, a uint8 ``[N, H, W, C]``
            array, or an indexable dataset of images. None uses the built-in generated set.
        width: k, the number of chains. depth: t, the maximum number of steps per chain.
        alpha: Dirichlet concentration of the chain weights and Beta(alpha, alpha) of the
            skip weight.
        mixing_severity: beta of the add/multiply coefficients (3 on CIFAR, 4 on ImageNet).
        op_severity: image-op levels are drawn in [0.1, op_severity] (3 CIFAR, 1 ImageNet), on
            AugMix's 0-10 scale (at most 10).
        patch_sizes: nominal patch sizes ("full" = the whole image, the pixel level); None
            gives (4, 8, 16, 32) up to 32 px and (4, 8, 16, 32, 64, "full") above.
        mode: "paper" follows Algorithm 1; "official" reproduces the authors' CIFAR code
            (see docs/ipmix.md for every difference).
        framework: "chain" (default), "linear" or "mixed-input" (paper Fig. 4, Table 2).
        image_level, patch_level, pixel_level: ablation switches (paper Tables 6, 7).
        mixing_ops: subset of ("add", "multiply", "random_pixels", "random_elements"); one
            name may be given alone, as may one box shape, op or patch size.
        box_shapes: subset of ("square", "scar").
        ops: image-op names; None gives the 10 default ops (15 with ``all_ops=True``).
        seed: seed of the transform's random stream; workers derive independent streams.
        backend: ``"numba"`` (default): the compiled kernels `IPMixBatch` runs on CPUs
            (compiled once per machine and cached on disk); ``"pil"``: the reference path
            (`ipmix.augment.kernels.reference`), PIL image ops and numpy mixing. The same plan gives
            the same bytes on both; the numba kernels are several times faster.
    """

    def __init__(
        self,
        mixing_set: Any = None,
        width: int = 3,
        depth: int = 3,
        alpha: float = 1.0,
        mixing_severity: float = 3.0,
        op_severity: float = 3.0,
        patch_sizes: tuple[int | str, ...] | None = None,
        mode: str = "paper",
        framework: str = "chain",
        image_level: bool = True,
        patch_level: bool = True,
        pixel_level: bool = True,
        mixing_ops: tuple[str, ...] | None = None,
        box_shapes: tuple[str, ...] = ("square", "scar"),
        ops: tuple[str, ...] | None = None,
        all_ops: bool = False,
        seed: int | None = None,
        backend: str = "numba",
    ) -> None:
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"IPMix: backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend
        self.options = IPMixOptions(
            width=width, depth=depth, alpha=alpha, mixing_severity=mixing_severity,
            op_severity=op_severity, patch_sizes=patch_sizes, mode=mode, framework=framework,
            image_level=image_level, patch_level=patch_level, pixel_level=pixel_level,
            mixing_ops=mixing_ops, box_shapes=box_shapes, ops=ops, all_ops=all_ops,
        )
        self._mixing_source = mixing_set
        self._mixing_set: MixingSet | None = (
            MixingSet.from_source(mixing_set) if mixing_set is not None else None
        )
        self.generator = ProcessGenerator(seed)
        self.plan_block = 64
        self._plan_block: _PlanBlock | None = None

    @property
    def mixing_set(self) -> MixingSet:
        """The mixing set (the built-in generated set when none was given)."""
        if self._mixing_set is None:
            from ipmix.mixing_sets import default_mixing_set

            self._mixing_set = default_mixing_set()
        return self._mixing_set

    # ---- sampling and applying ----------------------------------------------------------
    def sample_plan(self, height: int, width: int, count: int = 1) -> IPMixPlan:
        """Draw the plan of `count` images of size `height x width` from this transform's stream."""
        picture_count = len(self.mixing_set) if self.options.uses_p_level else 0
        return sample_plan(self.options, count, height, width, picture_count, self.generator.get())

    def apply_plan(self, image: Any, plan: IPMixPlan, index: int = 0) -> Any:
        """Apply sample `index` of `plan` to `image`; returns the same kind as `image`."""
        return self._augment(image, lambda height, width: (_PlanBlock(plan, (height, width)), [index]))[0]

    def views(self, image: Any, count: int = 2) -> list[Any]:
        """`count` independent augmentations of `image` sharing one mixing picture (for JSD)."""
        if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1:
            raise ValueError(f"IPMix.views: count must be a whole number >= 1, got {count!r}")

        def draw(height: int, width: int) -> tuple[_PlanBlock, list[int]]:
            plan = self.sample_plan(height, width, count).share_picture()
            return _PlanBlock(plan, (height, width)), list(range(count))

        return self._augment(image, draw)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return self._augment(inpt, self._next_plan)[0]

    def _augment(self, image: Any, draw: Callable[[int, int], tuple[_PlanBlock, list[int]]]) -> list[Any]:
        """`image` augmented by each of the rows ``draw(height, width)`` names, by the backend."""
        if self.backend == "pil":
            array, restore = as_image_array(image)
            block, rows = draw(*array.shape[:2])
            pictures = [self._picture(block.plan, i, array.shape) for i in rows]
            return [restore(reference.apply_plan(array, picture, block.plan, i))
                    for i, picture in zip(rows, pictures, strict=True)]
        chw, as_bytes, restore = as_planar_image(image)
        channels, height, width = chw.shape
        block, rows = draw(height, width)
        plan = block.plan
        if block.stages is None:
            block.stages = encode_plan(plan, height, width)
        zeros = np.zeros(plan.batch_size, np.int64)
        offsets = np.zeros((plan.batch_size, 2), np.int64)
        outputs = []
        for i in rows:
            bank = self._picture_bank(plan, i, height, width) if self.options.uses_p_level else None
            out = apply_rows(chw[None], block.stages, plan.mask_seed, (bank, zeros, offsets), zeros,
                             (i, i + 1), as_bytes=as_bytes)
            outputs.append(restore(out[0]))
        return outputs

    def _next_plan(self, height: int, width: int) -> tuple[_PlanBlock, list[int]]:
        """One image's plan, taken from a block of plans drawn (and encoded) together.

        Drawing plans in blocks makes sampling cost a few microseconds per image instead of
        tens. Blocks double in size from 1 up to `plan_block` (and start at 1 again after a
        reseed or an image-size change), so a transform reseeded for every sample draws no
        plan it does not use. The stream is a deterministic function of the seed and the
        sequence of image sizes.
        """
        block = self._plan_block
        if block is None or block.size != (height, width) or block.used >= block.plan.batch_size:
            size = 1 if block is None or block.size != (height, width) else block.plan.batch_size * 2
            block = _PlanBlock(self.sample_plan(height, width, min(size, self.plan_block)), (height, width))
            self._plan_block = block
        block.used += 1
        return block, [block.used - 1]

    def _picture_stage(self, plan: IPMixPlan) -> IPMixPlan:
        return plan.next if plan.next is not None else plan

    def _picture(self, plan: IPMixPlan, index: int, shape: tuple[int, ...]) -> np.ndarray:
        """The reference path's mixing picture: the crop as float32 HWC (zeros without P levels)."""
        height, width, channels = shape
        if not self.options.uses_p_level:
            return np.zeros((height, width, channels), np.float32)
        stage = self._picture_stage(plan)
        picture = self.mixing_set.picture(int(stage.picture[index]), stage.picture_side)
        return reference.crop_picture(picture, stage.picture_offset[index], height, width, gray=channels == 1)

    def _picture_bank(self, plan: IPMixPlan, index: int, height: int, width: int) -> np.ndarray:
        """The numba path's mixing picture: the crop as a uint8 bank of one, ``[1, 3, H, W]``."""
        stage = self._picture_stage(plan)
        picture = self.mixing_set.picture(int(stage.picture[index]), stage.picture_side)
        top, left = (int(v) for v in stage.picture_offset[index])
        return planar(picture[top : top + height, left : left + width])[None]

    # ---- reproducibility ----------------------------------------------------------------
    def reseed(self, seed: int | None) -> None:
        """Restart this transform's random stream from `seed`."""
        self.generator.reseed(seed)
        self._plan_block = None

    def state_dict(self) -> dict[str, Any]:
        """The random state (generator and unused buffered plans), for exact resumption."""
        block = self._plan_block
        saved = None if block is None else [copy.deepcopy(block.plan), block.size, block.used]
        return {"generator": self.generator.state_dict(), "plan_block": saved}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        saved = state["plan_block"]
        if saved is not None:
            saved = _PlanBlock(copy.deepcopy(saved[0]), tuple(saved[1]), saved[2])
        self._plan_block = saved

    def __getstate__(self) -> dict[str, Any]:
        # Copies sent to other processes (DataLoader workers) start a fresh block of plans.
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        return {**state, "_plan_block": None}

    def extra_repr(self) -> str:
        o = self.options
        return (
            f"width={o.width}, depth={o.depth}, alpha={o.alpha}, mixing_severity={o.mixing_severity}, "
            f"op_severity={o.op_severity}, mode={o.mode!r}, framework={o.framework!r}, "
            f"levels=(image={o.image_level}, patch={o.patch_level}, pixel={o.pixel_level}), "
            f"backend={self.backend!r}"
        )

