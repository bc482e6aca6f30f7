"""ipmix: IPMix augmentation, mixing sets, training baselines and a robustness suite.

The public names are imported on first use, so that light commands (`ipmix mixing-set`)
and modules (the mixing-set generators) do not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from ipmix import _kernel_cache

__version__ = "0.1.0"

_kernel_cache.refresh()

_EXPORTS = {
    "IPMix": "ipmix.augment.ipmix",
    "IPMixBatch": "ipmix.augment.batched",
    "IPMixOptions": "ipmix.augment.options",
    "IPMixPlan": "ipmix.augment.plan",
    "MixingSet": "ipmix.mixing_sets.store",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ipmix' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
