"""The paper's tables as grids: which method, model, dataset and metric each printed value is.

A `TableSpec` lists its sections (a dataset each), rows and columns; every axis item may fix
the method, model, dataset or metric of the values it holds, and the table fixes the rest.
`TableSpec.entries(budget)` gives one `Entry` per value (plus the budget's extra rows), which
`ipmix.reproduce.cells` turns into training + evaluation configurations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ipmix.reproduce.budgets import Budget

#: Metric name -> (label, higher is better).
METRICS: dict[str, tuple[str, bool]] = {
    "error": ("Error", False),
    "mce": ("mCE", False),
    "rms": ("RMS clean", False),
    "rms_c": ("RMS C", False),
    "mfr": ("mFR", False),
    "pgd": ("PGD error", False),
    "auroc": ("AUROC", True),
    "aupr": ("AUPR", True),
    "epoch_seconds": ("s/epoch", False),
    "cbar": ("C-bar error", False),
    "in_error": ("Clean error", False),
    "in_c_mce": ("ImageNet-C mCE", False),
    "in_r_error": ("ImageNet-R error", False),
    "in_p_mfr": ("ImageNet-P mFR", False),
    "in_rms_c": ("RMS C", False),
    "in_rms_r": ("RMS R", False),
    "in_rms_a": ("RMS A", False),
    "in_a_accuracy": ("ImageNet-A accuracy", True),
    "in_o_aupr": ("ImageNet-O AUPR", True),
}

@dataclass(frozen=True)
class Method:
    """One training method as a table row/column: a registry name plus options."""

    label: str
    aug: str | None  # ipmix.training registry name; None: not in ipmix
    options: tuple[tuple[str, Any], ...] = ()  # ipmix.IPMix keyword options (TrainConfig.aug_options)
    mixing_set: str | None = None  # generated mixing-set kind; None: the built-in set
    jsd: bool | None = None  # forced JSD; None: the budget's policy
    unavailable: str = ""  # why it cannot run here
    model_kwargs: tuple[tuple[str, Any], ...] = ()  # model options the method's authors use


@dataclass(frozen=True)
class Axis:
    """A section, row or column; what it does not fix comes from the table."""

    label: str
    method: Method | None = None
    model: str | None = None
    dataset: str | None = None
    metric: str | None = None


@dataclass(frozen=True)
class Entry:
    """One value of a table: where it is printed and what it measures."""

    table: str
    section: str
    row: str
    column: str
    dataset: str
    model: str
    method: Method
    metric: str
    epochs: int | None
    seeds: int
    extra: bool = False  # added by the budget; not in the paper's table


@dataclass(frozen=True)
class TableSpec:
    """A table of the paper as a grid."""

    id: str
    title: str
    sections: tuple[Axis, ...]
    rows: tuple[Axis, ...]
    columns: tuple[Axis, ...]
    row_kind: str  # "method" or "model": what the rows vary
    model: str | None = None
    method: Method | None = None
    metric: str | None = None
    epochs: int | None = None  # None: the model's Appendix A epochs
    seeds: int = 1  # seeds behind each printed value
    extra_methods: tuple[Method, ...] = ()  # the budget's extra rows (or columns)
    notes: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """``Table 3`` for the paper's tables, the id for the others (``field``)."""
        return f"Table {self.id}" if self.id.isdigit() else f"Table '{self.id}'"

    @property
    def file_stem(self) -> str:
        """The output files' name: ``table3``, or the id of a table beyond the paper."""
        return f"table{self.id}" if self.id.isdigit() else self.id

    def entries(self, budget: Budget) -> list[Entry]:
        """Every value of the table (and the budget's extra methods) at `budget`."""
        rows, columns = list(self.rows), list(self.columns)
        extras = [m for m in self.extra_methods if _budget_wants(budget, m)]
        extra_axes = [Axis(m.label, method=m) for m in extras]
        if self.row_kind == "method":
            rows += extra_axes
        elif any(c.method is not None for c in columns):
            columns += extra_axes
        found = []
        for section in self.sections:
            if _duplicate_section(section, self.sections, budget):
                continue
            for row in rows:
                for column in columns:
                    items = (column, row, section)
                    method = _first(items, "method") or self.method
                    model = _first(items, "model") or self.model
                    dataset = _first(items, "dataset")
                    metric = _first(items, "metric") or self.metric
                    if method is None or model is None or dataset is None or metric is None:
                        raise ValueError(f"Table {self.id}: {row.label}/{column.label} is under-specified")
                    found.append(Entry(
                        table=self.id, section=section.label, row=row.label, column=column.label,
                        dataset=dataset, model=model, method=method, metric=metric,
                        epochs=self.epochs, seeds=self.seeds,
                        extra=row in extra_axes or column in extra_axes,
                    ))
        return found


def _duplicate_section(section: Axis, sections: tuple[Axis, ...], budget: Budget) -> bool:
    """A section whose dataset the budget replaces by another section's (CIFAR-100 by CIFAR-10
    at the cpu budget) would only repeat that section's runs: it is left out."""
    if section.dataset is None or budget.dataset_for(section.dataset) == section.dataset:
        return False
    return any(other.dataset == budget.dataset_for(section.dataset) for other in sections)


def _first(items: tuple[Axis, ...], name: str) -> Any:
    for item in items:
        value = getattr(item, name)
        if value is not None:
            return value
    return None


def _budget_wants(budget: Budget, method: Method) -> bool:
    return budget.jsd_rows if method.jsd else budget.extra_rows


# ---- methods ---------------------------------------------------------------------------------

VANILLA = Method("Vanilla", "none")
MIXUP = Method("MixUp", "mixup")
CUTOUT = Method("CutOut", "cutout")
CUTMIX = Method("CutMix", "cutmix")
AUGMIX = Method("AugMix", "augmix")
PIXMIX = Method("PixMix", "pixmix")
IPMIX = Method("IPMix", "ipmix")
AUTOAUGMENT = Method("AutoAugment", "autoaugment")
RANDAUGMENT = Method("RandAugment", "randaugment")
TRIVIALAUGMENT = Method("TrivialAugment", "trivialaugment")
AUGMIX_JSD = Method("AugMix + JSD", "augmix", jsd=True)
IPMIX_JSD = Method("IPMix + JSD", "ipmix", jsd=True)
#: AugMax as its authors train it: AugMax-DuBIN.
AUGMAX = Method("AugMax", "augmax", model_kwargs=(("norm", "dubin"),))
PRIME = Method("PRIME", "prime")
PRIME_JSD = Method("PRIME + JSD", "prime", jsd=True)
LAYERMIX = Method("LayerMix", "layermix")


def _missing(label: str, why: str = "") -> Method:
    return Method(label, None, unavailable=why or f"{label} is not implemented in ipmix")


PAPER_METHODS = (VANILLA, MIXUP, CUTOUT, CUTMIX, AUGMIX, PIXMIX, IPMIX)
#: Extra rows of the method tables at the cpu/smoke budgets (the issue's "every method").
EXTRA_METHODS = (AUTOAUGMENT, RANDAUGMENT, TRIVIALAUGMENT, AUGMIX_JSD, IPMIX_JSD)

MODELS = (
    Axis("WideResNet40-4", model="wrn40_4"),
    Axis("WideResNet28-10", model="wrn28_10"),
    Axis("ResNeXt-29", model="resnext29_32x4d"),
    Axis("ResNet-18", model="resnet18"),
)
CIFAR_SECTIONS = (Axis("CIFAR-10", dataset="cifar10"), Axis("CIFAR-100", dataset="cifar100"))
CIFAR100 = (Axis("CIFAR-100", dataset="cifar100"),)
THREE = tuple(Axis(label, metric=metric) for label, metric in
              (("Error", "error"), ("mCE", "mce"), ("RMS", "rms")))


def _methods(*methods: Method) -> tuple[Axis, ...]:
    return tuple(Axis(m.label, method=m) for m in methods)


def _ipmix_variant(label: str, **options: Any) -> Method:
    return Method(label, "ipmix", options=tuple(sorted(options.items())))


_NOT_NAMED = ("The paper does not name the network of this CIFAR-100 ablation; WRN-40-4 is the "
              "one of its other CIFAR-100 ablations (Tables 8, 10, 11).")
_RMS = ("The paper does not say on which data its CIFAR RMS is measured; it is compared here "
        "with the RMS on the clean test set (the RMS on CIFAR-C is in the JSON and the summary).")
_JSD = ("The authors' code trains AugMix and IPMix with the JSD loss for the reported numbers "
        "(their README); the paper never mentions it.")
_MCE = ("CIFAR mCE is the plain mean error over the 15 corruptions x 5 severities (Appendix C "
        "describes AlexNet-normalised metrics, which apply to ImageNet only).")
_AUGMAX = ("AugMax trains with DuBIN, as its authors (AugMax-DuBIN: `--model-kwargs "
           "'{\"norm\": \"dubin\"}'`), and its loss is always CE + lambda x JSD of the clean, "
           "AugMax and AugMix views (lambda 10 on CIFAR, 12 on ImageNet).")
_FIELD = ("Beyond the IPMix paper: every method under ipmix's protocol (one recipe, one budget, "
          "the same corruption files). The 'paper' column is each method's own publication (the "
          "source of every value is in the notes); they used their own code, recipes and "
          "corruption files, so only the order within a column compares across sources.")

TABLES: dict[str, TableSpec] = {spec.id: spec for spec in (
    TableSpec(
        "2", "IPMix frameworks (CIFAR-100, ResNeXt-29)", CIFAR100,
        rows=(Axis("Chain-Mixed", method=_ipmix_variant("Chain-Mixed")),
              Axis("Linear Mix", method=_ipmix_variant("Linear Mix", framework="linear")),
              Axis("Mixed Input", method=_ipmix_variant("Mixed Input", framework="mixed-input"))),
        columns=THREE, row_kind="method", model="resnext29_32x4d", notes=(_RMS, _JSD),
    ),
    TableSpec(
        "3", "Clean error across architectures (CIFAR-10, CIFAR-100)", CIFAR_SECTIONS,
        rows=MODELS, columns=_methods(*PAPER_METHODS), row_kind="model", metric="error",
        seeds=3, extra_methods=EXTRA_METHODS, notes=(_JSD,),
    ),
    TableSpec(
        "4", "mCE across architectures (CIFAR-10-C, CIFAR-100-C)", CIFAR_SECTIONS,
        rows=MODELS, columns=_methods(*PAPER_METHODS), row_kind="model", metric="mce",
        seeds=3, extra_methods=EXTRA_METHODS, notes=(_MCE, _JSD),
    ),
    TableSpec(
        "5", "ImageNet (ResNet-50, fine-tuned 180 epochs)",
        (Axis("ImageNet", dataset="imagenet"),),
        rows=_methods(VANILLA, MIXUP, CUTOUT, CUTMIX, AUGMIX, AUGMAX, PIXMIX, IPMIX),
        columns=tuple(Axis(label, metric=metric) for label, metric in (
            ("Clean Error", "in_error"), ("ImageNet-C mCE", "in_c_mce"),
            ("ImageNet-R Error", "in_r_error"), ("ImageNet-P mFR", "in_p_mfr"),
            ("RMS C", "in_rms_c"), ("RMS R", "in_rms_r"), ("RMS A", "in_rms_a"),
            ("ImageNet-A Classification", "in_a_accuracy"), ("ImageNet-O AUPR", "in_o_aupr"))),
        row_kind="method", model="resnet50", epochs=180,
        notes=("ImageNet mCE and mFR are normalised by AlexNet's errors (Appendix C).", _AUGMAX),
    ),
    TableSpec(
        "7", "Ablation of the three levels (CIFAR-100)", CIFAR100,
        rows=_methods(IPMIX, Method("w/o patch", "ipmix-no-patch"),
                      Method("w/o pixel", "ipmix-no-pixel"), Method("w/o image", "ipmix-no-image")),
        columns=THREE, row_kind="method", model="wrn40_4", seeds=3, notes=(_NOT_NAMED, _RMS, _JSD),
    ),
    TableSpec(
        "8", "Mixing sets (CIFAR-100, WRN-40-4)", CIFAR100,
        rows=(Axis("Fractal + FVis", method=_missing(
                  "Fractal + FVis", "PixMix's fractals and feature visualisations are not "
                  "available here (a download)")),
              Axis("FractalDB", method=Method("FractalDB", "ipmix", mixing_set="ifs")),
              Axis("RCDB", method=Method("RCDB", "ipmix", mixing_set="radial-contours")),
              Axis("Dead Leaves", method=Method("Dead Leaves", "ipmix", mixing_set="dead-leaves")),
              Axis("Spectrum", method=Method("Spectrum", "ipmix", mixing_set="spectrum")),
              Axis("fractals(ours)", method=IPMIX)),
        columns=THREE, row_kind="method", model="wrn40_4",
        notes=("Mixing sets are generated here (ipmix.mixing_sets, 13,000 pictures each): IFS "
               "fractals stand for FractalDB, radial contours for RCDB; 'fractals(ours)' is the "
               "built-in set (escape-time + IFS), not the authors' download.", _RMS, _JSD),
    ),
    TableSpec(
        "9", "Image- and patch-level methods (CIFAR-100, WRN-28-10)", CIFAR100,
        rows=_methods(AUTOAUGMENT, RANDAUGMENT, TRIVIALAUGMENT, _missing("SaliencyMix"),
                      _missing("PuzzleMix"), _missing("Co-Mixup"), _missing("Manifold Mixup"), IPMIX),
        columns=tuple(Axis(label, metric=metric) for label, metric in (
            ("Error", "error"), ("mCE", "mce"), ("PGD Error", "pgd"), ("mFR", "mfr"), ("RMS", "rms"))),
        row_kind="method", model="wrn28_10", seeds=3,
        notes=("Erratum: the paper prints TrivialAugment's mCE and PGD error in each other's "
               "columns; they are compared here under the columns they measure.", _RMS, _JSD),
    ),
    TableSpec(
        "11", "Mixing operations (CIFAR-100, WRN-40-4)", CIFAR100,
        rows=(Axis("Addition + Multiplication",
                   method=_ipmix_variant("Addition + Multiplication", mixing_ops=["add", "multiply"])),
              Axis("Random pixels mixing",
                   method=_ipmix_variant("Random pixels mixing", mixing_ops=["random_pixels"])),
              Axis("Random elements mixing",
                   method=_ipmix_variant("Random elements mixing", mixing_ops=["random_elements"])),
              Axis("IPMix", method=IPMIX)),
        columns=THREE, row_kind="method", model="wrn40_4", notes=(_RMS, _JSD),
    ),
    TableSpec(
        "12", "Patch shapes (CIFAR-100, ResNeXt-29)", CIFAR100,
        rows=(Axis("IPMix-Square", method=_ipmix_variant("IPMix-Square", box_shapes=["square"])),
              Axis("IPMix-Scar", method=_ipmix_variant("IPMix-Scar", box_shapes=["scar"])),
              Axis("IPMix", method=IPMIX)),
        columns=THREE, row_kind="method", model="resnext29_32x4d", notes=(_RMS, _JSD),
    ),
    TableSpec(
        "13", "Other distribution shifts: C-bar", (Axis("C-bar"),),
        rows=_methods(*PAPER_METHODS),
        columns=(Axis("CIFAR-10-C-bar", dataset="cifar10", model="wrn40_4"),
                 Axis("CIFAR-100-C-bar", dataset="cifar100", model="wrn40_4"),
                 Axis("ImageNet-C-bar", dataset="imagenet", model="resnet50")),
        row_kind="method", metric="cbar",
        notes=("The paper names no network; WRN-40-4 (CIFAR) and ResNet-50 (ImageNet, 180 "
               "epochs) are assumed.", _JSD),
    ),
    TableSpec(
        "15", "Combinations of levels (CIFAR-100, WRN-40-4, 100 epochs)", CIFAR100,
        rows=_methods(VANILLA, MIXUP, CUTMIX, AUGMIX,
                      Method("AugMix→MixUp→CutMix", "augmix+mixup+cutmix"),
                      Method("AugMix→CutMix→MixUp", "augmix+cutmix+mixup"),
                      Method("Chosen Randomly (p=0.5)", "augmix+random(mixup,cutmix)"),
                      Method("Epoch-Dependent", "augmix+epoch(mixup,cutmix)")),
        columns=THREE, row_kind="method", model="wrn40_4", epochs=100, notes=(_RMS, _JSD),
    ),
    TableSpec(
        "17", "Training time per epoch (ResNet-18, 90 epochs)", (Axis("ResNet-18", dataset="cifar10"),),
        rows=_methods(VANILLA, MIXUP, CUTOUT, CUTMIX, AUGMIX, PIXMIX, AUGMAX, IPMIX),
        columns=(Axis("Time(sec/epochs)", metric="epoch_seconds"),),
        row_kind="method", model="resnet18", epochs=90,
        notes=("The paper does not name the dataset: 3,764 s per epoch on two RTX 3090s is "
               "ImageNet-sized, not CIFAR. Only the ratios to vanilla compare (last column).",
               "Times are the mean training seconds per epoch from each run's log.jsonl, on "
               "this budget's machine, per-batch IPMix where the budget says so.", _AUGMAX),
    ),
    TableSpec(
        "18", "IPMix across architectures, all metrics", CIFAR_SECTIONS,
        rows=MODELS,
        columns=tuple(Axis(label, metric=metric) for label, metric in (
            ("Error", "error"), ("mCE", "mce"), ("mFR", "mfr"), ("PGD Error", "pgd"), ("RMS", "rms"))),
        row_kind="model", method=IPMIX, notes=(_RMS, _JSD),
    ),
    TableSpec(
        "19", "Ablation of the three levels, all metrics (CIFAR-100)", CIFAR100,
        rows=_methods(IPMIX, Method("w/o patch", "ipmix-no-patch"),
                      Method("w/o pixel", "ipmix-no-pixel"), Method("w/o image", "ipmix-no-image")),
        columns=tuple(Axis(label, metric=metric) for label, metric in (
            ("Error", "error"), ("mCE", "mce"), ("PGD Error", "pgd"), ("mFR", "mfr"), ("RMS", "rms"))),
        row_kind="method", model="wrn40_4", seeds=3,
        notes=("Erratum: Table 19 swaps the mFR and PGD-error headers relative to Table 18; the "
               "values are compared here under the columns they measure.", _NOT_NAMED, _RMS, _JSD),
    ),
    TableSpec(
        "field", "The field side by side: AugMax, PRIME, LayerMix (CIFAR-10, ResNet-18)",
        (Axis("CIFAR-10", dataset="cifar10"),),
        rows=_methods(VANILLA, AUGMIX, PIXMIX, IPMIX, AUGMAX, PRIME, LAYERMIX),
        columns=tuple(Axis(label, metric=metric) for label, metric in (
            ("Error", "error"), ("mCE", "mce"), ("RMS", "rms"), ("mFR", "mfr"),
            ("PGD Error", "pgd"), ("AUROC", "auroc"), ("Time(sec/epochs)", "epoch_seconds"))),
        row_kind="method", model="resnet18",
        extra_methods=(AUGMIX_JSD, IPMIX_JSD, PRIME_JSD),
        notes=(_FIELD, _MCE, _RMS, _AUGMAX,
               "JSD: the authors' setting is on for AugMix, IPMix and PRIME (CIFAR), off for "
               "LayerMix; PixMix trains without it.",
               "LayerMix's published numbers are not transcribed: its paper's tables (arXiv "
               "2501.04861) could not be read where this table was made; its row compares "
               "with the others run here only."),
    ),
)}

TABLE_IDS: tuple[str, ...] = tuple(TABLES)


class UnknownTableError(ValueError):
    """A table number the reproduction does not know."""


def get_tables(names: list[str] | tuple[str, ...]) -> list[TableSpec]:
    """The specs of `names` (``all`` for every table), in the order given, without repeats."""
    chosen: list[str] = []
    for name in names:
        ids = TABLE_IDS if name == "all" else (name.removeprefix("table").removeprefix("Table"),)
        for table_id in ids:
            if table_id not in TABLES:
                raise UnknownTableError(
                    f"unknown table {name!r}; choose from {', '.join(TABLE_IDS)} or 'all'"
                )
            if table_id not in chosen:
                chosen.append(table_id)
    return [TABLES[table_id] for table_id in chosen]
