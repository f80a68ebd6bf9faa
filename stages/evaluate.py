"""evaluate@<variant>: per-class metrics of models/<variant>.pt on the untouched test split, and its
prediction for every test image (what the merge gate pairs across revisions)."""

import sys

import pandas as pd

from winnow.metrics import (
    headline, metrics_path, per_class_table, predictions_path, predictions_table, summarise, summary_path,
)
from winnow.stage import check_outputs, load_params, run, together, write_json, write_table
from winnow.training import load, predict_proba
from winnow.variants import load_test, variant_argument


def main() -> None:
    variant = variant_argument(sys.argv[1:], stage="evaluate", variants=load_params()["variants"])
    plots = f"plots/evaluate/{variant}"
    check_outputs(stage=f"evaluate@{variant}", files=[predictions_path(variant), summary_path(variant),
                                                      metrics_path(variant), f"{plots}/per_class.csv",
                                                      f"{plots}/confusion.csv"])
    test = load_test()
    # a model of other classes or in another order would have its indices read as this data's classes
    trained, classes = load(f"models/{variant}.pt", classes=test.classes, image_shape=test.images.shape[1:])
    probabilities = predict_proba(trained, test.images)
    predicted = probabilities.argmax(1)
    summary = summarise(test.labels, predicted, classes=classes)
    table = per_class_table(test.labels, predicted, classes=classes)
    names = pd.Series(classes)
    with together():  # all outputs or none: a failed write (a full disk) leaves the last run's
        write_table(predictions_path(variant),
                    predictions_table(test.manifest["id"].to_numpy(), test.labels, probabilities, classes=classes,
                                      digests=test.manifest["digest"].to_numpy()))
        write_json(summary_path(variant), summary)
        write_json(metrics_path(variant), headline(summary))
        write_table(f"{plots}/per_class.csv", table.round(4))
        write_table(f"{plots}/confusion.csv",
                    pd.DataFrame({"actual": names[test.labels].to_numpy(), "predicted": names[predicted].to_numpy()}))
    worst = table.loc[table["f1"].idxmin()]
    print(f"evaluate@{variant}: accuracy {summary['accuracy']:.4f}, macro F1 {summary['macro']['f1']:.4f}, "
          f"weakest class {worst['class']} (F1 {worst['f1']:.3f})")


if __name__ == "__main__":
    run(main, reads_arguments=True)
