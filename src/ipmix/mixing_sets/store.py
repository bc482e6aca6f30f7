"""`MixingSet`: the pictures IPMix mixes into training images, from any source.

A mixing set is an indexable collection of RGB pictures. IPMix asks it for picture `i`
resized to 9/8 of the training image size (36 px for 32 px CIFAR images, as the authors'
`Resize(36)`); the random crop back to the image size is part of the augmentation plan.

Sources: a folder of images (ImageFolder layouts included), a uint8 array of pictures in
memory or in a ``.npy`` / ``.npz`` file, any indexable dataset whose items are images or
``(image, label)`` pairs, or a generator that renders picture `i` on demand.

Arrays may be ``[N, H, W, C]`` or ``[N, C, H, W]`` (C = 1, 3 or 4), ``[N, H, W]`` grey, or one
picture (``[H, W, C]``, ``[C, H, W]``, ``[H, W]``): the layout is read from the shape where only
one reading fits, else ``layout=`` says it (`ipmix.utils.images.image_layout`). Dataset items
follow the same rule per picture; float items must lie in [0, 1] (checked, not clamped).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ipmix.utils.images import (
    LAYOUTS,
    ImageLayoutError,
    ImageRangeError,
    as_nhwc,
    check_unit_range,
    is_tensor,
    to_rgb,
)
from ipmix.utils.io import UnreadableFileError, open_image, reading

if TYPE_CHECKING:
    import torch

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")
ARRAY_EXTENSIONS = (".npy", ".npz")
#: Keys tried, in order, for the pictures in a ``.npz`` file holding several arrays.
NPZ_KEYS = ("pictures", "images", "x", "arr_0")

#: Pictures are resized to this multiple of the training image size before the random crop.
PICTURE_SCALE = 9 / 8


class MixingSetError(ValueError):
    """A mixing set that cannot be used: empty, unreadable, or of the wrong kind."""


@contextmanager
def _mixing_set_errors() -> Iterator[None]:
    """Report layout, range and file errors of a set as `MixingSetError` (same message)."""
    try:
        yield
    except (ImageLayoutError, ImageRangeError, UnreadableFileError) as error:
        raise MixingSetError(str(error)) from None


def resized_picture_size(image_size: int, scale: float = PICTURE_SCALE) -> int:
    """Side of the square a picture is resized to for `image_size` training images (32 -> 36)."""
    return max(image_size, int(round(image_size * scale)))


#: Layouts of one picture (a dataset item, an array row).
PICTURE_LAYOUTS = ("HWC", "CHW", "HW")


def _to_rgb_array(item: Any, layout: str | None = None) -> np.ndarray:
    """A PIL image, or one picture as an array or tensor (see `PICTURE_LAYOUTS`), as uint8 HWC RGB.

    uint8 or float (in [0, 1], checked) data; 1 channel is repeated, a 4th (alpha) dropped.
    """
    if isinstance(item, tuple | list):
        item = item[0]
    if isinstance(item, Image.Image):
        return np.asarray(to_rgb(item))
    array = item.detach().cpu() if is_tensor(item) else np.asarray(item)
    with _mixing_set_errors():
        array = as_nhwc(array, layout, allowed=PICTURE_LAYOUTS, what="mixing picture")[0][0]
        if is_tensor(array):
            array = array.float().numpy() if array.is_floating_point() else array.numpy()
        if np.issubdtype(array.dtype, np.floating):
            check_unit_range(array, "mixing picture")
            array = np.rint(np.clip(array, 0, 1) * 255).astype(np.uint8)
    if array.dtype != np.uint8:
        raise MixingSetError(f"mixing pictures must be uint8 or float images, got dtype {array.dtype}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array[:, :, :3])


def _resize_square(picture: np.ndarray, side: int) -> np.ndarray:
    """Resize the shorter side to `side` (bilinear, antialiased) and centre-crop to a square."""
    height, width = picture.shape[:2]
    if (height, width) == (side, side):
        return picture
    scale = side / min(height, width)
    new_w, new_h = max(side, round(width * scale)), max(side, round(height * scale))
    image = Image.fromarray(picture).resize((new_w, new_h), Image.Resampling.BILINEAR)
    left, top = (new_w - side) // 2, (new_h - side) // 2
    return np.asarray(image.crop((left, top, left + side, top + side)))


class MixingSet:
    """Pictures to mix with, indexable and sized; subclasses say where pictures come from.

    Subclasses implement `__len__` and `_load(index) -> uint8 HxWx3 array`. `picture(i, side)`
    returns picture `i` resized to a `side x side` square, memoised per side up to a memory
    budget so that small sets (CIFAR-sized pictures) are decoded and resized once.
    """

    #: Total bytes of resized pictures kept in memory per set.
    cache_bytes: int = 512 * 2**20

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._cached_bytes = 0

    def __len__(self) -> int:
        raise NotImplementedError

    def _load(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def __getitem__(self, index: int) -> np.ndarray:
        """Picture `index` at its stored size, uint8 HxWx3."""
        if not 0 <= index < len(self):
            raise IndexError(f"picture index {index} out of range for {len(self)} pictures")
        return self._load(index)

    def picture(self, index: int, side: int) -> np.ndarray:
        """Picture `index` resized to a `side x side` uint8 RGB square (memoised)."""
        key = (index, side)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        picture = self._make(index, side)
        if self._cached_bytes + picture.nbytes <= self.cache_bytes:
            self._cache[key] = picture
            self._cached_bytes += picture.nbytes
        return picture

    def __getstate__(self) -> dict[str, Any]:
        # Copies sent to other processes (DataLoader workers) start without the memo.
        return {**self.__dict__, "_cache": {}, "_cached_bytes": 0}

    def _make(self, index: int, side: int) -> np.ndarray:
        """Picture `index` as a `side` square, before memoisation."""
        return _resize_square(self[index], side)

    def to_array(self, side: int, progress: bool = True) -> np.ndarray:
        """All pictures resized to `side`, as one uint8 ``[N, side, side, 3]`` array.

        Shows a progress bar for sets of more than 1,000 pictures (generated sets render here),
        on a terminal only: logs of background runs stay readable.
        """
        from tqdm.auto import tqdm

        indices = tqdm(
            range(len(self)), desc=f"mixing pictures at {side} px", unit="pic",
            disable=True if not progress or len(self) <= 1000 else None, leave=False,
        )
        return np.stack([self.picture(i, side) for i in indices])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} pictures)"

    # ---- constructors -------------------------------------------------------------------
    @staticmethod
    def from_folder(path: str | Path) -> FolderMixingSet:
        return FolderMixingSet(path)

    @staticmethod
    def from_array(array: np.ndarray | torch.Tensor, layout: str | None = None) -> ArrayMixingSet:
        return ArrayMixingSet(array, layout)

    @staticmethod
    def from_file(path: str | Path, layout: str | None = None) -> ArrayMixingSet:
        """Pictures from a ``.npy`` file (memory-mapped) or a ``.npz`` file."""
        return ArrayMixingSet.from_file(path, layout)

    @staticmethod
    def from_dataset(dataset: Sequence[Any], layout: str | None = None) -> DatasetMixingSet:
        return DatasetMixingSet(dataset, layout)

    @staticmethod
    def from_source(source: Any, layout: str | None = None) -> MixingSet:
        """Build a mixing set from whatever a user passed: set, path, array or dataset.

        `layout` (``"NHWC"``, ``"NCHW"``, ``"NHW"``, or ``"HWC"``, ``"CHW"``, ``"HW"`` for one
        picture; per item for datasets) says how to read arrays whose shape is ambiguous.
        """
        if isinstance(source, MixingSet):
            return source
        if isinstance(source, str | Path):
            path = Path(source)
            if path.is_dir():
                if layout is not None:
                    raise MixingSetError(f"layout= applies to arrays, not to the folder {path}")
                return FolderMixingSet(path)
            if path.suffix.lower() in ARRAY_EXTENSIONS:
                return ArrayMixingSet.from_file(path, layout)
            if path.exists():
                raise MixingSetError(
                    f"mixing-set source {path} is neither a folder nor a .npy/.npz array file"
                )
            raise MixingSetError(f"mixing-set source not found: {path}")
        if isinstance(source, np.ndarray) or is_tensor(source):
            return ArrayMixingSet(source, layout)
        if hasattr(source, "__getitem__") and hasattr(source, "__len__"):
            return DatasetMixingSet(source, layout)
        raise MixingSetError(
            f"cannot build a mixing set from {type(source).__name__}: give a folder path, "
            "a .npy/.npz file, a uint8 [N, H, W, C] or [N, C, H, W] array, or an indexable "
            "dataset of images"
        )


class ArrayMixingSet(MixingSet):
    """Pictures held in one uint8 array (see the module docstring for its layouts).

    `array` is kept as an ``[N, H, W, C]`` view of what was given (no copy; a memory-mapped
    file stays on disk).
    """

    def __init__(self, array: np.ndarray | torch.Tensor, layout: str | None = None) -> None:
        super().__init__()
        if is_tensor(array):
            array = array.detach().cpu().numpy()
        array = np.asarray(array)
        if array.dtype != np.uint8:
            raise MixingSetError(f"a mixing-set array must be uint8, got {array.dtype}")
        with _mixing_set_errors():
            array, _ = as_nhwc(array, layout, allowed=LAYOUTS, what="mixing-set array")
        if len(array) == 0:
            raise MixingSetError("the mixing-set array is empty")
        self.array = array

    @classmethod
    def from_file(cls, path: str | Path, layout: str | None = None) -> ArrayMixingSet:
        """Load a ``.npy`` (memory-mapped, so large sets stay on disk) or ``.npz`` file.

        A ``.npz`` holding several arrays must name the pictures one of `NPZ_KEYS`.
        """
        path = Path(path)
        if not path.is_file():
            raise MixingSetError(f"mixing-set file not found: {path}")
        suffix = path.suffix.lower()
        if suffix not in ARRAY_EXTENSIONS:
            raise MixingSetError(f"mixing-set file {path} must end in .npy or .npz")
        with _mixing_set_errors(), reading(path, "mixing-set file"):
            if suffix == ".npy":
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            else:
                with np.load(path, allow_pickle=False) as archive:
                    keys = list(archive.keys())
                    key = keys[0] if len(keys) == 1 else next((k for k in NPZ_KEYS if k in keys), None)
                    array = archive[key] if key is not None else None
        if array is None:
            raise MixingSetError(f"{path} holds arrays {keys}; name the pictures one of {NPZ_KEYS}")
        return cls(array, layout)

    def __len__(self) -> int:
        return len(self.array)

    def _load(self, index: int) -> np.ndarray:
        return _to_rgb_array(self.array[index], "HWC")


class FolderMixingSet(MixingSet):
    """Every image file under a folder (recursively, so ImageFolder layouts work too).

    Files are checked when the set is built (PIL's ``verify()``, which reads them without
    decoding): unreadable ones are skipped with one warning naming how many; a folder without
    any readable image is an error. A file that passes the check but fails to decode when
    first used is skipped then, with a warning naming it: picture `i` becomes the next
    decodable one, and the file joins `skipped`.
    """

    def __init__(self, root: str | Path) -> None:
        super().__init__()
        self.root = Path(root)
        if not self.root.is_dir():
            raise MixingSetError(f"mixing-set folder not found: {self.root}")
        candidates = sorted(
            p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
        )
        if not candidates:
            raise MixingSetError(
                f"no image files ({', '.join(IMAGE_EXTENSIONS)}) found under {self.root}"
            )
        self.paths: list[Path] = []
        self.skipped: list[Path] = []
        for path in candidates:
            try:
                with Image.open(path) as image:
                    image.verify()
                self.paths.append(path)
            except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
                self.skipped.append(path)
        if not self.paths:
            raise MixingSetError(f"all {len(candidates)} image files under {self.root} are unreadable")
        if self.skipped:
            warnings.warn(
                f"skipped {len(self.skipped)} unreadable image file(s) in {self.root} "
                f"(first: {self.skipped[0].name})",
                stacklevel=3,
            )

    def __len__(self) -> int:
        return len(self.paths)

    def _load(self, index: int) -> np.ndarray:
        count = len(self.paths)
        for step in range(count):
            path = self.paths[(index + step) % count]
            if path in self.skipped:
                continue
            try:
                return np.asarray(to_rgb(open_image(path, "mixing-set picture")))
            except UnreadableFileError as error:
                self.skipped.append(path)
                warnings.warn(f"{error}; skipped, the next picture stands in for it", stacklevel=4)
        raise MixingSetError(f"none of the {count} image files under {self.root} can be decoded")


class DatasetMixingSet(MixingSet):
    """Any indexable dataset whose items are images or ``(image, label)`` pairs.

    `layout` (``"HWC"``, ``"CHW"`` or ``"HW"``) says how to read array items whose shape is
    ambiguous; PIL images need none.
    """

    def __init__(self, dataset: Sequence[Any], layout: str | None = None) -> None:
        super().__init__()
        if len(dataset) == 0:
            raise MixingSetError("the mixing-set dataset is empty")
        self.dataset = dataset
        self.layout = layout

    def __len__(self) -> int:
        return len(self.dataset)

    def _load(self, index: int) -> np.ndarray:
        return _to_rgb_array(self.dataset[index], self.layout)


class GeneratedMixingSet(MixingSet):
    """Pictures made on demand by `render(index, side) -> uint8 HxWx3`, never stored.

    `index` selects the picture deterministically (a seed), so the set behaves like a
    (virtually) huge stored set: `size` is the number of distinct pictures it offers.
    `picture(i, side)` renders directly at `side` (no resizing); with `cache_bytes > 0`
    rendered pictures are memoised like a stored set's. See
    `ipmix.mixing_sets.generate.generated_mixing_set` for sets built from the generators.
    """

    def __init__(
        self,
        render: Callable[[int, int], np.ndarray],
        size: int = 2**31 - 1,
        native_side: int = 64,
        name: str = "generated",
        cache_bytes: int = 0,
    ) -> None:
        super().__init__()
        if size < 1:
            raise MixingSetError("a generated mixing set needs size >= 1")
        if native_side < 1:
            raise MixingSetError(f"a generated mixing set needs native_side >= 1, got {native_side}")
        self.render, self.size, self.native_side, self.name = render, size, native_side, name
        self.cache_bytes = cache_bytes

    def __len__(self) -> int:
        return self.size

    def _load(self, index: int) -> np.ndarray:
        return _to_rgb_array(self.render(index, self.native_side), "HWC")

    def _make(self, index: int, side: int) -> np.ndarray:
        if not 0 <= index < self.size:
            raise IndexError(f"picture index {index} out of range for {self.size} pictures")
        return _to_rgb_array(self.render(index, side), "HWC")

    def __repr__(self) -> str:
        return f"GeneratedMixingSet({self.name}, {self.size} pictures)"


__all__ = [
    "ARRAY_EXTENSIONS",
    "ArrayMixingSet",
    "DatasetMixingSet",
    "FolderMixingSet",
    "GeneratedMixingSet",
    "MixingSet",
    "MixingSetError",
    "PICTURE_SCALE",
    "resized_picture_size",
]
