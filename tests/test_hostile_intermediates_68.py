"""Hostile intermediates, probe 68: a cleaner's table (a label cleaner's decisions, threshold's flags) weighed after
degrade changed the pixels it judged.

The case builds the state test_hostile_readers.py's template holds (3 classes of random 8x8 images, threshold's flags,
dedup's groups, a label cleaner's decisions or threshold's flags written as their stages write them, with each judged
image's pixel digest), changes one train image's pixels in data/degrade (its id and label kept), records the embedding anew (as
`dvc repro -s represent` would), runs the real budget stage and asserts its one line and that nothing was left
behind; the contracts case copies test_hostile_readers.py's template. No model is trained: the refusal comes first."""

import numpy as np
import pandas as pd
import pytest

from hostile_harness import (
    TINY_CLASSES, make_project, planted_log, record_represent, refused_line, tiny_degraded, undamaged_params,
    write_judged,
)
from test_hostile_readers import project, template  # noqa: F401 (fixtures)
from winnow.imageset import write_imageset
from winnow.judged_rows import with_digests
from winnow.labels import ISSUE_COLUMNS
from winnow.quality import score_table
from winnow.stage import write_table

CHANGED = "train-1-2"  # the train image whose pixels degrade changes


@pytest.mark.hostile("intermediates")
def test_budget_refuses_label_decisions_of_pixels_degrade_changed_since(tmp_path):
    # before: exit 0 and a budget; degrade rerun with other pixels alone (a blur's kernel, degrade.seed) kept every id
    # and label, so confident-learn's decisions of the old pixels were weighed as if made on the new ones
    params = undamaged_params("baseline", "pruned")
    params["pruned"]["cleaners"] = ["threshold", "dedup", "confident_learn"]
    root = make_project(tmp_path / "project", params)
    manifest, images, _ = tiny_degraded(root, score=params["score"], clean_tables=True)
    train = manifest[manifest["split"] == "train"]
    known = {"id": train["id"].to_numpy(), "given_label": train["label"].to_numpy(),
             "suggested_label": train["label"].to_numpy(), "decision": "keep", "reason": "", "is_issue": False,
             "label_quality": 0.9}
    issues = pd.DataFrame({c: known.get(c, np.full(len(train), np.nan)) for c in ISSUE_COLUMNS})
    write_judged(root, "data/confident-learn/label_issues.parquet", issues)
    at = int(np.flatnonzero(manifest["id"] == CHANGED)[0])
    then = manifest["digest"].iloc[at]
    images[at] = 255 - images[at]  # the same picture, another version of it (ids, labels and splits as they were)
    write_imageset(root / "data/degrade", images, manifest.drop(columns="digest"), TINY_CLASSES,
                   tables=planted_log(root / "data/degrade"))
    now = pd.read_parquet(root / "data/degrade/manifest.parquet")["digest"].iloc[at]
    for path in ("data/threshold/flags.parquet", "data/dedup/groups.parquet"):  # threshold and dedup rerun
        write_judged(root, path, pd.read_parquet(root / path))
    record_represent(root)
    assert refused_line(root, "budget") == (
        f"error: data/confident-learn/label_issues.parquet: judged other pixels than data/degrade's now for 1 image(s) "
        f"(first: id {CHANGED!r}, pixels {then!r} then, {now!r} now): made before degrade changed the data; rerun the "
        "confident-learn stage (dvc repro confident-learn)")


@pytest.mark.hostile("intermediates")
def test_budget_refuses_threshold_flags_of_pixels_degrade_changed_since(tmp_path):
    # before: exit 0; train-1-2 made all black by degrade rerun alone, threshold's flags of its old pixels (nothing
    # flagged) were read as they were, and pruned would keep the black image unflagged
    params = undamaged_params("baseline", "pruned")
    params["pruned"]["cleaners"] = ["threshold", "dedup"]
    root = make_project(tmp_path / "project", params)
    manifest, images, _ = tiny_degraded(root, score=params["score"], clean_tables=True)
    flags = pd.read_parquet(root / "data/threshold/flags.parquet")
    write_judged(root, "data/threshold/flags.parquet", flags)
    at = int(np.flatnonzero(manifest["id"] == CHANGED)[0])
    then = manifest["digest"].iloc[at]
    images[at] = 0
    write_imageset(root / "data/degrade", images, manifest.drop(columns="digest"), TINY_CLASSES,
                   tables=planted_log(root / "data/degrade"))
    now = pd.read_parquet(root / "data/degrade/manifest.parquet")["digest"].iloc[at]
    record_represent(root)
    assert refused_line(root, "budget") == (
        f"error: data/threshold/flags.parquet: judged other pixels than data/degrade's now for 1 image(s) (first: id "
        f"{CHANGED!r}, pixels {then!r} then, {now!r} now): made before degrade changed the data; rerun the threshold "
        "stage (dvc repro threshold)")


@pytest.mark.hostile("intermediates")
def test_contracts_refuse_label_issues_of_other_pixels(project):
    # before: exit 0; the variant contracts measured confident-learn's issue rate from a judgement of pixels
    # data/degrade no longer holds (here its record of train-1-3's pixels is another's)
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    now = manifest.set_index("id")["digest"]["train-1-3"]
    path = project / "data/confident-learn/label_issues.parquet"
    table = with_digests(pd.read_parquet(path), manifest=manifest)
    write_table(path, table.assign(digest=table["digest"].mask(table["id"] == "train-1-3", "0" * 16)))
    assert refused_line(project, "contracts") == (
        "error: data/confident-learn/label_issues.parquet: judged other pixels than data/degrade's now for 1 image(s) "
        f"(first: id 'train-1-3', pixels '0000000000000000' then, {now!r} now): made before degrade changed the "
        "data; rerun the confident-learn stage (dvc repro confident-learn)")


@pytest.mark.hostile("intermediates")
def test_contracts_refuse_a_variants_rows_of_another_degrade(project):
    # before: exit 0; the contracts stage measured pruned's rates on rows of an earlier degrade over the same ids (its
    # seed changed, and only degrade reran: here train-1-3 kept at the label that degrade had flipped it to) and wrote
    # their verdict, where training and the report refuse those rows
    path = project / "data/variants/pruned/rows.parquet"
    rows = pd.read_parquet(path)
    write_table(path, rows.assign(label=rows["label"].mask(rows["id"] == "train-1-3", 2)))
    assert refused_line(project, "contracts") == (
        "error: data/variants/pruned/rows.parquet: image 'train-1-3' keeps label 'c', the degrade imageset labels it "
        "'b' (1 such row(s)): made from another degrade; rerun the variants stage (dvc repro variants)")


def _degrade_changed(root, params):
    """The tiny state of tiny_degraded with threshold's flags and dedup's groups stamped with the pixels they judged,
    then train-1-2's pixels changed by degrade (id and label kept) and rescored (dvc repro score, represent): returns
    its digest then and now."""
    manifest, images, _ = tiny_degraded(root, score=params["score"], clean_tables=True)
    at = int(np.flatnonzero(manifest["id"] == CHANGED)[0])
    images[at] = 255 - images[at]
    write_imageset(root / "data/degrade", images, manifest.drop(columns="digest"), TINY_CLASSES,
                   tables=planted_log(root / "data/degrade"))
    now = pd.read_parquet(root / "data/degrade/manifest.parquet")
    write_table(root / "data/score/scores.parquet", score_table(images, now, **params["score"]))
    record_represent(root)
    return manifest["digest"].iloc[at], now


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("stage", "stale", "fresh"), [
    # before: exit 0; dedup (dvc repro -s dedup) preferred copies by threshold's flags of the old pixels
    ("dedup", ("threshold", "data/threshold/flags.parquet"), None),
    # before: exit 0; with threshold alone in pruned.cleaners no reader checked dedup's groups, whose leak drops the
    # budget took as they were
    ("budget", ("dedup", "data/dedup/groups.parquet"), "data/threshold/flags.parquet"),
    # before: exit 0; the page showed threshold's flags of the old pixels beside the new ones
    ("report", ("threshold", "data/threshold/flags.parquet"), "data/dedup/groups.parquet"),
], ids=["dedup-reads-flags", "budget-reads-groups", "report-reads-flags"])
def test_every_reader_refuses_a_filter_table_of_pixels_degrade_changed_since(tmp_path, stage, stale, fresh):
    params = undamaged_params("baseline", "pruned")
    params["pruned"]["cleaners"] = ["threshold"]
    root = make_project(tmp_path / "project", params)
    then, manifest = _degrade_changed(root, params)
    if fresh:  # the other table made anew, as its stage rerun would
        write_judged(root, fresh, pd.read_parquet(root / fresh))
    now = manifest.set_index("id")["digest"][CHANGED]
    assert refused_line(root, stage) == (
        f"error: {stale[1]}: judged other pixels than data/degrade's now for 1 image(s) (first: id {CHANGED!r}, "
        f"pixels {then!r} then, {now!r} now): made before degrade changed the data; rerun the {stale[0]} stage "
        f"(dvc repro {stale[0]})")


@pytest.mark.hostile("intermediates")
def test_contracts_refuse_label_issues_naming_an_image_data_degrade_lacks(project):
    # before: "judged other pixels than data/degrade's now for 1 image(s) (first: id 'train-9-9', pixels nan then,
    # nan now)": the pixel check ran on an id no reader had checked, and called it other pixels
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    path = project / "data/confident-learn/label_issues.parquet"
    table = pd.read_parquet(path)
    write_table(path, with_digests(pd.concat([table, table.iloc[:1].assign(id="train-9-9")]), manifest=manifest))
    assert refused_line(project, "contracts") == (
        "error: data/confident-learn/label_issues.parquet: 1 id(s) not in data/degrade, first 'train-9-9'; rerun the "
        "confident-learn stage (dvc repro confident-learn)")
