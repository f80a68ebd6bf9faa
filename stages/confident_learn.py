"""confident-learn: K-fold out-of-sample probabilities for the train images that survived threshold and
dedup, cleanlab's label issues, one keep | drop | relabel decision per image, metrics."""

from pathlib import Path

import numpy as np
import pandas as pd

from winnow import labels as cl
from winnow.groundtruth import LABEL_KINDS, PERTURBATION_COLUMNS, planted
from winnow.imageset import read_imageset
from winnow.stage import atomic_path, load_params, read_table, run, write_json, write_table
from winnow.training import TrainConfig

IMAGESET_IN, TRUTH_IN = "data/degrade", "data/degrade/perturbations.parquet"
FLAGS_IN, GROUPS_IN = "data/threshold/flags.parquet", "data/dedup/groups.parquet"
OUT = Path("data/confident-learn")
METRICS_OUT = "metrics/confident_learn.json"
# the confident_learn section of params.yaml; "train" overrides the train section for the fold models
DEFAULTS = {"folds": 4, "repeats": 1, "train": {}, "filter_by": "both", "rank_by": "self_confidence",
            "frac_noise": 1.0, "action": "prune", "relabel_threshold": 0.9}


def main() -> None:
    params = load_params()
    p = {**DEFAULTS, **(params.get("confident_learn") or {})}
    config = TrainConfig.from_params({**params["train"], **(p.get("train") or {})})
    data = read_imageset(IMAGESET_IN)
    flags = read_table(FLAGS_IN, written_by="threshold", columns=("id", "any"), missing_ok=True)
    groups = read_table(GROUPS_IN, written_by="dedup", columns=("id", "kept", "label_conflict"), missing_ok=True)
    # read before training, so a damaged file stops the stage at once
    truth = read_table(TRUTH_IN, written_by="degrade", columns=PERTURBATION_COLUMNS, missing_ok=True)
    considered, conflict = cl.considered_rows(data.manifest, flags=flags, groups=groups)
    train, val = data.select(considered), data.split("val")
    ids, given = train.manifest["id"].to_numpy(), train.labels

    pred_probs = cl.cross_val_pred_probs(train.images, given, val_images=val.images, val_labels=val.labels,
                                         config=config, classes=data.classes, folds=p["folds"],
                                         repeats=p["repeats"], seed=params["seed"], progress=True)
    is_issue, quality = cl.find_issues(given, pred_probs, filter_by=p["filter_by"], rank_by=p["rank_by"],
                                       frac_noise=p["frac_noise"])
    issues = cl.decide(ids, given, pred_probs, is_issue=is_issue, label_quality=quality, conflict=conflict[considered],
                       action=p["action"], relabel_threshold=p["relabel_threshold"])
    noise = cl.noise_estimate(given, pred_probs)

    is_train = data.manifest["split"].to_numpy() == "train"
    metrics = {
        "considered": len(train), "left_out": int((is_train & ~considered).sum()),
        "accuracy_vs_given": float(np.mean(pred_probs.argmax(1) == given)),
        "noise_rate": noise["noise_rate"],
        "issues": int(issues["is_issue"].sum()),
        "decisions": {d: int((issues["decision"] == d).sum()) for d in cl.DECISIONS},
        "reasons": {r: int((issues["reason"] == r).sum()) for r in cl.REASONS},
        "label_conflicts": {"considered": int(conflict.sum()),
                            "flagged": int(issues["reason"].eq("label_conflict").sum())},
    }
    if planted(truth, LABEL_KINDS):  # no planted label noise: nothing to score against, so no truth entry
        metrics["truth"] = cl.score_against_truth(issues, truth)
    with atomic_path(OUT / "pred_probs.npy") as tmp:
        np.save(tmp, pred_probs)
    write_json(OUT / "pred_ids.json", ids.tolist())
    write_table(OUT / "label_issues.parquet", issues)
    # P(given label = row | true label = column), as cleanlab estimates it: a K x K table beside the
    # decisions, not in the metrics file, where its K^2 entries would be dvc exp show's first columns
    # ("given/true" as the first column's name: no class name holds a slash, so it never collides)
    write_table(OUT / "noise_matrix.csv", pd.DataFrame(noise["noise_matrix"], columns=data.classes,
                                                       index=pd.Index(data.classes, name="given/true")).reset_index())
    write_json(METRICS_OUT, metrics)
    print(f"confident-learn: {metrics['issues']} issues among {len(train)} train images; "
          + ", ".join(f"{d} {n}" for d, n in metrics["decisions"].items()))


if __name__ == "__main__":
    run(main)
