"""evaluate@<variant>: per-class metrics of models/<variant>.pt on the untouched test split."""

import sys

import pandas as pd

from winnow.metrics import per_class_table, summarise
from winnow.stage import load_params, run, write_json, write_table
from winnow.training import load, predict_proba
from winnow.variants import load_test


def main() -> None:
    variant = sys.argv[1]
    load_params()  # reads no parameter, but like every stage refuses to run on a params.yaml that breaks a rule
    trained, classes = load(f"models/{variant}.pt")
    test = load_test()
    predicted = predict_proba(trained, test.images).argmax(1)
    metrics = summarise(test.labels, predicted, classes=classes)
    write_json(f"metrics/evaluate/{variant}.json", metrics)
    table = per_class_table(test.labels, predicted, classes=classes)
    write_table(f"plots/evaluate/{variant}/per_class.csv", table.round(4))
    names = pd.Series(classes)
    write_table(f"plots/evaluate/{variant}/confusion.csv",
                pd.DataFrame({"actual": names[test.labels].to_numpy(), "predicted": names[predicted].to_numpy()}))
    worst = table.loc[table["f1"].idxmin()]
    print(f"evaluate@{variant}: accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro']['f1']:.4f}, "
          f"weakest class {worst['class']} (F1 {worst['f1']:.3f})")


if __name__ == "__main__":
    run(main)
