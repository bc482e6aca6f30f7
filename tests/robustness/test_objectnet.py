"""ObjectNet: the release's mapping files, max-pooled class groups, the cropped border."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fake_benchmarks import LogitTable, code_colour
from PIL import Image

from ipmix.robustness.benchmarks.objectnet import BORDER, class_groups, release_root
from ipmix.robustness.imagenet_suite import evaluate_imagenet
from ipmix.robustness.predict import SuiteError

#: ObjectNet class -> (folder, PyTorch indices of its ImageNet classes)
CLASSES = {"Alarm clock": ("alarm_clock", (409, 530)), "Banana": ("banana", (954,)),
           "Chair": ("chair", (423, 559, 765))}


def write_release(root: Path) -> Path:
    """Mapping files whose line order differs from the PyTorch order (reversed), as the real
    ``imagenet_to_label_2012_v2`` does, so the indirection through the JSON is exercised."""
    mappings = root / "objectnet-1.0" / "mappings"
    mappings.mkdir(parents=True)
    lines = [f"imagenet class {999 - line}" for line in range(1000)]  # line l: PyTorch 999 - l
    (mappings / "imagenet_to_label_2012_v2").write_text("\n".join(lines) + "\n")
    (mappings / "pytorch_to_imagenet_2012_id.json").write_text(
        json.dumps({str(index): 999 - index for index in range(1000)}))
    folders = {label: folder for label, (folder, _) in CLASSES.items()}
    folders["Unmapped thing"] = "unmapped_thing"
    (mappings / "folder_to_objectnet_label.json").write_text(
        json.dumps({folder: label for label, folder in folders.items()}))
    (mappings / "objectnet_to_imagenet_1k.json").write_text(json.dumps(
        {label: "; ".join(f"imagenet class {i}" for i in members)
         for label, (_, members) in CLASSES.items()}))
    return root / "objectnet-1.0"


def write_bordered(path: Path, code: int, size: int = 12) -> None:
    """A uniform image of `code` inside a 1-pixel red border (the release's frame)."""
    image = Image.new("RGB", (size, size), (255, 0, 0))
    image.paste(Image.new("RGB", (size - 2, size - 2), code_colour(code)), (1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path.with_suffix(".png"))


def test_groups_follow_the_mapping_files(tmp_path):
    root = release_root(write_release(tmp_path).parent)  # the parent of objectnet-1.0 works too
    assert class_groups(root) == {folder: members for folder, members in CLASSES.values()}


def test_accuracy_on_the_mapped_classes(tmp_path):
    """Hand-computed: 3 of 4 scored images are right; the unmapped folder is not scored."""
    root = write_release(tmp_path)
    table = LogitTable()
    images = root / "images"
    # the second member of a group (digital clock, 530) counts for the alarm clock
    write_bordered(images / "alarm_clock" / "a", table.predicting(530))
    # the 1,000-way arg-max (column 3) is outside every group: the banana group still wins
    write_bordered(images / "banana" / "b", table.add({3: 20.0, 954: 5.0, 409: 1.0}))
    write_bordered(images / "chair" / "c", table.add({765: 4.0}))
    write_bordered(images / "chair" / "d", table.predicting(954))  # predicted banana: wrong
    write_bordered(images / "unmapped_thing" / "e", table.predicting(1))
    results = evaluate_imagenet(table.model(), objectnet=root, image_size=8, progress=False)
    objectnet = results["shifts"]["objectnet"]
    assert objectnet["count"] == 4 and objectnet["classes"] == 3
    assert objectnet["accuracy"] == pytest.approx(75.0)
    assert objectnet["matched_by"] == "objectnet mappings"
    assert "objectnet" in results["meta"]["imagenet"]["benchmarks"]


def test_the_border_is_cropped(tmp_path):
    """With the red frame left in, the image's mean colour (the code) would change."""
    root = write_release(tmp_path)
    table = LogitTable()
    for folder, members in CLASSES.values():
        write_bordered(root / "images" / folder / "x", table.predicting(members[0]),
                       size=4 * BORDER + 2)
    results = evaluate_imagenet(table.model(), objectnet=root, image_size=4, progress=False)
    assert results["shifts"]["objectnet"]["accuracy"] == 100.0


def test_a_missing_mapping_file_or_class_folder_is_named(tmp_path):
    root = write_release(tmp_path)
    write_bordered(root / "images" / "banana" / "x", 1)
    with pytest.raises(SuiteError, match="image folder.*alarm_clock, chair"):
        evaluate_imagenet(LogitTable().model(), objectnet=root, progress=False)
    (root / "mappings" / "pytorch_to_imagenet_2012_id.json").unlink()
    with pytest.raises(SuiteError, match="missing: pytorch_to_imagenet_2012_id.json"):
        evaluate_imagenet(LogitTable().model(), objectnet=root, progress=False)
    with pytest.raises(SuiteError, match="does not exist"):
        evaluate_imagenet(LogitTable().model(), objectnet=tmp_path / "nowhere", progress=False)


def test_an_unknown_imagenet_name_is_named(tmp_path):
    root = write_release(tmp_path)
    path = root / "mappings" / "objectnet_to_imagenet_1k.json"
    path.write_text(json.dumps({"Banana": "imagenet class 954; plantain"}))
    with pytest.raises(SuiteError, match="'plantain' of ObjectNet class 'Banana'"):
        class_groups(root)


def test_a_model_without_imagenet_classes_is_refused(tmp_path):
    root = write_release(tmp_path)
    for folder, _ in CLASSES.values():
        write_bordered(root / "images" / folder / "x", 1)
    with pytest.raises(SuiteError, match="ObjectNet needs a model of ImageNet classes"):
        evaluate_imagenet(LogitTable(columns=10).model(), objectnet=root, image_size=8,
                          model_classes=[f"c{i}" for i in range(10)], progress=False)


def test_evaluate_cli_writes_the_objectnet_row(tmp_path, capsys):
    from ipmix.cli import main
    from ipmix.models import build_model, make_checkpoint

    run = tmp_path / "run"
    run.mkdir()
    torch.save(make_checkpoint(build_model("small", 1000, seed=0), "small", 1000, "imagenet"),
               run / "final.pt")
    root = write_release(tmp_path / "release")
    for folder, _ in CLASSES.values():
        write_bordered(root / "images" / folder / "x", 1)
    code = main(["evaluate", str(run), "--objectnet", str(root), "--image-size", "8",
                 "--workers", "0", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    results = json.loads((run / "results.json").read_text())
    assert results["shifts"]["objectnet"]["count"] == 3
    assert "| objectnet |" in (run / "results.md").read_text()


def test_an_image_too_small_for_its_border_is_named(tmp_path):
    root = write_release(tmp_path)
    for folder, _ in CLASSES.values():
        write_bordered(root / "images" / folder / "x", 1)
    write_bordered(root / "images" / "chair" / "tiny", 1, size=2 * BORDER)
    with pytest.raises(SuiteError, match=r"chair/tiny\.png is 4x4"):
        evaluate_imagenet(LogitTable().model(), objectnet=root, image_size=8, progress=False)
