"""Per-class classification metrics, laid out so DVC flattens them into readable columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

PER_CLASS_METRICS = ("precision", "recall", "f1", "accuracy")


def confusion(y_true: np.ndarray, y_pred: np.ndarray, *, num_classes: int) -> np.ndarray:
    """int64 ``(K, K)``; row = true class, column = predicted class."""
    return np.bincount(np.asarray(y_true) * num_classes + np.asarray(y_pred),
                       minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_table(y_true: np.ndarray, y_pred: np.ndarray, *, classes: list[str]) -> pd.DataFrame:
    """One row per class: precision, recall, f1, accuracy, support.

    ``accuracy`` is the share of the class's test images classified correctly (the per-class accuracy of
    000's tables, which equals recall); a class never predicted has precision 0, as in scikit-learn's
    ``zero_division=0``.
    """
    cm = confusion(y_true, y_pred, num_classes=len(classes))
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return pd.DataFrame({"class": classes, "precision": precision, "recall": recall, "f1": f1,
                         "accuracy": recall, "support": support})


def summarise(y_true: np.ndarray, y_pred: np.ndarray, *, classes: list[str]) -> dict:
    """Nested metrics: ``accuracy``, ``macro.<m>``, ``per_class_std.<m>``, ``per_class.<class>.<m>``.

    The std across classes is the population std (ddof=0) over the classes, as a spread, not an estimate.
    """
    table = per_class_table(y_true, y_pred, classes=classes)
    return {
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else 0.0,
        "macro": {m: float(table[m].mean()) for m in PER_CLASS_METRICS},
        "per_class_std": {m: float(table[m].std(ddof=0)) for m in PER_CLASS_METRICS},
        "per_class": {row["class"]: {**{m: float(row[m]) for m in PER_CLASS_METRICS}, "support": int(row["support"])}
                      for row in table.to_dict("records")},
    }
