"""Compile the Triton kernel of `IPMixBatch` for real GPUs on a machine without one.

The tests run the kernel under Triton's interpreter, which compiles nothing, so a kernel can
pass them and still fail to compile (a loop-carried value that changes type, an op the
compiled path lacks) or to load (too much shared memory) on a GPU. `compile_variant`
compiles one variant of `fused_triton._stage_kernel` for one architecture exactly as
`apply_plan_triton` would launch it: the arguments and launch options come from
`fused_triton.stage_launches`, and Triton's own launch code (`JITFunction.warmup`, pointed at
the target by a stand-in driver) specialises and compiles them down to a cubin with the
bundled ptxas. Nothing runs; no GPU or CUDA driver is needed.

The variants are every kernel `IPMixBatch` can launch: image channels (1, 3) x picture
channels (1, 3; 1 also when no step mixes with a picture) x output (uint8 or float32). The
kernel takes sizes without specialisation and caller-given pointers without alignment
classes, so nothing else selects a kernel. ``python -m ipmix.augment.kernels.triton.compile``
compiles all of them for sm_80 and sm_90 (`ARCHS`) in a pool of fresh processes, prints a
line per variant (compile seconds, registers, spills, shared memory) and exits with status 1
if any failed; ``tests/augment/test_triton_compile.py`` runs it in the test suite.

It uses a few Triton internals (the active driver, a kernel's in-memory cache, the knob that
prints ptxas's report) of the Triton 3 that torch pins; a Triton that changes them makes the
check fail, not pass.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import multiprocessing
import re
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch
from triton import knobs
from triton.backends.compiler import GPUTarget
from triton.runtime import driver
from triton.runtime.errors import OutOfResources
from triton.runtime.jit import JITFunction

from ipmix.augment.encoding import RowLayout

#: Compute capabilities the suite compiles for: A100 (sm_80) and H100/H200 (sm_90).
ARCHS: tuple[int, ...] = (80, 90)
#: (image channels, picture channels, uint8 output) of every kernel `IPMixBatch` can launch.
VARIANTS: tuple[tuple[int, int, bool], ...] = tuple(itertools.product((1, 3), (1, 3), (True, False)))
#: Shared memory a thread block may use, per compute capability (CUDA's per-block opt-in limit);
#: other capabilities are held to the 48 KiB every block gets.
SHARED_LIMIT = {80: 163 * 1024, 86: 99 * 1024, 89: 99 * 1024, 90: 227 * 1024}
_SHARED_DEFAULT = 48 * 1024
_REGISTERS_PER_SM = 65536
_USED = re.compile(r"Used (\d+) registers")
_SPILLS = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")


@dataclass(frozen=True)
class CompileReport:
    """One compiled kernel: what it is, how long it took, and the resources ptxas reported."""

    arch: int
    name: str
    seconds: float
    registers: int | None  # None: ptxas reported nothing
    spill_stores: int | None  # bytes
    spill_loads: int | None
    shared: int  # bytes of shared memory (Triton's metadata)

    def line(self) -> str:
        resources = "registers/spills: not reported by ptxas"
        if self.registers is not None:
            resources = (f"{self.registers} registers, spills {self.spill_stores} B stored / "
                         f"{self.spill_loads} B loaded")
        return f"sm_{self.arch} {self.name}: {self.seconds:.1f} s, {resources}, {self.shared} B shared memory"


class _OfflineDriver:
    """The part of a Triton driver that a launch with ``warmup=True`` asks: the target, no device."""

    def __init__(self, arch: int) -> None:
        self.target = GPUTarget("cuda", arch, 32)

    def get_current_target(self) -> GPUTarget:
        return self.target

    def get_current_device(self) -> _OfflineDriver:
        return self  # the key of the kernel's in-memory cache: a new one (so a new compile) per driver

    def get_current_stream(self, device: Any = None) -> int:
        return 0


@contextlib.contextmanager
def _offline(kernel: JITFunction, arch: int) -> Iterator[io.StringIO]:
    """Triton pointed at `arch` without a GPU, compiling `kernel` afresh, ptxas's report captured."""
    previous = driver._active  # None until something asked for the real driver
    offline = _OfflineDriver(arch)
    log = io.StringIO()
    with knobs.nvidia.scope(), knobs.compilation.scope(), contextlib.redirect_stdout(log):
        knobs.nvidia.dump_ptxas_log = True  # Triton prints ptxas's -v report
        knobs.compilation.always_compile = True  # a cached cubin would prove nothing
        driver.set_active(offline)
        try:
            yield log
        finally:
            driver.set_active(previous)
            kernel.device_caches.pop(offline, None)  # the compiled kernel, which nothing can launch


def compile_launch(kernel: JITFunction, arch: int, grid: tuple[int, ...], args: tuple[Any, ...],
                   options: dict[str, Any], name: str) -> CompileReport:
    """Compile a launch ``kernel[grid](*args, **options)`` for compute capability `arch`.

    Raises what Triton raises (`triton.compiler.CompilationError`, `PTXASError`, ...) when
    it does not compile; `OutOfResources` when it would not load (more shared memory than a
    block may have, or more registers than the block's threads can get); and ValueError when
    Triton specialised the kernel on an integer argument's value (1, multiples of 16), so that
    other values would select other kernels than the one checked here.
    """
    if not isinstance(kernel, JITFunction):
        raise ValueError(f"{name}: not a compiled Triton kernel (was TRITON_INTERPRET=1 set at import?)")
    start = time.perf_counter()
    with _offline(kernel, arch) as log:
        compiled = kernel.warmup(*args, grid=grid, **options)
    seconds = time.perf_counter() - start
    sizes = {(i,) for i, arg in enumerate(args) if isinstance(arg, int)}
    source = compiled.src
    specialised = sizes & {*source.constants, *(key for key, value in source.attrs.items() if value)}
    if specialised:
        names = ", ".join(kernel.arg_names[i] for (i,) in sorted(specialised))
        raise ValueError(f"{name}: Triton specialised the kernel on the values of {names}; "
                         "list them in its do_not_specialize")
    report = log.getvalue()
    used, spills = _USED.search(report), _SPILLS.search(report)
    result = CompileReport(arch, name, seconds, int(used[1]) if used else None,
                           int(spills[1]) if spills else None, int(spills[2]) if spills else None,
                           compiled.metadata.shared)
    threads = compiled.metadata.num_warps * 32
    shared_limit = SHARED_LIMIT.get(arch, _SHARED_DEFAULT)
    if result.shared > shared_limit:
        raise OutOfResources(result.shared, shared_limit, f"shared memory ({name})")
    if result.registers is not None and result.registers * threads > _REGISTERS_PER_SM:
        raise OutOfResources(result.registers * threads, _REGISTERS_PER_SM, f"registers ({name})")
    return result


def variant_name(channels: int, picture_channels: int, as_bytes: bool) -> str:
    return f"_stage_kernel C={channels} CP={picture_channels} {'uint8' if as_bytes else 'float32'}"


def variant_launch(channels: int, picture_channels: int, as_bytes: bool,
                   device: torch.device | str = "cpu") -> tuple[tuple[int], tuple[Any, ...], dict[str, Any]]:
    """The launch (`fused_triton.stage_launches`) of a one-stage plan for such a batch.

    The plan is a row of zeros for one chain of one step (depth 0), so that the launch may also
    run on a GPU, where it copies the image. Its sizes (1 chain, 1 step, 16 px, rows of 32
    values) are ones Triton would specialise on (1, multiples of 16), so that `compile_launch`
    refuses the kernel if it ever took them as compile-time values: `VARIANTS` would then not
    be every kernel.
    """
    from ipmix.augment.kernels.triton import apply as fused_triton

    width = -(-RowLayout(1, 1).width // 16) * 16
    images = torch.zeros((1, channels, 16, 16), dtype=torch.uint8, device=device)
    plan = torch.zeros((1, 1, width), dtype=torch.float64, device=device)
    bank = torch.zeros((1, picture_channels, 16, 16), dtype=torch.uint8, device=device)
    (launch,) = fused_triton.stage_launches(images, plan, bank, 1, 1, as_bytes)
    return launch


def compile_variant(arch: int, channels: int, picture_channels: int, as_bytes: bool) -> CompileReport:
    """Compile `_stage_kernel` as `apply_plan_triton` launches it for such a batch (`variant_launch`)."""
    from ipmix.augment.kernels.triton import apply as fused_triton

    variant = (channels, picture_channels, as_bytes)
    return compile_launch(fused_triton._stage_kernel, arch, *variant_launch(*variant), variant_name(*variant))


def _compile_job(job: tuple[int, int, int, bool]) -> CompileReport | str:
    """`compile_variant` in a pool worker: the report, or the error as text (errors may not pickle)."""
    from ipmix.augment.kernels.triton.apply import failure_summary

    try:
        return compile_variant(*job)
    except Exception as error:  # every failure is reported: one line, then Triton's message
        details = "".join(f"\n    {line}" for line in str(error).splitlines())
        return f"sm_{job[0]} {variant_name(*job[1:])}: FAILED: {failure_summary(error)}{details}"


def compile_all(archs: tuple[int, ...] = ARCHS, workers: int = 2,
                report: Callable[[str], None] = print) -> list[CompileReport | str]:
    """Compile every variant for every arch in `workers` fresh processes; failures as text.

    Each result is passed to `report` as it arrives (a line), and returned in job order.
    """
    jobs = [(arch, *variant) for arch in archs for variant in VARIANTS]
    context = multiprocessing.get_context("spawn")  # fresh processes: no interpreter-built kernels
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = []
        for result in pool.map(_compile_job, jobs):
            report(result if isinstance(result, str) else result.line())
            results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", type=int, action="append", help=f"compute capability (default {ARCHS})")
    parser.add_argument("--workers", type=int, default=2, help="compiling processes (default 2)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = compile_all(tuple(args.arch or ARCHS), args.workers, lambda line: print(line, flush=True))
    compiled = sum(not isinstance(result, str) for result in results)
    seconds = time.perf_counter() - start
    print(f"{compiled} of {len(results)} kernels compiled in {seconds:.0f} s ({args.workers} processes)")
    return 0 if compiled == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
