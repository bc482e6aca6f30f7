"""ipmix: IPMix augmentation, mixing sets, training baselines and a robustness suite."""

from ipmix.augment.batched import IPMixBatch
from ipmix.augment.ipmix import IPMix
from ipmix.augment.plan import IPMixOptions, IPMixPlan
from ipmix.mixing_sets.store import MixingSet

__version__ = "0.1.0"
__all__ = ["IPMix", "IPMixBatch", "IPMixOptions", "IPMixPlan", "MixingSet", "__version__"]
