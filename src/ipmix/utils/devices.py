"""Torch devices named by users (``--device``), checked before any work depends on them."""

from __future__ import annotations

import torch


class DeviceUnavailableError(ValueError):
    """A device name torch does not know, or a device this machine does not have."""


def torch_device(name: str | torch.device, what: str = "device") -> torch.device:
    """`name` as a `torch.device` that exists here, or `DeviceUnavailableError` saying why.

    Catches ``cuda`` on a machine without CUDA (which would otherwise surface later, e.g. as a
    checkpoint that "cannot be read"), a CUDA index beyond the GPUs present, and any other
    device type torch cannot allocate on (probed with an empty tensor).
    """
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise DeviceUnavailableError(f"unknown {what} {str(name)!r}: {error}") from None
    if device.type == "cpu":
        return device
    if device.type == "meta":
        raise DeviceUnavailableError(
            f"{what} {str(name)!r} holds shapes, not values: nothing can be trained or evaluated "
            "there; use cpu or cuda"
        )
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"{what} {str(name)!r} asked for, but torch finds no CUDA GPU here "
                f"(torch {torch.__version__}, torch.cuda.is_available() is False); use cpu"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceUnavailableError(
                f"{what} {str(name)!r} asked for, but this machine has {count} CUDA GPU(s)"
            )
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DeviceUnavailableError(f"{what} {str(name)!r} is not usable here: {reason}") from None
    return device


__all__ = ["DeviceUnavailableError", "torch_device"]
