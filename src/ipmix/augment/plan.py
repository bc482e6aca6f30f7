"""The random plan of IPMix: every random choice for a batch of images, drawn in one place.

`sample_plan` draws, per sample, everything Algorithm 1 (paper, Appendix D) leaves to chance:
chain weights, skip weight, the level of each chain (or step), depths, image ops with their
levels and signs, patch boxes (size, square or scar, position), mixing ops with their
coefficients and mask thresholds, and the mixing picture with its crop offset. The per-image
transform (`ipmix.IPMix`) and the batched path apply plans; neither draws anything else,
except the uniform noise that random pixel/element masks threshold.

Arrays are batch-first numpy arrays: ``[B]``, ``[B, k]`` or ``[B, k, t]`` for k chains of at
most t steps. Steps at or beyond a chain's depth are drawn too (fixed shapes keep the sampler
vectorised) and ignored when applying.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Literal

import numpy as np

from ipmix.augment.mixing import MIXING_OPS, validate_mixing_ops
from ipmix.augment.ops import ALL_OPS, resolve_ops
from ipmix.mixing_sets.store import PICTURE_SCALE, resized_picture_size

Mode = Literal["paper", "official"]
Framework = Literal["chain", "linear", "mixed-input"]
#: A patch size that stands for the whole image (the pixel level).
FULL = "full"

IMAGE_LEVEL, P_LEVEL = 0, 1  # values of `IPMixPlan.step_level`
FROM_PICTURE, FROM_IMAGE_OP = 0, 1  # values of `IPMixPlan.source`
#: Op levels live on AugMix's 0-10 scale: 10 is every op's largest magnitude.
MAX_OP_SEVERITY = 10.0


def as_names(value: object) -> tuple:
    """An option that takes several values as a tuple: one string or number is one value.

    (``tuple("add")`` would be ``("a", "d", "d")``: every option taking names goes through here.)
    """
    if isinstance(value, str | int | float | np.integer | np.floating):
        return (value,)
    return tuple(value)  # type: ignore[arg-type]


def check_op_severity(value: object, what: str = "IPMix: op_severity") -> float:
    """Refuse an op severity outside [0.1, 10] (levels are drawn in [0.1, severity])."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) or not (
        0.1 <= value <= MAX_OP_SEVERITY
    ):
        raise ValueError(
            f"{what} must be a number in [0.1, {MAX_OP_SEVERITY:g}] (op levels are drawn in "
            f"[0.1, severity] on AugMix's 0-10 scale, 10 = each op's largest magnitude), got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class IPMixOptions:
    """Validated options of IPMix; shared by the per-image and batched paths.

    Defaults: k = t = 3 and alpha = 1 (paper); mixing severity (beta) 3 and op severity 3
    (the authors' CIFAR code; their ImageNet code uses 4 and 1).
    """

    width: int = 3
    depth: int = 3
    alpha: float = 1.0
    mixing_severity: float = 3.0
    op_severity: float = 3.0
    patch_sizes: tuple[int | str, ...] | None = None
    mode: Mode = "paper"
    framework: Framework = "chain"
    image_level: bool = True
    patch_level: bool = True
    pixel_level: bool = True
    mixing_ops: tuple[str, ...] | None = None
    box_shapes: tuple[str, ...] = ("square", "scar")
    ops: tuple[str, ...] | None = None
    all_ops: bool = False
    picture_scale: float = PICTURE_SCALE
    op_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        def fail(message: str) -> None:
            raise ValueError(f"IPMix: {message}")

        if not isinstance(self.width, int | np.integer) or self.width < 1:
            fail(f"width (k) must be an integer >= 1, got {self.width!r}")
        if not isinstance(self.depth, int | np.integer) or self.depth < 1:
            fail(f"depth (t) must be an integer >= 1, got {self.depth!r}")
        for name in ("alpha", "mixing_severity"):
            if not getattr(self, name) > 0:
                fail(f"{name} must be > 0, got {getattr(self, name)!r}")
        check_op_severity(self.op_severity)
        if self.mode not in ("paper", "official"):
            fail(f"mode must be 'paper' or 'official', got {self.mode!r}")
        if self.framework not in ("chain", "linear", "mixed-input"):
            fail(f"framework must be 'chain', 'linear' or 'mixed-input', got {self.framework!r}")
        if not (self.image_level or self.patch_level or self.pixel_level):
            fail("at least one of image_level, patch_level, pixel_level must be on")
        if self.framework == "mixed-input" and not (
            self.image_level and (self.patch_level or self.pixel_level)
        ):
            fail("the mixed-input framework needs the image level and a P level (patch or pixel)")
        shapes = as_names(self.box_shapes)
        if not shapes or set(shapes) - {"square", "scar"}:
            fail(f"box_shapes must be a non-empty subset of ('square', 'scar'), got {shapes}")
        if self.patch_sizes is not None:
            sizes = as_names(self.patch_sizes)
            bad = [s for s in sizes if s != FULL and not (isinstance(s, int | np.integer) and s >= 2)]
            if bad or not sizes:
                fail(f"patch_sizes must be integers >= 2 or {FULL!r}, got {sizes}")
            object.__setattr__(self, "patch_sizes", sizes)
        if not self.picture_scale >= 1:
            fail(f"picture_scale must be >= 1, got {self.picture_scale!r}")
        object.__setattr__(self, "box_shapes", shapes)
        mixing_ops = as_names(self.mixing_ops) if self.mixing_ops is not None else None
        object.__setattr__(self, "mixing_ops", validate_mixing_ops(mixing_ops))
        ops = as_names(self.ops) if self.ops is not None else None
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "op_names", resolve_ops(ops, self.all_ops))

    @classmethod
    def preset(cls, name: str, **changes: object) -> IPMixOptions:
        """The named settings (`IPMIX_PRESETS`), with `changes` on top.

        ``"cifar"``: the defaults (the authors' CIFAR script). ``"imagenet"``: the authors'
        ``imagenet.py`` and the paper's Appendix A.2: op severity 1, mixing severity 4, all 15
        ops, patch sizes 4-64 and the whole image (the paper's "256", the code's 224), and
        mixing pictures resized to 8/7 of the image size before the random crop (their
        ``Resize(256)``, ``RandomCrop(224)``).
        """
        if name not in IPMIX_PRESETS:
            raise ValueError(f"IPMix: unknown preset {name!r}; choose one of {', '.join(IPMIX_PRESETS)}")
        return cls(**{**IPMIX_PRESETS[name], **changes})  # type: ignore[arg-type]

    def replace(self, **changes: object) -> IPMixOptions:
        """A copy with some options changed (validated again)."""
        current = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        current.update(changes)
        return IPMixOptions(**current)

    @property
    def uses_p_level(self) -> bool:
        return self.patch_level or self.pixel_level

    def patch_size_choices(self, height: int, width: int) -> np.ndarray:
        """Nominal patch sizes for an image, after the patch/pixel-level switches.

        A size as large as the image's longer side is the pixel level (the whole image); the
        default sizes are (4, 8, 16, 32) for images up to 32 px and (4, 8, 16, 32, 64, whole
        image) for larger ones (64 means the whole image below 64 px). A size given in
        `patch_sizes` larger than the image is an error: it would silently be the whole image.
        """
        full = max(height, width)
        if self.patch_sizes is None:
            sizes = (4, 8, 16, 32) if full <= 32 else (4, 8, 16, 32, 64, FULL)
        else:
            sizes = self.patch_sizes
            too_large = [int(s) for s in sizes if s != FULL and int(s) > full]
            if too_large:
                raise ValueError(
                    f"IPMix: patch_sizes {too_large} exceed the {height}x{width} image; a patch "
                    f"as large as the image is the pixel level, {FULL!r}: give sizes up to {full} "
                    f"and {FULL!r}"
                )
        smallest = min((int(s) for s in sizes if s != FULL), default=2)
        side = min(height, width)
        if smallest > side:
            fix = (f"pass patch_sizes of at most {side} px" if side >= 2 else
                   "patches are at least 2 px, so IPMix needs images of at least 2 px a side")
            raise ValueError(
                f"IPMix: the image ({height}x{width}) is smaller than the smallest patch "
                f"({smallest} px); {fix}"
            )
        nominal = sorted({full if s == FULL else min(int(s), full) for s in sizes})
        if not self.patch_level:
            nominal = [full]
        elif not self.pixel_level:
            nominal = [s for s in nominal if s < full]
            if not nominal:
                raise ValueError("IPMix: pixel_level=False leaves no patch size smaller than the image")
        return np.asarray(nominal, dtype=np.int64)


#: Named IPMix settings (`IPMixOptions.preset`): options that differ from the defaults.
IPMIX_PRESETS: dict[str, dict[str, object]] = {
    "cifar": {},
    "imagenet": {
        "op_severity": 1.0,
        "mixing_severity": 4.0,
        "all_ops": True,
        # patch sizes: the size-aware default, (4, 8, 16, 32, 64, whole image) above 32 px, so
        # the preset also serves images smaller than 64 px (64 is then the whole image)
        "picture_scale": 256 / 224,
    },
}


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
            if f.name not in ("picture_side", "next")
        }
        nxt = self.next.select(index) if self.next is not None else None
        return IPMixPlan(**values, picture_side=self.picture_side, next=nxt)

    def share_picture(self) -> IPMixPlan:
        """The same plan with every sample using sample 0's mixing picture and crop."""
        return replace(
            self,
            picture=np.full_like(self.picture, self.picture[0]),
            picture_offset=np.broadcast_to(self.picture_offset[0], self.picture_offset.shape).copy(),
            next=self.next.share_picture() if self.next is not None else None,
        )


def sample_mixing_coefficients(
    rng: np.random.Generator, beta: float, size: int | tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (a, b) of add/multiply mixing, as PixMix's and the authors' `get_ab`.

    With probability 0.5: ``a ~ Beta(beta, 1)``, ``b ~ Beta(1, beta)``; otherwise
    ``a = 1 + Beta(1, beta)``, ``b = -Beta(1, beta)`` (extrapolating away from the picture).
    """
    interpolate = rng.random(size) < 0.5
    a = np.where(interpolate, rng.beta(beta, 1, size), 1 + rng.beta(1, beta, size))
    b = np.where(interpolate, rng.beta(1, beta, size), -rng.beta(1, beta, size))
    return a.astype(np.float32), b.astype(np.float32)


def _sample_boxes(
    options: IPMixOptions,
    rng: np.random.Generator,
    size: np.ndarray,
    height: int,
    width: int,
) -> np.ndarray:
    """Boxes [..., 4] (top, left, height, width) for nominal patch sizes `size`.

    Square boxes are ``s x s``; scar boxes have height and width each uniform in [2, s]
    (inclusive). Paper mode places a box uniformly over every position where it fits and
    makes a whole-image size the whole image; official mode draws the corner in
    ``[0, H - s] x [0, W - s]`` for the nominal size s (the authors' code).
    """
    shape = size.shape
    p_scar = {("square",): 0.0, ("scar",): 1.0}.get(options.box_shapes, 0.5)
    scar = rng.random(shape) < p_scar
    box_h = np.where(scar, rng.integers(2, size + 1, shape), size)
    box_w = np.where(scar, rng.integers(2, size + 1, shape), size)
    if options.mode == "paper":
        whole = size >= max(height, width)
        box_h = np.where(whole, height, np.minimum(box_h, height))
        box_w = np.where(whole, width, np.minimum(box_w, width))
        top = rng.integers(0, height - box_h + 1, shape)
        left = rng.integers(0, width - box_w + 1, shape)
    else:
        top = rng.integers(0, np.maximum(height - size, 0) + 1, shape)
        left = rng.integers(0, np.maximum(width - size, 0) + 1, shape)
        box_h = np.minimum(box_h, height - top)
        box_w = np.minimum(box_w, width - left)
    return np.stack([top, left, box_h, box_w], axis=-1).astype(np.int64)


def sample_plan(
    options: IPMixOptions,
    batch_size: int,
    height: int,
    width: int,
    picture_count: int,
    rng: np.random.Generator,
) -> IPMixPlan:
    """Draw the IPMix plan of `batch_size` images of size `height x width`."""
    if options.framework == "mixed-input":
        first = sample_plan(
            options.replace(framework="chain", patch_level=False, pixel_level=False),
            batch_size, height, width, picture_count, rng,
        )
        second = sample_plan(
            options.replace(framework="chain", image_level=False),
            batch_size, height, width, picture_count, rng,
        )
        return replace(first, next=second)

    if picture_count < 1 and options.uses_p_level:
        raise ValueError("IPMix: the mixing set is empty")
    b, k, t = batch_size, options.width, options.depth
    steps = (b, k, t)

    chain_weights = rng.dirichlet([options.alpha] * k, size=b).astype(np.float32)
    skip_weight = rng.beta(options.alpha, options.alpha, size=b).astype(np.float32)
    low_depth = 1 if options.mode == "paper" else 0
    depth = rng.integers(low_depth, t + 1, size=(b, k))

    if options.image_level and options.uses_p_level:
        p_level_share = 0.5
    else:
        p_level_share = 1.0 if options.uses_p_level else 0.0
    if options.framework == "chain":
        chain_level = rng.random((b, k)) < p_level_share
        step_level = np.repeat(chain_level[:, :, None], t, axis=2)
    else:  # linear: each step picks its own level
        step_level = rng.random(steps) < p_level_share

    op_ids = np.asarray([ALL_OPS.index(name) for name in options.op_names])
    op = op_ids[rng.integers(0, len(op_ids), steps)]
    op_level = rng.uniform(0.1, options.op_severity, steps).astype(np.float32)
    op_sign = np.where(rng.random(steps) < 0.5, -1, 1)

    image_op_branch = options.mode == "paper" and options.image_level
    source = (rng.random(steps) < 0.5) if image_op_branch else np.zeros(steps, dtype=bool)

    sizes = options.patch_size_choices(height, width) if options.uses_p_level else np.array([2])
    patch_size = sizes[rng.integers(0, len(sizes), steps)]
    box = _sample_boxes(options, rng, patch_size, height, width)

    mixing_ids = np.asarray([MIXING_OPS.index(name) for name in options.mixing_ops])
    mixing_op = mixing_ids[rng.integers(0, len(mixing_ids), steps)]
    mix_a, mix_b = sample_mixing_coefficients(rng, options.mixing_severity, steps)
    mask_threshold = rng.random(steps).astype(np.float32)

    side = resized_picture_size(max(height, width), options.picture_scale)
    picture = rng.integers(0, max(picture_count, 1), size=b)
    picture_offset = np.stack(
        [rng.integers(0, side - height + 1, b), rng.integers(0, side - width + 1, b)], axis=1
    )
    return IPMixPlan(
        chain_weights=chain_weights,
        skip_weight=skip_weight,
        depth=depth.astype(np.int64),
        step_level=step_level.astype(np.int8),
        op=op.astype(np.int64),
        op_level=op_level,
        op_sign=op_sign.astype(np.int64),
        source=source.astype(np.int8),
        patch_size=patch_size.astype(np.int64),
        box=box,
        mixing_op=mixing_op.astype(np.int64),
        mix_a=mix_a,
        mix_b=mix_b,
        mask_threshold=mask_threshold,
        picture=picture.astype(np.int64),
        picture_offset=picture_offset.astype(np.int64),
        picture_side=side,
    )
