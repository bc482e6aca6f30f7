"""`MixingSet`: the pictures IPMix mixes into training images, from any source.

A mixing set is an indexable collection of RGB pictures. IPMix asks it for picture `i`
resized to 9/8 of the training image size (36 px for 32 px CIFAR images, as the authors'
`Resize(36)`); the random crop back to the image size is part of the augmentation plan.

Sources: a folder of images (ImageFolder layouts included), a uint8 ``[N, H, W, C]`` array
in memory or in a ``.npy`` / ``.npz`` file, any indexable dataset whose items are images or
``(image, label)`` pairs, or a generator that renders picture `i` on demand.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

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


def resized_picture_size(image_size: int, scale: float = PICTURE_SCALE) -> int:
    """Side of the square a picture is resized to for `image_size` training images (32 -> 36)."""
    return max(image_size, int(round(image_size * scale)))


def _is_tensor(item: Any) -> bool:
    """Whether `item` is a torch tensor, without importing torch: if torch was never imported,
    nothing can be a tensor (this keeps `ipmix mixing-set` from paying torch's start-up)."""
    torch_module = sys.modules.get("torch")
    return torch_module is not None and isinstance(item, torch_module.Tensor)


def _to_rgb_array(item: Any) -> np.ndarray:
    """Convert a PIL image, an HWC/CHW array or tensor to a uint8 HWC RGB array."""
    if isinstance(item, tuple | list):
        item = item[0]
    if isinstance(item, Image.Image):
        return np.asarray(item.convert("RGB"))
    if _is_tensor(item):
        array = item.detach().cpu()
        if array.is_floating_point():
            array = (array.clamp(0, 1) * 255).round().byte()
        array = array.numpy()
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
            array = array.transpose(1, 2, 0)
    else:
        array = np.asarray(item)
    if array.dtype != np.uint8:
        raise MixingSetError(f"mixing pictures must be uint8 images, got dtype {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise MixingSetError(f"mixing pictures must be HxW, HxWx1, HxWx3 or HxWx4, got {array.shape}")
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

    def _make(self, index: int, side: int) -> np.ndarray:
        """Picture `index` as a `side` square, before memoisation."""
        return _resize_square(self[index], side)

    def to_array(self, side: int, progress: bool = True) -> np.ndarray:
        """All pictures resized to `side`, as one uint8 ``[N, side, side, 3]`` array.

        Shows a progress bar for sets of more than 1,000 pictures (generated sets render here).
        """
        from tqdm.auto import tqdm

        indices = tqdm(
            range(len(self)), desc=f"mixing pictures at {side} px", unit="pic",
            disable=not progress or len(self) <= 1000, leave=False,
        )
        return np.stack([self.picture(i, side) for i in indices])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} pictures)"

    # ---- constructors -------------------------------------------------------------------
    @staticmethod
    def from_folder(path: str | Path) -> FolderMixingSet:
        return FolderMixingSet(path)

    @staticmethod
    def from_array(array: np.ndarray | torch.Tensor) -> ArrayMixingSet:
        return ArrayMixingSet(array)

    @staticmethod
    def from_file(path: str | Path) -> ArrayMixingSet:
        """Pictures from a ``.npy`` file (memory-mapped) or a ``.npz`` file."""
        return ArrayMixingSet.from_file(path)

    @staticmethod
    def from_dataset(dataset: Sequence[Any]) -> DatasetMixingSet:
        return DatasetMixingSet(dataset)

    @staticmethod
    def from_source(source: Any) -> MixingSet:
        """Build a mixing set from whatever a user passed: set, path, array or dataset."""
        if isinstance(source, MixingSet):
            return source
        if isinstance(source, str | Path):
            path = Path(source)
            if path.is_dir():
                return FolderMixingSet(path)
            if path.suffix.lower() in ARRAY_EXTENSIONS:
                return ArrayMixingSet.from_file(path)
            if path.exists():
                raise MixingSetError(
                    f"mixing-set source {path} is neither a folder nor a .npy/.npz array file"
                )
            raise MixingSetError(f"mixing-set source not found: {path}")
        if isinstance(source, np.ndarray) or _is_tensor(source):
            return ArrayMixingSet(source)
        if hasattr(source, "__getitem__") and hasattr(source, "__len__"):
            return DatasetMixingSet(source)
        raise MixingSetError(
            f"cannot build a mixing set from {type(source).__name__}: give a folder path, "
            "a .npy/.npz file, a uint8 [N, H, W, C] array, or an indexable dataset of images"
        )


class ArrayMixingSet(MixingSet):
    """Pictures held in one uint8 ``[N, H, W, C]`` array (C = 1, 3 or 4)."""

    def __init__(self, array: np.ndarray | torch.Tensor) -> None:
        super().__init__()
        if _is_tensor(array):
            array = array.detach().cpu().numpy()
        array = np.asarray(array)
        if array.dtype != np.uint8:
            raise MixingSetError(f"a mixing-set array must be uint8, got {array.dtype}")
        if array.ndim == 3:
            array = array[..., None]
        if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
            raise MixingSetError(
                f"a mixing-set array must have shape [N, H, W, C] with C in (1, 3, 4), "
                f"got {tuple(array.shape)}"
            )
        if len(array) == 0:
            raise MixingSetError("the mixing-set array is empty")
        self.array = array

    @classmethod
    def from_file(cls, path: str | Path) -> ArrayMixingSet:
        """Load a ``.npy`` (memory-mapped, so large sets stay on disk) or ``.npz`` file.

        A ``.npz`` holding several arrays must name the pictures one of `NPZ_KEYS`.
        """
        path = Path(path)
        if not path.is_file():
            raise MixingSetError(f"mixing-set file not found: {path}")
        suffix = path.suffix.lower()
        if suffix not in ARRAY_EXTENSIONS:
            raise MixingSetError(f"mixing-set file {path} must end in .npy or .npz")
        try:
            if suffix == ".npy":
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            else:
                with np.load(path, allow_pickle=False) as archive:
                    keys = list(archive.keys())
                    key = keys[0] if len(keys) == 1 else next((k for k in NPZ_KEYS if k in keys), None)
                    if key is None:
                        raise MixingSetError(
                            f"{path} holds arrays {keys}; name the pictures one of {NPZ_KEYS}"
                        )
                    array = archive[key]
        except MixingSetError:
            raise
        except (OSError, ValueError, EOFError) as error:
            raise MixingSetError(f"cannot read mixing-set file {path}: {error}") from None
        return cls(array)

    def __len__(self) -> int:
        return len(self.array)

    def _load(self, index: int) -> np.ndarray:
        return _to_rgb_array(self.array[index])


class FolderMixingSet(MixingSet):
    """Every image file under a folder (recursively, so ImageFolder layouts work too).

    Files are checked when the set is built: unreadable ones are skipped with one warning
    naming how many; a folder without any readable image is an error.
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
        with Image.open(self.paths[index]) as image:
            return np.asarray(image.convert("RGB"))


class DatasetMixingSet(MixingSet):
    """Any indexable dataset whose items are images or ``(image, label)`` pairs."""

    def __init__(self, dataset: Sequence[Any]) -> None:
        super().__init__()
        if len(dataset) == 0:
            raise MixingSetError("the mixing-set dataset is empty")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def _load(self, index: int) -> np.ndarray:
        return _to_rgb_array(self.dataset[index])


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
        return _to_rgb_array(self.render(index, self.native_side))

    def _make(self, index: int, side: int) -> np.ndarray:
        if not 0 <= index < self.size:
            raise IndexError(f"picture index {index} out of range for {self.size} pictures")
        return _to_rgb_array(self.render(index, side))

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
