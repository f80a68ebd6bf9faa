"""evaluate@<variant>: per-class metrics of models/<variant>.pt on the untouched test split, and its
prediction for every test image (what the merge gate pairs across revisions)."""

import sys

import pandas as pd

from winnow.metrics import (
    headline, metrics_path, per_class_table, predictions_path, predictions_table, summarise, summary_path,
)
from winnow.stage import load_params, run, write_json, write_table
from winnow.training import load, predict_proba
from winnow.variants import load_test, variant_argument


def main() -> None:
    variant = variant_argument(sys.argv[1:], stage="evaluate", variants=load_params()["variants"])
    trained, classes = load(f"models/{variant}.pt")
    test = load_test()
    probabilities = predict_proba(trained, test.images)
    predicted = probabilities.argmax(1)
    summary = summarise(test.labels, predicted, classes=classes)
    write_table(predictions_path(variant),
                predictions_table(test.manifest["id"].to_numpy(), test.labels, probabilities, classes=classes))
    write_json(summary_path(variant), summary)
    write_json(metrics_path(variant), headline(summary))
    table = per_class_table(test.labels, predicted, classes=classes)
    write_table(f"plots/evaluate/{variant}/per_class.csv", table.round(4))
    names = pd.Series(classes)
    write_table(f"plots/evaluate/{variant}/confusion.csv",
                pd.DataFrame({"actual": names[test.labels].to_numpy(), "predicted": names[predicted].to_numpy()}))
    worst = table.loc[table["f1"].idxmin()]
    print(f"evaluate@{variant}: accuracy {summary['accuracy']:.4f}, macro F1 {summary['macro']['f1']:.4f}, "
          f"weakest class {worst['class']} (F1 {worst['f1']:.3f})")


if __name__ == "__main__":
    run(main, reads_arguments=True)
