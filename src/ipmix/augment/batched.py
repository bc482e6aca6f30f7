"""`IPMixBatch`: IPMix on a whole batch of tensors, every random choice drawn per sample.

The batched counterpart of `ipmix.IPMix`. Plans come from the same sampler
(`ipmix.augment.plan.sample_plan`), are encoded once (`ipmix.augment.encoding`) and applied
by one of the backends: on CPU tensors the fused numba kernels of `ipmix.augment.kernels.fused.apply` (one
compiled pass per sample, in cache); on any device the grouped tensor kernels of
`ipmix.augment.kernels.grouped.apply`. All have the semantics of the per-image `apply_plan`.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from ipmix.augment.encoding import PictureSource, encode_plan, pack_plan
from ipmix.augment.kernels.fused.apply import apply_plan_fused
from ipmix.augment.kernels.grouped.apply import apply_grouped
from ipmix.augment.options import IPMixOptions
from ipmix.augment.plan import IPMixPlan, sample_plan
from ipmix.augment.seeding import ProcessGenerator
from ipmix.mixing_sets.store import MixingSet
from ipmix.utils.images import check_unit_range

#: Values of `IPMixBatch(backend=...)`.
BACKENDS: tuple[str, ...] = ("auto", "numba", "torch", "triton")
#: Largest mixing set (in bytes of resized pictures) `IPMixBatch` copies to the device.
MAX_DEVICE_SET_BYTES = 4 * 2**30


class TritonFallbackWarning(RuntimeWarning):
    """`IPMixBatch(backend="auto")` gave up the Triton kernel, which raised, for the torch backend."""


class IPMixBatch(nn.Module):
    """IPMix on a ``[B, C, H, W]`` batch (C = 1 or 3) on any device, random choices per sample.

    Takes the same options as `ipmix.IPMix` (see there), plus:

    Args:
        views: number of independent augmented views per image; ``views > 1`` makes `forward`
            return a tuple of that many batches, all views of a sample sharing its mixing picture
            (as the authors' JSD training), computed in one pass.
        seed: seed of the transform's random stream (plans, and through them the mask noise).
        backend: how plans are applied. ``"auto"`` (default): the fused numba kernels
            (`ipmix.augment.kernels.fused.apply`) on CPU tensors, the Triton kernel on CUDA tensors (the
            torch backend, with one warning, if it fails on first use), the grouped tensor
            kernels elsewhere; ``"numba"``: the fused kernels (CPU tensors only); ``"triton"``:
            the Triton kernel (errors raise); ``"torch"``: the tensor kernels everywhere. All
            give the same plans from the same seed; numba gives the per-image bytes, Triton
            numba's up to multiply mixing's powers, torch the per-image results up to float
            rounding (its mask noise comes from a torch generator).
        threads: CPU threads of the numba backend, which then shares the samples out among
            them (same result, bit for bit). For calls in the training process; the default, 1,
            suits DataLoader workers (one thread each).

    `forward(images, mixing_pictures=None)` takes uint8 or float ([0, 1]) images and returns the
    same dtype and range (floats are read at 8-bit precision, as `IPMix` reads them).
    Mixing pictures come from the mixing set, resized once to the picture side (36 for 32 px
    images) and kept on the images' device; pass `mixing_pictures` (``[B, 1 or 3, S, S]``, S =
    the image size or the picture side) to supply one picture per sample instead.
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
        views: int = 1,
        backend: str = "auto",
        threads: int = 1,
    ) -> None:
        super().__init__()
        self.options = IPMixOptions(
            width=width, depth=depth, alpha=alpha, mixing_severity=mixing_severity,
            op_severity=op_severity, patch_sizes=patch_sizes, mode=mode, framework=framework,
            image_level=image_level, patch_level=patch_level, pixel_level=pixel_level,
            mixing_ops=mixing_ops, box_shapes=box_shapes, ops=ops, all_ops=all_ops,
        )
        if not isinstance(views, int) or views < 1:
            raise ValueError(f"IPMixBatch: views must be an integer >= 1, got {views!r}")
        if backend not in BACKENDS:
            raise ValueError(f"IPMixBatch: backend must be one of {BACKENDS}, got {backend!r}")
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"IPMixBatch: threads must be an integer >= 1, got {threads!r}")
        self.views = views
        self.backend = backend
        self.threads = threads
        self._mixing_set: MixingSet | None = (
            MixingSet.from_source(mixing_set) if mixing_set is not None else None
        )
        self.generator = ProcessGenerator(seed)
        self._pictures: dict[tuple[int, str], torch.Tensor] = {}
        self._torch_generators: dict[str, torch.Generator] = {}
        self._staged: dict[tuple[tuple[int, ...], str], Any] = {}  # `stage_plan` buffers
        self._triton_failure: str | None = None  # why backend="auto" gave up the Triton kernel

    @property
    def mixing_set(self) -> MixingSet:
        """The mixing set (the built-in generated set when none was given)."""
        if self._mixing_set is None:
            from ipmix.mixing_sets import default_mixing_set

            self._mixing_set = default_mixing_set()
        return self._mixing_set

    def device_pictures(self, side: int, device: torch.device | str) -> torch.Tensor:
        """The whole mixing set resized to `side`, uint8 ``[N, 3, side, side]`` on `device` (cached)."""
        device = torch.device(device)
        key = (side, str(device))
        cached = self._pictures.get(key)
        if cached is None:
            count = len(self.mixing_set)
            if count * side * side * 3 > MAX_DEVICE_SET_BYTES:
                raise ValueError(
                    f"IPMixBatch: the mixing set ({count} pictures at {side} px) is too large to keep "
                    f"on the device (over {MAX_DEVICE_SET_BYTES // 2**30} GiB); use a stored subset "
                    "or pass mixing_pictures to forward"
                )
            array = self.mixing_set.to_array(side)
            cached = torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2))).to(device)
            self._pictures[key] = cached
        return cached

    def _torch_generator(self, device: torch.device) -> torch.Generator:
        key = str(device)
        generator = self._torch_generators.get(key)
        if generator is None:
            generator = torch.Generator(device=device)
            self._torch_generators[key] = generator
        return generator

    def sample_plan(self, count: int, height: int, width: int) -> IPMixPlan:
        """Draw the plan of `count` images of size `height x width` from this transform's stream."""
        picture_count = len(self.mixing_set) if self.options.uses_p_level else 0
        return sample_plan(self.options, count, height, width, picture_count, self.generator.get())

    def forward(
        self, images: torch.Tensor, mixing_pictures: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        data, is_float = _as_uint8_batch(images)
        count, device, views = data.shape[0], data.device, self.views
        if count == 0:
            return images.clone() if views == 1 else tuple(images.clone() for _ in range(views))
        backend = self._backend_for(device)
        plan, pictures, seed = self._draw(data, mixing_pictures)
        dtype = images.dtype if is_float else torch.uint8
        sample_image = np.arange(plan.batch_size) % count  # row v * count + i is view v of image i
        if backend == "numba":
            out = apply_plan_fused(data.contiguous().numpy(), plan, pictures, sample_image,
                                   as_bytes=not is_float, threads=self.threads)
            out = torch.from_numpy(out).to(dtype)
        elif backend == "triton":
            out = self._forward_triton(data, plan, pictures, sample_image, seed, is_float, dtype)
        else:
            out = self._apply_torch(data, plan, pictures, seed, dtype)
        return tuple(out.chunk(views)) if views > 1 else out

    def _draw(
        self, data: torch.Tensor, mixing_pictures: torch.Tensor | None
    ) -> tuple[IPMixPlan, PictureSource | None, int]:
        """The plan of a call (every view of every image), its pictures and its mask seed."""
        count, _, height, width = data.shape
        plan = self.sample_plan(count * self.views, height, width)
        if self.views > 1:
            _share_pictures(plan, count)
        given = self._given_pictures(mixing_pictures, data, plan)
        pictures = self._picture_source(data, plan, given)
        return plan, pictures, plan.mask_seed

    def _backend_for(self, device: torch.device) -> str:
        """The backend that applies plans to a batch on `device`."""
        if self.backend == "auto":
            backend = _automatic_backend(device)
            return "torch" if backend == "triton" and self._triton_failure is not None else backend
        if self.backend == "numba" and device.type != "cpu":
            raise ValueError(f"IPMixBatch: backend='numba' runs on CPU tensors; the batch is on {device}")
        if self.backend == "triton":
            if not triton_available():
                raise ValueError("IPMixBatch: backend='triton' needs the triton package (pip install triton)")
            from ipmix.augment.kernels.triton.apply import interpreting

            if not (device.type == "cuda" or (device.type == "cpu" and interpreting())):
                raise ValueError(
                    "IPMixBatch: backend='triton' runs on CUDA tensors (or on CPU tensors under "
                    f"TRITON_INTERPRET=1, for tests); the batch is on {device}"
                )
        return self.backend

    def _forward_triton(
        self, data: torch.Tensor, plan: IPMixPlan, pictures: PictureSource | None, sample_image: np.ndarray,
        seed: int, is_float: bool, dtype: torch.dtype,
    ) -> torch.Tensor:
        """`forward`'s Triton branch, and the fallback of backend="auto".

        A kernel that raises (compile, launch, resources) is then given up, with one
        `TritonFallbackWarning`, for the torch backend: for this call's plan and for the rest of
        this transform's life (`_backend_for`).
        """
        from ipmix.augment.kernels.triton import apply as fused_triton

        packed = pack_plan(encode_plan(plan, *data.shape[2:]), pictures, sample_image, seed)
        bank = pictures.bank if pictures is not None else None
        try:
            device_plan = fused_triton.upload_plan(packed, data.device)
            return self._apply_triton(data, device_plan, bank, is_float).to(dtype)
        except Exception as error:
            if self.backend != "auto":
                raise
            self._triton_failure = fused_triton.failure_summary(error)
        warnings.warn(
            f"IPMixBatch: the Triton kernel failed ({self._triton_failure}); this transform uses the torch "
            "backend (ipmix.augment.kernels.grouped) from now on. backend='torch' chooses it without "
            "trying Triton; backend='triton' raises the error instead", TritonFallbackWarning, stacklevel=3,
        )
        return self._apply_torch(data, plan, pictures, seed, dtype)

    def _apply_torch(self, data: torch.Tensor, plan: IPMixPlan, pictures: PictureSource | None, seed: int,
                     dtype: torch.dtype) -> torch.Tensor:
        """A plan applied by the grouped tensor kernels (`ipmix.augment.kernels.grouped`), mask noise
        from `seed`."""
        generator = self._torch_generator(data.device)
        generator.manual_seed(seed)
        return apply_grouped(data, plan, pictures, generator, dtype)

    def _apply_triton(
        self, data: torch.Tensor, plan: torch.Tensor, bank: torch.Tensor | None, is_float: bool
    ) -> torch.Tensor:
        """A packed plan on the device applied by the Triton kernel (`ipmix.augment.kernels.triton.apply`)."""
        from ipmix.augment.kernels.triton.apply import apply_plan_triton

        return apply_plan_triton(data, plan, bank, self.options.width, self.options.depth, not is_float)

    # ---- CUDA graphs (triton backend) ---------------------------------------------------------
    def stage_plan(self, images: torch.Tensor) -> None:
        """Draw the next call's plan for a batch like `images` into a fixed device buffer.

        With `apply_staged`, the way to put IPMixBatch inside a captured CUDA graph: call
        ``stage_plan`` outside the graph before every replay (it copies the plan from pinned
        memory, waiting only for the copy made two plans ago), and capture
        ``apply_staged``, which only launches kernels. The result is `forward`'s for the same
        stream (the mixing set's pictures only; `mixing_pictures` are not supported).
        """
        from ipmix.augment.kernels.triton.apply import StagedPlan

        data, _ = _as_uint8_batch(images)
        if self._backend_for(data.device) != "triton":
            failed = self._triton_failure
            raise ValueError(f"IPMixBatch: stage_plan needs the triton backend (CUDA), got {self.backend!r}"
                             + (f"; its Triton kernel failed earlier ({failed})" if failed else ""))
        plan, pictures, seed = self._draw(data, None)
        sample_image = np.arange(plan.batch_size) % data.shape[0]
        packed = pack_plan(encode_plan(plan, *data.shape[2:]), pictures, sample_image, seed)
        key = (tuple(data.shape), str(data.device))
        if key not in self._staged:
            self._staged[key] = StagedPlan(packed.shape, data.device)
        self._staged[key].write(packed, pictures.bank if pictures is not None else None)

    def apply_staged(self, images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Apply the plan of the last `stage_plan` for this batch shape: kernel launches only."""
        data, is_float = _as_uint8_batch(images)
        staged = self._staged.get((tuple(data.shape), str(data.device)))
        if staged is None:
            raise ValueError(f"IPMixBatch: no plan staged for a batch of shape {tuple(data.shape)}; "
                             "call stage_plan(images) first")
        out = self._apply_triton(data, staged.device, staged.bank, is_float)
        out = out.to(images.dtype if is_float else torch.uint8)
        return tuple(out.chunk(self.views)) if self.views > 1 else out

    def _given_pictures(
        self, mixing_pictures: torch.Tensor | None, images: torch.Tensor, plan: IPMixPlan
    ) -> torch.Tensor | None:
        """Check `mixing_pictures` (one per image) and return them as uint8 on the images' device."""
        if mixing_pictures is None or not self.options.uses_p_level:
            return None
        count, _, height, width = images.shape
        side = (plan.next if plan.next is not None else plan).picture_side
        given, _ = _as_uint8_batch(mixing_pictures, what="mixing_pictures")
        if given.shape[0] != count:
            raise ValueError(f"IPMixBatch: mixing_pictures has {given.shape[0]} pictures for {count} images")
        size = tuple(given.shape[2:])
        if size not in ((height, width), (side, side)):
            raise ValueError(
                f"IPMixBatch: mixing_pictures must be {height}x{width} (the image size) or "
                f"{side}x{side} (the picture side), got {size[0]}x{size[1]}"
            )
        return given.to(images.device).contiguous()

    def _picture_source(
        self, images: torch.Tensor, plan: IPMixPlan, given: torch.Tensor | None
    ) -> PictureSource | None:
        """Each row's mixing picture: the device-resident set, or `given` (one per image)."""
        if not self.options.uses_p_level:
            return None
        stage = plan.next if plan.next is not None else plan
        if given is None:
            bank = self.device_pictures(stage.picture_side, images.device)
            return PictureSource(bank, stage.picture, stage.picture_offset)
        sample_image = np.arange(plan.batch_size) % images.shape[0]
        offset = stage.picture_offset
        if tuple(given.shape[2:]) == tuple(images.shape[2:]):
            offset = np.zeros_like(offset)
        return PictureSource(given, sample_image, offset)

    # ---- reproducibility ----------------------------------------------------------------
    def reseed(self, seed: int | None) -> None:
        """Restart this transform's random stream from `seed`."""
        self.generator.reseed(seed)

    def random_state(self) -> dict[str, Any]:
        """The random state, for exact resumption (the mask noise is re-seeded from it per call)."""
        return {"generator": self.generator.state_dict()}

    def load_random_state(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])

    def __getstate__(self) -> dict[str, Any]:
        # Copies sent to other processes (DataLoader workers) rebuild their device caches there.
        return {**self.__dict__, "_pictures": {}, "_torch_generators": {}, "_staged": {}}

    def extra_repr(self) -> str:
        o = self.options
        return (
            f"width={o.width}, depth={o.depth}, alpha={o.alpha}, mixing_severity={o.mixing_severity}, "
            f"op_severity={o.op_severity}, mode={o.mode!r}, framework={o.framework!r}, "
            f"levels=(image={o.image_level}, patch={o.patch_level}, pixel={o.pixel_level}), "
            f"views={self.views}, backend={self.backend!r}, threads={self.threads}"
        )


def triton_available() -> bool:
    """Whether the triton package can be imported (it comes with CUDA builds of torch)."""
    return importlib.util.find_spec("triton") is not None


def _automatic_backend(device: torch.device) -> str:
    """backend="auto" on `device`: numba on the CPU, Triton on CUDA when installed, else torch."""
    if device.type == "cpu":
        return "numba"
    return "triton" if device.type == "cuda" and triton_available() else "torch"


def _share_pictures(plan: IPMixPlan, count: int) -> None:
    """Make view v of sample i (row ``v * count + i``) use view 0's picture and crop, in place."""
    stage = plan.next if plan.next is not None else plan
    total = stage.batch_size
    source = np.arange(total) % count
    stage.picture = stage.picture[source]
    stage.picture_offset = stage.picture_offset[source]


def _as_uint8_batch(images: Any, what: str = "images") -> tuple[torch.Tensor, bool]:
    """A uint8 ``[B, C, H, W]`` view of a uint8 or float ([0, 1]) batch, and whether it was float."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"IPMixBatch takes a [B, C, H, W] tensor as {what}, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"IPMixBatch takes {what} as [B, C, H, W] with C = 1 or 3, got shape {tuple(images.shape)}"
        )
    check_unit_range(images, f"IPMixBatch {what}")  # refuse, not clamp, [0, 255] or NaN floats
    if images.is_floating_point():
        return (images.detach().clamp(0, 1) * 255).round_().to(torch.uint8), True
    if images.dtype != torch.uint8:
        raise ValueError(f"IPMixBatch takes uint8 or float {what}, got {images.dtype}")
    return images, False
