"""Hostile variants cases of stop 67: the budget's decisions applied to data/degrade after it changed under them (the
variants stage run alone, `dvc repro -s variants` or by hand, after only degrade reran). On the project of
review_project.py, made once for the module; each case on a copy."""

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hostile_harness import edit_table, refused_line
from review_project import write_project
from test_hostile_budget import budget_stage
from test_hostile_review_66 import exported, fill_in  # noqa: F401 (a fixture)
from winnow import review
from winnow.errors import WinnowError
from winnow.imageset import read_imageset, write_imageset


@pytest.fixture(scope="module")
def stamped_project(tmp_path_factory) -> Path:
    """review_project's project, whose budget decisions record, as the budget stage writes them, each image's label
    and pixel digest in data/degrade when it decided (train-04, a dog, relabelled owl by confident-learn)."""
    return write_project(tmp_path_factory.mktemp("variants67") / "project")


@pytest.fixture
def project(stamped_project, tmp_path) -> Path:
    return Path(shutil.copytree(stamped_project, tmp_path / "project"))


def _degrade_again(root: Path, image_id: str, *, label: int | None = None, pixels: int | None = None,
                   split: str | None = None) -> None:
    """data/degrade rewritten as a rerun with another seed (or after ingest drew the splits anew) would leave it:
    ``image_id`` of another label, pixels or split."""
    degraded = read_imageset(root / "data/degrade")
    manifest, images = degraded.manifest.copy(), degraded.images.copy()
    at = manifest.index[manifest["id"] == image_id][0]
    if label is not None:
        manifest.loc[at, "label"] = label
    if pixels is not None:
        images[at] = pixels
    if split is not None:
        manifest.loc[at, "split"] = split
    write_imageset(root / "data/degrade", images, manifest.drop(columns="digest"), degraded.classes)


@pytest.mark.hostile("intermediates")
def test_decisions_of_the_labels_before_degrade_reran_are_refused_not_applied_to_the_new_label(project):
    # before: confident-learn's relabel of train-04 from dog (1) to owl (2) landed on the cat (0) degrade now gives it:
    # pruned relabelled it "0->2: label_issue", exit 0
    _degrade_again(project, "train-04", label=0)
    assert refused_line(project, "variants") == (
        "error: data/budget/decisions.parquet: 1 decision(s) were made on other labels or pixels than data/degrade's "
        "now (first: id 'train-04', label 1 then, 0 now): made before degrade changed the data; rerun the budget stage "
        "(dvc repro budget)")
    assert not (project / "data/variants").exists() and not (project / "metrics/variants.json").exists()


@pytest.mark.hostile("intermediates")
def test_decisions_of_the_pixels_before_degrade_reran_are_refused_not_applied_to_the_new_picture(project):
    # before: threshold's drop of train-00 (dark) dropped the other picture degrade now files under its id, exit 0
    before = pd.read_parquet(project / "data/degrade/manifest.parquet").set_index("id").loc["train-00", "digest"]
    _degrade_again(project, "train-00", pixels=200)
    now = pd.read_parquet(project / "data/degrade/manifest.parquet").set_index("id").loc["train-00", "digest"]
    assert refused_line(project, "variants") == (
        "error: data/budget/decisions.parquet: 1 decision(s) were made on other labels or pixels than data/degrade's "
        f"now (first: id 'train-00', pixels {before!r} then, {now!r} now): made before degrade changed the data; "
        "rerun the budget stage (dvc repro budget)")


@pytest.mark.hostile("intermediates")
def test_the_budget_records_the_labels_and_pixels_it_decided_on_and_variants_checks_them(project, monkeypatch):
    # the budget's own file, not the fixture's: off, it ships every decision of the project's cleaners (5), then degrade
    # changes train-06's label (embedding-clean relabelled it from dog, 1, to cat)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["budget"]["enabled"] = False
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    (project / "data/budget/decisions.parquet").unlink()
    monkeypatch.chdir(project)
    budget_stage().main()  # in this process: a second one would spend seconds importing torch
    # and the train images it judged, the review project's twelve, the cleaners it chose among, and (stop 70) the
    # budget settings it chose by, the project's with enabled false
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    val = manifest[manifest["split"] == "val"].sort_values("id")
    train = manifest[manifest["split"] == "train"].sort_values("id")
    assert pd.read_parquet(project / "data/budget/decisions.parquet").attrs == {
        "train_ids": [f"train-{i:02d}" for i in range(12)],
        "cleaners": ["confident_learn", "dedup", "embedding_clean", "threshold"],
        "budget": {**params["budget"], "enabled": False},
        # (stop 71) and the bytes of each cleaner file it chose among, dedup's groups for its leak drops
        "cleaner_files": {path: hashlib.sha256((project / path).read_bytes()).hexdigest() for path in (
            "data/threshold/flags.parquet", "data/dedup/groups.parquet", "data/confident-learn/label_issues.parquet",
            "data/embedding-clean/decisions.parquet")},
        # (stop 71) and the val images it judged by (no trusted split here): their number and a digest of their ids,
        # labels and pixel digests in id order, one line each
        "judge_splits": {"val": {"images": len(val), "sha256": hashlib.sha256("".join(
            f"{row.id}\t{row.label}\t{row.digest}\n" for row in val.itertuples()).encode()).hexdigest()}},
        # (stop 72) and the train images its probes learnt from, alike (off: learnt from none, but recorded), and the
        # represent files it judged by: none, off
        "train_split": {"images": len(train), "sha256": hashlib.sha256("".join(
            f"{row.id}\t{row.label}\t{row.digest}\n" for row in train.itertuples()).encode()).hexdigest()},
        "represent_files": {}}
    _degrade_again(project, "train-06", label=2)
    assert refused_line(project, "variants") == (
        "error: data/budget/decisions.parquet: 1 decision(s) were made on other labels or pixels than data/degrade's "
        "now (first: id 'train-06', label 1 then, 2 now): made before degrade changed the data; rerun the budget stage "
        "(dvc repro budget)")


@pytest.mark.hostile("intermediates")
def test_decisions_of_an_image_in_val_since_the_splits_were_drawn_anew_are_refused_not_ignored(project):
    # before: train-04 moved to val (ingest.val_fraction changed, then ingest and degrade rerun alone): its relabel was
    # ignored without a word ("pruned 9 train images", exit 0), as were the images a redraw moves into train
    _degrade_again(project, "train-04", split="val")
    assert refused_line(project, "variants") == (
        "error: data/budget/decisions.parquet: 1 decision(s) name images outside data/degrade's train split now "
        "(first: id 'train-04', a val image): made before ingest split the images anew; rerun the budget stage (dvc "
        "repro budget)")


@pytest.mark.hostile("review")
def test_review_import_refuses_verdicts_that_leave_a_class_no_train_image(
        exported, tmp_path, monkeypatch):  # noqa: F811 (the fixture imported above)
    # the dogs: train-04 and train-06 relabelled by the cleaners, train-05 and train-07 the person drops. Before: the
    # import wrote both verdicts, exit 0, and the variants stage refused pruned after the review was over
    root = Path(shutil.copytree(exported, tmp_path / "project"))
    monkeypatch.chdir(root)
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts(fill_in({"train-05": "drop", "train-07": "accept"}))
    assert str(refused.value) == (
        "reviews/queue.csv: variant pruned: the decisions leave class 'dog' no train image (all 4 dropped or "
        "relabelled: confident_learn 1, embedding_clean 1, review 2); check those decisions and verdicts")
    assert not (root / "reviews/verdicts.csv").exists()


@pytest.mark.hostile("intermediates")
def test_budget_decisions_that_record_no_label_or_pixels_are_refused_not_read_unchecked(project):
    # before: a decisions file without given_label and digest (the budget's before it stamped them) was applied
    # unchecked, whatever data/degrade files under its ids now: train-04 relabelled owl whatever picture it is now
    edit_table(project / "data/budget/decisions.parquet", lambda table: table.drop(columns=["given_label", "digest"]))
    assert refused_line(project, "variants") == (
        "error: data/budget/decisions.parquet: lacks column(s) given_label, digest; rerun the budget stage "
        "(dvc repro budget)")


@pytest.mark.hostile("intermediates")
def test_an_image_in_train_since_the_splits_were_drawn_anew_is_refused_not_left_unjudged(project):
    # before: val-0 moved into train (a smaller ingest.val_fraction, then ingest and degrade rerun alone): pruned kept
    # it, judged by no cleaner, exit 0; no decision named it, so no other check saw the redraw
    _degrade_again(project, "val-0", split="train")
    assert refused_line(project, "variants") == (
        "error: data/budget/decisions.parquet: 1 train image(s) of data/degrade now were no train image(s) when the "
        "budget judged (first: id 'val-0'), judged by no cleaner: made before ingest split the images anew; rerun the "
        "budget stage (dvc repro budget)")


@pytest.mark.hostile("intermediates")
def test_budget_decisions_that_record_no_train_images_judged_are_refused(project):
    # an earlier winnow's file, stamped per decision but without the train ids: a redraw into train would go unseen
    path = project / "data/budget/decisions.parquet"
    table = pd.read_parquet(path)
    table.attrs = {}
    table.to_parquet(path, index=False)
    assert refused_line(project, "variants") == (
        "error: data/budget/decisions.parquet: records no train images it judged (an earlier winnow's file); rerun "
        "the budget stage (dvc repro budget)")
