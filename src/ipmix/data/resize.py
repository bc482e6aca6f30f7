"""The PIL steps of the evaluation transform, torch-free: resize the shorter side, crop the centre.

torchvision's ``Resize(s)`` and ``CenterCrop(s)`` on PIL images, so that what does not need torch
(the corruption writers of ``ipmix.corruptions``) gets the same pixels without it;
`ipmix.data.transforms` builds the training and evaluation transforms on them.
"""

from __future__ import annotations

from PIL import Image

#: Evaluation resize / crop ratio of torchvision's references (Resize(256), CenterCrop(224)).
EVAL_RESIZE_RATIO = 256 / 224


def eval_resize(size: int) -> int:
    """The shorter side evaluation images are resized to before the centre crop (224 -> 256)."""
    return int(round(size * EVAL_RESIZE_RATIO))


def resize_shorter(image: Image.Image, size: int) -> Image.Image:
    """Resize so that the shorter side is `size` (bilinear, antialiased, as torchvision's PIL path)."""
    width, height = image.size
    if min(width, height) == size:
        return image
    if width <= height:
        new = (size, max(1, int(size * height / width)))
    else:
        new = (max(1, int(size * width / height)), size)
    return image.resize(new, Image.Resampling.BILINEAR)


def center_crop(image: Image.Image, size: int) -> Image.Image:
    """The centre ``size x size`` of an image at least that large, as torchvision's
    ``center_crop`` rounds its offsets."""
    width, height = image.size
    if min(width, height) < size:
        raise ValueError(f"cannot crop {size} x {size} from a {width} x {height} image")
    top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    return image.crop((left, top, left + size, top + size))
