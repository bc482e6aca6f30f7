"""ImageNet results in the IPMix paper's layout: Table 5, then one section per benchmark.

Table 5's columns: Clean error, ImageNet-C mCE (normalised by AlexNet), ImageNet-R error,
ImageNet-P mFR, RMS on ImageNet-C / -R / -A, ImageNet-A accuracy, ImageNet-O AUPR. Every
number says which protocol it follows; an mFR without a baseline to normalise by is the
unnormalised mean, marked "†". A benchmark that was not given shows "–" and is listed as not
run. Runs evaluated on the corrupted copies and perturbation videos of their own folders
(``--corrupted``, ``--perturbed``) get a table of their own, with no normalisation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ipmix.robustness.report.tables import fmt, get_value, grouped_table

IMAGENET_SECTIONS = ("imagenet_val", "imagenet_c", "imagenet_c_bar", "imagenet_p", "imagenet_r",
                     "imagenet_a", "imagenet_o")
#: Benchmarks of any folder (ipmix make-c / make-p output).
FOLDER_SECTIONS = ("corrupted", "perturbed")

#: Table 5's columns, each read from one run's results.
TABLE5_COLUMNS: tuple[tuple[str, Callable[[Mapping[str, Any]], float | None]], ...] = (
    ("Clean error", lambda r: get_value(r, "imagenet_val", "error")),
    ("IN-C mCE", lambda r: get_value(r, "imagenet_c", "mce")),
    ("IN-R error", lambda r: get_value(r, "imagenet_r", "error")),
    ("IN-P mFR", lambda r: get_value(r, "imagenet_p", "mfr")),
    ("RMS C", lambda r: get_value(r, "imagenet_c", "rms")),
    ("RMS R", lambda r: get_value(r, "imagenet_r", "rms")),
    ("RMS A", lambda r: get_value(r, "imagenet_a", "rms")),
    ("IN-A acc.", lambda r: get_value(r, "imagenet_a", "accuracy")),
    ("IN-O AUPR", lambda r: get_value(r, "imagenet_o", "aupr")),
)


#: The own-data table: the clean error on the validation folder, then the folder benchmarks.
FOLDER_COLUMNS: tuple[tuple[str, Callable[[Mapping[str, Any]], float | None]], ...] = (
    ("Clean error", lambda r: get_value(r, "imagenet_val", "error")),
    ("Corrupted error", lambda r: get_value(r, "corrupted", "mean_error")),
    ("RMS corrupted", lambda r: get_value(r, "corrupted", "rms")),
    ("Flip probability", lambda r: get_value(r, "perturbed", "mean_flip_probability")),
    ("Top-5 distance", lambda r: get_value(r, "perturbed", "mean_top5_distance")),
)


def has_imagenet(results: Mapping[str, Any]) -> bool:
    """Whether `results` hold any benchmark of image folders (ImageNet's, shifts, own folders)."""
    return any(key in results for key in (*IMAGENET_SECTIONS, *FOLDER_SECTIONS, "shifts"))


def imagenet_tables(results_by_run: Mapping[str, Mapping[str, Any]]) -> str:
    """Table 5 when a run holds one of its benchmarks (or a shift), the own-data table when a
    run holds a folder benchmark (the clean error then goes there alone)."""
    runs = list(results_by_run.values())
    own = any(key in r for r in runs for key in FOLDER_SECTIONS)
    paper = [key for key in (*IMAGENET_SECTIONS, "shifts") if not (own and key == "imagenet_val")]
    text = table5(results_by_run) if any(key in r for r in runs for key in paper) else ""
    if own:
        table, _ = grouped_table(results_by_run, FOLDER_COLUMNS)
        text += (("\n" if text else "") + table + "\nOwn folders (ipmix make-c / make-p), not "
                 "normalised: mean error over the corruption x severity sets, mean flip probability "
                 "and top-5 distance over the perturbations.\n")
    return text


def table5(results_by_run: Mapping[str, Mapping[str, Any]]) -> str:
    """Table 5 of the paper, one row per group of runs differing only by seed."""
    unnormalised = (lambda r: get_value(r, "imagenet_p", "mfr_unnormalized"), "†")
    table, marks = grouped_table(results_by_run, TABLE5_COLUMNS, {"IN-P mFR": unnormalised})
    table += (
        "\nmCE: per corruption, sum of errors over the 5 severities / AlexNet's (Hendrycks & "
        "Dietterich); RMS C: mean over the 15 x 5 sets (the authors' evaluate_c); IN-R / IN-A "
        "on their 200 classes (masked logits); IN-O: AUPR, anomalies positive, score -MSP.\n"
    )
    if "†" in marks:
        table += "\n† ImageNet-P mFR unnormalised (no baseline run given to normalise by).\n"
    return table


def _row(name: str, values: Sequence[float | None]) -> str:
    return f"| {name} | " + " | ".join(fmt(v) for v in values) + " |"


def imagenet_sections(results: Mapping[str, Any]) -> list[str]:
    """Markdown lines: one section per ImageNet benchmark measured, and what was not run."""
    lines: list[str] = []
    val = results.get("imagenet_val")
    if val:
        lines += ["## ImageNet val", "", f"Error {fmt(val['error'])}, RMS {fmt(val['rms'])} "
                  f"({val['count']} images, `{val['source']}`).", ""]
    c = results.get("imagenet_c")
    if c:
        lines += ["## ImageNet-C", "", f"Source: `{c['source']}`", "",
                  "| Corruption | s1 | s2 | s3 | s4 | s5 | mean | CE (AlexNet) |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, row in c["errors"].items():
            lines.append(_row(name, [*row, float(np.mean(row)), c["ce"].get(name)]))
        lines += ["", f"mCE, normalised by AlexNet: {fmt(c['mce'])}",
                  f"Relative mCE, normalised by AlexNet: {fmt(c.get('relative_mce'))}"
                  + ("" if c.get("relative_mce") is not None else " (needs --imagenet-val)"),
                  f"Mean error over the 15 x 5 sets, unnormalised: {fmt(c['unnormalized_mce'])}",
                  f"Extra corruptions, unnormalised mean: {fmt(c.get('extra_mean'))}",
                  f"RMS (mean over the 15 x 5 sets): {fmt(c['rms'])}; Hendrycks' loop: "
                  f"{fmt(c.get('rms_reference'))}"]
        lines += [f"Note: {note}" for note in c.get("notes", [])] + [""]
    bar = results.get("imagenet_c_bar")
    if bar:
        lines += ["## ImageNet-C-bar", "", f"Mean error over the 10 x 5 sets (unnormalised): "
                  f"{fmt(bar['mean_error'])}; RMS {fmt(bar['rms'])}. Source: `{bar['source']}`", ""]
    p = results.get("imagenet_p")
    if p:
        by = p.get("normalized_by")
        lines += ["## ImageNet-P", "", "| Perturbation | flip probability | top-5 distance |",
                  "|---|---|---|"]
        lines += [_row(n, [p["flip_probability"][n], p["top5_distance"][n]]) for n in p["flip_probability"]]
        lines += ["", f"mFR: {fmt(p['mfr'])}, mT5D: {fmt(p['mt5d'])} "
                  + (f"(normalised by {by})" if by else "(not normalised: no baseline given)"),
                  f"Unnormalised means over the 10: FP {fmt(p['mfr_unnormalized'])}, "
                  f"T5D {fmt(p['mt5d_unnormalized'])}", ""]
    own = results.get("corrupted")
    if own:
        lines += ["## Corrupted copies (make-c folder)", "", f"Source: `{own['source']}`", "",
                  "| Corruption | error per severity folder | mean |", "|---|---|---|"]
        lines += [f"| {name} | " + ", ".join(f"{level}: {fmt(e)}" for level, e in row.items())
                  + f" | {fmt(float(np.mean(list(row.values()))))} |" for name, row in own["errors"].items()]
        lines += ["", f"Mean error over the sets: {fmt(own['mean_error'])}; RMS {fmt(own['rms'])}", ""]
    videos = results.get("perturbed")
    if videos:
        lines += ["## Perturbation videos (make-p folder)", "", f"Source: `{videos['source']}`", "",
                  f"| Perturbation | flip probability | top-{videos['top_k']} distance |", "|---|---|---|"]
        lines += [_row(n, [videos["flip_probability"][n], videos["top5_distance"][n]])
                  for n in videos["flip_probability"]]
        lines += ["", f"Means: flip probability {fmt(videos['mean_flip_probability'])}, top-"
                  f"{videos['top_k']} distance {fmt(videos['mean_top5_distance'])}", ""]
    for key, title in (("imagenet_r", "ImageNet-R"), ("imagenet_a", "ImageNet-A")):
        part = results.get(key)
        if part:
            lines += [f"## {title} (200 classes, masked logits)", "",
                      f"Accuracy {fmt(part['accuracy'])}, error {fmt(part['error'])}, RMS "
                      f"{fmt(part['rms'])} ({part['count']} images).", ""]
    o = results.get("imagenet_o")
    if o:
        lines += ["## ImageNet-O", "", f"AUPR {fmt(o['aupr'])} (anomalies positive, score -MSP), "
                  f"AUROC {fmt(o['auroc'])}, FPR at 95% TPR {fmt(o['fpr95'])}; {o['count']} "
                  f"anomalies against {o['in_distribution_count']} ImageNet val images of its "
                  "200 classes.", ""]
    shifts = results.get("shifts")
    if shifts:
        lines += ["## Natural shifts", "", "| Shift | accuracy | RMS | images | classes | source |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {name} | {fmt(s['accuracy'])} | {fmt(s['rms'])} | {s['count']} | "
                  f"{s['classes']} | `{s['source']}` |" for name, s in shifts.items()]
        lines.append("")
    not_run = ((results.get("meta") or {}).get("imagenet") or {}).get("not_run") or {}
    if not_run:
        lines += ["Not run: " + ", ".join(f"{name} ({why})" for name, why in not_run.items()), ""]
    return lines
