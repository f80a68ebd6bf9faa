"""Hostile ends of the 74th stop's probe of interrupted runs and the records this stop added: a record must describe
the very data the output was made of, whatever happens to the files while the stage works.

- pruned rewritten by the variants stage (run by hand, a verdict imported) while balance makes its copies, in the
  project (dvc.yaml declares pruned a dep of balance): where the rewrite dropped an image, balance read pruned's rows
  again after the copies were made and ended in an IndexError traceback before its check of its deps could say that
  pruned changed; now that check's one line, nothing written;
- the same in a project whose dvc.yaml declares no deps of the stage (these tests' projects): balance wrote balanced
  with the new rows beside copies of the old images (a copy of an image labelled 'b' beside that image relabelled
  'a'), which train@balanced's check of what it was built on passed, exit 0. Now the rows read once are the rows
  loaded and written, and train@balanced refuses balanced as built on another pruned;
- the same while gan-synthesize trains its GAN: augmented was written with the new pruned's rows beside samples of a
  GAN that learnt the old one's images;
- pruned rewritten just after augment-search loaded its images: its ``chosen_on`` record was taken of the files after
  the load, so the policy searched on the old images recorded the new ones, and balance took it as chosen on pruned
  now; the record is now taken of the images loaded.
"""

from __future__ import annotations

import numpy as np
import pytest

from hostile_harness import edit_table
from test_augment import _stage
from test_gan import gan_project
from test_hostile_balance_more import balance_project
from test_hostile_search_more import search_project
from winnow import variants
from winnow.built_on import check_built_on_pruned
from winnow.errors import WinnowError
from winnow.stage import run

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _relabel(rows, image: str, label: int):
    """``rows`` with ``image`` relabelled to ``label`` by a person's verdict, as the variants stage writes it."""
    rows = rows.copy()
    rows.loc[rows["id"] == image, ["action", "label", "reason", "stage"]] = ["relabel", label, "verdict", "review"]
    return rows


def _drop(rows, image: str):
    rows = rows.copy()
    rows.loc[rows["id"] == image, ["action", "reason", "stage"]] = ["drop", "verdict", "review"]
    return rows


def _run(stage, monkeypatch, name: str) -> None:
    monkeypatch.setattr("sys.argv", [f"stages/{name}.py"])
    run(stage.main)


@pytest.mark.hostile("interrupted")
def test_an_image_pruned_drops_while_balance_makes_its_copies_stops_balance_in_one_line(tmp_path, monkeypatch, capsys):
    # before: "IndexError: boolean index did not match indexed array along axis 0; size of axis is 5 but size of
    # corresponding boolean axis is 6" (a traceback, status 1): pruned's rows read again after the copies were made
    import shutil

    from hostile_harness import ROOT, assert_nothing_left, files_under

    labels = np.repeat([0, 1], [4, 2])
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 8, 8, 1), dtype=np.uint8)
    project = balance_project(tmp_path / "project", images, labels, policy={"ops": ["noise"], "n": 1})
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")  # its deps of balance, data/variants/pruned among them
    monkeypatch.chdir(project)
    before = files_under(project)
    stage = _stage("balance")
    made = stage.balanced_augment

    def meanwhile(*args, **kwargs):  # the variants stage writes pruned anew while the copies are made
        copies = made(*args, **kwargs)
        edit_table(project / "data/variants/pruned/rows.parquet", lambda rows: _drop(rows, "i4"))
        return copies

    monkeypatch.setattr(stage, "balanced_augment", meanwhile)
    capsys.readouterr()
    with pytest.raises(SystemExit) as ended:
        _run(stage, monkeypatch, "balance")
    assert (ended.value.code, capsys.readouterr().err) == (1, (
        "error: data/variants/pruned changed while balance ran; its outputs follow what it held before; run dvc repro "
        "again\n"))
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("rewrite, now", [(lambda rows: _relabel(rows, "i4", 0), "kept as 'a'"),
                                          (lambda rows: _drop(rows, "i4"), "dropped")], ids=["relabelled", "dropped"])
def test_pruned_rewritten_while_balance_makes_its_copies_is_not_written_as_what_they_were_made_of(tmp_path, monkeypatch,
                                                                                                  rewrite, now):
    # before: relabelled, balanced held i4 as 'a' (pruned's new row) beside bal-i4-0, its copy as 'b', and
    # check_built_on_pruned passed it; dropped, balance ended in "IndexError: boolean index did not match indexed array
    # along axis 0; size of axis is 5 but size of corresponding boolean axis is 6"
    labels = np.repeat([0, 1], [4, 2])
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 8, 8, 1), dtype=np.uint8)
    project = balance_project(tmp_path / "project", images, labels, policy={"ops": ["noise"], "n": 1})
    monkeypatch.chdir(project)
    stage = _stage("balance")
    made = stage.balanced_augment

    def meanwhile(*args, **kwargs):  # the variants stage writes pruned anew while the copies are made
        copies = made(*args, **kwargs)
        edit_table(project / "data/variants/pruned/rows.parquet", rewrite)
        return copies

    monkeypatch.setattr(stage, "balanced_augment", meanwhile)
    _run(stage, monkeypatch, "balance")
    balanced = variants.read_rows("balanced")
    assert balanced.loc[balanced["origin"] != "extra", ["id", "label", "action"]].values.tolist() == [
        ["i0", 0, "keep"], ["i1", 0, "keep"], ["i2", 0, "keep"], ["i3", 0, "keep"], ["i4", 1, "keep"],
        ["i5", 1, "keep"]]  # the rows its copies were made of
    with pytest.raises(WinnowError) as refused:
        check_built_on_pruned("balanced", classes=["a", "b", "c"])
    assert str(refused.value) == (f"data/variants/balanced/rows.parquet: built on another pruned: image 'i4' is kept "
                                  f"as 'b' there, {now} in data/variants/pruned now (1 such image(s)); rerun the "
                                  "balance stage (dvc repro balance)")


@pytest.mark.hostile("interrupted")
def test_pruned_rewritten_while_gan_synthesize_trains_is_not_written_as_what_its_gan_learnt(tmp_path, monkeypatch):
    # before: augmented was written with pruned's new rows (train-0-0 relabelled 'b') beside the samples of a GAN that
    # learnt train-0-0 as 'a', and check_built_on_pruned passed it, exit 0
    from winnow import gan

    project = gan_project(tmp_path / "project", weak_k=2)
    monkeypatch.chdir(project)
    trained = gan.train_gan

    def meanwhile(*args, **kwargs):  # the variants stage writes pruned anew while the GAN trains
        done = trained(*args, **kwargs)
        edit_table(project / "data/variants/pruned/rows.parquet", lambda rows: _relabel(rows, "train-0-0", 1))
        return done

    monkeypatch.setattr(gan, "train_gan", meanwhile)
    _run(_stage("gan_synthesize"), monkeypatch, "gan_synthesize")
    augmented = variants.read_rows("augmented").set_index("id")
    assert augmented.loc["train-0-0", ["label", "action"]].tolist() == [0, "keep"]  # as its GAN learnt it
    with pytest.raises(WinnowError) as refused:
        check_built_on_pruned("augmented", classes=["a", "b", "c"])
    assert str(refused.value) == ("data/variants/augmented/rows.parquet: built on another pruned: image 'train-0-0' "
                                  "is kept as 'a' there, kept as 'b' in data/variants/pruned now (1 such image(s)); "
                                  "rerun the gan-synthesize stage (dvc repro gan-synthesize)")


@pytest.mark.hostile("interrupted")
def test_pruned_rewritten_just_after_augment_search_loaded_it_is_not_recorded_as_what_it_searched_on(tmp_path,
                                                                                                    monkeypatch):
    # before: chosen_on was taken of the files after the load, so it recorded pruned's new rows (i0 relabelled 'b'),
    # and balance (policy_for searched) took the policy the search chose on i0 as 'a' as chosen on pruned now, exit 0
    from winnow.augment_search import policy_for
    from winnow.stage import load_params

    project = search_project(tmp_path / "project", val_labels=[0, 1, 2])
    monkeypatch.chdir(project)
    loaded = variants.load_variant

    def meanwhile(*args, **kwargs):  # the variants stage writes pruned anew just after the search loaded it
        images = loaded(*args, **kwargs)
        edit_table(project / "data/variants/pruned/rows.parquet", lambda rows: _relabel(rows, "i0", 1))
        return images

    monkeypatch.setattr(variants, "load_variant", meanwhile)
    _run(_stage("augment_search"), monkeypatch, "augment_search")
    with pytest.raises(WinnowError) as refused:
        policy_for(load_params(), "searched")
    assert str(refused.value) == ("data/augment-search/policy.json: chosen on other train or val images of pruned "
                                  "(ids, labels or pixels) than data/variants/pruned and its imagesets give now; rerun "
                                  "the augment-search stage (dvc repro augment-search)")

