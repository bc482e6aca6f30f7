"""Random streams that stay independent across processes and DataLoader workers.

A transform copied into DataLoader workers carries its generator's state with it, so every
worker would repeat the same "random" augmentations (a classic bug). `ProcessGenerator`
re-derives its numpy generator whenever it finds itself in a new process or worker:

- with a seed: from ``(seed, torch's per-worker seed)``. torch gives each worker
  ``base_seed + worker_id``, with ``base_seed`` drawn from the main process's torch RNG for each
  epoch's iterator, so streams differ across workers and epochs and are reproducible after
  ``torch.manual_seed``;
- without a seed: from fresh OS entropy in every process.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch.utils.data


def check_seed(seed: Any) -> int | None:
    """`seed` as given when it is None or a whole number >= 0; ValueError naming it otherwise."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be None or a whole number >= 0, got {seed!r}")
    return int(seed)


def _owner() -> tuple[int, int | None, int | None]:
    info = torch.utils.data.get_worker_info()
    if info is None:
        return (os.getpid(), None, None)
    return (os.getpid(), info.id, info.seed)


class ProcessGenerator:
    """A seedable numpy Generator, re-derived in each process and DataLoader worker."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = check_seed(seed)
        self._owner: tuple[int, int | None, int | None] | None = None
        self._rng: np.random.Generator | None = None

    def get(self) -> np.random.Generator:
        owner = _owner()
        if self._rng is None or owner != self._owner:
            self._rng = self._derive(owner)
            self._owner = owner
        return self._rng

    def _derive(self, owner: tuple[int, int | None, int | None]) -> np.random.Generator:
        worker_seed = owner[2]
        if self.seed is None:
            return np.random.default_rng()
        if worker_seed is None and self._rng is None:
            return np.random.default_rng(self.seed)
        entropy = [self.seed, worker_seed if worker_seed is not None else owner[0]]
        return np.random.default_rng(np.random.SeedSequence(entropy))

    def reseed(self, seed: int | None) -> None:
        """Restart the stream in this process as exactly ``default_rng(seed)``.

        Copies sent to other processes afterwards still derive their own streams from `seed`.
        """
        self.seed = check_seed(seed)
        self._rng = np.random.default_rng(self.seed)
        self._owner = _owner()

    def state_dict(self) -> dict[str, Any]:
        """The generator's state, for exact resumption (see `load_state_dict`)."""
        return {"seed": self.seed, "bit_generator": self.get().bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed = state["seed"]
        rng = self.get()
        rng.bit_generator.state = state["bit_generator"]

    def __getstate__(self) -> dict[str, Any]:
        # Pickled copies (spawned workers) start from the seed, never from a copied state.
        return {"seed": self.seed, "_owner": None, "_rng": None}
