"""`IPMix`: the per-image transform (torchvision v2 style) and the kernel that applies a plan.

The transform samples a plan (`ipmix.augment.plan`) for one image and applies it with PIL
image ops and numpy mixing kernels. Chains (Algorithm 1): each of the k chains starts from the
clean image x and takes `depth` steps; an image-level step applies a PIL op, a P-level step
mixes a box of the current image with the mixing picture (or, in paper mode, with probability
0.5, with a random image op applied to x). Chain results are averaged with the Dirichlet
weights and the result is ``(1 - m) x + m * mix`` with the Beta skip weight m.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ipmix.augment.inputs import ImageTransform, as_image_array, to_float, to_uint8
from ipmix.augment.mixing import ADD, MULTIPLY, RANDOM_PIXELS, add, masked, multiply
from ipmix.augment.ops import ALL_OPS, OP_KERNELS
from ipmix.augment.plan import (
    FROM_IMAGE_OP,
    IMAGE_LEVEL,
    IPMixOptions,
    IPMixPlan,
    sample_plan,
)
from ipmix.augment.seeding import ProcessGenerator
from ipmix.mixing_sets.store import MixingSet

_OP_KERNELS = [OP_KERNELS[name] for name in ALL_OPS]
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def crop_picture(
    picture: np.ndarray, offset: np.ndarray, height: int, width: int, gray: bool
) -> np.ndarray:
    """The mixing picture's crop for one image, as float32 HWC in [0, 1] (1 or 3 channels)."""
    top, left = int(offset[0]), int(offset[1])
    crop = picture[top : top + height, left : left + width].astype(np.float32) * (1 / 255)
    return (crop @ _LUMA)[:, :, None] if gray else crop


def _mix_box(
    canvas: np.ndarray,
    source: np.ndarray,
    box: list[int],
    mixing_op: int,
    a: float,
    b: float,
    threshold: float,
    rng: np.random.Generator,
) -> None:
    """Mix `source` into `canvas` inside `box` (top, left, height, width), in place."""
    top, left, h, w = box
    region = canvas[top : top + h, left : left + w]
    patch = source[top : top + h, left : left + w]
    if mixing_op == ADD:
        region[...] = add(region, patch, a, b)
    elif mixing_op == MULTIPLY:
        region[...] = multiply(region, patch, a, b)
    else:
        channels = 1 if mixing_op == RANDOM_PIXELS else region.shape[2]
        keep = rng.random((h, w, channels), dtype=np.float32) < threshold
        region[...] = masked(region, patch, keep)


def apply_plan(
    image: np.ndarray,
    picture: np.ndarray,
    plan: IPMixPlan,
    index: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Apply sample `index` of `plan` to one uint8 ``H x W x C`` image (C = 1 or 3).

    `picture` is the mixing picture already cropped to the image size, float32 HWC in [0, 1]
    with the image's channel count. `rng` only draws the noise of random pixel/element masks.
    Image ops run on uint8 arrays, mixing on float32 ones; a chain converts between the two
    only when its level changes. Returns float32 HWC in [0, 1].
    """
    x = to_float(image)
    depths = plan.depth[index].tolist()
    weights = plan.chain_weights[index].tolist()
    levels = plan.step_level[index].tolist()
    ops = plan.op[index].tolist()
    op_levels = plan.op_level[index].tolist()
    signs = plan.op_sign[index].tolist()
    sources = plan.source[index].tolist()
    boxes = plan.box[index].tolist()
    mixing_ops = plan.mixing_op[index].tolist()
    mix_a, mix_b = plan.mix_a[index].tolist(), plan.mix_b[index].tolist()
    thresholds = plan.mask_threshold[index].tolist()

    mix = np.zeros_like(x)
    for chain, weight in enumerate(weights):
        current_bytes: np.ndarray | None = image  # the chain's image as uint8, or None
        current: np.ndarray | None = None  # the chain's image as float, or None
        for step in range(depths[chain]):
            op = _OP_KERNELS[ops[chain][step]]
            level, sign = op_levels[chain][step], signs[chain][step]
            if levels[chain][step] == IMAGE_LEVEL:
                if current_bytes is None:
                    current_bytes = to_uint8(current)
                current_bytes, current = op(current_bytes, level, sign), None
                continue
            if current is None:
                current, current_bytes = to_float(current_bytes), None
            if sources[chain][step] == FROM_IMAGE_OP:
                source = to_float(op(image, level, sign))
            else:
                source = picture
            _mix_box(
                current, source, boxes[chain][step], mixing_ops[chain][step],
                mix_a[chain][step], mix_b[chain][step], thresholds[chain][step], rng,
            )
        mix += weight * (current if current is not None else to_float(current_bytes))
    m = float(plan.skip_weight[index])
    out = np.clip((1 - m) * x + m * mix, 0, 1)
    if plan.next is not None:
        return apply_plan(to_uint8(out), picture, plan.next, index, rng)
    return out


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
    ) -> None:
        super().__init__()
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
        self._plan_block: list[Any] | None = None

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
        array, restore = as_image_array(image)
        picture = self._picture(plan, index, array.shape)
        return restore(apply_plan(array, picture, plan, index, self.generator.get()))

    def views(self, image: Any, count: int = 2) -> list[Any]:
        """`count` independent augmentations of `image` sharing one mixing picture (for JSD)."""
        if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1:
            raise ValueError(f"IPMix.views: count must be a whole number >= 1, got {count!r}")
        array, restore = as_image_array(image)
        plan = self.sample_plan(array.shape[0], array.shape[1], count).share_picture()
        picture = self._picture(plan, 0, array.shape)
        rng = self.generator.get()
        return [restore(apply_plan(array, picture, plan, i, rng)) for i in range(count)]

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        array, restore = as_image_array(inpt)
        plan, index = self._next_plan(array.shape[0], array.shape[1])
        picture = self._picture(plan, index, array.shape)
        return restore(apply_plan(array, picture, plan, index, self.generator.get()))

    def _next_plan(self, height: int, width: int) -> tuple[IPMixPlan, int]:
        """One image's plan, taken from a block of plans drawn together.

        Drawing plans in blocks makes sampling cost a few microseconds per image instead of
        tens. Blocks double in size from 1 up to `plan_block` (and start at 1 again after a
        reseed or an image-size change), so a transform reseeded for every sample draws no
        plan it does not use. The stream is a deterministic function of the seed and the
        sequence of image sizes.
        """
        block = self._plan_block
        if block is None or block[1] != (height, width) or block[2] >= block[0].batch_size:
            size = 1 if block is None or block[1] != (height, width) else block[0].batch_size * 2
            size = min(size, self.plan_block)
            block = [self.sample_plan(height, width, size), (height, width), 0]
            self._plan_block = block
        index = block[2]
        block[2] += 1
        return block[0], index

    def _picture(self, plan: IPMixPlan, index: int, shape: tuple[int, ...]) -> np.ndarray:
        height, width, channels = shape
        if not self.options.uses_p_level:
            return np.zeros((height, width, channels), np.float32)
        stage = plan.next if plan.next is not None else plan
        picture = self.mixing_set.picture(int(stage.picture[index]), stage.picture_side)
        return crop_picture(picture, stage.picture_offset[index], height, width, gray=channels == 1)

    # ---- reproducibility ----------------------------------------------------------------
    def reseed(self, seed: int | None) -> None:
        """Restart this transform's random stream from `seed`."""
        self.generator.reseed(seed)
        self._plan_block = None

    def state_dict(self) -> dict[str, Any]:
        """The random state (generator and unused buffered plans), for exact resumption."""
        return {"generator": self.generator.state_dict(), "plan_block": copy.deepcopy(self._plan_block)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self._plan_block = copy.deepcopy(state["plan_block"])

    def __getstate__(self) -> dict[str, Any]:
        # Copies sent to other processes (DataLoader workers) start a fresh block of plans.
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        return {**state, "_plan_block": None}

    def extra_repr(self) -> str:
        o = self.options
        return (
            f"width={o.width}, depth={o.depth}, alpha={o.alpha}, mixing_severity={o.mixing_severity}, "
            f"op_severity={o.op_severity}, mode={o.mode!r}, framework={o.framework!r}, "
            f"levels=(image={o.image_level}, patch={o.patch_level}, pixel={o.pixel_level})"
        )
