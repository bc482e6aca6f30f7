"""Presets: frozen tables that pickle by value, and the identity a generated folder records."""

from __future__ import annotations

import pickle
from dataclasses import replace
from types import MappingProxyType

import pytest

from ipmix.corruptions.imagenet_c.presets import CIFAR, IMAGENET, PRESETS, CorruptionPreset
from ipmix.corruptions.perturbations.presets import CIFAR_P, IMAGENET_P, P_PRESETS, PerturbationPreset
from ipmix.corruptions.tables import preset_identity

# parameters_sha256 of the perturbation presets and their order, taken from the tables as they
# were written before the builder of perturbation_presets.py (commit a7f87bb): the rewrite keeps
# every value, its type (int or float) and the order of the perturbations.
P_SNAPSHOT = {
    "cifar": (
        "5627277255ee1867c6e3d00012257daff742bceb6e556b5825430d225eb56ac1",
        "gaussian_noise shot_noise motion_blur zoom_blur spatter brightness translate rotate tilt scale",
    ),
    "imagenet": (
        "b9649c5fcc657e8297b98f0e66587f26112248e9c1dcb3c9c5a0f07dc80e72ff",
        "gaussian_noise shot_noise motion_blur zoom_blur snow brightness translate rotate tilt scale "
        "speckle_noise gaussian_blur spatter shear gaussian_noise_2 gaussian_noise_3 shot_noise_2 "
        "shot_noise_3 speckle_noise_2 speckle_noise_3",
    ),
}


@pytest.mark.parametrize("name", sorted(P_SNAPSHOT))
def test_perturbation_tables_are_those_of_before(name: str) -> None:
    preset = P_PRESETS[name]
    assert (preset.parameters_sha256(), " ".join(preset.table)) == P_SNAPSHOT[name]
    assert all(isinstance(params, MappingProxyType) for params in preset.table.values())


def test_perturbation_values_keep_their_types() -> None:
    assert IMAGENET_P.table["spatter"]["taps"] == (0.05, 0.1, 0.15, 0.7)
    motion = {"frames": 21, "radius": 6, "sigma": 1.8, "step": 9.0, "offset": 20}
    assert CIFAR_P.table["motion_blur"] == motion
    assert [type(v) for v in CIFAR_P.table["motion_blur"].values()] == [int, int, float, float, int]


@pytest.mark.parametrize("preset", [*PRESETS.values(), *P_PRESETS.values()], ids=repr)
def test_presets_pickle_by_value(preset) -> None:
    copy = pickle.loads(pickle.dumps(preset))
    assert copy == preset and copy is not preset and type(copy) is type(preset)
    assert isinstance(copy.table, MappingProxyType)
    assert copy.parameters_sha256() == preset.parameters_sha256()


def test_tables_are_frozen_whatever_is_given() -> None:
    corruption = CorruptionPreset(name="x", source="test", size=32, resize=None, frost_scale=0.2,
                                  elastic_unit=32, table={**CIFAR.table})  # fmt: skip
    perturbation = PerturbationPreset(name="y", source="test", size=32, resize=None,
                                      table={"rotate": {"step": 1.0}})  # fmt: skip
    assert corruption.table == CIFAR.table and isinstance(corruption.table, MappingProxyType)
    with pytest.raises(TypeError):
        perturbation.table["rotate"]["step"] = 2.0  # type: ignore[index]
    assert pickle.loads(pickle.dumps(perturbation)) == perturbation


def test_identity_names_a_registered_preset_and_hashes_any_other() -> None:
    assert preset_identity(IMAGENET, PRESETS) == {"preset": "imagenet"}
    assert preset_identity(replace(IMAGENET), PRESETS) == {"preset": "imagenet"}  # equal: the same preset
    assert preset_identity(pickle.loads(pickle.dumps(CIFAR_P)), P_PRESETS) == {"preset": "cifar"}
    renamed = replace(CIFAR, name="my-cifar", source="elsewhere")
    expected = {"preset": "my-cifar", "preset_sha256": CIFAR.parameters_sha256()}  # source: no parameter
    assert preset_identity(renamed, PRESETS) == expected
    changed = replace(CIFAR, frost_scale=0.25)  # a registered name, other constants
    identity = preset_identity(changed, PRESETS)
    assert identity["preset"] == "cifar" and identity["preset_sha256"] != CIFAR.parameters_sha256()
    table = {**IMAGENET_P.table, "rotate": {"step": 2.0}}
    assert replace(IMAGENET_P, table=table).parameters_sha256() != IMAGENET_P.parameters_sha256()
    assert replace(IMAGENET_P, resize=None).parameters_sha256() != IMAGENET_P.parameters_sha256()
