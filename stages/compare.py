"""compare: the per-class tables of 000 (one per metric: rows = classes + average + std, columns =
variants) for this run, and a paired t-test across classes between every pair of variants."""

import json

from winnow.compare import class_table, pairwise, to_markdown
from winnow.metrics import PER_CLASS_METRICS
from winnow.stage import load_params, run, write_table

OUT_MD, OUT_CSV = "reports/compare.md", "plots/compare"


def main() -> None:
    variants = load_params()["variants"]
    metrics = {v: json.load(open(f"metrics/evaluate/{v}.json")) for v in variants}
    parts = ["# Variants side by side (one run; `winnow compare` for mean ± std over seeds)\n"]
    for metric in PER_CLASS_METRICS:
        table = class_table(metrics, metric=metric)
        write_table(f"{OUT_CSV}/{metric}.csv", table.reset_index().round(4))
        parts += [f"## {metric}\n", to_markdown(table), ""]
        classes = table.drop(index=["average", "std"])
        tests = pairwise({v: classes[v].to_numpy() for v in variants})
        write_table(f"{OUT_CSV}/{metric}_significance.csv", tests.round(6))
        parts += [f"Paired t-test across classes on {metric} (to − from) with a 95% bootstrap CI:\n",
                  to_markdown(tests.set_index("from")), ""]
    with open(OUT_MD, "w") as f:
        f.write("\n".join(parts))
    f1 = class_table(metrics, metric="f1").loc["average"]
    print("compare: macro F1 " + ", ".join(f"{v} {f1[v]:.4f}" for v in variants))


if __name__ == "__main__":
    run(main)
