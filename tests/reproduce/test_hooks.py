"""The two small hooks reproduce needs: IPMix options through training, predictions out of the suite."""

import numpy as np
import pytest
import torch

from ipmix.training import ConfigError, TrainConfig, build_augmentation


def test_ipmix_options_reach_the_transform():
    augmentation = build_augmentation("ipmix", options={"framework": "linear", "box_shapes": ["scar"]})
    assert augmentation.image_transform.options.framework == "linear"
    assert augmentation.image_transform.options.box_shapes == ("scar",)
    batched = build_augmentation("ipmix-no-patch", batched=True, options={"mixing_ops": ["add"]})
    assert batched.batch_transform.options.mixing_ops == ("add",)
    assert batched.batch_transform.options.patch_level is False


@pytest.mark.parametrize(("aug", "options", "message"), [
    ("augmix", {"framework": "linear"}, "augmentation options apply to ipmix"),
    ("ipmix-no-image", {"image_level": True}, "sets image_level itself"),
    ("ipmix", {"frame": "linear"}, "unknown IPMix option"),
    ("ipmix", {"framework": "spiral"}, "framework must be 'chain', 'linear' or 'mixed-input'"),
])
def test_bad_ipmix_options_fail_before_training(aug, options, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(out="unused", aug=aug, aug_options=options).resolved()


def test_suite_hands_out_every_sets_predictions():
    from ipmix.data.cifar import CifarArrays
    from ipmix.robustness.suite import evaluate

    rng = np.random.default_rng(0)
    arrays = CifarArrays(rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8),
                         np.arange(12) % 10, tuple(str(i) for i in range(10)))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    seen = {}
    results = evaluate(model, suite="clean,pgd,ood", data=arrays, progress=False,
                       on_predictions=lambda label, p: seen.setdefault(label, p))
    assert {"clean", "pgd"} <= set(seen) and any(label.startswith("OOD ") for label in seen)
    assert seen["clean"].shape == (12, 10)
    wrong = 100 * np.mean(seen["pgd"].argmax(1) != arrays.labels)
    assert wrong == pytest.approx(results["pgd"]["error"])
