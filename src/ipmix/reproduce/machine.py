"""What a result was measured on: machine, software, commit, date, and the numerics settings.

CPU training is deterministic for a seed on one machine, but not across machines: the float
results of convolutions depend on the instruction set the kernels use (AVX-512 / AVX2) and on
how many threads split each reduction. Every run therefore records both (`numerics_info`).
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

#: Environment variables that change which CPU kernels torch, oneDNN and MKL use.
NUMERICS_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "OMP_NUM_THREADS",
                "MKL_NUM_THREADS")


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: CPU features that decide which kernels torch, oneDNN and MKL pick.
VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile")


@lru_cache(maxsize=1)
def cpu_flags() -> tuple[str, ...]:
    """The vector features of this CPU among `VECTOR_FLAGS` (``/proc/cpuinfo``; empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                return tuple(flag for flag in VECTOR_FLAGS if flag in present)
    except OSError:
        pass
    return ()


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the ipmix source tree in use (``+dirty`` with uncommitted changes)."""
    root = Path(__file__).resolve().parents[3]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return commit + ("+dirty" if dirty else "")


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def numerics_info() -> dict[str, Any]:
    """What decides the float results of CPU training here: threads, ISA, kernel settings."""
    import torch

    return {
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_flags": list(cpu_flags()),
        "env": {name: os.environ[name] for name in NUMERICS_ENV if name in os.environ},
    }


def machine_info() -> dict[str, Any]:
    """CPU, cores, Python/torch/numpy versions, ipmix commit, date."""
    import numpy
    import torch

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "commit": git_commit(),
        "date": utc_now(),
    }


def describe_machine(info: dict[str, Any]) -> str:
    """One line for reports."""
    device = f", GPU {info['cuda']}" if info.get("cuda") else ""
    return (f"{info.get('cpu')} ({info.get('cores')} cores{device}), {info.get('platform')}, "
            f"Python {info.get('python')}, torch {info.get('torch')}, numpy {info.get('numpy')}")
