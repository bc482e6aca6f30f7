"""`IPMixBatch`: IPMix on a whole batch of tensors, every random choice drawn per sample.

The batched counterpart of `ipmix.IPMix`. Plans come from the same sampler
(`ipmix.augment.plan.sample_plan`) and are applied by one of two backends: on CPU tensors, the
fused numba kernels of `ipmix.augment.fused` (one compiled pass per sample, in cache); on any
device, `apply_plan_batch` below, grouped tensor kernels. Both have the semantics of the
per-image `apply_plan`: k chains from the clean image; an image-level step applies an
image op to the chain's uint8 image; a P-level step mixes a box of the chain's float image with
the mixing picture (or, where the plan says so, with an image op applied to the clean image);
chains are averaged with their Dirichlet weights and ``(1 - m) x + m * mix`` is clamped to
[0, 1]; the mixed-input framework runs its second stage on the first stage's uint8 result.

How the tensor backend processes a batch: the k chains of the B samples are B * k rows, and
each step handles the rows still active. Image ops run through `tensor_ops.apply_ops` (grouped
by op family) on the uint8 chains; P-level steps group rows by nominal patch size and mix only
the window that holds each box, in place on the float chains, with the mixing ops grouped by
kind. Grouping is decided on the host from the numpy plan, so a GPU never waits for a
device-to-host copy. The only randomness drawn on the device is the uniform noise of random
pixel/element masks, from a `torch.Generator` seeded by the transform's own stream at every
call. On the CPU, this backend
applies long batches of large images in cache-sized chunks (`CPU_CHUNK_ELEMENTS`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from ipmix.augment.fused import apply_plan_fused
from ipmix.augment.mixing import ADD, MIXING_OPS, MULTIPLY, RANDOM_PIXELS
from ipmix.augment.plan import FROM_IMAGE_OP, IMAGE_LEVEL, IPMixOptions, IPMixPlan, sample_plan
from ipmix.augment.seeding import ProcessGenerator
from ipmix.augment.tensor_ops import apply_ops
from ipmix.mixing_sets.store import MixingSet
from ipmix.utils.images import check_unit_range

_LUMA = (0.299, 0.587, 0.114)  # as ipmix.augment.ipmix.crop_picture
#: On the CPU, `IPMixBatch` applies a batch in chunks of about this many image elements
#: (C * H * W per image): the tensors of a whole batch of large images fall out of the CPU's
#: caches, while small images gain from long batches (32 px: 341 images per chunk, 224 px: 6).
#: Other devices take the whole batch at once.
CPU_CHUNK_ELEMENTS = 2**20
#: Values of `IPMixBatch(backend=...)`.
BACKENDS: tuple[str, ...] = ("auto", "numba", "torch")
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


def _windows(
    tensor: torch.Tensor, slots: torch.Tensor, pixels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices of windows of `tensor` (``[M, C, H, W]``) and the windows themselves.

    `slots` ``[n]`` are the rows of `tensor`, `pixels` ``[n, P]`` the flat pixel indices of each
    window; returns (indices ``[n, C, P]``, values ``[n, C, P]``).
    """
    _, channels, height, width = tensor.shape
    plane = height * width
    channel = torch.arange(channels, device=tensor.device).view(1, -1, 1) * plane
    index = slots.view(-1, 1, 1) * (channels * plane) + channel + pixels[:, None, :]
    return index, tensor.take(index)


def _mix_step(
    state: torch.Tensor,
    rows: np.ndarray,
    plan: dict[str, np.ndarray],
    pictures: torch.Tensor,
    picture_slot: np.ndarray,
    op_images: torch.Tensor | None,
    op_slot: np.ndarray,
    generator: torch.Generator,
) -> None:
    """One P-level step for `rows` of the float chain images `state` (modified in place).

    `plan` holds the step's host arrays for those rows (``patch_size``, ``box``, ``mixing_op``,
    ``mix_a``, ``mix_b``, ``mask_threshold``). The source of row i is ``pictures[picture_slot[i]]``
    or, where ``op_slot[i] >= 0``, the uint8 image ``op_images[op_slot[i]]``. Rows are processed
    by nominal patch size: a box of nominal size s fits in an ``s x s`` window, so only windows
    are gathered, mixed and scattered back (the mix outside the box is never needed); whole-image
    boxes use whole rows.
    """
    _, channels, height, width = state.shape
    device = state.device
    order = np.lexsort((plan["mixing_op"], plan["patch_size"]))
    rows, op_slot, picture_slot = rows[order], op_slot[order], picture_slot[order]
    arrays = {name: value[order] for name, value in plan.items()}
    sizes = arrays["patch_size"]
    for size in np.unique(sizes):
        group = np.flatnonzero(sizes == size)
        win_h, win_w = min(int(size), height), min(int(size), width)
        box = arrays["box"][group].copy()
        top = np.minimum(box[:, 0], height - win_h)  # window corners: the window holds the box
        left = np.minimum(box[:, 1], width - win_w)
        box[:, 0] -= top
        box[:, 1] -= left
        from_op = op_slot[group] >= 0
        slots = torch.as_tensor(rows[group], device=device)
        if (win_h, win_w) == (height, width):
            current = state.index_select(0, slots)
            source = pictures.index_select(0, torch.as_tensor(picture_slot[group], device=device))
            if from_op.any():
                ops = op_images.index_select(0, torch.as_tensor(op_slot[group][from_op], device=device))
                source.index_copy_(0, torch.as_tensor(np.flatnonzero(from_op), device=device),
                                   ops.float().div_(255))
        else:
            grid = torch.arange(win_h, device=device)[:, None] * width + torch.arange(win_w, device=device)
            corner = torch.as_tensor(top * width + left, device=device)
            pixels = corner[:, None] + grid.view(1, -1)
            state_index, current = _windows(state, slots, pixels)
            current = current.view(-1, channels, win_h, win_w)
            source = torch.empty_like(current)
            for mask, bank, slot in ((~from_op, pictures, picture_slot), (from_op, op_images, op_slot)):
                if not mask.any():
                    continue
                where = torch.as_tensor(np.flatnonzero(mask), device=device)
                _, values = _windows(bank, torch.as_tensor(slot[group][mask], device=device),
                                     pixels.index_select(0, where))
                if values.dtype == torch.uint8:
                    values = values.float().div_(255)
                source.index_copy_(0, where, values.view(-1, channels, win_h, win_w))
        mixed = _mix_boxes(
            current, source, arrays["mixing_op"][group], torch.as_tensor(box, device=device),
            torch.as_tensor(arrays["mix_a"][group], device=device),
            torch.as_tensor(arrays["mix_b"][group], device=device),
            torch.as_tensor(arrays["mask_threshold"][group], device=device),
            generator,
        )
        if (win_h, win_w) == (height, width):
            state.index_copy_(0, slots, mixed)
        else:
            state.put_(state_index, mixed.view(state_index.shape))


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

    Chains live in two places: the uint8 chains of the current step in one tensor (the output
    of the step's image ops), the float chains in a ``[B * k, C, H, W]`` tensor that P-level
    steps modify in place, window by window. A chain converts only when its level changes.
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
        name: getattr(plan, name).reshape(rows, t, *getattr(plan, name).shape[3:])
        for name in ("step_level", "op", "op_level", "op_sign", "source", "mixing_op", "patch_size",
                     "box", "mix_a", "mix_b", "mask_threshold")
    }

    def on_device(host: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(host), device=device)

    uses_p_level = bool((plan.step_level[plan.step_active()] != IMAGE_LEVEL).any())
    if uses_p_level and pictures is None:
        raise ValueError("apply_plan_batch: the plan has P-level steps but no mixing pictures")
    state = torch.zeros((rows, channels, height, width), device=device) if uses_p_level else None
    is_float = np.zeros(rows, dtype=bool)
    running = np.flatnonzero(depth > 0)
    byte_chains = images.index_select(0, on_device(sample_of_row[running]))
    byte_slot = np.zeros(rows, dtype=np.int64)
    byte_slot[running] = np.arange(len(running))
    unchanged = np.flatnonzero(depth == 0)
    finished = [(unchanged, images.index_select(0, on_device(sample_of_row[unchanged])))]

    for step in range(t):
        level = flat["step_level"][running, step]
        p_rows = running[level != IMAGE_LEVEL]
        to_float = p_rows[~is_float[p_rows]]
        if len(to_float):
            converted = byte_chains.index_select(0, on_device(byte_slot[to_float])).float().div_(255)
            state.index_copy_(0, on_device(to_float), converted)
            is_float[to_float] = True

        # Image ops in one call: image-level steps on the chain's uint8 image (rounded first if
        # the chain was float), and P-level steps whose source is an op applied to the clean image.
        image_rows = running[level == IMAGE_LEVEL]
        from_bytes, from_floats = image_rows[~is_float[image_rows]], image_rows[is_float[image_rows]]
        image_rows = np.concatenate([from_bytes, from_floats])
        op_source_rows = p_rows[flat["source"][p_rows, step] == FROM_IMAGE_OP]
        parts = [
            byte_chains.index_select(0, on_device(byte_slot[from_bytes])),
            _to_uint8(state.index_select(0, on_device(from_floats))) if len(from_floats) else None,
            images.index_select(0, on_device(sample_of_row[op_source_rows])),
        ]
        op_rows = np.concatenate([image_rows, op_source_rows])
        outputs = apply_ops(
            torch.cat([part for part in parts if part is not None]),
            flat["op"][op_rows, step], flat["op_level"][op_rows, step], flat["op_sign"][op_rows, step],
        )
        byte_chains = outputs[: len(image_rows)]
        byte_slot[image_rows] = np.arange(len(image_rows))
        is_float[image_rows] = False

        if len(p_rows):
            op_slot = np.full(rows, -1, dtype=np.int64)
            op_slot[op_source_rows] = np.arange(len(op_source_rows))
            step_plan = {
                name: flat[name][p_rows, step]
                for name in ("patch_size", "box", "mixing_op", "mix_a", "mix_b", "mask_threshold")
            }
            _mix_step(
                state, p_rows, step_plan, pictures, sample_of_row[p_rows], outputs[len(image_rows):],
                op_slot[p_rows], generator,
            )

        done = running[(depth[running] == step + 1) & ~is_float[running]]
        if len(done):
            finished.append((done, byte_chains.index_select(0, on_device(byte_slot[done]))))
        running = running[depth[running] > step + 1]

    # Chain average: float chains through one batched product, uint8 chains (weight / 255) added.
    weights = plan.chain_weights.reshape(rows)
    if state is not None:
        float_weights = on_device(np.where(is_float, weights, 0).astype(np.float32).reshape(count, 1, k))
        mix = torch.bmm(float_weights, state.view(count, k, -1)).view(count, -1)
    else:
        mix = torch.zeros((count, channels * height * width), device=device)
    for ids, chains in finished:
        if len(ids):
            scale = on_device((weights[ids] / 255).astype(np.float32)).view(-1, 1)
            mix.index_add_(0, on_device(sample_of_row[ids]), chains.view(len(ids), -1).float().mul_(scale))
    m = torch.as_tensor(plan.skip_weight, device=device).view(count, 1, 1, 1)
    out = torch.lerp(images.float().div_(255), mix.view(count, channels, height, width), m).clamp_(0, 1)
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
        backend: how plans are applied. ``"auto"`` (default): the fused numba kernels
            (`ipmix.augment.fused`) on CPU tensors, the grouped tensor kernels on other devices;
            ``"numba"``: the fused kernels (CPU tensors only); ``"torch"``: the tensor kernels
            everywhere. Both give the same plans from the same seed and the per-image results
            up to float rounding; only the noise of random masks differs between them.

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
        self.views = views
        self.backend = backend
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
        device, views = data.device, self.views
        if count == 0:
            return images.clone() if views == 1 else tuple(images.clone() for _ in range(views))
        total = count * views  # row v * count + i is view v of image i
        plan = self.sample_plan(total, height, width)
        if views > 1:
            _share_pictures(plan, count)
        given = self._given_pictures(mixing_pictures, data, plan)
        seed = int(self.generator.get().integers(0, 2**63))  # the mask noise of this call
        dtype = images.dtype if is_float else torch.uint8
        if self._uses_numba(device):
            out = self._apply_numba(data, plan, given, seed, as_bytes=not is_float).to(dtype)
        else:
            out = self._apply_torch(data, plan, given, seed, dtype)
        return tuple(out.chunk(views)) if views > 1 else out

    def _uses_numba(self, device: torch.device) -> bool:
        if self.backend == "torch":
            return False
        if device.type != "cpu":
            if self.backend == "numba":
                raise ValueError(f"IPMixBatch: backend='numba' runs on CPU tensors; the batch is on {device}")
            return False
        return True

    def _apply_numba(
        self, data: torch.Tensor, plan: IPMixPlan, given: torch.Tensor | None, seed: int, as_bytes: bool
    ) -> torch.Tensor:
        """The plan applied by the fused CPU kernels (`ipmix.augment.fused`): float32 or uint8 out."""
        count, total = data.shape[0], plan.batch_size
        sample_image = np.arange(total) % count  # row v * count + i is view v of image i
        stage = plan.next if plan.next is not None else plan
        picture, offset = stage.picture, stage.picture_offset
        if not self.options.uses_p_level:
            pictures = np.zeros((1, 1, 1, 1), dtype=np.uint8)  # never read
        elif given is None:
            pictures = self.device_pictures(stage.picture_side, data.device).numpy()
        else:
            pictures, picture = given.contiguous().numpy(), sample_image
            if tuple(given.shape[2:]) == tuple(data.shape[2:]):
                offset = np.zeros_like(offset)
        out = apply_plan_fused(
            data.contiguous().numpy(), plan, pictures, picture, offset, sample_image, seed, as_bytes
        )
        return torch.from_numpy(out)

    def _apply_torch(
        self, data: torch.Tensor, plan: IPMixPlan, given: torch.Tensor | None, seed: int, dtype: torch.dtype
    ) -> torch.Tensor:
        """The plan applied by the grouped tensor kernels (`apply_plan_batch`), on any device."""
        count, channels, height, width = data.shape
        device, total = data.device, plan.batch_size
        generator = self._torch_generator(device)
        generator.manual_seed(seed)
        chunk = total if device.type != "cpu" else max(1, CPU_CHUNK_ELEMENTS // data[0].numel())
        out = torch.empty((total, channels, height, width), dtype=dtype, device=device)
        for start in range(0, total, chunk):
            stop = min(total, start + chunk)
            part = plan if (start, stop) == (0, total) else plan.select(slice(start, stop))
            if total == count:
                chunk_images = data[start:stop]
                chunk_given = given[start:stop] if given is not None else None
            else:
                samples = torch.arange(start, stop, device=device) % count
                chunk_images = data.index_select(0, samples)
                chunk_given = given.index_select(0, samples) if given is not None else None
            pictures = self._cropped_pictures(part, chunk_images, chunk_given)
            result = apply_plan_batch(chunk_images, pictures, part, generator)
            out[start:stop] = result if dtype.is_floating_point else _to_uint8(result)
        return out

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
        return given.to(images.device)

    def _cropped_pictures(
        self, plan: IPMixPlan, images: torch.Tensor, given: torch.Tensor | None
    ) -> torch.Tensor | None:
        """Each row's mixing picture cropped to the image size, float [0, 1], images' channels.

        From the device-resident set by default, else from `given` (one picture per row, at the
        image size or at the picture side).
        """
        if not self.options.uses_p_level:
            return None
        count, channels, height, width = images.shape
        stage = plan.next if plan.next is not None else plan
        offset = torch.as_tensor(stage.picture_offset, device=images.device)
        if given is None:
            index = torch.as_tensor(stage.picture, device=images.device)
            pictures = self.device_pictures(stage.picture_side, images.device)
            pictures = crop_pictures(pictures, index, offset, height, width)
        elif tuple(given.shape[2:]) == (height, width):
            pictures = given
        else:
            pictures = crop_pictures(given, torch.arange(count, device=images.device), offset, height, width)
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
            f"views={self.views}, backend={self.backend!r}"
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
        check_unit_range(images, f"IPMixBatch {what}")  # refuse, not clamp, [0, 255] or NaN floats
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
