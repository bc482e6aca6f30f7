"""The main job: IPMix against no augmentation, trained and evaluated on a CPU budget.

Trains the `small` model on a CIFAR-10 subset twice (no augmentation; IPMix with the JSD loss,
as the authors train), evaluates both with the robustness suite on a subset of the test set,
and writes a side-by-side report with plots. Every stage is skipped when its output already
exists and an interrupted training run resumes, so rerunning the command finishes the job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ipmix.robustness.report import write_report
from ipmix.robustness.suite import evaluate_checkpoint
from ipmix.training import TrainConfig, train

#: The two runs compared: run name -> augmentation.
DEMO_RUNS = {"vanilla": "none", "ipmix": "ipmix"}


@dataclass
class DemoConfig:
    """Options of the main job; the defaults fit a few minutes of a 2-core CPU per run."""

    out: str = "runs/demo"
    data: str | None = None  # None: $IPMIX_DATA
    model: str = "small"
    subset: int = 10_000
    epochs: int = 5
    n: int = 500  # test images for the suite
    suite: str = "all"
    workers: int = 2
    device: str = "auto"
    seed: int = 0
    progress: bool = True


def run_demo(config: DemoConfig, log: Callable[[str], object] = print) -> tuple[Path, list[Path]]:
    """Train, evaluate and compare; returns the report's markdown path and its plots."""
    out = Path(config.out)
    runs: list[Path] = []
    for name, aug in DEMO_RUNS.items():
        run_dir = out / name
        if (run_dir / "final.pt").exists():
            log(f"[{name}] trained model found in {run_dir}")
        else:
            log(f"[{name}] training {config.model} with --aug {aug} on {config.subset} images "
                f"for {config.epochs} epochs")
            train(TrainConfig(
                out=str(run_dir), model=config.model, aug=aug, epochs=config.epochs,
                subset=config.subset, test_subset=config.n, data=config.data,
                workers=config.workers, device=config.device, seed=config.seed,
                resume=(run_dir / "checkpoint.pt").exists(), progress=config.progress,
            ))
        if (run_dir / "results.json").exists():
            log(f"[{name}] results found in {run_dir / 'results.json'}")
        else:
            log(f"[{name}] evaluating on {config.n} test images (suite: {config.suite})")
            evaluate_checkpoint(
                run_dir, suite=config.suite, n=config.n, data=config.data,
                device="cpu" if config.device == "auto" else config.device,
                seed=config.seed, progress=config.progress,
            )
        runs.append(run_dir)
    return write_report(runs, out / "report", title="ipmix demo: IPMix versus no augmentation")


def summary(report: Path, plots: Sequence[Path]) -> str:
    """The report's table and where the plots are, for the terminal."""
    text = report.read_text()
    table = text[text.index("|"): text.index("Runs:")] if "Runs:" in text else text
    lines = [table.rstrip(), "", f"report: {report}"] + [f"plot: {path}" for path in plots]
    return "\n".join(lines)
