"""Seeding of augmentation streams: per sample, per epoch, per rank, independent of workers.

Every training sample draws its augmentation from a stream derived from
``(seed, epoch, index)`` (see `sample_seed`). The stream therefore does not depend on how many
DataLoader workers there are, on which worker a sample lands, or on whether a run was resumed:
the augmentation state at an epoch boundary is a pure function of the seed and the epoch, which
is what makes ``--resume`` exact. Different samples (hence different workers and different DDP
ranks, which see disjoint indices) never share a stream.

Transforms take part through a small protocol: an object with ``reseed(seed: int)`` is reseeded
(and its `ipmix.augment.seeding.ProcessGenerator`, if any, pinned to exactly that seed);
containers (torchvision ``Compose``/``RandomApply``/``RandomChoice`` and anything with a
``transforms`` list) are walked. torchvision's own random transforms draw from torch's *global*
generator; `TorchRandom` runs them against a private generator state instead.

DataLoader workers need no ``worker_init_fn``: torch already seeds its own, Python's and
numpy's legacy global generators per worker, and ipmix's augmentation reads none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from ipmix.augment.seeding import ProcessGenerator

#: Mask keeping derived seeds within the non-negative int63 range torch accepts.
_SEED_MASK = (1 << 63) - 1


def derive_seed(*keys: int | str) -> int:
    """A 63-bit seed derived from `keys` (ints or short tags) through numpy's SeedSequence."""
    entropy = [k if isinstance(k, int) else int.from_bytes(k.encode(), "little") for k in keys]
    if any(k < 0 for k in entropy):
        raise ValueError(f"seed keys must be non-negative, got {keys}")
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint64)
    return int((int(state[0]) << 1 ^ int(state[1])) & _SEED_MASK)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of sample `index`'s augmentation stream in `epoch`."""
    return derive_seed(seed, "sample", epoch, index)


class TorchRandom:
    """Run a transform that uses torch's global RNG against its own `torch.Generator` state.

    torchvision's random transforms (AugMix, AutoAugment, MixUp, ...) accept no generator; this
    wrapper swaps the global CPU state for the private one around each call and restores the
    caller's state afterwards, so the transform becomes seedable and leaves global state alone.
    """

    def __init__(self, transform: Callable[..., Any], seed: int = 0) -> None:
        self.transform = transform
        self.generator = torch.Generator().manual_seed(seed)

    def reseed(self, seed: int) -> None:
        """Restart the private stream from `seed`."""
        self.generator.manual_seed(seed)

    def __call__(self, *args: Any) -> Any:
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.generator.get_state())
            result = self.transform(*args)
            self.generator.set_state(torch.get_rng_state())
        return result

    def __repr__(self) -> str:
        return f"TorchRandom({self.transform!r})"


def _children(transform: Any) -> Iterable[Any]:
    children = getattr(transform, "transforms", None)
    if isinstance(children, list | tuple):
        return children
    return ()


def _pin(generator: ProcessGenerator, seed: int) -> None:
    """Make a `ProcessGenerator` draw exactly ``default_rng(seed)`` in this process.

    Its own ``reseed`` mixes in the DataLoader worker's seed (a safeguard for transforms
    reused across workers); per-sample streams are distinct already, and pinning them keeps
    results independent of the number of workers.
    """
    state = np.random.default_rng(seed).bit_generator.state
    generator.load_state_dict({"seed": seed, "bit_generator": state})


def reseed(transform: Any, seed: int) -> None:
    """Reseed every seedable part of `transform` (depth first) from one `seed`.

    Parts get distinct seeds derived from `seed` and their position, so two parts of one
    pipeline never share a stream.
    """
    _reseed(transform, seed, (0,))


def _reseed(transform: Any, seed: int, path: tuple[int, ...]) -> None:
    if transform is None:
        return
    method = getattr(transform, "reseed", None)
    if callable(method):
        derived = derive_seed(seed, *path)
        method(derived)
        generator = getattr(transform, "generator", None)
        if isinstance(generator, ProcessGenerator):
            _pin(generator, derived)
        return
    for position, child in enumerate(_children(transform)):
        _reseed(child, seed, (*path, position + 1))

