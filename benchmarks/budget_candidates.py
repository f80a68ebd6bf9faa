"""What each cleaning the budget weighs does to the model on test, over seeds (issue 18: is the model check right?).

    dvc repro budget          # the run whose cleaners' decisions are weighed (the default: MNIST-5k)
    python benchmarks/budget_candidates.py [--seeds 0 1 2] [--fractions 0.05 0.1]

The budget's model check (winnow.budget_check) ships a label cleaning only when one training of ``train.model``
on it gets more val images right than one on none. This trains ``train.model`` as the train section says on
each candidate the budget builds from the run's cleaner decisions (none; filters: the quality and duplicate
drops; labels: every label decision alone, which the budget does not weigh; top cuts and all: the filters plus
the label decisions) for each seed, and scores it on val (what the check sees) and on test (what a user gets):
val images right, test accuracy and macro F1, and each candidate's test difference from none over the seeds
with the paired t-test. Writes benchmarks/results/budget_candidates.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))

from winnow.budget import candidates, read_cleanings  # noqa: E402
from winnow.imageset import read_imageset  # noqa: E402
from winnow.stage import load_params  # noqa: E402
from winnow.training import TrainConfig, fit, predict_proba  # noqa: E402
from winnow.origin_checks import DEGRADE  # noqa: E402
from winnow.variants import baseline_rows  # noqa: E402
from winnow.decision_rows import apply_decisions  # noqa: E402


def candidate_decisions(params: dict, fractions: list[float]) -> tuple[object, dict]:
    """``(data, {name: decisions})``: the degraded imageset and each candidate's decision rows."""
    data = read_imageset(DEGRADE)
    filters, ranked = read_cleanings(params["pruned"]["cleaners"], data)
    train_images = int((data.manifest["split"] == "train").sum())
    out = {c.name: c.decisions for c in candidates(filters, ranked, train_images=train_images, fractions=fractions)}
    labels_alone = candidates(None, ranked, train_images=train_images, fractions=[])
    if len(labels_alone) > 1:
        out["labels"] = labels_alone[-1].decisions
    return data, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.1])
    args = parser.parse_args()
    params = load_params()
    data, options = candidate_decisions(params, args.fractions)
    splits = data.manifest["split"].to_numpy()
    train_rows = np.flatnonzero(splits == "train")
    val, test = splits == "val", splits == "test"
    baseline = baseline_rows(data.manifest)
    config = TrainConfig.from_params(params["train"])
    runs: dict[str, list[dict]] = {name: [] for name in options}
    for seed in args.seeds:
        for name, decisions in options.items():
            rows = apply_decisions(baseline, decisions)
            learn = (rows["action"] != "drop").to_numpy()
            start = time.perf_counter()
            model = fit(data.images[train_rows[learn]], rows["label"].to_numpy(np.int64)[learn], data.images[val],
                        data.labels[val], config=config, num_classes=len(data.classes), seed=seed, progress=False)
            val_classes = predict_proba(model, data.images[val]).argmax(1)
            test_classes = predict_proba(model, data.images[test]).argmax(1)
            runs[name].append({
                "seed": seed, "train_images": int(learn.sum()), "val_right": int((val_classes == data.labels[val]).sum()),
                "test_accuracy": float((test_classes == data.labels[test]).mean()),
                "test_macro_f1": float(f1_score(data.labels[test], test_classes, average="macro")),
                "seconds": round(time.perf_counter() - start, 1)})
            print(f"seed {seed} {name:>8}: {runs[name][-1]}", flush=True)
    none_f1 = np.array([r["test_macro_f1"] for r in runs["none"]])
    summary = {}
    for name, rows in runs.items():
        f1 = np.array([r["test_macro_f1"] for r in rows])
        diff = f1 - none_f1
        summary[name] = {"train_images": rows[0]["train_images"], "val_right": [r["val_right"] for r in rows],
                         "test_macro_f1_mean": round(float(f1.mean()), 4),
                         "test_macro_f1_diff": round(float(diff.mean()), 4),
                         "p_seeds": (None if name == "none" or len(diff) < 2 or not diff.std() else
                                     round(float(stats.ttest_rel(f1, none_f1).pvalue), 4))}
    result = {"dataset": params["ingest"]["source"], "model": config.model, "epochs": config.epochs,
              "seeds": args.seeds, "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}", "summary": summary, "runs": runs}
    out = ROOT / "results" / "budget_candidates"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["## What the budget's candidates do on test (issue 18)", "",
             f"`python benchmarks/budget_candidates.py --seeds {' '.join(map(str, args.seeds))}` after `dvc repro` "
             f"of the default run; {result['machine']}; {config.model}, {config.epochs} epochs at most, as the "
             "train section says. Val right: what the model check compares (one training per side); test: "
             "macro F1 and its paired difference from none over the seeds.", "",
             "| candidate | train images | val right per seed | test macro F1 | vs none | p (seeds) |",
             "|---|---|---|---|---|---|"]
    for name, row in summary.items():
        lines.append(f"| {name} | {row['train_images']} | {', '.join(map(str, row['val_right']))} | "
                     f"{row['test_macro_f1_mean']:.4f} | {row['test_macro_f1_diff']:+.4f} | "
                     f"{'' if row['p_seeds'] is None else row['p_seeds']} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
