"""The Triton kernel of IPMixBatch compiles for real GPUs (sm_80, sm_90), checked without one.

`test_triton.py` runs the kernel under Triton's interpreter, which compiles nothing. Here
`ipmix.augment.kernels.triton.compile` builds a cubin of every variant `IPMixBatch` can launch, for
both architectures, in fresh processes with an empty Triton cache, and the smaller tests show
that the check fails for what would not compile or load on a GPU.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import triton.language as tl
from triton.compiler import CompilationError
from triton.runtime.errors import OutOfResources
from triton.runtime.interpreter import InterpretedFunction
from triton.runtime.jit import JITFunction

import ipmix
from ipmix.augment.kernels.triton import compile as triton_compile
from ipmix.augment.kernels.triton.compile import ARCHS, VARIANTS, compile_launch


def _total(values, out, count):
    """Fine under the interpreter; compiled, `acc` changes type inside the loop (int32 -> fp32)."""
    acc = 0
    for i in range(count):
        acc = acc + tl.load(values + i).to(tl.float32)
    tl.store(out, acc)


def _sum(values, out, count):
    """A block-wide sum: the warps combine their parts through shared memory."""
    index = tl.arange(0, 1024)
    tl.store(out, tl.sum(tl.load(values + index, mask=index < count, other=0).to(tl.float32), axis=0))


def _add_as_float(a, b):
    """A broken combine function for the kernel's histogram scans: int32 counts become float32."""
    return (a + b).to(tl.float32)


_BROKEN_KERNEL = """
import sys
from triton.runtime.jit import JITFunction
sys.path.insert(0, {tests!r})
from test_triton_compile import _add_as_float
from ipmix.augment.kernels.triton import ops as triton_ops
triton_ops._add = JITFunction(_add_as_float)
from ipmix.augment.kernels.triton.compile import _compile_job
print(_compile_job((90, 3, 3, True)))
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    """An empty Triton cache for this test."""
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton"))
    return tmp_path / "triton"


def _fresh_python(command: list[str]) -> subprocess.CompletedProcess:
    """`command` in a new Python process: this ipmix, compiled kernels (no TRITON_INTERPRET)."""
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(ipmix.__file__).parents[1]), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, *command], env=env, capture_output=True, text=True, timeout=540)


def test_every_kernel_variant_compiles_for_sm80_and_sm90(cache, capsys):
    """All (channels, picture channels, output) variants for both archs: cubins, timed, registers."""
    result = _fresh_python(["-m", "ipmix.augment.kernels.triton.compile", "--workers", "2"])
    with capsys.disabled():
        print(f"\n{result.stdout}", end="")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("sm_")]
    assert len(lines) == len(ARCHS) * len(VARIANTS) == 16
    assert all(re.search(r": [\d.]+ s, \d+ registers, spills \d+ B", line) for line in lines)
    assert len(list(cache.rglob("*.cubin"))) == 16  # built here, into the empty cache


def test_the_check_fails_for_what_only_the_interpreter_accepts(cache):
    values, out = torch.arange(4, dtype=torch.uint8), torch.zeros(1)
    InterpretedFunction(_total)[(1,)](values, out, 4)
    assert out.item() == 6
    with pytest.raises(CompilationError, match="Loop-carried variable acc"):
        compile_launch(JITFunction(_total), 90, (1,), (values, out, 4), {"num_warps": 1}, "total")


def test_the_check_fails_for_a_kernel_that_would_not_load_or_is_specialised(cache, monkeypatch):
    """Shared memory over the arch's limit; a kernel Triton specialised on a size (not every variant)."""
    values, out = torch.arange(1024, dtype=torch.uint8), torch.zeros(1)
    kernel = JITFunction(_sum, do_not_specialize=["count"])
    report = compile_launch(kernel, 80, (1,), (values, out, 16), {"num_warps": 4}, "sum")
    assert report.registers is not None and report.spill_stores == 0 and report.shared > 0
    monkeypatch.setitem(triton_compile.SHARED_LIMIT, 80, report.shared - 1)
    with pytest.raises(OutOfResources, match="shared memory"):
        compile_launch(kernel, 80, (1,), (values, out, 16), {"num_warps": 4}, "sum")
    with pytest.raises(ValueError, match="specialised the kernel on the values of count"):
        compile_launch(JITFunction(_sum), 90, (1,), (values, out, 16), {"num_warps": 4}, "sum")


def test_the_check_fails_when_a_device_function_of_the_kernel_breaks(cache):
    """The real kernel, one of its device functions broken: the job reports the failure."""
    result = _fresh_python(["-c", _BROKEN_KERNEL.format(tests=str(Path(__file__).parent))])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sm_90 _stage_kernel C=3 CP=3 uint8: FAILED: Compilation"), result.stdout
    assert "type mismatch on combine operation" in result.stderr  # MLIR's message, printed by Triton
