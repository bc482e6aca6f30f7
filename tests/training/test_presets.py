"""Augmentation presets per dataset and config strings (ipmix-k3-t3-a1) for --aug and Python."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipmix.augment.config_strings import (
    ConfigStringError,
    create_transform,
    format_config_string,
    parse_config_string,
)
from ipmix.augment.options import IPMixOptions
from ipmix.training import UnknownAugmentationError, build_augmentation
from ipmix.training.registry import PRESETS, preset_name


def test_imagenet_preset_of_ipmix_is_the_authors_imagenet_script():
    options = IPMixOptions.preset("imagenet")
    assert (options.op_severity, options.mixing_severity, options.all_ops) == (1.0, 4.0, True)
    assert len(options.op_names) == 15
    assert options.patch_sizes is None  # the size-aware default
    assert options.patch_size_choices(224, 224).tolist() == [4, 8, 16, 32, 64, 224]
    assert options.patch_size_choices(48, 48).tolist() == [4, 8, 16, 32, 48]
    assert round(224 * options.picture_scale) == 256  # their Resize(256) before RandomCrop(224)
    assert IPMixOptions.preset("cifar") == IPMixOptions()
    assert IPMixOptions.preset("imagenet", width=2).width == 2
    with pytest.raises(ValueError, match="unknown preset 'svhn'"):
        IPMixOptions.preset("svhn")


def test_presets_are_chosen_by_image_size():
    assert preset_name("cifar10") == "cifar10" and preset_name("cifar100") == "cifar100"
    assert preset_name("imagefolder", 224) == "imagenet" and preset_name("imagenet", 33) == "imagenet"
    assert preset_name("imagefolder", 32) == "cifar10"


def test_imagenet_settings_of_every_method():
    def built(name):
        return build_augmentation(name, "imagenet", preset="imagenet", mixing_set=None)

    assert built("mixup").batch_mixer.alpha == 0.2
    cutmix = built("cutmix").batch_mixer
    assert (cutmix.alpha, cutmix.p) == (0.2, 0.5)
    assert built("cutout").image_transform.size == 56
    augmix = built("augmix").image_transform.transform
    assert (augmix.severity, augmix.mixture_width, augmix.all_ops) == (1, 3, False)
    assert built("ipmix").image_transform.options == IPMixOptions.preset("imagenet")
    assert build_augmentation("cutout", "cifar100").image_transform.size == 8
    assert build_augmentation("cutout", "cifar10").image_transform.size == 16
    assert PRESETS["imagenet"]["pixmix"] == {"k": 4, "beta": 4.0, "severity": 1.0, "all_ops": False}
    assert "s1-b4-all" in built("ipmix").description


def test_presets_of_the_methods_beyond_the_paper():
    """AugMax, PRIME and LayerMix: their authors' CIFAR and ImageNet settings."""
    import numpy as np

    from ipmix.augment.methods.prime.transform import PRIMEOptions
    from ipmix.training import TrainConfig

    pictures = np.random.default_rng(0).integers(0, 256, (4, 40, 40, 3), dtype=np.uint8)
    imagenet = {name: build_augmentation(name, "imagenet", preset="imagenet", mixing_set=pictures)
                for name in ("augmax", "prime", "layermix")}
    assert imagenet["augmax"].model_step.steps == 5 and imagenet["augmax"].image_transform.severity == 3
    assert build_augmentation("augmax", "cifar10").model_step.steps == 10
    prime = imagenet["prime"].image_transform.options
    assert (prime.diffeo_cut, prime.color_cut, prime.color_temperature, prime.color_bandwidth) == (
        500, 500, 0.05, 20)
    assert build_augmentation("prime", "cifar10").image_transform.options == PRIMEOptions()
    layermix = imagenet["layermix"].image_transform
    assert round(224 * layermix.picture_scale) == 256 and layermix.magnitude == 3.0
    assert "[picture scale 1.143]" in imagenet["layermix"].description
    assert build_augmentation("prime-c50-t0.02", "cifar10").image_transform.options.diffeo_cut == 50
    assert build_augmentation("layermix-m4", mixing_set=pictures).image_transform.magnitude == 4.0
    # PRIME runs per batch by default on CUDA, as its authors run it inside the forward pass
    assert TrainConfig(out="-", aug="prime", model="small").resolved("cuda").batched is True
    assert TrainConfig(out="-", aug="prime", model="small").resolved("cpu").batched is False


def test_config_strings_override_the_preset():
    aug = build_augmentation("ipmix-k2-s2", "imagefolder", preset="imagenet")
    options = aug.image_transform.options
    assert (options.width, options.op_severity, options.mixing_severity) == (2, 2.0, 4.0)
    assert aug.name == "ipmix" and aug.jsd
    assert build_augmentation("cutout-s24", "cifar10").image_transform.size == 24
    assert build_augmentation("mixup-a0.4").batch_mixer.alpha == 0.4
    no_patch = build_augmentation("ipmix-no-patch-t2", batched=True).batch_transform
    assert no_patch.options.depth == 2 and not no_patch.options.patch_level
    with pytest.raises(UnknownAugmentationError, match="unknown setting 'q3' for ipmix"):
        build_augmentation("ipmix-q3")
    with pytest.raises(UnknownAugmentationError, match="'trivialaugment' takes no settings"):
        build_augmentation("trivialaugment-m3")


def test_the_python_factory_builds_transforms_from_strings():
    ipmix = create_transform("ipmix-k3-t3-a1", IPMixOptions.preset("imagenet"), seed=0)
    assert type(ipmix).__name__ == "IPMix" and ipmix.options.alpha == 1.0
    assert ipmix.options.picture_scale == IPMixOptions.preset("imagenet").picture_scale
    assert type(create_transform("ipmix-official", batched=True, views=2)).__name__ == "IPMixBatch"
    augmix = create_transform("augmix-m3-w3-d2")
    assert (augmix.severity, augmix.mixture_width, augmix.chain_depth) == (3, 3, 2)
    with pytest.raises(ConfigStringError, match="width must be a whole number"):
        create_transform("ipmix-k2.5")
    with pytest.raises(ConfigStringError, match="batched applies to"):
        create_transform("augmix", batched=True)


@given(width=st.integers(1, 9), depth=st.integers(1, 9), alpha=st.floats(1e-4, 100),
       severity=st.sampled_from([0.5, 1.0, 3.0, 10.0]), flags=st.sets(st.sampled_from(
           ["all", "official", "linear"])))
def test_config_strings_round_trip(width, depth, alpha, severity, flags):
    options = {"width": width, "depth": depth, "alpha": float(alpha), "op_severity": severity}
    for flag in sorted(flags):
        options.update({"all": {"all_ops": True}, "official": {"mode": "official"},
                        "linear": {"framework": "linear"}}[flag])
    text = format_config_string("ipmix", options)
    parsed = parse_config_string(text)
    assert parsed.name == "ipmix" and parsed.options == options
    assert str(parsed) == text
