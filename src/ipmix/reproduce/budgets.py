"""Budgets: how much of the paper's setting a reproduction can afford.

- ``paper``: Appendix A: each table's models and epochs (100 for the Wide ResNets, 200 for
  ResNet-18 and ResNeXt-29), the whole training and test sets, per-image IPMix, JSD where the
  authors used it (AugMix and IPMix), three seeds where the paper reports three.
- ``cpu``: what a 2-core CPU does in hours: the ``small`` model, the whole CIFAR-10 training
  set, 15 epochs, IPMix per batch (``--batched``), no JSD (with extra AugMix/IPMix + JSD rows to
  show what it does), one seed (three for vanilla, AugMix and IPMix); clean, CIFAR-C and
  calibration on all 10,000 test images, CIFAR-P, PGD and OOD on the first 2,000. CIFAR-100 is
  not on this machine: CIFAR-100 tables run on CIFAR-10, and the output says so.
- ``smoke``: the size the tests use: one epoch on 512 images, 100 and 50 test images, a
  64-picture generated mixing set (rendering the built-in 13,000 would take longer than all).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

#: Suite parts measured on the main test subset and on the smaller side subset.
MAIN_PARTS = ("clean", "c", "calibration")
SIDE_PARTS = ("p", "pgd", "ood")
#: The CIFAR-10/100-C-bar evaluation's part (its own suite run, on the main test subset).
CBAR_PART = "cbar"
#: Methods that get `Budget.core_seeds` seeds and run first (the issue's three-seed rows).
CORE_AUGS = ("none", "augmix", "ipmix")


class BudgetError(ValueError):
    """An unknown budget or an invalid budget option."""


@dataclass(frozen=True)
class Evaluation:
    """One `ipmix evaluate` of a cell: suite parts on the first `n` test images (None: all)."""

    parts: tuple[str, ...]
    n: int | None

    @property
    def name(self) -> str:
        """The evaluation's folder inside the run folder, e.g. ``eval-clean+c+calibration-n10000``."""
        return f"eval-{'+'.join(self.parts)}-n{self.n if self.n is not None else 'all'}"

    @property
    def imagenet(self) -> bool:
        """An ImageNet benchmark (`evaluate_imagenet`), not parts of the CIFAR suite."""
        return self.parts[0].startswith("imagenet")

    @property
    def records(self) -> bool:
        """Whether it keeps per-image predictions (the CIFAR suite's hook; not ImageNet's)."""
        return not self.imagenet


@dataclass(frozen=True)
class Budget:
    """What a reproduction trains and measures; None means 'as the paper'."""

    name: str
    description: str
    model: str | None  # every cell's model; None: the table's (paper) models
    epochs: int | None  # None: the table's epochs (Appendix A)
    subset: int | None  # training images; None: all
    batched: bool  # IPMix per batch (ipmix.IPMixBatch) instead of per image
    jsd: bool | None  # None: each method's default (the authors' setting); False: off
    jsd_rows: bool  # add AugMix + JSD and IPMix + JSD rows where a table lists methods
    extra_rows: bool  # add AutoAugment/RandAugment/TrivialAugment rows to Tables 3 and 4
    seeds: int | None  # seeds per cell; None: as the table (three where the paper says so)
    core_seeds: int | None  # seeds of vanilla, AugMix, IPMix; None: as `seeds`
    main_n: int | None  # test images for clean, CIFAR-C, calibration; None: all
    side_n: int | None  # test images for CIFAR-P, PGD, OOD; None: all
    datasets: tuple[str, ...] | None  # datasets the budget trains on; None: the table's
    workers: int = 2
    # torch intra-op threads (fixed: same numbers on a rerun). One on the shared 2-core box:
    # two OpenMP threads there spend their time waiting for each other (benchmarks/results/models.md).
    threads: int | None = None
    mixing_set: str | None = None  # generated set kind for IPMix/PixMix; None: the built-in set
    mixing_set_count: int = 13_000  # pictures of each generated set (the paper's set: 13,000)
    evaluation_plan: tuple[Evaluation, ...] | None = None  # other suite runs than main/side
    # ImageNet cells (Tables 5, 13) on the synthetic toy of `toy_imagenet` instead of ImageNet
    imagenet_toy: bool = False

    def dataset_for(self, paper_dataset: str) -> str:
        """The dataset a cell uses for the paper's `paper_dataset`."""
        if self.datasets is None or paper_dataset in self.datasets:
            return paper_dataset
        if paper_dataset.startswith("cifar"):
            return self.datasets[0]
        return paper_dataset  # ImageNet stays ImageNet (and needs its ingredients)

    def seeds_for(self, aug: str, jsd: bool, table_seeds: int) -> int:
        """How many seeds a method gets in a table that reports `table_seeds` seeds."""
        plain = self.seeds if self.seeds is not None else table_seeds
        if aug in CORE_AUGS and not jsd and self.core_seeds is not None:
            return max(plain, self.core_seeds)
        return plain

    def evaluations(self) -> tuple[Evaluation, ...]:
        """The suite runs of every cell (one when both subsets are equal)."""
        if self.evaluation_plan is not None:
            return self.evaluation_plan
        if self.main_n == self.side_n:
            return (Evaluation(MAIN_PARTS + SIDE_PARTS, self.main_n),)
        return (Evaluation(MAIN_PARTS, self.main_n), Evaluation(SIDE_PARTS, self.side_n))

    def with_seeds(self, seeds: int | None) -> Budget:
        """The budget with every method at `seeds` seeds (None: unchanged)."""
        if seeds is None:
            return self
        if seeds < 1:
            raise BudgetError(f"--seeds must be >= 1, got {seeds}")
        return replace(self, seeds=seeds, core_seeds=seeds)


BUDGETS: dict[str, Budget] = {
    "smoke": Budget(
        name="smoke",
        description="small model, 1 epoch on 512 CIFAR-10 training images, suite on 100 "
        "(clean, C, calibration) and 50 (P, PGD, OOD) test images; a pipeline check, not a result",
        model="small", epochs=1, subset=512, batched=True, jsd=False, jsd_rows=True,
        extra_rows=True, seeds=1, core_seeds=1, main_n=100, side_n=50, datasets=("cifar10",),
        workers=0, threads=1, mixing_set="mix", mixing_set_count=64, imagenet_toy=True,
    ),
    "cpu": Budget(
        name="cpu",
        description="small model, all 50,000 CIFAR-10 training images, 15 epochs, IPMix (and "
        "PRIME) per batch, no JSD (+JSD rows for AugMix and IPMix, and PRIME in the field "
        "table; AugMax always), 1 seed (3 for vanilla, AugMix, IPMix); clean, C, calibration "
        "on 10,000 test images, P, PGD, OOD on 2,000",
        model="small", epochs=15, subset=None, batched=True, jsd=False, jsd_rows=True,
        extra_rows=True, seeds=1, core_seeds=3, main_n=10_000, side_n=2_000,
        datasets=("cifar10",), workers=2, threads=1,
    ),
    "paper": Budget(
        name="paper",
        description="Appendix A: the table's models and epochs, all training and test "
        "images, per-image IPMix, JSD for AugMix and IPMix (the authors' code), three seeds "
        "where the paper reports three",
        model=None, epochs=None, subset=None, batched=False, jsd=None, jsd_rows=False,
        extra_rows=False, seeds=None, core_seeds=None, main_n=None, side_n=None, datasets=None,
        workers=4, threads=None,
    ),
}


def get_budget(name: str) -> Budget:
    """The budget called `name`; a one-line error naming the choices otherwise."""
    try:
        return BUDGETS[name]
    except KeyError:
        raise BudgetError(f"unknown budget {name!r}; choose one of {', '.join(BUDGETS)}") from None
