"""ImageNet-P: PyAV decoding of a tiny video the test writes, flip probability and top-5 distance
against hand-computed values, and a transcription of the reference's rank distance."""

from __future__ import annotations

import numpy as np
import pytest
from fake_benchmarks import WNIDS, GreyLevelModel, write_video
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import rankdata

from ipmix.robustness.benchmarks.imagenet_p import (
    EXTRA_PERTURBATIONS,
    IMAGENET_P_PERTURBATIONS,
    read_video,
    top5_distance,
)
from ipmix.robustness.imagenet_suite import evaluate_imagenet
from ipmix.robustness.predict import SuiteError

A, B = 32 * 3 + 10, 32 * 4 + 10  # GreyLevelModel: top-5 [3, 4, 2, 5, 1] and [4, 5, 3, 6, 2]


def test_read_video_decodes_the_frames_written(tmp_path):
    path = write_video(tmp_path / "v.mp4", [A, B, A, 250])
    frames = read_video(path)
    assert frames.shape == (4, 16, 16, 3) and frames.dtype == np.uint8
    np.testing.assert_allclose(frames.reshape(4, -1).mean(1), [A, B, A, 250], atol=3)
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    with pytest.raises(SuiteError, match=r"cannot decode video .*bad\.mp4"):
        read_video(tmp_path / "bad.mp4")


def _layout(root, sequences, names=IMAGENET_P_PERTURBATIONS, size=16):
    for name in names:
        for i, values in enumerate(sequences):
            write_video(root / name / WNIDS[3] / f"{i}.mp4", values, size)


def test_flip_probability_and_top5_distance_by_hand(tmp_path):
    _layout(tmp_path / "p", [[A, A, B, A]], [*IMAGENET_P_PERTURBATIONS, "shear"])
    baseline = {"imagenet_p": {
        "flip_probability": {name: 200 / 3 for name in IMAGENET_P_PERTURBATIONS},
        "top5_distance": {name: 4.0 for name in IMAGENET_P_PERTURBATIONS},
    }, "meta": {"model_name": "alexnet"}}
    results = evaluate_imagenet(GreyLevelModel(), imagenet_p=tmp_path / "p", image_size=16,
                                progress=False, baseline=baseline)
    part = results["imagenet_p"]
    # others, against the previous frame: A A (same), A B (flip, T5D 8), B A (flip, T5D 9)
    # noise, against frame 0: A A, A B (flip, 8), A A
    for name in [*IMAGENET_P_PERTURBATIONS, "shear"]:
        noise = "noise" in name
        assert part["flip_probability"][name] == pytest.approx(100 / 3 if noise else 200 / 3)
        assert part["top5_distance"][name] == pytest.approx(8 / 3 if noise else 17 / 3)
    assert set(part["flip_probability"]) == {*IMAGENET_P_PERTURBATIONS, "shear"}
    fp = [100 / 3 if "noise" in n else 200 / 3 for n in IMAGENET_P_PERTURBATIONS]
    assert part["mfr_unnormalized"] == pytest.approx(np.mean(fp))
    assert part["mfr"] == pytest.approx(100 * np.mean([f / (200 / 3) for f in fp]))
    t5d = [8 / 3 if "noise" in n else 17 / 3 for n in IMAGENET_P_PERTURBATIONS]
    assert part["mt5d"] == pytest.approx(100 * np.mean([d / 4 for d in t5d]))
    assert part["normalized_by"] == "alexnet" and "shear" in EXTRA_PERTURBATIONS


def test_sequences_of_other_lengths_and_bad_files(tmp_path):
    _layout(tmp_path / "p", [[A, B], [A, A, A]])
    results = evaluate_imagenet(GreyLevelModel(), imagenet_p=tmp_path / "p", image_size=16,
                                progress=False)
    # mean over sequences: (1 + 0) / 2 flips
    assert results["imagenet_p"]["flip_probability"]["rotate"] == pytest.approx(50.0)
    assert results["imagenet_p"]["mfr"] is None  # no baseline: unnormalised only
    with pytest.raises(SuiteError, match="frames are 16x16 but the model evaluates 32x32"):
        evaluate_imagenet(GreyLevelModel(), imagenet_p=tmp_path / "p", image_size=32, progress=False)
    write_video(tmp_path / "p" / "tilt" / WNIDS[3] / "short.mp4", [A])
    with pytest.raises(SuiteError, match=r"short\.mp4: a sequence needs at least 2 frames"):
        evaluate_imagenet(GreyLevelModel(), imagenet_p=tmp_path / "p", image_size=16, progress=False)
    import shutil

    shutil.rmtree(tmp_path / "p" / "snow")
    with pytest.raises(SuiteError, match=r"lacks perturbation folder\(s\) snow"):
        evaluate_imagenet(GreyLevelModel(), imagenet_p=tmp_path / "p", image_size=16, progress=False)


def _reference_distance(scores: np.ndarray, noise: bool) -> float:
    """hendrycks/robustness ImageNet-P/test.py ranking_dist (mode 'top5', difficulty 1),
    written from its description: full ordinal rankings of every frame, and for each pair
    sum_{j<5} |j - min(rank_in_second(j-th class of first) - 1, 5)|."""
    per_video = []
    for video in scores:
        ranks = [rankdata(-frame, method="ordinal").astype(int) for frame in video]
        values = []
        first = ranks[0]
        for second in ranks[1:]:
            order = np.argsort(first)  # classes by their rank in the first frame
            sigma = second[order]
            values.append(sum(abs(j - min(sigma[j] - 1, 5)) for j in range(5)))
            if not noise:
                first = second
        per_video.append(np.mean(values))
    return float(np.mean(per_video))


@given(st.integers(0, 2**31 - 1), st.booleans())
def test_top5_distance_matches_the_reference_on_full_rankings(seed, noise):
    import torch

    from ipmix.robustness.predict import top_classes

    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(3, 4, 20)).astype(np.float32)  # many ties on purpose
    top5 = top_classes(torch.from_numpy(scores.reshape(-1, 20)), 5).numpy().reshape(3, 4, 5)
    assert top5_distance(top5, noise) == pytest.approx(_reference_distance(scores, noise))
