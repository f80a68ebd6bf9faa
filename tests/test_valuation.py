"""Data valuation (issue 23): kNN-Shapley and TracIn put flipped labels lowest and a copy of a val image
highest-signed, the decisions drop only what both find harmful, the budget ranks them by harm, and the
data-valuation stage repeats itself for a seed."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from budget_project import Case, case, planted_fixes_then_mistakes, write_state
from hostile_harness import run_stage
from winnow.budget import rank_label_decisions
from winnow.errors import WinnowError
from winnow.valuation import MIN_CLASS_VAL, Values, average_ranks, decide, harm, knn_shapley, thin_classes, tracin
from winnow.variants import baseline_rows
from winnow.decision_rows import apply_decisions, cleaner_decisions

CENTRES = np.array([[-4.0, 0.0], [0.0, 4.0], [4.0, 0.0]])


def clouds(per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = np.repeat(np.arange(3), per_class)
    return (CENTRES[labels] + rng.normal(size=(len(labels), 2))).astype(np.float32), labels


@pytest.fixture(scope="module")
def flipped_set():
    """150 train images in three separate clouds, six of them labelled with another cloud's class; 90 clean val."""
    rng = np.random.default_rng(0)
    x, y = clouds(50, rng)
    flipped = np.array([3, 17, 60, 88, 120, 140])
    given = y.copy()
    given[flipped] = (y[flipped] + 1) % 3
    val_x, val_y = clouds(30, rng)
    return x, given, flipped, val_x, val_y


def test_flipped_labels_get_the_lowest_values_under_both_estimators(flipped_set):
    x, given, flipped, val_x, val_y = flipped_set
    knn = knn_shapley(x, given, val_x, val_y, k=5)
    influence = tracin(x, given, val_x, val_y, num_classes=3, epochs=5, seed=0)
    for values in (knn, influence):
        lowest = np.argsort(values.mean, kind="stable")[:len(flipped)]
        assert set(lowest) == set(flipped)
        assert (values.mean[flipped] < 0).all()


def test_both_estimators_flag_the_flipped_labels_and_nothing_else(flipped_set):
    x, given, flipped, val_x, val_y = flipped_set
    values = {"knn_shapley": knn_shapley(x, given, val_x, val_y, k=5),
              "tracin": tracin(x, given, val_x, val_y, num_classes=3, epochs=5, seed=0)}
    table = decide(np.arange(len(x)), given, values, bound=0.0)
    assert np.flatnonzero(table["decision"] == "drop").tolist() == sorted(flipped)
    assert set(table.loc[table["decision"] == "drop", "reason"]) == {"negative_value"}
    # one standard error: image 3, flipped at the edge of its cloud toward the class it was given, is valued
    # negative by too few val images to count; the bound spares it and drops no clean image instead
    table = decide(np.arange(len(x)), given, values, bound=1.0)
    assert np.flatnonzero(table["decision"] == "drop").tolist() == sorted(set(flipped) - {3})
    # the flipped images are the most harmful by the budget's ranking too
    assert set(np.argsort(-table["harm"].to_numpy(), kind="stable")[:len(flipped)]) == set(flipped)


def test_a_copy_of_a_val_image_with_its_label_gets_a_positive_value(flipped_set):
    x, given, _, val_x, val_y = flipped_set
    target = 7  # any val image: a copy of it, rightly labelled, is its own nearest train image

    x_copy = np.concatenate([x, val_x[target:target + 1]])
    given_copy = np.append(given, val_y[target])
    knn = knn_shapley(x_copy, given_copy, val_x, val_y, k=5)
    influence = tracin(x_copy, given_copy, val_x, val_y, num_classes=3, epochs=5, seed=0)
    assert knn.mean[-1] > 0 and influence.mean[-1] > 0
    # and the same copy under a wrong label hurts
    given_copy[-1] = (val_y[target] + 2) % 3
    assert knn_shapley(x_copy, given_copy, val_x, val_y, k=5).mean[-1] < 0
    assert tracin(x_copy, given_copy, val_x, val_y, num_classes=3, epochs=5, seed=0).mean[-1] < 0


def test_knn_shapley_values_sum_to_the_knn_val_accuracy():
    # Jia et al. 2019, Theorem 1, by hand for one val image (label 0) whose train images rank right, wrong,
    # right with k = 2: s3 = 1/3, s2 = s3 + (0 - 1) / 2 = -1/6, s1 = s2 + (1 - 0) / 2 = 1/3; they sum to the
    # 2-NN utility of the whole set, 1/2 (one of the two nearest is right)
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], np.float32)
    values = knn_shapley(x, np.array([0, 1, 0]), np.array([[1.0, 0.01]], np.float32), np.array([0]), k=2)
    np.testing.assert_allclose(values.mean, [1 / 3, -1 / 6, 1 / 3])


def test_an_image_no_val_image_tells_apart_is_not_dropped():
    # value 0 with error 0 (t = 0) is no evidence of harm, whatever the bound
    zero = Values(np.array([0.0, -1.0, 2.0]), np.array([0.0, 0.1, 0.1]))
    table = decide(np.array(["a", "b", "c"]), np.zeros(3, np.int64), {"knn_shapley": zero, "tracin": zero}, bound=0.0)
    assert table["decision"].tolist() == ["keep", "drop", "keep"]
    # t as its docstring says: 0 where value and error are 0 (before: NaN, 0 * inf), infinite where the error alone is
    assert Values(np.array([0.0, -1.0, 2.0, 1.0]), np.array([0.0, 0.0, 0.0, 0.5])).t().tolist() == [
        0.0, -np.inf, np.inf, 2.0]


def test_combine_either_drops_what_one_estimator_finds_harmful():
    first = Values(np.array([-1.0, 1.0]), np.array([0.1, 0.1]))
    second = Values(np.array([1.0, 1.0]), np.array([0.1, 0.1]))
    values = {"knn_shapley": first, "tracin": second}
    assert decide(np.array(["a", "b"]), np.zeros(2, np.int64), values)["decision"].tolist() == ["keep", "keep"]
    assert decide(np.array(["a", "b"]), np.zeros(2, np.int64), values,
                  combine="either")["decision"].tolist() == ["drop", "keep"]


def test_harm_is_one_for_the_image_every_estimator_values_lowest():
    assert harm({"a": np.array([3.0, -1.0, 0.0]), "b": np.array([2.0, -5.0, 1.0])}).tolist() == [0.0, 1.0, 0.5]


def test_tied_values_share_their_mean_rank_and_so_their_harm():
    # 1.0 ranks 1st, the two 2.0s share ranks 2 and 3, the three 5.0s ranks 4 to 6
    assert average_ranks(np.array([5.0, 2.0, 1.0, 5.0, 2.0, 5.0])).tolist() == [5.0, 2.5, 1.0, 5.0, 2.5, 5.0]
    assert harm({"a": np.array([1.0, 1.0, 0.0])}).tolist() == [0.25, 0.25, 1.0]


def test_valuation_drops_reach_pruned_and_the_budget_ranks_them_by_harm():
    table = pd.DataFrame({"id": ["a", "b", "c"], "decision": ["drop", "keep", "drop"], "suggested_label": -1,
                          "reason": ["negative_value", "", "negative_value"], "harm": [0.6, 0.1, 0.9]})
    ranked = rank_label_decisions({"data_valuation": table})
    assert ranked["id"].tolist() == ["c", "a"] and ranked["stage"].unique().tolist() == ["data_valuation"]
    rows = pd.DataFrame({"id": ["a", "b", "c"], "split": "train", "label": [0, 1, 2]})
    applied = apply_decisions(baseline_rows(rows), cleaner_decisions(valuation_decisions=table))
    assert applied["action"].tolist() == ["drop", "keep", "drop"]


def flipped_project(root, flipped_set):
    """A project holding what the stages before data-valuation write for the flipped set (budget_project's
    layout: 1x1 images, the features as the represent embedding, nothing flagged, no duplicate)."""
    x, given, flipped, val_x, val_y = flipped_set
    c = Case(train_x=x, true=given, given=given, planted=flipped, val_x=val_x, val_y=val_y, noisy_val_y=val_y,
             trusted_x=val_x[:0], trusted_y=val_y[:0], test_x=val_x[:9], test_y=val_y[:9])
    return write_state(root, c, issues=planted_fixes_then_mistakes(case())[:0], trusted=False)


def test_the_stage_repeats_itself_for_a_seed_and_drops_only_flipped_labels(tmp_path, flipped_set):
    tables = []
    for run in range(2):
        project = flipped_project(tmp_path / f"p{run}", flipped_set)
        done = run_stage(project, "data-valuation")
        assert done.returncode == 0, done.stderr[-2000:]
        tables.append(pd.read_parquet(project / "data/data-valuation/decisions.parquet"))
    pd.testing.assert_frame_equal(tables[0], tables[1])
    dropped = tables[0].loc[tables[0]["decision"] == "drop", "id"]
    assert set(dropped) == {f"train-{i:04d}" for i in flipped_set[2] if i != 3}  # image 3: see above
    metrics = json.loads((project / "metrics/data_valuation.json").read_text())
    assert metrics["flagged"] == 5 and {row["id"] for row in metrics["most_harmful"][:5]} == set(dropped)


def test_the_report_section_shows_the_most_harmful_then_the_most_helpful_with_their_classes(tmp_path):
    from winnow.imageset import ImageSet
    from winnow.report_valuation import valuation_section

    manifest = pd.DataFrame({"id": ["a", "b", "c"], "split": "train", "label": [0, 1, 2], "source": "t",
                             "orig_h": 1, "orig_w": 1, "orig_mode": "L"})
    imageset = ImageSet(np.zeros((3, 1, 1, 1), np.uint8), manifest, ["cat", "dog", "emu"])
    decisions = pd.DataFrame({"id": ["a", "b", "c"], "given_label": [0, 1, 2], "decision": ["keep", "drop", "keep"],
                              "knn_shapley": [0.5, -0.5, 0.1], "tracin": [2.0, -1.0, 0.3], "harm": [0.0, 1.0, 0.5]})
    page = valuation_section(decisions=decisions, summary={"considered": 3, "flagged": 1}, imageset=imageset, count=1,
                             cleaning=True, applied=1)
    harmful, helpful = page.split("Most helpful")
    assert "<figcaption>dog<br>kNN -5.00e-01 · TracIn -1.00e+00</figcaption>" in harmful
    assert 'class="tile dropped"' in harmful and "cat" not in harmful
    assert "<figcaption>cat<br>kNN +5.00e-01 · TracIn +2.00e+00</figcaption>" in helpful and "dog" not in helpful
    assert "data valuation: not run" in valuation_section(decisions=None, summary=None, imageset=imageset, count=1,
                                                           cleaning=True, applied=None)
    # nothing dropped against planted noise: precision is 0/0, said as such (before: "precision 0.000")
    truth = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "fn": 4}
    none_dropped = valuation_section(decisions=decisions, summary={"considered": 3, "flagged": 0, "truth": truth},
                                     imageset=imageset, count=1, cleaning=True, applied=0)
    assert re.search(r"against planted label noise: precision</t[dh]><td[^>]*>– \(nothing dropped\)<", none_dropped)


@pytest.mark.hostile("intermediates")
def test_a_tracin_probe_that_diverges_is_one_line(flipped_set):
    # before: every TracIn value NaN, metrics/data_valuation.json holding bare NaN, and exit 0
    x, given, _, val_x, val_y = flipped_set
    # weight_decay 0: with the default 1e-4, lr 1e300 is refused before training (lr * weight_decay >= 1)
    with pytest.raises(WinnowError) as raised:
        tracin(x * 1e3, given, val_x * 1e3, val_y, num_classes=3, epochs=2, lr=1e300, weight_decay=0.0, seed=0)
    assert str(raised.value) == ("data_valuation.tracin.lr: the probe diverged (non-finite weights) at lr 1e+300 with "
                                 "weight_decay 0; lower data_valuation.tracin.lr")


@pytest.mark.hostile("params")
def test_a_weight_decay_that_erases_the_probe_names_weight_decay_not_lr(flipped_set):
    # before: weight_decay 1e6 at lr 0.1 diverged and the line told the user to lower data_valuation.tracin.lr,
    # which was not the cause; a decay at lr * weight_decay in [1, 2) would not even diverge, only give noise
    x, given, _, val_x, val_y = flipped_set
    with pytest.raises(WinnowError) as raised:
        tracin(x, given, val_x, val_y, num_classes=3, epochs=2, lr=0.1, weight_decay=1e6, seed=0)
    assert str(raised.value) == ("data_valuation.tracin.weight_decay: 1e+06 at lr 0.1 makes each SGD step scale the "
                                 "weights by 1 - lr * weight_decay = -99999, where a probe that learns needs a factor "
                                 "just under 1; lower data_valuation.tracin.weight_decay so that lr * weight_decay is "
                                 "well below 1 (the default is 1e-4)")
    with pytest.raises(WinnowError, match=r"^data_valuation\.tracin\.weight_decay: 15 at lr 0\.1 .* = -0\.5,"):
        tracin(x, given, val_x, val_y, num_classes=3, epochs=2, lr=0.1, weight_decay=15.0, seed=0)
    # and a learning rate of 1e6 at the default decay is the learning rate's fault, not the decay's
    with pytest.raises(WinnowError, match=r"^data_valuation\.tracin\.lr: 1e\+06 at weight_decay 0\.0001 .* = -99,"):
        tracin(x, given, val_x, val_y, num_classes=3, epochs=2, lr=1e6, weight_decay=1e-4, seed=0)


def test_one_val_image_gives_no_standard_error_so_nothing_is_reliably_negative(flipped_set):
    # before: the variance over one val image was divided by max(m - 1, 1), so the standard error was 0, every
    # negative value infinitely many standard errors below zero, and every such image dropped
    x, given, flipped, val_x, val_y = flipped_set
    values = {"knn_shapley": knn_shapley(x, given, val_x[:1], val_y[:1], k=5),
              "tracin": tracin(x, given, val_x[:1], val_y[:1], num_classes=3, epochs=5, seed=0)}
    assert np.isinf(values["knn_shapley"].se).all() and np.isinf(values["tracin"].se).all()
    assert (values["knn_shapley"].mean < 0).sum() > 0  # negative values there are, yet none is reliable
    assert (decide(np.arange(len(x)), given, values, bound=0.0)["decision"] == "keep").all()


def test_classes_with_fewer_val_images_than_the_minimum_are_thin():
    assert MIN_CLASS_VAL == 2
    # train classes 0, 1, 3; val: two of 0, one of 1, none of 3, and two of 2 (no train image: not asked about)
    assert thin_classes(np.array([0, 1, 3, 3, 0]), np.array([0, 0, 1, 2, 2])) == {1: 1, 3: 0}
    assert thin_classes(np.array([0, 1]), np.array([0, 1, 1, 0])) == {}
