import numpy as np
import pandas as pd
import pytest

from winnow.errors import WinnowError
from winnow.imageset import ImageSet, write_imageset
from winnow.stage import write_table
from winnow.variants import baseline_rows, check_kept, load_variant, oracle_rows, write_variant
from winnow.decision_rows import apply_decisions, cleaner_decisions


def _manifest(ids, split, labels):
    return pd.DataFrame({"id": ids, "split": split, "label": labels, "source": "t", "orig_h": 4, "orig_w": 4,
                         "orig_mode": "L"})


@pytest.fixture
def project(tmp_path, monkeypatch):
    """data/ingest with 6 train, 2 val, 2 test images; data/degrade with train relabelled + one removed."""
    monkeypatch.chdir(tmp_path)
    ids = [f"i{k}" for k in range(10)]
    split = ["train"] * 6 + ["val"] * 2 + ["test"] * 2
    labels = [0, 1, 2, 0, 1, 2, 0, 1, 0, 1]
    images = np.arange(10, dtype=np.uint8)[:, None, None, None].repeat(4, 1).repeat(4, 2)
    write_imageset("data/ingest", images, _manifest(ids, split, labels), ["a", "b", "c"])
    keep = [k for k in range(10) if k != 5]
    degraded = _manifest([ids[k] for k in keep], [split[k] for k in keep], [labels[k] for k in keep])
    degraded.loc[0, "label"] = 2  # degrade flipped i0
    write_imageset("data/degrade", images[keep], degraded, ["a", "b", "c"])
    return degraded


def test_decisions_apply_exactly_as_listed(project):
    flags = pd.DataFrame({"id": ["i1", "i8"], "dark": [True, True], "blurry": [False, True], "any": [True, True]})
    groups = pd.DataFrame({"id": ["i2", "i3"], "kept": [False, True], "reason": ["near_duplicate", "kept"]})
    issues = pd.DataFrame({"id": ["i0", "i4", "i9"], "decision": ["relabel", "keep", "relabel"],
                           "suggested_label": [0, 1, 1], "reason": ["cl", "cl", "cl"]})
    decisions = cleaner_decisions(flags=flags, groups=groups, label_issues=issues)
    rows = apply_decisions(baseline_rows(project), decisions)
    by_id = rows.set_index("id")
    assert list(rows["id"]) == ["i0", "i1", "i2", "i3", "i4"]  # val/test never enter; i5 was removed by degrade
    assert by_id.loc["i0", "action"] == "relabel" and by_id.loc["i0", "label"] == 0
    assert by_id.loc["i1", "action"] == "drop" and by_id.loc["i1", "reason"] == "dark"
    assert by_id.loc["i2", "action"] == "drop" and by_id.loc["i2", "stage"] == "dedup"
    assert set(by_id.loc[["i3", "i4"], "action"]) == {"keep"}
    assert by_id.loc["i4", "label"] == 1

    write_variant("pruned", rows)
    train, val = load_variant("pruned")
    assert train.manifest["id"].tolist() == ["i0", "i3", "i4"]
    assert train.labels.tolist() == [0, 0, 1]
    assert train.images[:, 0, 0, 0].tolist() == [0, 3, 4]
    assert val.manifest["id"].tolist() == ["i6", "i7"] and val.labels.tolist() == [0, 1]


def test_neighbour_decisions_join_confident_learn_and_disagreeing_relabels_drop(project):
    issues = pd.DataFrame({"id": ["i0", "i3"], "decision": ["relabel", "keep"], "suggested_label": [0, 0],
                           "reason": ["cl", "cl"]})
    neighbours = pd.DataFrame({"id": ["i0", "i3", "i4"], "decision": ["relabel", "drop", "relabel"],
                               "suggested_label": [1, -1, 2], "reason": ["neighbours_agree:1", "inside_class:1",
                                                                         "neighbours_agree:2"]})
    decisions = cleaner_decisions(label_issues=issues, neighbour_decisions=neighbours)
    assert set(decisions["stage"]) == {"confident_learn", "embedding_clean"}
    rows = apply_decisions(baseline_rows(project), decisions).set_index("id")
    assert rows.loc["i0", "action"] == "drop" and rows.loc["i0", "reason"] == "conflicting relabels"
    assert rows.loc["i3", "action"] == "drop" and rows.loc["i3", "stage"] == "embedding_clean"
    assert rows.loc["i4", "action"] == "relabel" and rows.loc["i4", "label"] == 2
    assert rows.loc["i1", "action"] == "keep"


def test_drop_wins_and_conflicting_relabels_drop(project):
    decisions = pd.DataFrame({"id": ["i0", "i0", "i1", "i1"], "action": ["relabel", "drop", "relabel", "relabel"],
                              "label": [1, -1, 0, 2], "reason": ["x", "y", "p", "q"], "stage": ["a", "b", "c", "c"]})
    rows = apply_decisions(baseline_rows(project), decisions).set_index("id")
    assert rows.loc["i0", "action"] == "drop" and rows.loc["i0", "reason"] == "y" and rows.loc["i0", "stage"] == "a+b"
    assert rows.loc["i1", "action"] == "drop" and rows.loc["i1", "reason"] == "conflicting relabels"
    assert rows.loc["i0", "label"] == 2  # a dropped row keeps its given label for the record


@pytest.mark.hostile("review")
def test_a_relabel_to_the_label_an_image_has_still_disagrees_with_a_relabel_to_another(project, capsys):
    # before: i0 (label 2) relabelled to 2 by one cleaner and to 0 by another was relabelled to 0, with a warning
    # that the data set kept its label; two relabels that disagree drop an image
    decisions = pd.DataFrame({"id": ["i0", "i0", "i1"], "action": ["relabel", "relabel", "relabel"],
                              "label": [2, 0, 1], "reason": ["x", "y", "z"], "stage": ["a", "b", "c"]})
    rows = apply_decisions(baseline_rows(project), decisions, warn="decisions.parquet").set_index("id")
    assert rows.loc[["i0", "i1"], ["label", "action", "reason", "stage"]].values.tolist() == [
        [2, "drop", "conflicting relabels", "a+b"], [1, "keep", "", ""]]
    assert capsys.readouterr().out == (
        "warning: decisions.parquet: 1 relabel(s) to the label the image already has, read as keep (first: id 'i1', "
        "by c); the data set keeps those labels\n")


def test_oracle_reads_the_undamaged_split_and_extra_images_are_added(project):
    from winnow.imageset import read_imageset

    ingested = read_imageset("data/ingest")
    extra = ImageSet(np.full((2, 4, 4, 1), 99, np.uint8), _manifest(["g0", "g1"], "train", [2, 2]), ["a", "b", "c"])
    rows = pd.concat([oracle_rows(ingested.manifest),
                      pd.DataFrame({"id": ["g0", "g1"], "origin": "extra", "label": 2, "action": "add",
                                    "reason": "gan", "stage": "gan"})], ignore_index=True)
    write_variant("augmented", rows, extra=extra)
    train, _ = load_variant("augmented")
    assert len(train) == 8 and train.labels.tolist() == [0, 1, 2, 0, 1, 2, 2, 2]
    assert train.images[-1].max() == 99


def test_missing_and_empty_variants_are_clear_errors(project):
    with pytest.raises(WinnowError, match="rows.parquet: not found; rerun the variants stage"):
        load_variant("pruned")
    rows = baseline_rows(project).assign(action="drop")
    write_variant("empty", rows)
    with pytest.raises(WinnowError, match=r"variant empty: no train image left \(its decisions drop all 5 train images"):
        load_variant("empty")


def test_cleaners_that_decide_nothing_leave_every_row_kept(project):
    """Clean data: threshold flags nothing, dedup removes nothing, the label cleaners keep every label."""
    flags = pd.DataFrame({"id": ["i0", "i1"], "dark": [False, False], "blurry": [False, False], "any": False})
    groups = pd.DataFrame({"id": ["i0", "i1"], "kept": [True, True], "reason": ["", ""]})
    issues = pd.DataFrame({"id": ["i0"], "decision": ["keep"], "suggested_label": [2], "reason": ["consistent"]})
    nothing = pd.DataFrame({"id": [], "decision": [], "suggested_label": [], "reason": []})
    decisions = cleaner_decisions(flags=flags, groups=groups, label_issues=issues, neighbour_decisions=nothing)
    assert decisions.empty and list(decisions.columns) == ["id", "action", "label", "reason", "stage"]
    rows = baseline_rows(project)
    assert apply_decisions(rows, decisions).equals(rows)


def test_drops_without_any_relabel_keep_their_reasons(project):
    flags = pd.DataFrame({"id": ["i1", "i2"], "dark": [True, False], "blurry": [True, False], "any": [True, False]})
    groups = pd.DataFrame({"id": ["i3"], "kept": [False], "reason": ["near_duplicate"]})
    rows = apply_decisions(baseline_rows(project), cleaner_decisions(flags=flags, groups=groups)).set_index("id")
    assert rows["action"].to_dict() == {"i0": "keep", "i1": "drop", "i2": "keep", "i3": "drop", "i4": "keep"}
    assert rows.loc["i1", "reason"] == "dark+blurry" and rows.loc["i3", "reason"] == "near_duplicate"
    assert rows["label"].tolist() == [2, 1, 2, 0, 1]


def test_a_class_emptied_by_the_cleaners_is_refused_but_one_absent_before_is_not(project):
    before = baseline_rows(project)  # labels 2, 1, 2, 0, 1
    emptied = before.assign(action=["keep", "keep", "keep", "drop", "keep"], stage=["", "", "", "dedup", ""])
    with pytest.raises(WinnowError, match=r"^variant pruned: the decisions leave class 'a' no train image \(all 1 "
                                          r"dropped or relabelled: dedup 1\)"):
        check_kept("pruned", emptied, before=before, classes=["a", "b", "c"])
    without_a = before[before["label"] != 0].reset_index(drop=True)
    check_kept("pruned", without_a.assign(action=["drop", "keep", "keep", "keep"]), before=without_a,
               classes=["a", "b", "c"])
    with pytest.raises(WinnowError, match=r"^variant baseline: no train image left \(the train split it is taken "
                                          r"from is empty\)"):
        check_kept("baseline", before.iloc[:0], classes=["a", "b", "c"])


@pytest.mark.parametrize("column, value, message", [
    ("action", "maybe", "row 1 has action 'maybe', not one of keep, drop, relabel, add"),
    ("origin", "elsewhere", "row 1 has origin 'elsewhere', not one of ingest, degrade, extra"),
    ("id", "i0", "image 'i0' has more than one row"),
    ("label", 3, "row 1 has label 3, not a class index in [0, 2]"),
])
def test_damaged_rows_name_the_row_and_the_variants_stage(project, column, value, message):
    rows = baseline_rows(project)
    rows.loc[1, column] = value
    write_table("data/variants/pruned/rows.parquet", rows)
    with pytest.raises(WinnowError) as raised:
        load_variant("pruned")
    assert str(raised.value) == (f"data/variants/pruned/rows.parquet: {message}; rerun the variants stage "
                                 "(dvc repro variants)")
