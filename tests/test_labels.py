"""confident-learn: cleanlab finds constructed flips, ids stay aligned, only train labels change, folds."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import make_manifest
from hostile_harness import default_params
from winnow import labels as cl
from winnow.errors import WinnowError
from winnow.imageset import ImageSet, read_imageset, write_imageset
from winnow.judged_rows import considered_rows
from winnow.out_of_sample import check_folds, cross_val_pred_probs, stratified_folds
from winnow.training import TrainConfig

CLASSES = [str(c) for c in range(4)]


def noisy_problem(*, n_per_class=60, classes=4, flip_share=0.15, seed=0):
    """(true, given, pred_probs, flipped): a confident model that knows the truth, and labels with flips."""
    rng = np.random.default_rng(seed)
    true = np.repeat(np.arange(classes), n_per_class)
    flipped = rng.random(len(true)) < flip_share
    given = true.copy()
    given[flipped] = (true[flipped] + rng.integers(1, classes, flipped.sum())) % classes
    logits = rng.normal(0, 0.3, (len(true), classes))
    logits[np.arange(len(true)), true] += 4.0
    pred_probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return true, given, pred_probs, flipped


@pytest.mark.parametrize("filter_by", ["prune_by_noise_rate", "prune_by_class", "both", "confident_learning",
                                       "predicted_neq_given"])
def test_constructed_flips_are_exactly_the_issues(filter_by):
    _, given, pred_probs, flipped = noisy_problem()
    is_issue, quality = cl.find_issues(given, pred_probs, filter_by=filter_by)
    assert np.array_equal(is_issue, flipped)
    assert quality[flipped].max() < quality[~flipped].min()  # every flip ranks below every sound label


def test_a_class_without_train_images_gets_no_cleanlab_warning_and_a_thin_one_keeps_it(recwarn):
    _, given, pred_probs, _ = noisy_problem()
    given[given == 3] = 2  # class 3 removed on purpose; its probability column stays
    given[np.flatnonzero(given == 1)[1:]] = 0  # class 1 left with one image: cleanlab cannot judge it
    cl.find_issues(given, pred_probs, filter_by="prune_by_noise_rate")
    messages = [str(w.message) for w in recwarn if "May not flag all label issues" in str(w.message)]
    # before: the removed class warned too, in cleanlab's words, every run
    assert [m.split(",")[0] for m in messages] == ["May not flag all label issues in class: 1"]


def test_decisions_rank_worst_first_and_relabel_only_when_confident():
    true, given, pred_probs, flipped = noisy_problem()
    unsure = np.flatnonzero(flipped)[0]
    # a flip the model doubts: its top class (0.4) is neither the given label nor sure enough to relabel to
    pred_probs[unsure] = np.roll([0.4, 0.3, 0.2, 0.1], given[unsure] + 1)
    ids = np.array([f"img-{i}" for i in range(len(given))], dtype=object)
    is_issue, quality = cl.find_issues(given, pred_probs, filter_by="predicted_neq_given")
    issues = cl.decide(ids, given, pred_probs, is_issue=is_issue, label_quality=quality, action="both",
                       relabel_threshold=0.8)
    assert list(issues.columns) == list(cl.ISSUE_COLUMNS)
    assert issues["label_quality"].is_monotonic_increasing
    by_id = issues.set_index("id")
    # every other flip has its true class 4 logits ahead (noise sd 0.3): the model names it with p > 0.8
    confident_flips = sorted(ids[flipped & (np.arange(len(given)) != unsure)])
    assert sorted(by_id.index[by_id["decision"] == "relabel"]) == confident_flips
    assert (by_id.loc[confident_flips, "suggested_label"] == true[[int(i[4:]) for i in confident_flips]]).all()
    assert list(by_id.index[by_id["decision"] == "drop"]) == [ids[unsure]]
    assert (by_id.loc[ids[~flipped], "decision"] == "keep").all()


def test_label_conflict_is_an_issue_only_when_the_model_disagrees():
    given = np.array([0, 1, 0, 1])
    pred_probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.7, 0.3]])
    issues = cl.decide(np.array(["a", "b", "c", "d"]), given, pred_probs, is_issue=np.zeros(4, bool),
                       label_quality=np.array([0.9, 0.8, 0.1, 0.3]), conflict=np.array([True, True, True, False]))
    by_id = issues.set_index("id")
    assert by_id.loc["c", "reason"] == "label_conflict" and by_id.loc["c", "decision"] == "drop"
    assert (by_id.loc[["a", "b", "d"], "decision"] == "keep").all()  # d disagrees but is no conflict


def test_score_against_truth_counts_flags_and_relabel_accuracy():
    issues = pd.DataFrame({"id": ["a", "b", "c", "d"], "given_label": [1, 2, 0, 0], "suggested_label": [0, 1, 0, 1],
                           "is_issue": [True, True, False, True], "decision": ["relabel", "relabel", "keep", "drop"]})
    truth = pd.DataFrame({"id": ["a", "b", "x"], "kind": ["symmetric_noise", "pair_flip", "blur"],
                          "params": "{}", "source_id": None, "original_label": [0, 0, -1]})
    scores = cl.score_against_truth(issues, truth)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 1, 0)
    assert scores["relabel_accuracy"] == 0.5 and scores["true_noise_rate"] == 0.5
    # recall counts the flips among the judged images; every flip degrade planted is given beside it
    assert scores["flips_planted"] == 2


def test_more_folds_than_a_class_has_images_names_the_parameter_and_class():
    labels = np.array([0] * 10 + [1] * 10 + [2] * 3)
    with pytest.raises(WinnowError, match=r"confident_learn\.folds: 4 folds but class '2' has only 3"):
        check_folds(labels, folds=4, classes=["0", "1", "2"])
    check_folds(labels, folds=3, classes=["0", "1", "2", "absent"])  # an empty class is no obstacle


@pytest.mark.hostile("intermediates")
def test_a_class_of_one_image_asks_for_images_not_for_fewer_folds_than_two():
    # before: "lower confident_learn.folds to at most 1", which params.yaml then refused as below 2
    with pytest.raises(WinnowError) as raised:
        check_folds(np.array([0] * 10 + [1]), folds=4, classes=["0", "1"])
    assert str(raised.value) == ("confident_learn.folds: 4 folds but class '1' has only 1 train image(s) to judge; "
                                 "add images")


@pytest.mark.hostile("intermediates")
def test_train_images_of_one_class_left_to_judge_are_refused_in_one_line():
    # before: cleanlab's "Labels must contain at least 2 classes" traceback, once threshold flagged class 0's images
    with pytest.raises(WinnowError) as raised:
        check_folds(np.array([1] * 10), folds=4, classes=["0", "1"])
    assert str(raised.value).startswith("confident_learn: only class '1' has train images left to judge")


def test_stratified_folds_spread_each_class_evenly():
    labels = np.repeat([0, 1, 2], [10, 7, 5])
    fold = stratified_folds(labels, folds=3, seed=1)
    for c in range(3):
        counts = np.bincount(fold[labels == c], minlength=3)
        assert counts.max() - counts.min() <= 1


def tiny_imageset(n_train=48, *, seed=0):
    """8x8 grey images whose brightness encodes the class; val and test rows after the train rows."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.arange(n_train) % 4, np.arange(16) % 4, np.arange(8) % 4])
    images = (labels[:, None, None, None] * 60 + rng.integers(0, 20, (len(labels), 8, 8, 1))).astype(np.uint8)
    manifest = make_manifest(len(labels), labels=labels)
    manifest["split"] = ["train"] * n_train + ["val"] * 16 + ["test"] * 8
    return ImageSet(images, manifest, CLASSES)


@pytest.fixture
def oracle_model(monkeypatch):
    """Stand-in for the train stage's fit/predict: reads the class off the brightness, and fails if asked
    about an image it was trained on, so cross-validation must keep every fold out of its own model. Its
    relabels are trusted on the few planted flips a tiny val holds (judges.MIN_MEASURED_RELABELS is for real
    val splits)."""
    from winnow import judges, training

    monkeypatch.setattr(judges, "MIN_MEASURED_RELABELS", 1)
    def fit(images, labels, val_images, val_labels, **_):
        return {img.tobytes() for img in images}

    def predict_proba(seen, images, **_):
        assert not seen & {img.tobytes() for img in images}, "predicted an image the model trained on"
        return np.eye(4, dtype=np.float32)[images[:, 0, 0, 0] // 60] * 0.96 + 0.01

    monkeypatch.setattr(training, "fit", fit)
    monkeypatch.setattr(training, "predict_proba", predict_proba)


def test_considered_rows_and_pred_probs_stay_aligned_after_removals(oracle_model):
    data = tiny_imageset()
    ids = data.manifest["id"]
    flags = pd.DataFrame({"id": ids, "dark": ids.isin(["img-1", "img-50"]), "blurry": ids.isin(["img-7"])})
    groups = pd.DataFrame({"id": ["img-2", "img-3", "img-9", "img-10"], "kept": [True, False, True, True],
                           "label_conflict": [True, True, False, True]})
    considered, conflict = considered_rows(data.manifest, flags=flags, groups=groups)
    assert set(ids[data.manifest["split"] != "train"]).isdisjoint(ids[considered])
    assert set(ids[data.manifest["split"] == "train"]) - set(ids[considered]) == {"img-1", "img-3", "img-7"}
    assert set(ids[conflict]) == {"img-2", "img-10"}

    train, val = data.select(considered), data.split("val")
    judged = cross_val_pred_probs(train.images, train.labels, val_images=val.images, val_labels=val.labels,
                                  config=TrainConfig(), classes=CLASSES, folds=3, repeats=2, seed=0)
    pred_probs = judged.pred_probs
    assert pred_probs.shape == (len(train), 4) and pred_probs.dtype == np.float32
    np.testing.assert_allclose(pred_probs.sum(1), 1, rtol=1e-5)
    # brightness gives the class away: row i of pred_probs must describe train image i, and row j of
    # val_probs val image j (the fold models score the val images too, none trained on them)
    assert np.array_equal(pred_probs.argmax(1), train.labels)
    assert np.array_equal(judged.val_probs.argmax(1), val.labels) and judged.val_accuracy == 1.0


@pytest.mark.hostile("intermediates")
def test_copies_dedup_removed_are_judged_when_dedup_is_not_among_pruned_cleaners():
    # t1 is a copy of t0 under another label, t3 a train copy of the test image. before: t1 was left out of every
    # label cleaner whatever pruned.cleaners said, and without dedup there pruned shipped it unjudged; the leak t3
    # stays out, pruned drops it whatever its cleaners
    manifest = pd.DataFrame({"id": ["t0", "t1", "t2", "t3", "x0"], "split": ["train"] * 4 + ["test"]})
    groups = pd.DataFrame({"id": ["t0", "t1", "t2", "t3", "x0"], "kept": [True, False, True, False, True],
                           "reason": ["kept", "exact_duplicate", "unique", "leak", "eval_copy"],
                           "label_conflict": [True, True, False, False, False]})
    considered, conflict = considered_rows(manifest, groups=groups, dedup_cleans=False)
    assert considered.tolist() == [True, True, True, False, False]
    assert conflict.tolist() == [True, True, False, False, False]
    considered, conflict = considered_rows(manifest, groups=groups)  # dedup among pruned.cleaners: as before
    assert considered.tolist() == [True, False, True, False, False]
    assert conflict.tolist() == [True, False, False, False, False]



@pytest.mark.hostile("intermediates")
def test_images_threshold_flags_are_judged_when_threshold_is_not_among_pruned_cleaners():
    # t1 is flagged dark. before: it was left out of every label cleaner whatever pruned.cleaners said, and with
    # threshold not among them pruned kept it unjudged (492 train images of the default run, 43 planted flips
    # among them with degrade.disjoint false)
    manifest = pd.DataFrame({"id": ["t0", "t1", "t2", "x0"], "split": ["train"] * 3 + ["test"]})
    flags = pd.DataFrame({"id": ["t0", "t1", "t2", "x0"], "dark": [False, True, False, True]})
    considered, _ = considered_rows(manifest, flags=flags, threshold_cleans=False)
    assert considered.tolist() == [True, True, True, False]
    considered, _ = considered_rows(manifest, flags=flags)  # threshold among pruned.cleaners: as before
    assert considered.tolist() == [True, False, True, False]

def test_cross_validation_trains_the_train_stage_model():
    data = tiny_imageset(n_train=16)
    train, val = data.split("train"), data.split("val")
    config = TrainConfig(model="lenet5", epochs=1, batch_size=8, crop_padding=0, device="cpu")
    judged = cross_val_pred_probs(train.images, train.labels, val_images=val.images, val_labels=val.labels,
                                  config=config, classes=CLASSES, folds=2, seed=0)
    assert judged.pred_probs.shape == (16, 4) and np.isfinite(judged.pred_probs).all()
    assert judged.val_probs.shape == (16, 4) and np.isfinite(judged.val_probs).all()


def test_apply_decisions_drops_and_relabels_train_rows_only():
    data = tiny_imageset()
    issues = pd.DataFrame({"id": ["img-4", "img-5", "img-6"], "suggested_label": [3, 2, 0],
                           "decision": ["drop", "relabel", "keep"]})
    cleaned = cl.apply_decisions(data, issues)
    assert "img-4" not in set(cleaned.manifest["id"])
    by_id = cleaned.manifest.set_index("id")
    assert by_id.loc["img-5", "label"] == 2 and by_id.loc["img-6", "label"] == data.labels[6]
    # images move with their rows: brightness still encodes each image's original label
    original = pd.Series(data.labels, index=data.manifest["id"])
    assert np.array_equal(cleaned.images[:, 0, 0, 0] // 60, original[cleaned.manifest["id"]].to_numpy())
    def evaluation_rows(manifest):
        return manifest[manifest["split"] != "train"].reset_index(drop=True)

    assert evaluation_rows(cleaned.manifest).equals(evaluation_rows(data.manifest))

    for target in ("img-50", "img-70", "nowhere"):  # a val image, a test image, an unknown id
        with pytest.raises(WinnowError, match="only train labels may change"):
            cl.apply_decisions(data, pd.DataFrame({"id": [target], "suggested_label": [0], "decision": ["relabel"]}))


def test_stage_writes_aligned_outputs_and_never_judges_val_or_test(tmp_path, monkeypatch, oracle_model):
    data = tiny_imageset(seed=1)
    data.manifest.loc[data.manifest["id"] == "img-0", "label"] = 2  # a flipped train label
    write_imageset(tmp_path / "data/degrade", data.images, data.manifest, CLASSES)
    written = read_imageset(tmp_path / "data/degrade").manifest
    pd.DataFrame({"id": ["img-0"], "kind": ["symmetric_noise"], "params": "{}", "source_id": None,
                  "original_label": [0]}).to_parquet(tmp_path / "data/degrade/perturbations.parquet")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(default_params() | {
        "seed": 0,
        "train": {"model": "lenet5", "epochs": 9, "patience": None, "batch_size": 16, "crop_padding": 0, "lr": 0.01,
                  "device": "cpu"},
        "confident_learn": {"judge": "cnn", "folds": 2, "repeats": 1, "train": {"epochs": 3}, "filter_by": "prune_by_noise_rate",
                            "rank_by": "self_confidence", "frac_noise": 1.0, "action": "both",
                            "relabel_threshold": 0.5},
    }))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "stages"))
    sys.modules.pop("confident_learn", None)
    import confident_learn

    confident_learn.main()
    ids = json.loads(Path("data/confident-learn/pred_ids.json").read_text())
    pred_probs = np.load("data/confident-learn/pred_probs.npy")
    issues = pd.read_parquet("data/confident-learn/label_issues.parquet")
    metrics = json.loads(Path("metrics/confident_learn.json").read_text())
    # the train images in id order (judged_rows.in_id_order), whatever order data/degrade lists them in
    assert ids == sorted(f"img-{i}" for i in range(48)) and pred_probs.shape == (48, 4)
    assert sorted(issues["id"]) == sorted(ids)
    # the oracle gives img-0's true class 0 p = 0.97 >= relabel_threshold 0.5, and agrees with every other label
    assert issues.set_index("id").loc["img-0", ["decision", "suggested_label"]].tolist() == ["relabel", 0]
    assert issues.loc[issues["id"] != "img-0", "decision"].eq("keep").all()
    assert metrics["considered"] == 48 and metrics["truth"]["f1"] == 1.0
    assert read_imageset("data/degrade").manifest.equals(written)  # nothing edited in place


def test_flips_outside_the_judged_images_are_counted_beside_the_recall():
    # before: a flip in an image threshold or dedup removed counted nowhere, and recall 1.0 read as every flip found
    issues = pd.DataFrame({"id": ["a", "b"], "given_label": [1, 0], "suggested_label": [0, 0],
                           "is_issue": [True, False], "decision": ["relabel", "keep"]})
    truth = pd.DataFrame({"id": ["a", "gone"], "kind": ["symmetric_noise", "symmetric_noise"], "params": "{}",
                          "source_id": None, "original_label": [0, 1]})
    scores = cl.score_against_truth(issues, truth)
    assert (scores["recall"], scores["tp"] + scores["fn"], scores["flips_planted"]) == (1.0, 1, 2)


def test_a_judge_that_agrees_with_every_label_estimates_no_noise():
    # found by review: the diagonal joint's trace rounded to 1.0000000000000002, a noise rate of -2.2e-16 that
    # the report refused as no rate, on a clean data set
    given = np.repeat(np.arange(6), [40, 39, 44, 46, 44, 38])
    pred_probs = np.full((len(given), 6), 0.01)
    pred_probs[np.arange(len(given)), given] = 0.95
    assert cl.noise_estimate(given, pred_probs)["noise_rate"] == 0.0


@pytest.mark.hostile("intermediates")
def test_a_class_no_image_is_judged_in_has_no_noise_estimate_rather_than_zeros():
    # before: class 2, with no train image judged (all in val, or all removed upstream), had a noise-matrix column
    # of zeros, P(given = i | true = 2) = 0 for every i, a distribution summing to 0 in noise_matrix.csv
    given = np.repeat([0, 1], 20)
    pred_probs = np.full((40, 3), 0.05)
    pred_probs[np.arange(40), given] = 0.9
    matrix = cl.noise_estimate(given, pred_probs)["noise_matrix"]
    assert np.isnan(matrix[:, 2]).all()
    assert matrix[:, :2].tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
