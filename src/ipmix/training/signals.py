"""Stopping on SIGINT/SIGTERM: at the next step, with DataLoader workers left alone.

A terminal's Ctrl-C, ``timeout`` and job schedulers signal the whole process group, so the
DataLoader workers receive the signal too; by default they die, and the main process then
fails with "DataLoader worker exited unexpectedly" instead of stopping cleanly. Workers
therefore ignore the first SIGINT and SIGTERM (`ignore_stop_signals`, their
``worker_init_fn``): the main process alone decides to stop, finishes the step, and shuts them
down as usual. A second signal acts as usual in workers too (so torch's ``terminate()`` of a
worker that does not answer, and a second Ctrl-C, still end it), and a worker whose main
process died exits by itself (torch's workers watch their parent). A stopped run raises
`TrainingInterrupted`, naming the checkpoint that holds its last finished epoch.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ipmix.training.checkpoint import CHECKPOINT_NAME

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _ignore_once(signum: int, frame: Any) -> None:
    signal.signal(signum, signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler)


def ignore_stop_signals(worker_id: int = 0) -> None:
    """``worker_init_fn`` of training DataLoaders: leave the first SIGINT/SIGTERM to the main
    process (the next one acts as usual)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _ignore_once)


@contextmanager
def stop_on_signals() -> Iterator[dict[str, str | None]]:
    """Turn the first SIGINT/SIGTERM into a flag the loop checks (a second one acts as usual)."""
    flag: dict[str, str | None] = {"signal": None}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def handler(signum: int, frame: Any) -> None:
        flag["signal"] = signal.Signals(signum).name
        for sig, old in previous.items():
            signal.signal(sig, old)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM stopped the run; ``checkpoint.pt`` holds the last finished epoch."""

    def __init__(self, run_dir: Path, epoch: int, signal_name: str) -> None:
        super().__init__(
            f"{signal_name} received: stopped; {run_dir / CHECKPOINT_NAME} holds epoch {epoch} "
            f"(continue with --resume)"
        )
        self.run_dir, self.epoch, self.signal_name = run_dir, epoch, signal_name


def stop_signal_name(stop: dict[str, str | None]) -> str:
    """The signal that stopped this rank (another rank's, which this one did not receive)."""
    return stop["signal"] or "a stop signal to another rank"
