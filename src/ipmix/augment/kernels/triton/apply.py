"""The CUDA backend of `IPMixBatch`: one Triton kernel applies a whole plan, one program per sample.

The numba backend's design (`ipmix.augment.kernels.fused.apply`) as a GPU kernel: program i takes row i of
the plan through its k chains, with a switch on each step's op (`ipmix.augment.kernels.triton.ops`),
in a few image-sized scratch buffers of its own, and writes the skip-weighted result. The
plan arrives as `ipmix.augment.encoding.pack_plan`'s float64 rows (one copy from pinned host
memory, no synchronisation), the mixing set is already on the device, and every shape is
fixed by the options and the batch: a call is one launch (two for the mixed-input framework,
whose second stage reads the first stage's bytes), whatever the batch and the plan, and can
be captured in a CUDA graph (`IPMixBatch.stage_plan` / `IPMixBatch.apply_staged`).

Arithmetic: the numba kernels' float32 and float64 operations in the same order, compiled
without fused multiply-adds (``enable_fp_fusion=False``), and the same counter-based hash for
the random masks, so that results match the numba backend bit for bit, except multiply
mixing, whose powers come from CUDA's `powf` (libdevice) on a GPU and from float64
``exp2(y log2 x)`` under the interpreter. ``TRITON_INTERPRET=1`` runs the kernel on CPU
tensors (slowly), which is how the tests prove it without a GPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import triton
import triton.language as tl
from triton.language.extra import libdevice
from triton.runtime.interpreter import InterpretedFunction

from ipmix.augment.encoding import RowLayout
from ipmix.augment.kernels.triton.ops import apply_op
from ipmix.augment.mixing import ADD, MULTIPLY, RANDOM_PIXELS
from ipmix.augment.plan import FROM_IMAGE_OP, IMAGE_LEVEL

_ADD = tl.constexpr(ADD)
_MULTIPLY = tl.constexpr(MULTIPLY)
_RANDOM_PIXELS = tl.constexpr(RANDOM_PIXELS)
_IMAGE_LEVEL = tl.constexpr(IMAGE_LEVEL)
_FROM_IMAGE_OP = tl.constexpr(FROM_IMAGE_OP)
_INV255 = tl.constexpr(1 / 255)  # float32(1 / 255) once converted, as the CPU paths multiply
_LUMA_R, _LUMA_G, _LUMA_B = tl.constexpr(0.299), tl.constexpr(0.587), tl.constexpr(0.114)
_TINY = tl.constexpr(1e-37)
# Slots of a program's uint8 scratch: two chain buffers, the op of the clean image, the clean image.
_SLOT_A, _SLOT_OP, _SLOT_CLEAN = tl.constexpr(0), tl.constexpr(2), tl.constexpr(3)
_L = RowLayout(1, 1)
_IMAGE, _PICTURE, _OFFSET, _SEED = (tl.constexpr(_L.IMAGE), tl.constexpr(_L.PICTURE),
                                    tl.constexpr(_L.OFFSET), tl.constexpr(_L.SEED))
_SKIP, _WEIGHTS, _STEP_FIELDS = tl.constexpr(_L.SKIP), tl.constexpr(_L.WEIGHTS), tl.constexpr(_L.STEP_FIELDS)
_LEVEL, _OP, _SOURCE, _MIXING = (tl.constexpr(_L.LEVEL), tl.constexpr(_L.OP), tl.constexpr(_L.SOURCE),
                                 tl.constexpr(_L.MIXING))
_BOX, _A, _B, _THRESHOLD, _PARAM = (tl.constexpr(_L.BOX), tl.constexpr(_L.A), tl.constexpr(_L.B),
                                    tl.constexpr(_L.THRESHOLD), tl.constexpr(_L.PARAM))
#: Position of the output among `_stage_kernel`'s arguments.
OUT_ARG = 6
#: The torch.profiler event of each kernel launch (`apply_plan_triton`).
LAUNCH_NAME = "ipmix::triton_stage"
#: Pixels per tile of a program, and warps per program, on a GPU (read at each call; tunable).
#: 512 x 8 warps compiles to 128 registers a thread for sm_90 (1,024 x 8 to 255, with two
#: programs per SM fewer); `benchmarks/gpu_check.py` times the alternatives.
BLOCK, NUM_WARPS = 512, 8


@triton.jit
def _uniform(seed, sample, chain, step, element):
    """`ipmix.augment.kernels.fused.apply._uniform`: a float32 in [0, 1) hashed from its coordinates."""
    z = seed ^ (tl.cast(sample, tl.uint64) * 0x9E3779B97F4A7C15)
    z ^= (((tl.cast(chain, tl.int64) * 64 + step) << 40) + element).to(tl.uint64) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    z ^= z >> 31
    return (z >> 40).to(tl.float32) * (1.0 / 16777216.0)


@triton.jit
def _power(x, y, INTERPRET: tl.constexpr):
    """``x ** y`` in float32: CUDA's powf, or under the interpreter float64 exp2/log2."""
    if INTERPRET:
        return tl.exp2(y.to(tl.float64) * tl.log2(x.to(tl.float64))).to(tl.float32)
    else:
        return libdevice.pow(x, y)


@triton.jit
def _copy(src, dst, count, BLOCK: tl.constexpr):
    for start in range(0, count, BLOCK):
        index = start + tl.arange(0, BLOCK)
        tl.store(dst + index, tl.load(src + index, mask=index < count), mask=index < count)
    tl.debug_barrier()


@triton.jit
def _to_float(src, dst, count, BLOCK: tl.constexpr):
    """uint8 -> float32 in [0, 1]: ``float32(v) * float32(1 / 255)``."""
    for start in range(0, count, BLOCK):
        index = start + tl.arange(0, BLOCK)
        values = tl.load(src + index, mask=index < count, other=0).to(tl.float32) * _INV255
        tl.store(dst + index, values, mask=index < count)
    tl.debug_barrier()


@triton.jit
def _to_bytes(src, dst, count, BLOCK: tl.constexpr):
    """float32 in [0, 1] -> uint8, rounding half up: ``uint8(v * 255 + 0.5)``."""
    for start in range(0, count, BLOCK):
        index = start + tl.arange(0, BLOCK)
        values = tl.load(src + index, mask=index < count, other=0.0)
        tl.store(dst + index, (values * 255.0 + 0.5).to(tl.uint8), mask=index < count)
    tl.debug_barrier()


@triton.jit
def _mix_box(current, op_bytes, from_op, picture, crop_top, crop_left, fields, seed, sample, chain, step,
             C: tl.constexpr, CP: tl.constexpr, H, W, PH, PW, BLOCK: tl.constexpr, INTERPRET: tl.constexpr):
    """One P-level step: mix the source into the float image `current` inside the step's box.

    The source is the op of the clean image (`op_bytes`) or the picture crop at (crop_top,
    crop_left), with the image's channels (luma of an RGB picture for grey images).
    """
    top, left = tl.load(fields + _BOX).to(tl.int32), tl.load(fields + _BOX + 1).to(tl.int32)
    box_h, box_w = tl.load(fields + _BOX + 2).to(tl.int32), tl.load(fields + _BOX + 3).to(tl.int32)
    kind = tl.load(fields + _MIXING).to(tl.int32)
    a, b = tl.load(fields + _A).to(tl.float32), tl.load(fields + _B).to(tl.float32)
    threshold = tl.load(fields + _THRESHOLD).to(tl.float32)
    count = box_h * box_w
    for start in range(0, count, BLOCK):
        index = start + tl.arange(0, BLOCK)
        mask = index < count
        y, x = top + index // box_w, left + index % box_w
        spot = (crop_top + y) * PW + crop_left + x
        for ch in tl.static_range(C):
            offset = ch * H * W + y * W + x
            x1 = tl.load(current + offset, mask=mask, other=0.0)
            if from_op:
                x2 = tl.load(op_bytes + offset, mask=mask, other=0).to(tl.float32) * _INV255
            elif (C == 1) & (CP == 3):
                red = tl.load(picture + spot, mask=mask, other=0).to(tl.float32) * _INV255
                green = tl.load(picture + PH * PW + spot, mask=mask, other=0).to(tl.float32) * _INV255
                blue = tl.load(picture + 2 * PH * PW + spot, mask=mask, other=0).to(tl.float32) * _INV255
                x2 = red * _LUMA_R + green * _LUMA_G + blue * _LUMA_B
            else:
                channel = ch if CP == C else 0
                x2 = tl.load(picture + channel * PH * PW + spot, mask=mask, other=0).to(tl.float32) * _INV255
            if kind == _ADD:
                mixed = a * (x1 * 2.0 - 1.0) + b * (x2 * 2.0 - 1.0) + 1.0
                mixed = tl.minimum(tl.maximum(mixed, 0.0), 2.0) * 0.5
            elif kind == _MULTIPLY:
                mixed = _power(x1 * 2.0, a, INTERPRET) * _power(tl.maximum(x2 * 2.0, _TINY), b, INTERPRET)
                mixed = tl.minimum(tl.maximum(mixed, 0.0), 2.0) * 0.5
            else:
                element = tl.where(kind == _RANDOM_PIXELS, y * W, (ch * H + y) * W) + x
                noise = _uniform(seed, sample, chain, step, element.to(tl.int64))
                keep = tl.where(noise < threshold, 1.0, 0.0)
                mixed = x2 + keep * (x1 - x2)
            tl.store(current + offset, mixed, mask=mask)
    tl.debug_barrier()


@triton.jit
def _add_chain(clean, mix, first, last, weight, is_float, current, chain_bytes, skip, out, COUNT,
               AS_BYTES: tl.constexpr, BLOCK: tl.constexpr):
    """``mix += weight * chain``; for the last chain, ``clamp((1 - m) x + m * mix, 0, 1)`` to `out`."""
    m = skip.to(tl.float32)
    keep = (1.0 - skip).to(tl.float32)
    for start in range(0, COUNT, BLOCK):
        index = start + tl.arange(0, BLOCK)
        mask = index < COUNT
        if is_float:
            value = tl.load(current + index, mask=mask, other=0.0)
        else:
            value = tl.load(chain_bytes + index, mask=mask, other=0).to(tl.float32) * _INV255
        term = weight * value
        if first:
            total = term
        else:
            total = tl.load(mix + index, mask=mask, other=0.0) + term
        if last:
            x = tl.load(clean + index, mask=mask, other=0).to(tl.float32) * _INV255
            result = tl.minimum(tl.maximum(keep * x + m * total, 0.0), 1.0)
            if AS_BYTES:
                tl.store(out + index, (result * 255.0 + 0.5).to(tl.uint8), mask=mask)
            else:
                tl.store(out + index, result, mask=mask)
        else:
            tl.store(mix + index, total, mask=mask)
    tl.debug_barrier()


# Otherwise Triton compiles a kernel per class (1, a multiple of 16, other) of every size and per
# alignment of every caller-given pointer: hints worth little here (a tile gives each thread 2
# pixels; they made a few 2-wide float loads), and kernels `triton_compile` could not all check.
@triton.jit(do_not_specialize=["F", "K", "T", "H", "W", "PH", "PW"],
            do_not_specialize_on_alignment=["images", "plan", "bank"])
def _stage_kernel(images, plan, bank, scratch_bytes, scratch_floats, scratch_lut, out, F, K, T, H, W, PH, PW,
                  C: tl.constexpr, CP: tl.constexpr, AS_BYTES: tl.constexpr, BLOCK: tl.constexpr,
                  INTERPRET: tl.constexpr):
    """Apply one stage of the plan to row ``program_id`` (see the module docstring).

    Only the channel counts and the output type are compile-time constants: one compiled
    kernel serves every image size, chain count and depth (`stage_launches` says with what
    arguments; `ipmix.augment.kernels.triton.compile` compiles every variant without a GPU).
    """
    row = tl.program_id(0).to(tl.int64)
    size = C * H * W
    record = plan + row * F
    image = images + tl.load(record + _IMAGE).to(tl.int64) * size
    slots = scratch_bytes + row * (4 * size)
    clean, op_bytes = slots + _SLOT_CLEAN * size, slots + _SLOT_OP * size
    current = scratch_floats + row * (2 * size)
    mix = current + size
    lut = scratch_lut + row * (C * 256)
    picture = bank + tl.load(record + _PICTURE).to(tl.int64) * (CP * PH * PW)
    crop_top, crop_left = tl.load(record + _OFFSET).to(tl.int32), tl.load(record + _OFFSET + 1).to(tl.int32)
    seed = tl.load(record + _SEED).to(tl.uint64) | (tl.load(record + _SEED + 1).to(tl.uint64) << 32)
    _copy(image, clean, size, BLOCK)
    for chain in range(K):
        depth = tl.load(record + _WEIGHTS + K + chain).to(tl.int32)
        slot = depth * 0 + _SLOT_CLEAN  # the uint8 slot holding the chain, while not float
        is_float = depth * 0
        for step in range(T):
            if step < depth:
                fields = record + _WEIGHTS + 2 * K + (chain * T + step) * _STEP_FIELDS
                op = tl.load(fields + _OP).to(tl.int32)
                if tl.load(fields + _LEVEL).to(tl.int32) == _IMAGE_LEVEL:
                    if is_float == 1:
                        _to_bytes(current, slots + _SLOT_A * size, size, BLOCK)
                        slot, is_float = slot * 0 + _SLOT_A, is_float * 0
                    target = tl.where(slot == _SLOT_A, 1, _SLOT_A)
                    apply_op(slots + slot * size, slots + target * size, lut, op, fields + _PARAM, 0, 0, H, W,
                             C, H, W, BLOCK)
                    slot = target
                else:
                    if is_float == 0:
                        _to_float(slots + slot * size, current, size, BLOCK)
                        is_float = is_float * 0 + 1
                    from_op = tl.load(fields + _SOURCE).to(tl.int32) == _FROM_IMAGE_OP
                    if from_op:
                        top = tl.load(fields + _BOX).to(tl.int32)
                        left = tl.load(fields + _BOX + 1).to(tl.int32)
                        box_h = tl.load(fields + _BOX + 2).to(tl.int32)
                        box_w = tl.load(fields + _BOX + 3).to(tl.int32)
                        apply_op(clean, op_bytes, lut, op, fields + _PARAM, top, left, box_h, box_w,
                                 C, H, W, BLOCK)
                    _mix_box(current, op_bytes, from_op, picture, crop_top, crop_left, fields, seed, row,
                             chain, step, C, CP, H, W, PH, PW, BLOCK, INTERPRET)
        weight = tl.load(record + _WEIGHTS + chain).to(tl.float32)
        _add_chain(clean, mix, chain == 0, chain == K - 1, weight, is_float == 1, current,
                   slots + slot * size, tl.load(record + _SKIP), out + row * size, size, AS_BYTES, BLOCK)


class StagedPlan:
    """Fixed device buffers for the packed plans of one batch shape (CUDA graphs).

    A captured graph reads `device` at every replay; `write` puts the next plan there (and
    remembers the picture bank it refers to) without allocating anything. The copy comes from
    one of two pinned host buffers in turn, so that writing the next plan waits only for the
    copy issued two plans ago, never for the step in flight.
    """

    def __init__(self, shape: tuple[int, ...], device: torch.device) -> None:
        cuda = device.type == "cuda"
        self.device = torch.empty(shape, dtype=torch.float64, device=device)
        self.hosts = [torch.empty(shape, dtype=torch.float64, pin_memory=cuda) for _ in range(2)]
        self.copied = [torch.cuda.Event() if cuda else None for _ in range(2)]
        self.turn = 0
        self.bank: torch.Tensor | None = None

    def write(self, packed: np.ndarray, bank: torch.Tensor | None) -> None:
        host, copied = self.hosts[self.turn], self.copied[self.turn]
        if copied is not None:
            copied.synchronize()  # the copy from this host buffer two plans ago has finished
        host.copy_(torch.from_numpy(packed))
        self.device.copy_(host, non_blocking=True)
        if copied is not None:
            copied.record()
        self.turn = 1 - self.turn
        self.bank = bank


def interpreting() -> bool:
    """Whether this module's kernels were built for Triton's interpreter (CPU tensors).

    That is the case when ``TRITON_INTERPRET=1`` was set at the module's import.
    """
    return isinstance(_stage_kernel, InterpretedFunction)


def failure_summary(error: BaseException) -> str:
    """A failure of the kernel in one line: its type and the first line of its deepest cause.

    Triton chains a compile error through the jit functions that called the failing one, and
    keeps the message of its own errors apart from the source they quote (``error_message``);
    errors of its MLIR passes print their message and raise an empty AssertionError.
    """
    cause = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    text = getattr(cause, "error_message", None) or str(cause)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"{type(error).__name__}: {first or f'{type(cause).__name__} (its message went to stderr)'}"


def upload_plan(packed: np.ndarray, device: torch.device) -> torch.Tensor:
    """`pack_plan`'s array on `device`: one copy from pinned memory, no host synchronisation."""
    host = torch.from_numpy(packed)
    if device.type != "cuda":
        return host
    return host.pin_memory().to(device, non_blocking=True)


def stage_launches(images: torch.Tensor, plan: torch.Tensor, bank: torch.Tensor | None, k: int, t: int,
                   as_bytes: bool) -> Iterator[tuple[tuple[int], tuple[Any, ...], dict[str, Any]]]:
    """The launches of `apply_plan_triton`: ``(grid, args, options)`` of each stage, in turn.

    The stage's output is ``args[OUT_ARG]``; the next stage reads it once the caller has made the
    launch. Scratch buffers and outputs are fresh (aligned) allocations on the images' device.
    """
    stages, rows, width = plan.shape
    _, channels, height, image_width = images.shape
    size = channels * height * image_width
    device = images.device
    if bank is None:
        bank = torch.zeros((1, 1, 1, 1), dtype=torch.uint8, device=device)
    scratch_bytes = torch.empty((rows, 4, size), dtype=torch.uint8, device=device)
    scratch_floats = torch.empty((rows, 2, size), dtype=torch.float32, device=device)
    scratch_lut = torch.empty((rows, channels * 256), dtype=torch.int32, device=device)
    interpret = interpreting()
    block = min(BLOCK, triton.next_power_of_2(height * image_width)) if interpret else BLOCK
    source = images.contiguous()
    for stage in range(stages):
        stage_bytes = as_bytes or stage < stages - 1  # mixed-input: stage 2 reads stage 1's bytes
        out = torch.empty((rows, channels, height, image_width),
                          dtype=torch.uint8 if stage_bytes else torch.float32, device=device)
        args = (source, plan[stage], bank, scratch_bytes, scratch_floats, scratch_lut, out,
                width, k, t, height, image_width, bank.shape[2], bank.shape[3])
        options = {"C": channels, "CP": bank.shape[1], "AS_BYTES": stage_bytes, "BLOCK": block,
                   "INTERPRET": interpret, "num_warps": NUM_WARPS, "enable_fp_fusion": False}
        yield (rows,), args, options
        source = out


def apply_plan_triton(images: torch.Tensor, plan: torch.Tensor, bank: torch.Tensor | None, k: int, t: int,
                      as_bytes: bool) -> torch.Tensor:
    """Apply a packed plan (``[stages, B, RowLayout(k, t).width]`` on the images' device).

    `images` are uint8 ``[B0, C, H, W]``, `bank` the uint8 pictures ``[N, 1 or 3, S, S']``
    (None when no step mixes with a picture). Returns ``[B, C, H, W]`` float32 in [0, 1], or
    uint8 with `as_bytes`. One launch per stage; nothing waits for the device.
    """
    out = images
    for grid, args, options in stage_launches(images, plan, bank, k, t, as_bytes):
        # One launch per stage, named for torch.profiler; log2(0) of the interpreter's powers is fine.
        with torch.profiler.record_function(LAUNCH_NAME), np.errstate(divide="ignore"):
            _stage_kernel[grid](*args, **options)
        out = args[OUT_ARG]
    return out
