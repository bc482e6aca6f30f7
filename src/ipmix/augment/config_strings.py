"""Augmentations from config strings, in timm's style (``augmix-m3-w3-d2``): ``ipmix-k3-t3-a1``.

A config string is a method name followed by ``-``-separated settings, each a key and a
number (``k3``, ``a0.5``) or a flag word (``all``). Settings override the method's defaults
(for training: the dataset's preset, see `ipmix.training.registry.PRESETS`).

Keys (option) and flags per method:

- ``ipmix``, ``ipmix-no-patch``, ``ipmix-no-pixel``, ``ipmix-no-image``: ``k`` width, ``t``
  depth, ``a`` alpha, ``s`` op severity, ``b`` mixing severity (beta); flags ``all`` (all 15
  ops), ``base`` (the 10 default ops), ``official`` (mode), ``linear``, ``mixed`` (framework);
- ``augmix`` (torchvision's): ``m`` severity, ``w`` width, ``d`` depth (default: 1-3 per
  chain), ``a`` alpha; flags ``all``, ``base``;
- ``pixmix``: ``k`` rounds, ``b`` beta, ``s`` op severity; flags ``all``, ``base``;
- ``augmax``: ``m`` severity, ``w`` width, ``d`` depth (-1: 1-3 per chain), ``n`` ascent steps,
  ``a`` ascent step size, ``t`` FAT budget (tau);
- ``prime``: ``w`` width, ``d`` depth, ``c`` largest diffeomorphism cut-off, ``k`` largest
  colour cut-off, ``t`` colour temperature, ``b`` colour bandwidth, ``s`` filter sigma;
- ``layermix``: ``m`` magnitude, ``b`` blending ratio;
- ``cutout``: ``s`` size in pixels;
- ``mixup``: ``a`` alpha; ``cutmix``: ``a`` alpha, ``p`` probability.

`create_transform("ipmix-k3-t3-a1", mixing_set=...)` builds the per-image transform of a
string (``batched=True``: `ipmix.IPMixBatch`, `ipmix.augment.methods.prime.transform.PRIMEBatch`); mixup and
cutmix are batch mixers, built by the training registry from `parse_config_string`; AugMax's
per-image part is its chains (`ipmix.augment.methods.augmax.AugMaxChains`), its model-in-the-loop step
is the training registry's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ipmix.augment.options import IPMixOptions

#: IPMix variants (paper Table 7) and the level switch each one turns off.
IPMIX_VARIANTS: dict[str, dict[str, bool]] = {
    "ipmix": {},
    "ipmix-no-patch": {"patch_level": False},
    "ipmix-no-pixel": {"pixel_level": False},
    "ipmix-no-image": {"image_level": False},
}
_IPMIX_KEYS = {"k": "width", "t": "depth", "a": "alpha", "s": "op_severity", "b": "mixing_severity"}
_IPMIX_FLAGS: dict[str, tuple[str, Any]] = {
    "all": ("all_ops", True), "base": ("all_ops", False), "official": ("mode", "official"),
    "linear": ("framework", "linear"), "mixed": ("framework", "mixed-input"),
}
_OPS_FLAGS: dict[str, tuple[str, Any]] = {"all": ("all_ops", True), "base": ("all_ops", False)}

#: method -> (key -> option name, flag -> (option name, value)).
SCHEMAS: dict[str, tuple[dict[str, str], dict[str, tuple[str, Any]]]] = {
    **{name: (_IPMIX_KEYS, _IPMIX_FLAGS) for name in IPMIX_VARIANTS},
    "augmix": ({"m": "severity", "w": "mixture_width", "d": "chain_depth", "a": "alpha"}, _OPS_FLAGS),
    "pixmix": ({"k": "k", "b": "beta", "s": "severity"}, _OPS_FLAGS),
    "augmax": ({"m": "severity", "w": "width", "d": "depth", "n": "steps", "a": "step_size",
                "t": "tau"}, {}),
    "prime": ({"w": "width", "d": "depth", "c": "diffeo_cut", "k": "color_cut",
               "t": "color_temperature", "b": "color_bandwidth", "s": "filter_sigma"}, {}),
    "layermix": ({"m": "magnitude", "b": "blending_ratio"}, {}),
    "cutout": ({"s": "size"}, {}),
    "mixup": ({"a": "alpha"}, {}),
    "cutmix": ({"a": "alpha", "p": "p"}, {}),
}
#: Methods with a per-batch transform on the device (``batched=True``).
BATCHED: tuple[str, ...] = (*IPMIX_VARIANTS, "prime")
_SETTING = re.compile(r"([a-z]+)(\d+(?:\.\d*)?|\.\d+)")
#: Options that take whole numbers.
_INTEGER_OPTIONS = frozenset({"width", "depth", "mixture_width", "chain_depth", "k", "size",
                              "steps", "tau", "diffeo_cut", "color_cut", "color_bandwidth"})


class ConfigStringError(ValueError):
    """A config string naming an unknown method or setting."""


@dataclass(frozen=True)
class ConfigString:
    """A parsed config string: the method name and the options its settings set."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return format_config_string(self.name, self.options)


def _number(text: str, option: str, spec: str, name: str) -> int | float:
    try:
        value = float(text)
    except ValueError as error:
        raise ConfigStringError(f"{spec!r}: {text!r} is not a number (for {option})") from error
    if option in _INTEGER_OPTIONS or (name, option) == ("augmix", "severity"):
        if value != int(value):
            raise ConfigStringError(f"{spec!r}: {option} must be a whole number, got {text}")
        return int(value)
    return value


def parse_config_string(spec: str, names: Iterable[str] = ()) -> ConfigString:
    """Split `spec` into a method name and options.

    The name is the longest prefix of ``-``-joined words that is one of `names` or of
    `SCHEMAS`; methods without a schema take no settings.
    """
    words = spec.strip().split("-")
    known = set(names) | set(SCHEMAS)
    for cut in range(len(words), 0, -1):
        name = "-".join(words[:cut])
        if name in known:
            break
    else:
        raise ConfigStringError(f"unknown augmentation {spec!r}; choose one of {', '.join(sorted(known))}")
    settings = words[cut:]
    if settings and name not in SCHEMAS:
        raise ConfigStringError(f"{spec!r}: {name!r} takes no settings")
    keys, flags = SCHEMAS.get(name, ({}, {}))
    options: dict[str, Any] = {}
    for word in settings:
        if word in flags:
            option, value = flags[word]
        else:
            match = _SETTING.fullmatch(word)
            if match is None or match.group(1) not in keys:
                allowed = [f"{k}<{v}>" for k, v in keys.items()] + list(flags)
                raise ConfigStringError(
                    f"{spec!r}: unknown setting {word!r} for {name}; use {', '.join(allowed)}"
                )
            option = keys[match.group(1)]
            value = _number(match.group(2), option, spec, name)
        options[option] = value
    return ConfigString(name, options)


def _format_number(value: float) -> str:
    """Shortest digits that read back as `value`, never in exponent form (``-`` separates)."""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return np.format_float_positional(value, trim="-")
    return str(value)


def format_config_string(name: str, options: Mapping[str, Any]) -> str:
    """The config string of `name` with `options` (inverse of `parse_config_string`)."""
    keys, flags = SCHEMAS.get(name, ({}, {}))
    words = [name]
    by_option = {option: key for key, option in keys.items()}
    for option, value in options.items():
        if option in by_option:
            number = _format_number(value)
            words.append(f"{by_option[option]}{number}")
            continue
        flag = next((f for f, (o, v) in flags.items() if o == option and v == value), None)
        if flag is None:
            raise ConfigStringError(f"{name}: option {option}={value!r} has no config-string form")
        words.append(flag)
    return "-".join(words)


def ipmix_options(name: str, defaults: Mapping[str, Any] | None = None,
                  **options: Any) -> IPMixOptions:
    """The options of IPMix variant `name`: `defaults` (e.g. a preset's), then `options`."""
    if name not in IPMIX_VARIANTS:
        raise ConfigStringError(f"{name!r} is not an IPMix variant ({', '.join(IPMIX_VARIANTS)})")
    return IPMixOptions(**{**dict(defaults or {}), **options, **IPMIX_VARIANTS[name]})


def _options_dict(options: IPMixOptions) -> dict[str, Any]:
    return {f.name: getattr(options, f.name) for f in fields(options) if f.init}


def create_transform(
    spec: str | ConfigString,
    defaults: Mapping[str, Any] | IPMixOptions | None = None,
    mixing_set: Any = None,
    seed: int | None = None,
    batched: bool = False,
    views: int = 1,
) -> Any:
    """The transform a config string names, its settings on top of `defaults`.

    ipmix variants give `ipmix.IPMix` (``batched=True``: `ipmix.IPMixBatch` with `views`),
    ``augmix`` torchvision's ``AugMix`` (it draws from torch's global generator), ``pixmix``
    `ipmix.augment.methods.baselines.PixMix`, ``cutout`` `ipmix.augment.methods.baselines.CutOut`, ``augmax``
    its chains `ipmix.augment.methods.augmax.AugMaxChains` (the ascent settings are the training
    step's), ``prime`` `ipmix.augment.methods.prime.transform.PRIME` (``batched=True``: ``PRIMEBatch`` with
    `views`), ``layermix`` `ipmix.augment.methods.layermix.LayerMix`.
    """
    parsed = spec if isinstance(spec, ConfigString) else parse_config_string(spec)
    base = _options_dict(defaults) if isinstance(defaults, IPMixOptions) else dict(defaults or {})
    if batched and parsed.name not in BATCHED:
        raise ConfigStringError(f"batched applies to {', '.join(BATCHED)}, not {parsed.name!r}")
    if parsed.name in IPMIX_VARIANTS:
        options = ipmix_options(parsed.name, base, **parsed.options)
        if batched:
            from ipmix.augment.batched import IPMixBatch

            transform: Any = IPMixBatch(mixing_set, seed=seed, views=views)
        else:
            from ipmix.augment.ipmix import IPMix

            transform = IPMix(mixing_set, seed=seed)
        transform.options = options  # every option, picture_scale included
        return transform
    options = {**base, **parsed.options}
    if parsed.name == "augmix":
        from torchvision.transforms import v2

        return v2.AugMix(**options)
    if parsed.name == "pixmix":
        from ipmix.augment.methods.baselines import PixMix

        return PixMix(mixing_set, seed=seed, **options)
    if parsed.name == "cutout":
        from ipmix.augment.methods.baselines import CutOut

        return CutOut(seed=seed, **options)
    if parsed.name == "augmax":
        from ipmix.augment.methods.augmax import AugMaxChains

        chains = {key: options[key] for key in ("severity", "width", "depth") if key in options}
        return AugMaxChains(seed=seed, **chains)
    if parsed.name == "prime":
        from ipmix.augment.methods.prime.transform import PRIME, PRIMEBatch

        return PRIMEBatch(seed=seed, views=views, **options) if batched else PRIME(seed=seed, **options)
    if parsed.name == "layermix":
        from ipmix.augment.methods.layermix import LayerMix

        return LayerMix(mixing_set, seed=seed, **options)
    raise ConfigStringError(f"{parsed.name!r} is not a per-image transform of ipmix.augment")
