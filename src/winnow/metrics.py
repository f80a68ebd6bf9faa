"""Per-class classification metrics, laid out so DVC flattens them into readable columns, and where
evaluate writes them.

evaluate@<variant> writes three files per variant (paths below):

- ``metrics/evaluate/<variant>.json`` (a DVC metric): only what a user compares across versions —
  ``accuracy``, ``macro.f1`` and ``per_class.<class>.f1`` — so ``dvc exp show`` opens on them;
- ``metrics/evaluate/<variant>/summary.json`` (a plain output): every per-class metric, macro
  averages and the spread across classes (:func:`summarise`), for the report and ``compare``;
- ``metrics/evaluate/<variant>/predictions.csv`` (a plain output): one row per test image, so the
  merge gate can pair the same images at two revisions (:data:`PREDICTION_COLUMNS`).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from winnow.errors import WinnowError

PER_CLASS_METRICS = ("precision", "recall", "f1", "accuracy")
PREDICTION_COLUMNS = ("id", "label", "predicted", "probability")


METRICS_FILE = "metrics/evaluate/{variant}.json"
SUMMARY_FILE = "metrics/evaluate/{variant}/summary.json"
TEST_SPLIT_KEY = "test_split_digest"  # the summary's record of the test images measured (digest_of_test_split)
PREDICTIONS_FILE = "metrics/evaluate/{variant}/predictions.csv"


def is_rate(value) -> bool:
    """Whether ``value`` is a number in [0, 1], as every per-class metric and accuracy is (a boolean, a
    string and NaN are not)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 <= value <= 1


def check_support(metrics: dict[str, dict]) -> None:
    """One line when a class's ``support`` (where a summary gives it) is not a count of test images, or is not the
    same count at every variant of ``metrics`` (variant → a summary): variants are compared on one test set
    (:func:`winnow.compare.class_table` checks every table's summaries so: the stage's, ``winnow compare``'s runs' and
    the report's). Before: support "0" or -3 counted the class as tested and averaged its unmeasured 0s in (the report
    refuses both), and 0 at one variant beside 4 at another paired a stale summary's 0 against a measured F1."""
    first: dict[str, tuple[str, int]] = {}
    for variant, m in metrics.items():
        for name, values in m["per_class"].items():
            if "support" not in values:
                continue
            support = values["support"]
            if isinstance(support, bool) or not isinstance(support, int) or support < 0:
                raise WinnowError(f"{variant}: per_class.{name}.support is {json.dumps(support)[:40]}, not a count of "
                                  f"test images; rerun evaluate@{variant}")
            seen = first.setdefault(name, (variant, support))
            if seen[1] != support:
                raise WinnowError(f"{variant}: per_class.{name}.support is {support}, but {seen[0]}'s is {seen[1]}; "
                                  f"variants are compared on one test set: rerun evaluate@{variant}")


def check_support_over_runs(runs: list[dict[str, dict]], *, names: list[str] | None = None) -> None:
    """One line when a class's ``support``, where a run's summaries give it (:func:`check_support` has found them
    alike within each run), differs between two of ``runs`` (each variant → a summary; ``names``: the runs'
    experiments, else each is named by its place): the seeds of one setting are tested on one test split
    (ingest.split_seed, not seed, carves it). Before, a class of no test image in one run and of 4 in another was left
    out of every run's average and tests, and its row read 0.4000 ± 0.5657, an unmeasured 0 averaged with a measured
    0.8, beside a note saying it had no test image."""
    first: dict[str, tuple[str, int]] = {}
    named = [f"experiment {n}" for n in names] if names else [f"run {n + 1}" for n in range(len(runs))]
    for run, metrics in zip(named, runs):
        for variant, m in metrics.items():
            for name, values in m["per_class"].items():
                seen = first.setdefault(name, (run, values["support"])) if "support" in values else None
                if seen is not None and seen[1] != values["support"]:
                    raise WinnowError(f"{run}: {variant}: per_class.{name}.support is {values['support']}, but "
                                      f"{seen[0]}'s is {seen[1]}; the runs compared are seeds of one setting, tested "
                                      f"on one test split: rerun evaluate@{variant} there, or leave the run out")


def largest_class_share(labels) -> float:
    """The share of int ``labels`` ``(N,)`` in their largest class (0 for none): the accuracy of naming it for every
    image."""
    labels = np.asarray(labels, np.int64)
    return float(np.bincount(labels).max() / len(labels)) if len(labels) else 0.0


def no_better_than_largest_class(accuracy: float, labels) -> bool:
    """Whether ``accuracy`` on images of int ``labels`` ``(N,)`` is no better than naming their largest class for
    every one, counted in images: float32's fractions (50 of 500 read 0.1000000015) are above 0.1 + 1e-9."""
    labels = np.asarray(labels, np.int64)
    return bool(len(labels)) and round(accuracy * len(labels)) <= int(np.bincount(labels).max())


def recall_total(recalls) -> float:
    """The float ``recalls`` ``(C,)`` of the classes that have test images, added up: naming one class for every
    image scores 1 (its recall 1, every other 0), on any split, balanced or not."""
    return float(np.sum(np.asarray(recalls, np.float64)))


def tested_recalls(summary: dict) -> list[float]:
    """The recall of each class of an evaluate ``summary`` (:func:`summarise`'s) that has test images."""
    return [values["recall"] for values in summary["per_class"].values() if values["support"] > 0]


def not_learnt(summary: dict) -> bool:
    """Whether the model of an evaluate ``summary`` (:func:`summarise`'s) does no better on the classes it was tested
    on than naming one class for every image (:func:`recall_total` at most 1) while it misses some: a model that
    never learnt, whose gap to another version says nothing of the data. A recall total of at most 1 also keeps the
    accuracy at or below the largest class's share. Before: accuracy alone was weighed against that share, and a
    model right on 89% of a test split 90% one class (recall 0.88 there, 1.0 on each other class) read as never
    learnt. A test split of one class cannot tell, whatever the model scores there, and is not flagged."""
    return no_better_than_one_class(summary["accuracy"], tested_recalls(summary))


def no_better_than_one_class(accuracy: float, recalls) -> bool:
    """Whether a model right on ``accuracy`` of the test images, with float ``recalls`` ``(C,)`` of the classes that
    have test images, misses some while its :func:`recall_total` is at most 1 (:func:`not_learnt`'s test, for
    callers holding predictions rather than a summary). Never where fewer than two classes have images: naming that
    one class scores every image right there, so each model that misses one would read as never learnt. Before: a
    test (or val) split of one class, the model right on 95% of it, was told "it has not learnt; check train.lr",
    the report withheld its verdict and the gate refused it, while a model naming that class for every image passed
    (and retraining at any lr could not help)."""
    return len(recalls) > 1 and accuracy < 1 and recall_total(recalls) <= 1 + 1e-9  # sums of float fractions


def unvalidated_classes(train_labels: np.ndarray, val_labels: np.ndarray, *, classes: list[str],
                        most: int = 5) -> str | None:
    """What the warning says when some class of int ``train_labels`` has no image among ``val_labels`` (None when
    each has one): the epoch kept is the one of best val accuracy, which never asks for that class. Before, a val split
    of class 'a' alone (ingest's carving rounds a small class's share to 0) kept, without a word, an epoch that named
    'a' for every image: "best val acc 1.0000". The train stage and represent's judge say it. None too when val holds
    no image: :func:`winnow.training.fit` refuses that in one line (before: this warning of every class came first)."""
    if not len(val_labels):
        return None
    missing = np.setdiff1d(np.unique(train_labels), np.unique(val_labels))
    if not len(missing):
        return None
    named = ", ".join(repr(classes[c]) for c in missing[:most])
    if len(missing) > most:
        named += f" and {len(missing) - most} more"
    one = len(missing) == 1
    return (f"val has no image of class{'' if one else 'es'} {named}, which train has: the epoch kept is the one of "
            f"best val accuracy, and a model that never names {'it' if one else 'them'} scores no lower there; add "
            "val images of every class (raise ingest.val_fraction; an imagefolder's val/ needs a folder for each)")


def metrics_path(variant: str) -> str:
    """The DVC metrics file of a variant: accuracy, macro F1, per-class F1 (:func:`headline`)."""
    return METRICS_FILE.format(variant=variant)


def summary_path(variant: str) -> str:
    """Every per-class metric of a variant (:func:`summarise`), not shown by DVC."""
    return SUMMARY_FILE.format(variant=variant)


def predictions_path(variant: str) -> str:
    """One row per test image (:func:`predictions_table`)."""
    return PREDICTIONS_FILE.format(variant=variant)


def variant_of(path: str, pattern: str) -> str | None:
    """The variant a path names under ``pattern`` (one of the ``*_FILE`` patterns), or None."""
    prefix, suffix = pattern.split("{variant}")
    name = path[len(prefix):len(path) - len(suffix)]
    ok = path.startswith(prefix) and path.endswith(suffix) and len(path) > len(prefix) + len(suffix)
    return name if ok and "/" not in name else None


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

    The macro averages and the std across classes (the population std, ddof=0, as a spread, not an estimate) are
    over the classes with test images (``support`` > 0; every class where none has): a class without test images has
    its metrics written as 0 by convention, not measured. Before, that 0 counted, and a class the test split lacked
    lowered macro F1 as if the model had failed it (evaluate warns, naming it).
    """
    table = per_class_table(y_true, y_pred, classes=classes)
    tested = table[table["support"] > 0] if (table["support"] > 0).any() else table
    return {
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else 0.0,
        "macro": {m: float(tested[m].mean()) for m in PER_CLASS_METRICS},
        "per_class_std": {m: float(tested[m].std(ddof=0)) for m in PER_CLASS_METRICS},
        "per_class": {row["class"]: {**{m: float(row[m]) for m in PER_CLASS_METRICS}, "support": int(row["support"])}
                      for row in table.to_dict("records")},
    }


def digest_of_test_split(manifest: pd.DataFrame) -> str:
    """The md5 (hex) of the test split of an imageset's ``manifest`` (its rows of ``split`` "test": ``id``, ``label``,
    ``digest``, in id order): evaluate records it in each summary (:data:`TEST_SPLIT_KEY`), so that a stage reading the
    summaries without dvc.lock (run by hand) can tell one measured on another test split than data/ingest's now."""
    test = manifest.loc[manifest["split"] == "test", ["id", "label", "digest"]].astype(str).sort_values("id")
    text = "\n".join("\t".join(row) for row in test.itertuples(index=False, name=None))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def headline(summary: dict) -> dict:
    """What DVC shows of a :func:`summarise` result: ``accuracy``, ``macro.f1``, ``per_class.<class>.f1``,
    in that order (``dvc exp show`` lists columns in the order of the file)."""
    return {"accuracy": summary["accuracy"], "macro": {"f1": summary["macro"]["f1"]},
            "per_class": {name: {"f1": values["f1"]} for name, values in summary["per_class"].items()}}


def predictions_table(ids: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, *,
                      classes: list[str], digests: np.ndarray | None = None) -> pd.DataFrame:
    """One row per test image: ``id``, ``label`` and ``predicted`` (class names), ``probability`` (of
    the predicted class, rounded to 6 digits so the file diffs quietly) and, given ``digests``, ``digest``:
    the image's pixel digest, so the gate pairs the same pixels and not only the same file names.

    Args:
        ids: ``(N,)`` image ids (written as strings).
        labels: int ``(N,)`` true class indices.
        probabilities: float ``(N, K)`` class probabilities.
        digests: ``(N,)`` the manifest's ``digest`` of each image, or None.
    """
    names = np.asarray(classes, dtype=object)
    predicted = probabilities.argmax(1)
    return pd.DataFrame({"id": np.asarray(ids).astype(str), "label": names[np.asarray(labels)],
                         "predicted": names[predicted],
                         "probability": probabilities[np.arange(len(predicted)), predicted].astype(float).round(6),
                         **({} if digests is None else {"digest": np.asarray(digests).astype(str)})})
