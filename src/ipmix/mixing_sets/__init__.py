"""Mixing sets: the pictures IPMix mixes into training images.

`MixingSet` reads them from a folder, an array or ``.npy``/``.npz`` file, a dataset, or renders
them on the fly; `generate` writes synthetic sets (escape-time and IFS fractals, dead leaves,
spectrum noise, radial contours); `inspect` reports their quality. `default_mixing_set` is what
IPMix uses when the user gives no set.
"""

from __future__ import annotations

from ipmix.mixing_sets.store import (
    ArrayMixingSet,
    DatasetMixingSet,
    FolderMixingSet,
    GeneratedMixingSet,
    MixingSet,
    MixingSetError,
    resized_picture_size,
)


def default_mixing_set(image_size: int = 32) -> MixingSet:
    """The default set: 13,000 lazily generated fractals (half escape-time, half IFS), seed 0,
    2x supersampled.

    See `ipmix.mixing_sets.generate.default_mixing_set`; imported lazily so that importing
    `ipmix` does not load the generators.
    """
    from ipmix.mixing_sets.generate import default_mixing_set as make_default

    return make_default(image_size)


__all__ = [
    "ArrayMixingSet",
    "DatasetMixingSet",
    "FolderMixingSet",
    "GeneratedMixingSet",
    "MixingSet",
    "MixingSetError",
    "default_mixing_set",
    "resized_picture_size",
]
