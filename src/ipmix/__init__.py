"""ipmix: IPMix augmentation, mixing sets, training baselines and a robustness suite.

The public names are imported on first use, so that light commands (`ipmix mixing-set`)
and modules (the mixing-set generators) do not pay for importing torch.
"""

from __future__ import annotations

from ipmix import _kernel_cache
from ipmix.utils.lazy import lazy_names

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
__getattr__, __dir__ = lazy_names(__name__, _EXPORTS, extra=("__version__",))
