import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from winnow.metrics import confusion, headline, not_learnt, per_class_table, predictions_table, summarise


@pytest.fixture
def predictions():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 4, 300))
    y_pred[y_pred == 3] = 2  # class 3 is never predicted: precision must be 0, not NaN
    return y_true, y_pred


def test_per_class_matches_scikit_learn(predictions):
    y_true, y_pred = predictions
    table = per_class_table(y_true, y_pred, classes=["a", "b", "c", "d"])
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2, 3], zero_division=0)
    np.testing.assert_allclose(table["precision"], p)
    np.testing.assert_allclose(table["recall"], r)
    np.testing.assert_allclose(table["f1"], f)
    np.testing.assert_array_equal(table["support"], s)
    np.testing.assert_array_equal(confusion(y_true, y_pred, num_classes=4),
                                  confusion_matrix(y_true, y_pred, labels=[0, 1, 2, 3]))


def test_summary_is_nested_for_dvc(predictions):
    y_true, y_pred = predictions
    m = summarise(y_true, y_pred, classes=["a", "b", "c", "d"])
    _, _, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2, 3], zero_division=0)
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["macro"]["f1"] == pytest.approx(f.mean())
    assert m["per_class_std"]["f1"] == pytest.approx(f.std())
    assert m["per_class"]["d"]["precision"] == 0.0
    assert set(m["per_class"]["a"]) == {"precision", "recall", "f1", "accuracy", "support"}


def test_headline_is_what_dvc_shows_in_order(predictions):
    y_true, y_pred = predictions
    summary = summarise(y_true, y_pred, classes=["a", "b", "c", "d"])
    shown = headline(summary)
    assert list(shown) == ["accuracy", "macro", "per_class"] and shown["macro"] == {"f1": summary["macro"]["f1"]}
    assert shown["per_class"] == {c: {"f1": summary["per_class"][c]["f1"]} for c in "abcd"}


def test_predictions_name_classes_and_the_top_probability():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.25, 0.5, 0.25]])
    table = predictions_table(np.array([10, 11, 12]), np.array([0, 0, 1]), probabilities, classes=["x", "NA", "y"])
    assert table.to_dict("list") == {"id": ["10", "11", "12"], "label": ["x", "x", "NA"],
                                     "predicted": ["x", "y", "NA"], "probability": [0.7, 0.6, 0.5]}


@pytest.mark.hostile("report")
def test_a_model_below_the_largest_class_share_of_a_skewed_test_split_has_learnt():
    # 910 of 1,000 test images are class 0; the model misses 110 of them and finds every image of the other classes
    labels = np.concatenate([np.zeros(910, int), np.repeat(np.arange(1, 10), 10)])
    predicted = labels.copy()
    predicted[:110] = 1
    summary = summarise(labels, predicted, classes=[str(c) for c in range(10)])
    # before: right on 890, no more than the 910 of naming class 0 for all, it read as never learnt: evaluate warned
    # and the report withheld its verdict beside it
    assert not_learnt(summary) is False
    # naming one class for every image, the largest or another, has not learnt
    assert not_learnt(summarise(labels, np.zeros_like(labels), classes=[str(c) for c in range(10)])) is True
    assert not_learnt(summarise(labels, np.full_like(labels, 3), classes=[str(c) for c in range(10)])) is True
