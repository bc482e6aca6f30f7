"""The grouped tensor backend of `IPMixBatch`: a plan applied with batched torch ops, any device.

The semantics of the per-image `apply_plan`: k chains from the clean image; an image-level
step applies an image op to the chain's uint8 image; a P-level step mixes a box of the chain's
float image with the mixing picture (or, where the plan says so, with an image op applied to
the clean image); chains are averaged with their Dirichlet weights and ``(1 - m) x + m * mix``
is clamped to [0, 1]; the mixed-input framework runs its second stage on the first stage's
uint8 result.

How a batch is processed: the k chains of the B samples are B * k rows, and each step handles
the rows still active. Image ops run through `tensor_ops.apply_ops` (grouped by op family) on
the uint8 chains; P-level steps group rows by nominal patch size and mix only the window that
holds each box, in place on the float chains, with the mixing ops grouped by kind. Grouping is
decided on the host from the numpy plan, so a GPU never waits for a device-to-host copy. The
only randomness drawn on the device is the uniform noise of random pixel/element masks, from a
`torch.Generator` seeded by the transform's own stream at every call. On the CPU, long batches
of large images are applied in cache-sized chunks (`CPU_CHUNK_ELEMENTS`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ipmix.augment.encoding import PictureSource
from ipmix.augment.kernels.grouped.ops import apply_ops
from ipmix.augment.mixing import ADD, MIXING_OPS, MULTIPLY, RANDOM_PIXELS
from ipmix.augment.plan import FROM_IMAGE_OP, IMAGE_LEVEL, IPMixPlan

_LUMA = (0.299, 0.587, 0.114)  # as ipmix.augment.ipmix.crop_picture
#: On the CPU, the grouped backend applies a batch in chunks of about this many image elements
#: (C * H * W per image): the tensors of a whole batch of large images fall out of the CPU's
#: caches, while small images gain from long batches (32 px: 341 images per chunk, 224 px: 6).
#: Other devices take the whole batch at once.
CPU_CHUNK_ELEMENTS = 2**20


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


def cropped_pictures(
    source: PictureSource, rows: slice, channels: int, height: int, width: int
) -> torch.Tensor:
    """The mixing pictures of `rows` cropped to the image size, float [0, 1], `channels` channels."""
    device = source.bank.device
    index = torch.as_tensor(source.index[rows], device=device)
    offset = torch.as_tensor(source.offset[rows], device=device)
    pictures = crop_pictures(source.bank, index, offset, height, width).float().div_(255)
    if pictures.shape[1] == 1 and channels == 3:
        return pictures.expand(-1, 3, -1, -1).contiguous()
    if pictures.shape[1] == 3 and channels == 1:
        return _gray(pictures)
    return pictures


def apply_grouped(
    images: torch.Tensor,
    plan: IPMixPlan,
    pictures: PictureSource | None,
    generator: torch.Generator,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Apply `plan` (row i augments ``images[i % B]``) to uint8 images; `dtype` out.

    `pictures` is None when no step mixes with a picture. On the CPU the rows are applied in
    chunks of about `CPU_CHUNK_ELEMENTS` image elements; float outputs are in [0, 1].
    """
    count, channels, height, width = images.shape
    device, total = images.device, plan.batch_size
    chunk = total if device.type != "cpu" else max(1, CPU_CHUNK_ELEMENTS // images[0].numel())
    out = torch.empty((total, channels, height, width), dtype=dtype, device=device)
    for start in range(0, total, chunk):
        stop = min(total, start + chunk)
        part = plan if (start, stop) == (0, total) else plan.select(slice(start, stop))
        if total == count:
            chunk_images = images[start:stop]
        else:
            chunk_images = images.index_select(0, torch.arange(start, stop, device=device) % count)
        crops = None
        if pictures is not None:
            crops = cropped_pictures(pictures, slice(start, stop), channels, height, width)
        result = apply_plan_batch(chunk_images, crops, part, generator)
        out[start:stop] = result if dtype.is_floating_point else _to_uint8(result)
    return out
