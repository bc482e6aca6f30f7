"""What the corruption and perturbation presets share: a read-only table that pickles, and an identity.

A preset is a frozen dataclass with a ``name``, a ``source`` (where its constants come from) and a
``table`` of constants. `TablePreset` freezes the table on construction (plain dicts are accepted)
and pickles the preset by its values, so that any preset object, registered or not, reaches
worker processes as itself. `preset_identity` is what a generated folder records of its preset:
the name of a registered one, or the name and a stable hash of the parameters of any other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields
from types import MappingProxyType
from typing import Any

DESCRIPTIVE_FIELDS = ("name", "source")
"""Fields that say what a preset is called and where it comes from; they change no output."""


def frozen(value: Any) -> Any:
    """`value` with every mapping in it (at any depth) made a read-only mapping."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: frozen(item) for key, item in value.items()})
    return value


def plain(value: Any) -> Any:
    """`value` with every mapping in it made a dict (``MappingProxyType`` does not pickle)."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    return value


class TablePreset:
    """Base of the preset dataclasses: a frozen `table`, pickled by value."""

    table: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", frozen(self.table))

    def __reduce__(self) -> tuple:
        return type(self), tuple(plain(getattr(self, field.name)) for field in fields(self))

    def parameters_sha256(self) -> str:
        """The SHA-256 of the preset's parameters (all fields but its name and source), as
        canonical JSON: the same for equal parameters in any process and any session."""
        parameters = {
            field.name: plain(getattr(self, field.name))
            for field in fields(self)
            if field.name not in DESCRIPTIVE_FIELDS
        }
        text = json.dumps(parameters, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()


def preset_identity(spec: Any, registered: Mapping[str, Any]) -> dict[str, str]:
    """What a folder's ``ipmix-meta.json`` records of `spec`: ``{"preset": name}`` when it equals
    the registered preset of that name, else the name and ``preset_sha256`` of its parameters (an
    unregistered preset, or one that reuses a registered name with other constants)."""
    if registered.get(spec.name) == spec:
        return {"preset": spec.name}
    return {"preset": spec.name, "preset_sha256": spec.parameters_sha256()}
