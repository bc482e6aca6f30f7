"""Run folders: checked before use, and claimed by one run at a time.

`prepare_run_dir` makes sure the folder can be created and written (a path whose parent is a
file, or that is not writable, is a one-line error naming it). `RunLock` claims the folder for
one process: ``DIR/.lock`` is opened and locked with ``flock`` (the kernel releases the lock
when its process ends, however it ends, so a stale lock never blocks) and holds the owner's
pid, host and start time, which the error of a second run names. Where the filesystem has no
``flock``, the file is created exclusively instead and a lock whose process is gone from this
host is taken over as stale.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ipmix.training.config import ConfigError

LOCK_NAME = ".lock"


class RunDirectoryBusy(ConfigError):
    """Another live process holds the run folder."""


def prepare_run_dir(path: Path) -> bool:
    """Create the run folder `path` (and parents); True if it was created here.

    Errors name the offending path: a file where a folder is needed, or a folder that cannot
    be written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path} is a file, not a run folder")
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"cannot create run folder {path}: {ancestor} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write run folder {path}: {ancestor} is not writable")
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create run folder {path}: {error.strerror or error}") from error
    return created


def _owner_text() -> str:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                       "started": time.strftime("%Y-%m-%d %H:%M:%S")})


def _describe_owner(text: str) -> str:
    try:
        owner = json.loads(text)
        return f"pid {owner['pid']} on {owner['host']} (since {owner['started']})"
    except (ValueError, KeyError, TypeError):
        return "another process"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """Exclusive claim of a run folder for the life of a ``with`` block (see module docstring).

    `name` is the lock file's name inside the folder: the trainer's is ``.lock``; a process
    that claims the folder for longer than a training (``ipmix reproduce``: training and its
    evaluations) uses its own name, so that the two locks do not release each other.
    """

    def __init__(self, run_dir: Path, name: str = LOCK_NAME) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / name
        self._fd: int | None = None

    def _busy(self, text: str) -> RunDirectoryBusy:
        return RunDirectoryBusy(
            f"{self.run_dir} is in use by {_describe_owner(text)}: two runs cannot share one "
            "--out; wait for it to finish or choose another folder"
        )

    def acquire(self) -> None:
        import fcntl

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                text = os.pread(fd, 4096, 0).decode(errors="replace")
                os.close(fd)
                raise self._busy(text) from error
            except OSError as error:  # no flock on this filesystem
                os.close(fd)
                if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise
                self._acquire_exclusive()
                return
            try:  # the file may have been released (unlinked) between open and flock
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = -1
            if current == os.fstat(fd).st_ino:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _owner_text().encode(), 0)
        self._fd = fd

    def _acquire_exclusive(self) -> None:
        """Fallback without flock: exclusive creation, stale locks of dead local pids taken over."""
        with contextlib.suppress(FileNotFoundError):
            text = self.path.read_text()
            owner: dict[str, Any] = json.loads(text) if text.strip() else {}
            local = owner.get("host") == socket.gethostname()
            if not (local and not _pid_alive(int(owner.get("pid", -1)))):
                raise self._busy(text)
            self.path.unlink()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError as error:
            raise self._busy(self.path.read_text()) from error
        os.write(fd, _owner_text().encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()


def release_run_dir(lock: RunLock | None, created: Path | None) -> None:
    """Drop the lock; remove the run folder again if this run created it and wrote nothing."""
    if lock is not None:
        lock.release()
    if created is not None:
        with contextlib.suppress(OSError):
            created.rmdir()  # only succeeds while empty
