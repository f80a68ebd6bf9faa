"""compare: the per-class tables of 000 (one per metric: rows = classes + average + std, columns =
variants) for this run, and a paired t-test across classes between every pair of variants."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import json
from pathlib import Path

from winnow.compare import class_table, pairwise, summary_rows, tested_class_rows, tests_markdown, to_markdown, \
    unlearnt_note, untested_note
from winnow.errors import WinnowError
from winnow.metrics import PER_CLASS_METRICS, summary_path
from winnow.paired import significant
from winnow.same_run import check_same_run, check_same_test_split
from winnow.stage import check_outputs, load_params, run, together, write_table, write_text

OUT_MD, OUT_CSV = "reports/compare.md", "plots/compare"


def read_summary(variant: str) -> dict:
    """evaluate@<variant>'s summary; one line naming the file when it is missing or broken."""
    path = Path(summary_path(variant))
    if not path.is_file():
        raise WinnowError(f"{path}: not found; run `dvc repro evaluate@{variant}` (variants in params.yaml "
                          "name what is compared)")
    try:
        summary = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WinnowError(f"{path}: not valid JSON ({err}); rerun `dvc repro -f evaluate@{variant}`") from err
    if not isinstance(summary, dict) or not isinstance(summary.get("per_class"), dict) or not summary["per_class"]:
        raise WinnowError(f"{path}: no per_class table; rerun `dvc repro -f evaluate@{variant}`")
    # each class maps to its metrics; a bare number (a hand edit) has none to read by name
    bad = next((c for c, values in summary["per_class"].items() if not isinstance(values, dict)), None)
    if bad is not None:
        raise WinnowError(f"{path}: per_class.{bad} is {repr(summary['per_class'][bad])[:40]}, not a mapping of "
                          f"its metrics; rerun `dvc repro -f evaluate@{variant}`")
    # evaluate writes each class's support; without it a class of no test image counted as tested, its unmeasured 0s
    # averaged in and paired (before: exit 0, where the report refuses the same summary)
    bare = next((c for c, values in summary["per_class"].items() if "support" not in values), None)
    if bare is not None:
        raise WinnowError(f"{path}: per_class.{bare}.support is missing, not a count of test images; rerun "
                          f"`dvc repro -f evaluate@{variant}`")
    return summary


def main() -> None:
    params = load_params()
    variants = params["variants"]
    check_outputs(stage="compare", files=[OUT_MD, *(f"{OUT_CSV}/{metric}{kind}.csv" for metric in PER_CLASS_METRICS
                                                   for kind in ("", "_significance"))])
    metrics = {v: read_summary(v) for v in variants}
    check_same_run(variants, params)  # under `dvc repro -s compare`, summaries of earlier runs stayed in place
    check_same_test_split(metrics)  # and without dvc.lock (run by hand): summaries of another ingest's test split
    parts = ["# Variants side by side (one run; `winnow compare` for mean ± std over seeds)\n"]
    class_table(metrics, metric="recall")  # each class's recall refused in one line, before unlearnt_note reads it
    unlearnt = unlearnt_note(metrics)
    if unlearnt:
        print(f"warning: compare: {unlearnt}")
        parts.append(f"_{unlearnt}_\n")
    with together():  # all outputs or none: a failed write (a full disk) leaves the last run's
        for metric in PER_CLASS_METRICS:
            table = class_table(metrics, metric=metric)
            write_table(f"{OUT_CSV}/{metric}.csv", table.reset_index().round(4))
            parts += [f"## {metric}\n", to_markdown(table), ""]
            classes = tested_class_rows(table, metrics)
            tests = pairwise({v: classes[v].to_numpy() for v in variants})
            # p to 6 significant digits, not decimals: before, p 5e-12 (ten classes each 0.05 better) was written 0.0;
            # so are the change and its CI (before: +4e-07 in every class was written 0.0 within a CI of 0.0 to 0.0),
            # their float noise as 0, as the markdown reads it (significant)
            write_table(f"{OUT_CSV}/{metric}_significance.csv",
                        tests.round(6).assign(p=[float(f"{p:.6g}") for p in tests["p"]],
                                              **{c: [significant(v) for v in tests[c]]
                                                 for c in ("mean_diff", "ci_low", "ci_high")}))
            parts += [f"Paired t-test across classes on {metric} (to − from) with its 95% t CI:\n",
                      *(f"_{note}_\n" for note in [untested_note(metrics)] if note),
                      tests_markdown(tests, index="from", single="one class"), ""]
        write_text(OUT_MD, "\n".join(parts))
    f1 = class_table(metrics, metric="f1")
    average = f1.loc[summary_rows(f1)[0]]
    print("compare: macro F1 " + ", ".join(f"{v} {average[v]:.4f}" for v in variants))


if __name__ == "__main__":
    run(main)
