"""`IPMixBatch`: IPMix on a whole batch of tensors, every random choice drawn per sample.

The batched counterpart of `ipmix.IPMix`. Plans come from the same sampler
(`ipmix.augment.plan.sample_plan`) and `apply_plan_batch` applies them with the same semantics
as the per-image `apply_plan`: k chains from the clean image; an image-level step applies an
image op to the chain's uint8 image; a P-level step mixes a box of the chain's float image with
the mixing picture (or, where the plan says so, with an image op applied to the clean image);
chains are averaged with their Dirichlet weights and ``(1 - m) x + m * mix`` is clamped to
[0, 1]; the mixed-input framework runs its second stage on the first stage's uint8 result.

How a batch is processed: the k chains of the B samples are B * k rows of one tensor, so each
step is one pass over the rows still active. Image ops run through `tensor_ops.apply_ops`
(grouped by op family), mixing ops are grouped by kind; inside a box the mix replaces the
chain's image, elsewhere the image is kept. Grouping is decided on the host from the numpy
plan, so a GPU never waits for a device-to-host copy. The only randomness drawn on the device
is the uniform noise of random pixel/element masks, from a `torch.Generator` seeded by the
transform's own stream at every call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from ipmix.augment.mixing import ADD, MIXING_OPS, MULTIPLY, RANDOM_PIXELS
from ipmix.augment.plan import FROM_IMAGE_OP, IMAGE_LEVEL, IPMixOptions, IPMixPlan, sample_plan
from ipmix.augment.seeding import ProcessGenerator
from ipmix.augment.tensor_ops import apply_ops, family_order
from ipmix.mixing_sets.store import MixingSet

_LUMA = (0.299, 0.587, 0.114)  # as ipmix.augment.ipmix.crop_picture
#: Largest mixing set (in bytes of resized pictures) `IPMixBatch` copies to the device.
MAX_DEVICE_SET_BYTES = 4 * 2**30


def _to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float [0, 1] -> uint8, rounding half up as the per-image path does."""
    return images.mul(255).add_(0.5).to(torch.uint8)


def _gray(pictures: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(_LUMA, dtype=pictures.dtype, device=pictures.device).view(1, 3, 1, 1)
    return (pictures * weights).sum(dim=1, keepdim=True)


def crop_pictures(
    pictures: torch.Tensor, index: torch.Tensor, offset: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """Crop ``pictures[index[i]]`` at ``offset[i]`` (top, left) to ``height x width``, per sample.

    `pictures` is ``[N, C, S, S2]`` (any dtype), `index` ``[B]`` and `offset` ``[B, 2]`` long
    tensors on the same device; returns ``[B, C, height, width]`` (one gather).
    """
    chosen = pictures.index_select(0, index)
    count, channels, _, side = chosen.shape
    device = pictures.device
    window = torch.arange(height, device=device)[:, None] * side + torch.arange(width, device=device)
    window = window.view(1, -1)
    flat = (offset[:, 0:1] * side + offset[:, 1:2]) + window  # [B, H * W]
    flat = flat[:, None, :].expand(count, channels, height * width)
    return torch.gather(chosen.reshape(count, channels, -1), 2, flat).view(count, channels, height, width)


_LOG2 = math.log(2.0)
_HALF_TINY = 0.5e-37  # mixing.multiply clips 2 * x2 at 1e-37


def add_mix(x1: torch.Tensor, x2: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`mixing.add` in fewer passes: ``clamp(a x1 + b x2 + (1 - a - b) / 2, 0, 1)``, same algebra."""
    out = torch.addcmul((1 - a - b) * 0.5, x1, a)
    return out.addcmul_(x2, b).clamp_(0, 1)


def multiply_mix(x1: torch.Tensor, x2: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`mixing.multiply` through log/exp: ``(2 x1)^a (2 x2)^b / 2``, clamped, same algebra.

    ``exp(a log x1 + b log x2 + (a + b) log 2)`` vectorises where torch's `pow` with per-sample
    exponents does not (several times faster on CPU); x1 = 0 gives 0 as ``0 ** a`` does (a > 0).
    """
    out = torch.log(x1).mul_(a)
    out.addcmul_(torch.log(x2.clamp(min=_HALF_TINY)), b).add_((a + b) * _LOG2)
    return out.exp_().clamp_(0, 2).mul_(0.5)


def _mix_boxes(
    current: torch.Tensor,
    source: torch.Tensor,
    mixing_op: np.ndarray,
    box: torch.Tensor,
    mix_a: torch.Tensor,
    mix_b: torch.Tensor,
    mask_threshold: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """Mix `source` into `current` inside each row's box with each row's mixing op.

    Rows must be sorted by `mixing_op` (each kind a contiguous slice). Inside the box the result
    is the mix, outside it the current image: ``lerp(current, mix, inside)``; random
    pixel/element masks fold into the same weight (the source where the noise is >= the
    threshold), so their noise only matters inside the box, as in the per-image path.
    """
    count, channels, height, width = current.shape
    device = current.device
    ys = torch.arange(height, device=device)
    xs = torch.arange(width, device=device)
    in_rows = (ys >= box[:, 0:1]) & (ys < box[:, 0:1] + box[:, 2:3])
    in_cols = (xs >= box[:, 1:2]) & (xs < box[:, 1:2] + box[:, 3:4])
    inside = in_rows[:, None, :, None] & in_cols[:, None, None, :]  # [n, 1, H, W]
    out = torch.empty_like(current)
    bounds = np.searchsorted(mixing_op, np.arange(len(MIXING_OPS) + 1))
    for kind, start, end in zip(range(len(MIXING_OPS)), bounds[:-1], bounds[1:], strict=True):
        if start == end:
            continue
        x1, x2, where = current[start:end], source[start:end], inside[start:end]
        if kind in (ADD, MULTIPLY):
            a, b = mix_a[start:end].view(-1, 1, 1, 1), mix_b[start:end].view(-1, 1, 1, 1)
            mixed = add_mix(x1, x2, a, b) if kind == ADD else multiply_mix(x1, x2, a, b)
            torch.lerp(x1, mixed, where.to(current.dtype), out=out[start:end])
        else:
            noise_channels = 1 if kind == RANDOM_PIXELS else channels
            noise = torch.rand(
                (end - start, noise_channels, height, width), generator=generator, device=device
            )
            take_source = where & (noise >= mask_threshold[start:end].view(-1, 1, 1, 1))
            torch.lerp(x1, x2, take_source.to(current.dtype), out=out[start:end])
    return out


class _Pools:
    """The chains' images during `apply_plan_batch`: uint8 rows, float rows, finished rows.

    Each pool is a host array of row ids and a tensor holding those rows in that order. Every
    step selects the rows it needs, in the order it needs them (grouped by op family or mixing
    kind, so kernels work on contiguous slices), converting only rows whose kind changes.
    """

    def __init__(self, ids: np.ndarray, images: torch.Tensor, rows: int) -> None:
        self.pools: dict[bool, tuple[np.ndarray, torch.Tensor]] = {False: (ids, images)}
        self.finished: list[tuple[np.ndarray, torch.Tensor]] = []
        self.where = np.zeros(rows, dtype=bool)  # row -> in the float pool?
        self.position = np.zeros(rows, dtype=np.int64)  # row -> position in its pool
        self.position[ids] = np.arange(len(ids))

    def take(self, ids: np.ndarray, as_float: bool) -> torch.Tensor:
        """Rows `ids` as one uint8 (or float [0, 1]) tensor, in the order of `ids`."""
        parts, order = [], []
        for in_float, (_, tensor) in self.pools.items():
            chosen = np.flatnonzero(self.where[ids] == in_float)
            if len(chosen) == 0:
                continue
            index = torch.as_tensor(self.position[ids[chosen]], device=tensor.device)
            part = tensor.index_select(0, index)
            if in_float != as_float:
                part = part.float().div_(255) if as_float else _to_uint8(part)
            parts.append(part)
            order.append(chosen)
        if len(parts) == 1:
            return parts[0]
        if not parts:
            template = next(iter(self.pools.values()))[1]
            dtype = torch.float32 if as_float else torch.uint8
            return torch.empty((0, *template.shape[1:]), dtype=dtype, device=template.device)
        merged = torch.cat(parts)
        inverse = np.argsort(np.concatenate(order))
        return merged.index_select(0, torch.as_tensor(inverse, device=merged.device))

    def finish(self, ids: np.ndarray) -> None:
        """Set rows `ids` aside as final (in whatever kind they are)."""
        for in_float, (_, tensor) in self.pools.items():
            chosen = ids[self.where[ids] == in_float]
            if len(chosen):
                index = torch.as_tensor(self.position[chosen], device=tensor.device)
                self.finished.append((chosen, tensor.index_select(0, index)))

    def replace(self, byte_ids: np.ndarray, bytes_: torch.Tensor, float_ids: np.ndarray,
                floats: torch.Tensor) -> None:
        """The rows still running after a step: `byte_ids` as uint8, `float_ids` as float."""
        self.pools = {False: (byte_ids, bytes_), True: (float_ids, floats)}
        self.where[byte_ids], self.where[float_ids] = False, True
        self.position[byte_ids] = np.arange(len(byte_ids))
        self.position[float_ids] = np.arange(len(float_ids))


def apply_plan_batch(
    images: torch.Tensor,
    pictures: torch.Tensor | None,
    plan: IPMixPlan,
    generator: torch.Generator,
) -> torch.Tensor:
    """Apply `plan` (B samples) to uint8 ``[B, C, H, W]`` images; float ``[B, C, H, W]`` in [0, 1] out.

    `pictures` are the mixing pictures already cropped to the image size, float in [0, 1] with
    the images' channel count (None when the plan has no P-level step). `generator` (on the
    images' device) draws only the noise of random pixel/element masks.
    """
    count, channels, height, width = images.shape
    if plan.batch_size != count:
        raise ValueError(f"the plan has {plan.batch_size} samples but the batch has {count} images")
    device = images.device
    k, t = plan.step_level.shape[1:]
    rows = count * k
    sample_of_row = np.repeat(np.arange(count), k)  # row r is chain r % k of sample r // k
    depth = plan.depth.reshape(rows)
    flat = {
        name: getattr(plan, name).reshape(rows, t)
        for name in ("step_level", "op", "op_level", "op_sign", "source", "mixing_op")
    }
    flat_box = plan.box.reshape(rows, t, 4)

    def on_device(host: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(host), device=device)

    running = np.flatnonzero(depth > 0)
    pools = _Pools(running, images.index_select(0, on_device(sample_of_row[running])), rows)
    pools.finished.append((np.flatnonzero(depth == 0), images.index_select(0, on_device(
        sample_of_row[depth == 0]))))
    for step in range(t):
        level = flat["step_level"][running, step]
        image_rows = running[level == IMAGE_LEVEL]
        image_rows = image_rows[family_order(flat["op"][image_rows, step])]
        p_rows = running[level != IMAGE_LEVEL]
        p_rows = p_rows[np.argsort(flat["mixing_op"][p_rows, step], kind="stable")]
        from_op = flat["source"][p_rows, step] == FROM_IMAGE_OP
        op_source_rows = p_rows[from_op]

        # Image ops, in one call: on the chain's image (image-level steps) and on the clean
        # image (P-level steps whose source is an image op).
        chains = pools.take(image_rows, as_float=False)
        op_rows = np.concatenate([image_rows, op_source_rows])
        if len(op_source_rows):
            clean = images.index_select(0, on_device(sample_of_row[op_source_rows]))
            inputs = torch.cat([chains, clean]) if len(image_rows) else clean
        else:
            inputs = chains
        outputs = apply_ops(
            inputs, flat["op"][op_rows, step], flat["op_level"][op_rows, step], flat["op_sign"][op_rows, step]
        )
        chains = outputs[: len(image_rows)]

        current = pools.take(p_rows, as_float=True)
        if len(p_rows):
            if pictures is None:
                raise ValueError("apply_plan_batch: the plan has P-level steps but no mixing pictures")
            source = pictures.index_select(0, on_device(sample_of_row[p_rows]))
            if len(op_source_rows):
                op_images = outputs[len(image_rows):].float().div_(255)
                source.index_copy_(0, on_device(np.flatnonzero(from_op)), op_images)
            current = _mix_boxes(
                current, source, flat["mixing_op"][p_rows, step], on_device(flat_box[p_rows, step]),
                on_device(plan.mix_a.reshape(rows, t)[p_rows, step]),
                on_device(plan.mix_b.reshape(rows, t)[p_rows, step]),
                on_device(plan.mask_threshold.reshape(rows, t)[p_rows, step]),
                generator,
            )
        pools.replace(image_rows, chains, p_rows, current)
        done = running[depth[running] == step + 1]
        pools.finish(done)
        running = running[depth[running] > step + 1]

    # Chain average: uint8 rows enter with weight / 255, float rows with their weight.
    chain_images = torch.empty((rows, channels, height, width), device=device)
    scale = np.ones(rows, dtype=np.float32)
    for ids, tensor in pools.finished:
        if len(ids):
            chain_images.index_copy_(0, on_device(ids), tensor.float())
            if tensor.dtype == torch.uint8:
                scale[ids] = 1 / 255
    weights = torch.as_tensor(plan.chain_weights, device=device) * on_device(scale.reshape(count, k))
    mix = torch.bmm(weights.unsqueeze(1), chain_images.view(count, k, -1))
    mix = mix.view(count, channels, height, width)
    m = torch.as_tensor(plan.skip_weight, device=device).view(count, 1, 1, 1)
    out = torch.lerp(images.float().div_(255), mix, m).clamp_(0, 1)
    if plan.next is not None:
        return apply_plan_batch(_to_uint8(out), pictures, plan.next, generator)
    return out


class IPMixBatch(nn.Module):
    """IPMix on a ``[B, C, H, W]`` batch (C = 1 or 3) on any device, random choices per sample.

    Takes the same options as `ipmix.IPMix` (see there), plus:

    Args:
        views: number of independent augmented views per image; ``views > 1`` makes `forward`
            return a tuple of that many batches, all views of a sample sharing its mixing picture
            (as the authors' JSD training), computed in one pass.
        seed: seed of the transform's random stream (plans, and through them the mask noise).

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
        self.views = views
        self._mixing_set: MixingSet | None = (
            MixingSet.from_source(mixing_set) if mixing_set is not None else None
        )
        self.generator = ProcessGenerator(seed)
        self._pictures: dict[tuple[int, str], torch.Tensor] = {}
        self._torch_generators: dict[str, torch.Generator] = {}

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
        count, channels, height, width = data.shape
        views = self.views
        plan = self.sample_plan(count * views, height, width)
        if views > 1:
            _share_pictures(plan, count)
        generator = self._torch_generator(data.device)
        generator.manual_seed(int(self.generator.get().integers(0, 2**63)))
        pictures = self._cropped_pictures(plan, data, mixing_pictures)
        if views > 1:
            data = data.repeat(views, 1, 1, 1)
            pictures = pictures.repeat(views, 1, 1, 1) if pictures is not None else None
        out = apply_plan_batch(data, pictures, plan, generator)
        out = out.to(images.dtype) if is_float else _to_uint8(out)
        return tuple(out.chunk(views)) if views > 1 else out

    def _cropped_pictures(
        self, plan: IPMixPlan, images: torch.Tensor, mixing_pictures: torch.Tensor | None
    ) -> torch.Tensor | None:
        """Each sample's mixing picture cropped to the image size, float [0, 1], images' channels."""
        if not self.options.uses_p_level:
            return None
        count, channels, height, width = images.shape
        stage = plan.next if plan.next is not None else plan
        index = torch.as_tensor(stage.picture[:count], device=images.device)
        offset = torch.as_tensor(stage.picture_offset[:count], device=images.device)
        if mixing_pictures is None:
            pictures = crop_pictures(
                self.device_pictures(stage.picture_side, images.device), index, offset, height, width
            )
        else:
            given, _ = _as_uint8_batch(mixing_pictures, what="mixing_pictures")
            if given.shape[0] != count:
                raise ValueError(
                    f"IPMixBatch: mixing_pictures has {given.shape[0]} pictures for {count} images"
                )
            size = tuple(given.shape[2:])
            given = given.to(images.device)
            if size == (stage.picture_side, stage.picture_side) and size != (height, width):
                own = torch.arange(count, device=images.device)
                pictures = crop_pictures(given, own, offset, height, width)
            elif size == (height, width):
                pictures = given
            else:
                raise ValueError(
                    f"IPMixBatch: mixing_pictures must be {height}x{width} (the image size) or "
                    f"{stage.picture_side}x{stage.picture_side} (the picture side), got {size[0]}x{size[1]}"
                )
        pictures = pictures.float().div_(255)
        if pictures.shape[1] == 1 and channels == 3:
            return pictures.expand(-1, 3, -1, -1).contiguous()
        if pictures.shape[1] == 3 and channels == 1:
            return _gray(pictures)
        return pictures

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
        return {**self.__dict__, "_pictures": {}, "_torch_generators": {}}

    def extra_repr(self) -> str:
        o = self.options
        return (
            f"width={o.width}, depth={o.depth}, alpha={o.alpha}, mixing_severity={o.mixing_severity}, "
            f"op_severity={o.op_severity}, mode={o.mode!r}, framework={o.framework!r}, "
            f"levels=(image={o.image_level}, patch={o.patch_level}, pixel={o.pixel_level}), "
            f"views={self.views}"
        )


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
    if images.is_floating_point():
        return (images.detach().clamp(0, 1) * 255).round_().to(torch.uint8), True
    if images.dtype != torch.uint8:
        raise ValueError(f"IPMixBatch takes uint8 or float {what}, got {images.dtype}")
    return images, False


def _stack_uint8(items: Sequence[Any]) -> torch.Tensor:
    """Stack PIL images, uint8 HWC arrays or uint8 CHW tensors into a uint8 ``[B, C, H, W]`` batch."""
    tensors = []
    for item in items:
        if isinstance(item, Image.Image):
            array = np.asarray(item)
            item = torch.from_numpy(array[:, :, None] if array.ndim == 2 else array.copy()).permute(2, 0, 1)
        elif isinstance(item, np.ndarray):
            if item.dtype != np.uint8 or item.ndim != 3:
                raise ValueError(f"expected uint8 [H, W, C] arrays, got {item.dtype} {item.shape}")
            item = torch.from_numpy(np.ascontiguousarray(item)).permute(2, 0, 1)
        elif not (isinstance(item, torch.Tensor) and item.dtype == torch.uint8 and item.ndim == 3):
            raise ValueError(
                f"expected PIL images, uint8 HWC arrays or uint8 CHW tensors, got {type(item).__name__}"
            )
        tensors.append(item)
    return torch.stack(tensors).contiguous()


class IPMixCollate:
    """A DataLoader `collate_fn` that augments a whole batch with `IPMixBatch` (CPU training).

    Takes ``(image, label)`` items (PIL, uint8 HWC array or uint8 CHW tensor) and returns float
    ``[B, C, H, W]`` batches in [0, 1] and int64 labels; with ``clean=True`` or ``augment.views > 1``
    the images are a tuple ``(clean?, view1, ...)``, the layout `ipmix.data` uses for JSD. Inside
    DataLoader workers the transform's stream is re-derived per worker (`ProcessGenerator`).
    """

    def __init__(self, augment: IPMixBatch, clean: bool = False) -> None:
        self.augment = augment
        self.clean = clean

    def __call__(self, items: Sequence[tuple[Any, int]]) -> tuple[Any, torch.Tensor]:
        images = _stack_uint8([item[0] for item in items])
        labels = torch.as_tensor([int(item[1]) for item in items], dtype=torch.int64)
        with torch.no_grad():
            out = self.augment(images)
        views = list(out) if isinstance(out, tuple) else [out]
        views = [view.float().div_(255) for view in views]
        if self.clean:
            views.insert(0, images.float().div_(255))
        return (tuple(views) if len(views) > 1 else views[0]), labels
