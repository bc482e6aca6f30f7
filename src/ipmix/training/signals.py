"""Stopping on SIGINT/SIGTERM: at the next step, with DataLoader workers left alone.

A terminal's Ctrl-C, ``timeout`` and job schedulers signal the whole process group, so the
DataLoader workers receive the signal too; by default they die, and the main process then
fails with "DataLoader worker exited unexpectedly" instead of stopping cleanly. Workers
therefore ignore the first SIGINT and SIGTERM (`ignore_stop_signals`, their
``worker_init_fn``): the main process alone decides to stop, finishes the step, and shuts them
down as usual. A second signal acts as usual in workers too (so torch's ``terminate()`` of a
worker that does not answer, and a second Ctrl-C, still end it), and a worker whose main
process died exits by itself (torch's workers watch their parent).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
