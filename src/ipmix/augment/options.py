"""The options of IPMix, validated once and shared by the per-image and batched transforms.

`IPMixOptions` holds every setting of Algorithm 1 and of the authors' code (chains, depth,
severities, patch sizes, mode, framework, the level switches, op and mixing-op lists), and
`IPMIX_PRESETS` the named settings (CIFAR, ImageNet). The plan sampler
(`ipmix.augment.plan`) reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np

from ipmix.augment.mixing import validate_mixing_ops
from ipmix.augment.ops import resolve_ops
from ipmix.mixing_sets.store import PICTURE_SCALE

Mode = Literal["paper", "official"]
Framework = Literal["chain", "linear", "mixed-input"]
#: A patch size that stands for the whole image (the pixel level).
FULL = "full"
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
