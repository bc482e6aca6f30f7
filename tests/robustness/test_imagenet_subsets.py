"""ImageNet-R / -A: the 200-class masks; ImageNet-O: AUPR with anomalies positive, val restricted.

A fake 1,000-class model with known logits: unmasked, its arg-max is always a class outside the
subset, so a harness without the mask scores 0; the expected values are computed by hand.
"""

from __future__ import annotations

import math

import pytest
from fake_benchmarks import WNIDS, LogitTable, write_image

from ipmix.robustness.benchmarks.imagenet_subsets import subset_columns, subset_wnids
from ipmix.robustness.imagenet_suite import evaluate_imagenet
from ipmix.robustness.predict import SuiteError

POSITION = {wnid: i for i, wnid in enumerate(WNIDS)}


def test_the_shipped_subsets_match_their_references():
    for name in ("imagenet-r", "imagenet-a", "imagenet-o"):
        wnids = subset_wnids(name)
        assert len(wnids) == len(set(wnids)) == 200 and list(wnids) == sorted(wnids)
        assert set(wnids) <= set(WNIDS)
    # spot checks against the references' own index lists (imagenet-r eval.py's comment;
    # natural-adv-examples eval.py's thousand_k_to_200 keys)
    assert list(subset_columns("imagenet-r", WNIDS)[:10]) == [1, 2, 4, 6, 8, 9, 11, 13, 22, 23]
    assert list(subset_columns("imagenet-r", WNIDS)[-3:]) == [981, 983, 988]
    assert list(subset_columns("imagenet-a", WNIDS)[:5]) == [6, 11, 13, 15, 17]
    assert list(subset_columns("imagenet-a", WNIDS)[-3:]) == [986, 987, 988]
    with pytest.raises(SuiteError, match="needs a model of ImageNet classes"):
        subset_columns("imagenet-r", [f"c{i}" for i in range(1000)])


def _outside(benchmark: str) -> int:
    """A model column outside the benchmark's 200."""
    inside = set(subset_columns(benchmark, WNIDS).tolist())
    return next(i for i in range(1000) if i not in inside)


@pytest.mark.parametrize("benchmark", ["imagenet-r", "imagenet-a"])
def test_200_class_accuracy_uses_the_mask(tmp_path, benchmark):
    wnids = subset_wnids(benchmark)
    table = LogitTable()
    distractor = _outside(benchmark)
    for k, wnid in enumerate(wnids):
        # every 4th image is wrong inside the 200 (and less confident); unmasked, the
        # distractor always wins
        wrong = k % 4 == 3
        target = wnids[(k + 1) % 200] if wrong else wnid
        code = table.add({distractor: 9.0, POSITION[target]: 2.0 if wrong else 4.0})
        write_image(tmp_path / benchmark / wnid / "0", code)
    results = evaluate_imagenet(table.model(), image_size=8, progress=False,
                                **{benchmark.replace("-", "_"): tmp_path / benchmark})
    part = results[benchmark.replace("-", "_")]
    assert part["accuracy"] == pytest.approx(75.0) and part["error"] == pytest.approx(25.0)
    # softmax over the 200 masked logits only: one logit a, 199 zeros
    right, wrong = (math.exp(a) / (math.exp(a) + 199) for a in (4.0, 2.0))
    # sorted by confidence, bins of 100: the 50 wrong and 50 right ones, then 100 right ones
    first = (50 * wrong + 50 * right) / 100
    expected = math.sqrt(0.5 * (first - 0.5) ** 2 + 0.5 * (right - 1.0) ** 2)
    assert part["rms"] == pytest.approx(100 * expected)
    assert part["rms_reference"] == pytest.approx(100 * math.sqrt(0.5 * (first - 0.5) ** 2))
    assert part["count"] == 200
    assert results["meta"]["imagenet"]["not_run"]["imagenet-c"] == "not given"


def test_a_folder_with_other_classes_is_refused(tmp_path):
    wnids = subset_wnids("imagenet-r")
    for wnid in wnids[:199]:
        write_image(tmp_path / "r" / wnid / "0", 1)
    write_image(tmp_path / "r" / "n01440764" / "0", 1)  # not an ImageNet-R class
    table = LogitTable()
    with pytest.raises(SuiteError, match=r"missing n12267677.*not ImageNet-R classes: n01440764"):
        evaluate_imagenet(table.model(), imagenet_r=tmp_path / "r", image_size=8, progress=False)


def _logits_for_msp(p: float, column: int, masked_out: int) -> dict[int, float]:
    """Masked to the 200, one logit a and 199 zeros give MSP e^a / (e^a + 199) = p; the
    column outside the mask is huge, so an unmasked softmax would give another MSP. The same
    `column` for every image makes equal MSPs bit-identical (ties the AUPR groups)."""
    return {column: math.log(199 * p / (1 - p)), masked_out: 20.0}


def test_imagenet_o_aupr_with_anomalies_positive(tmp_path):
    wnids = subset_wnids("imagenet-o")
    table = LogitTable()
    outside = _outside("imagenet-o")
    column = POSITION[wnids[0]]
    for k, wnid in enumerate(wnids):
        anomaly_msp = 0.2 if k < 50 else 0.7  # 50 very anomalous, 150 less so
        write_image(tmp_path / "o" / wnid / "0", table.add(
            _logits_for_msp(anomaly_msp, column, outside)))
        normal_msp = 0.9 if k < 100 else 0.5
        write_image(tmp_path / "val" / wnid / "0", table.add(
            _logits_for_msp(normal_msp, column, outside)))
    # a validation image of a class outside ImageNet-O: the protocol leaves it out
    write_image(tmp_path / "val" / WNIDS[outside] / "0", table.add(
        _logits_for_msp(0.05, column, outside)))
    results = evaluate_imagenet(table.model(), imagenet_o=tmp_path / "o", imagenet_val=tmp_path / "val",
                                image_size=8, progress=False)
    part = results["imagenet_o"]
    # ranked by -MSP: 50 anomalies, 100 normals, 150 anomalies, 100 normals
    # AP = 0.25 * 1 + 0.75 * 200 / 300 = 0.75 (normals positive would give 0.7857; the
    # out-of-subset val image, if kept, would lower the first precision to 50 / 51)
    assert part["aupr"] == pytest.approx(75.0)
    assert part["count"] == 200 and part["in_distribution_count"] == 200
    # AUROC: P(anomaly score > normal score) = (50 * 200 + 150 * 100) / (200 * 200)
    assert part["auroc"] == pytest.approx(100 * 25000 / 40000)
    with pytest.raises(SuiteError, match="ImageNet-O needs ImageNet val"):
        evaluate_imagenet(table.model(), imagenet_o=tmp_path / "o", image_size=8, progress=False)
