"""Hostile training, fourth pass: what the train stage reads beside the variant's rows (data/degrade, a variant's
copies) made from another ingest, and rows made from another degrade."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile_harness import default_params, make_project, refused_line

from winnow.errors import WinnowError
from winnow.imageset import ImageSet, read_imageset, write_imageset
from winnow.variants import load_variant, read_rows, write_variant

CLASSES = ["a", "b", "c"]


def _stale_project(root: Path, *, stale: str) -> Path:
    """A project whose data/ingest holds 12x12 grey images of classes a, b, c (4 train, 1 val, 1 test a class) while
    ``stale`` still holds what an earlier ingest made: ``degrade``, the degrade imageset of 8x8 images (ingest.size
    changed and only ingest reran); ``extra``, 8x8 copies in the ``balanced`` variant; ``classes``, a degrade
    imageset of classes b, c (class folder a added since, which shifted the others' indices); ``none``, nothing (the
    degrade imageset of this ingest, 12x12)."""
    params = default_params() | {"variants": ["baseline", "balanced"]}
    params["degrade"]["enabled"] = False
    params["contracts"]["enforce_variants"] = []
    project = make_project(root, params)
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in (("train", 4), ("val", 1), ("test", 1))
            for c in range(len(CLASSES)) for i in range(n)]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=12, orig_w=12,
                                                                           orig_mode="L")
    pixels = np.random.default_rng(0).integers(0, 256, (len(manifest), 12, 12, 1), dtype=np.uint8)
    write_imageset(project / "data/ingest", pixels, manifest, CLASSES)
    side = 8 if stale == "degrade" else 12
    if stale == "classes":
        old = manifest[manifest["label"] > 0].assign(label=lambda m: m["label"] - 1)
        write_imageset(project / "data/degrade", pixels[old.index], old.reset_index(drop=True), CLASSES[1:])
        manifest = manifest.loc[old.index].assign(label=old["label"])  # what the variants stage read then
    else:
        write_imageset(project / "data/degrade", pixels[:, :side, :side], manifest, CLASSES)
    train = manifest[manifest["split"] == "train"]
    kept = pd.DataFrame({"id": train["id"], "origin": "degrade", "label": train["label"], "action": "keep",
                         "reason": "", "stage": ""})
    write_variant("baseline", kept, root=project / "data/variants")
    added = manifest.iloc[:2].assign(id=["copy-0", "copy-1"])
    copy_side = 8 if stale == "extra" else 12
    extra = ImageSet(pixels[:2, :copy_side, :copy_side], added.reset_index(drop=True), CLASSES)
    copies = pd.DataFrame({"id": added["id"], "origin": "extra", "label": added["label"], "action": "add",
                           "reason": "augmented copy", "stage": "balance"})
    write_variant("balanced", pd.concat([kept, copies], ignore_index=True), extra=extra,
                  root=project / "data/variants")
    return project


@pytest.mark.hostile("training")
def test_train_images_of_another_size_than_ingests_name_the_stage_to_rerun(tmp_path):
    # found by probing: ingest.size 8 -> 12 and only ingest rerun, then python stages/train.py baseline (or
    # dvc repro -s train@baseline): a RuntimeError traceback from the model's first val batch ("mat1 and mat2 shapes
    # cannot be multiplied (6x576 and 400x120)")
    project = _stale_project(tmp_path / "project", stale="degrade")
    assert refused_line(project, "train", "baseline") == (
        "error: data/degrade: images are 8x8x1, data/ingest's are 12x12x1: made from another ingest; rerun the "
        "degrade stage (dvc repro degrade)")
    assert not (project / "models").exists()


@pytest.mark.hostile("training")
def test_copies_of_another_size_than_ingests_name_the_stage_that_made_them(tmp_path, monkeypatch):
    # found by probing: train@balanced with balance's copies of the old size: numpy's ValueError traceback from
    # concatenate ("all the input array dimensions except for the concatenation axis must match exactly")
    monkeypatch.chdir(_stale_project(tmp_path / "project", stale="extra"))
    with pytest.raises(WinnowError) as refused:
        load_variant("balanced")
    assert str(refused.value) == (
        "data/variants/balanced/extra: images are 8x8x1, data/ingest's are 12x12x1: made from another ingest; rerun "
        "the balance stage (dvc repro balance)")


@pytest.mark.hostile("training")
def test_a_degrade_imageset_of_other_classes_than_ingests_is_refused_not_read_with_shifted_labels(tmp_path,
                                                                                                  monkeypatch):
    # found by probing: a class folder added in front (a before b, c) and only ingest rerun, then train@baseline by
    # hand: the rows' labels 0 and 1 (b and c when degrade ran) trained as a and b, and the model was saved under
    # data/ingest's names, exit 0; evaluate then scored it without a word
    monkeypatch.chdir(_stale_project(tmp_path / "project", stale="classes"))
    with pytest.raises(WinnowError) as refused:
        load_variant("baseline")
    assert str(refused.value) == ("data/degrade/classes.json: its classes (b, c) differ from "
                                  "data/ingest/classes.json's (a, b, c); rerun the degrade stage (dvc repro degrade)")



def _rewrite(folder, edit) -> None:
    """Write the imageset at ``folder`` again as ``edit(images, manifest)`` returns it, from its uint8 ``(N, H, W,
    C)`` images and its manifest without the digests (write_imageset works them out anew)."""
    imageset = read_imageset(folder)
    write_imageset(folder, *edit(np.asarray(imageset.images), imageset.manifest.drop(columns="digest")), CLASSES)


def _flipped(images, manifest):
    """``(images, manifest)`` with b's train image 2 labelled c, as a degrade run with another seed may flip it."""
    return images, manifest.assign(label=manifest["label"].mask(manifest["id"] == "train-1-2", 2))


@pytest.mark.hostile("training")
def test_rows_of_an_earlier_degrade_are_refused_not_trained_with_its_label_flips(tmp_path, monkeypatch):
    # found by probing: degrade rerun alone (another degrade.seed: other labels flipped), then train@baseline by hand:
    # the variant's rows kept the old run's labels, and the model learnt the old flips on the new pixels, exit 0
    project = _stale_project(tmp_path / "project", stale="none")
    _rewrite(project / "data/degrade", _flipped)  # the new run flips b's train image 2 to c
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        load_variant("baseline")
    assert str(refused.value) == (
        "data/variants/baseline/rows.parquet: image 'train-1-2' keeps label 'b', the degrade imageset labels it 'c' (1 "
        "such row(s)): made from another degrade; rerun the variants stage (dvc repro variants)")


@pytest.mark.hostile("training")
def test_rows_of_images_ingest_has_split_anew_into_val_are_refused_not_trained_on(tmp_path, monkeypatch):
    # found by probing: ingest.val_fraction raised and only ingest rerun, then train@baseline by hand: two train images
    # of the stale degrade imageset were val images of data/ingest now, and the model learnt from 2 of its 8 val
    # images and chose its epoch on them, exit 0 (evaluate, whose test split had not moved, scored it without a word)
    project = _stale_project(tmp_path / "project", stale="none")
    _rewrite(project / "data/ingest", lambda images, manifest: (images, manifest.assign(
        split=manifest["split"].mask(manifest["id"].isin(["train-0-1", "train-2-3"]), "val"))))
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        load_variant("baseline")
    assert str(refused.value) == (
        "data/variants/baseline/rows.parquet: image 'train-0-1' is in the val split of data/ingest now (2 such row(s)): "
        "the degrade imageset was made before ingest split the images anew; rerun the variants stage (dvc repro "
        "variants)")


@pytest.mark.hostile("training")
def test_rows_that_lack_train_images_the_degrade_imageset_added_since_are_refused_not_trained_without_them(
        tmp_path, monkeypatch):
    # found in review: an exact_duplicate perturbation (mode add) appended to the default params and only degrade
    # rerun, then train@baseline by hand: 3255 of data/degrade's 3320 train images trained, the 65 copies it added
    # left out (the labels of the rest unchanged, so nothing else told), exit 0
    project = _stale_project(tmp_path / "project", stale="none")

    def with_two_copies(images, manifest):
        copies = manifest[manifest["id"].isin(["train-0-1", "train-2-3"])].assign(id=lambda m: m["id"] + "~dup7")
        return np.concatenate([images, images[copies.index]]), pd.concat([manifest, copies], ignore_index=True)

    _rewrite(project / "data/degrade", with_two_copies)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        load_variant("baseline")
    assert str(refused.value) == (
        "data/variants/baseline/rows.parquet: image 'train-0-1~dup7' of the degrade imageset's train split has no row "
        "(2 such image(s)): made from another degrade; rerun the variants stage (dvc repro variants)")


def test_a_balanced_variant_of_this_degrade_with_a_flip_relabelled_back_a_drop_and_copies_loads(tmp_path, monkeypatch):
    # review of the refusals above: none may refuse what the variants and balance stages write of current inputs, a
    # label flip of degrade's that a cleaner relabelled back among them
    project = _stale_project(tmp_path / "project", stale="none")
    _rewrite(project / "data/degrade", _flipped)  # degrade flipped b's train image 2 to c
    monkeypatch.chdir(project)
    rows = read_rows("balanced")
    rows.loc[rows["id"] == "train-1-2", ["action", "reason", "stage"]] = ["relabel", "2->1: flip", "confident_learn"]
    rows.loc[rows["id"] == "train-0-0", ["action", "reason", "stage"]] = ["drop", "duplicate", "dedup"]
    write_variant("balanced", rows)  # its copies (extra/) stay as balance wrote them
    train, _ = load_variant("balanced")
    labels = dict(zip(train.manifest["id"], train.labels))
    assert (len(labels), labels["train-1-2"], labels["copy-1"], "train-0-0" in labels) == (13, 1, 0, False)
