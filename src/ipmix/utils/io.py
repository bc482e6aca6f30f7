"""Files: atomic writes, and reading errors reported as one line naming the file.

Writes: a crash or a kill never leaves a half-written file behind (a temporary file beside the
target, renamed into place). Written files get the usual mode, ``0o666 & ~umask`` (0644 under
the common umask 022), like any file `open` creates; `tempfile.mkstemp` alone would make them
0600, unreadable to others sharing a set or a run. A path that cannot be written (no
permission, a parent that is a file, a read-only disk) raises `OutputPathError` naming it.

Reads: `reading(path, what)` turns what a truncated or corrupt ``.npy``/``.npz``/image file
raises (`READ_ERRORS`: OSError, EOFError, ValueError, zipfile, zlib, header parse errors) into one
`UnreadableFileError` naming the file; `open_image` decodes an image file fully, so a file
that passes PIL's ``verify()`` but cannot be decoded fails here, named.
"""

from __future__ import annotations

import json
import os
import tempfile
import tokenize
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image


class OutputPathError(ValueError):
    """A file or folder that cannot be written where the user asked for it."""


class UnreadableFileError(ValueError):
    """A file that exists but cannot be read: truncated, corrupt or of another format."""


#: What reading a damaged array or image file raises (Pillow adds SyntaxError for bad chunks;
#: numpy's .npy header parser, SyntaxError or tokenize's TokenError for a damaged header).
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, ValueError, SyntaxError, tokenize.TokenError, zipfile.BadZipFile, zlib.error,
)


def file_mode() -> int:
    """The mode of files ipmix writes: ``0o666`` less the process umask (as `open` gives)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _why_unwritable(path: Path, error: OSError) -> str:
    for parent in [path, *path.parents]:
        if parent.exists():
            if not parent.is_dir() and parent != path:
                return f"{parent} is a file, not a folder"
            break
    return error.strerror or str(error)


def make_dirs(path: str | Path) -> Path:
    """Create folder `path` and its parents if needed; `OutputPathError` if that is impossible."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputPathError(f"cannot create folder {path}: {path} is a file") from None
    except OSError as error:
        raise OutputPathError(f"cannot create folder {path}: {_why_unwritable(path, error)}") from None
    return path


def check_outside(output: str | Path, source: str | Path, names: tuple[str, str]) -> None:
    """Refuse an `output` folder that is `source` or inside it (`names`: the two options).

    Files written inside an input folder become part of it: the next reader of an ImageFolder
    would find, say, a class ``gaussian_noise``.
    """
    out, src = Path(output).expanduser().resolve(), Path(source).expanduser().resolve()
    if out == src or src in out.parents:
        raise OutputPathError(
            f"{names[0]} {output} is inside {names[1]} {source}: what is written there would "
            f"become part of the input; write it outside {source}"
        )


@contextmanager
def atomic_open(path: str | Path, sync: bool = True) -> Iterator[IO[bytes]]:
    """A binary file handle whose content replaces `path` only once fully written.

    With `sync`, the data is fsynced before the rename (what a checkpoint needs); without it,
    a killed run still never leaves a partial file, only the last writes may be lost on a power
    failure (for many small files, synced once at the end by the caller).
    """
    path = Path(path)
    make_dirs(path.parent)
    if path.is_dir():
        raise OutputPathError(f"cannot write {path}: it is a folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OutputPathError(f"cannot write {path}: {_why_unwritable(path, error)}") from None
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, FileNotFoundError):
            raise OutputPathError(f"cannot write {path}: {_why_unwritable(path, error)}") from None
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it into place."""
    with atomic_open(path) as handle:
        handle.write(data)
    return Path(path)


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented JSON atomically."""
    return atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


@contextmanager
def reading(path: str | Path, what: str = "file") -> Iterator[None]:
    """Report any `READ_ERRORS` raised inside as one `UnreadableFileError` naming `path`.

    Keep only reading inside the block: a ValueError of one's own checks would be reworded.
    """
    try:
        yield
    except UnreadableFileError:
        raise
    except READ_ERRORS as error:
        detail = str(error) or type(error).__name__
        raise UnreadableFileError(f"cannot read {what} {path}: {detail}") from None


def open_image(path: str | Path, what: str = "image") -> Image.Image:
    """Decode image file `path` fully (an RGB, L, ... PIL image in memory), naming it if it fails."""
    from PIL import Image

    with reading(path, what), Image.open(path) as image:
        image.load()
        return image.copy()


__all__ = [
    "OutputPathError",
    "READ_ERRORS",
    "UnreadableFileError",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_json",
    "check_outside",
    "file_mode",
    "make_dirs",
    "open_image",
    "reading",
]
