"""Neighbour cleansing in a learned embedding (001 §3.3) against confident learning, and both together.

    python benchmarks/embedding_clean.py [--datasets mnist5k cifar10] [--seeds 0 1 2] [--train-seeds 0 1 2]

Per data set and seed, as the pipeline does it but with the library directly: the default damage mix of
params.yaml (label noise, class 7 cut to 30%, blur, low information, dark, light, near duplicates) is
injected into the train split; the quality thresholds (auto) and dedup leave out what they flag; on the
images left, confident-learn (K-fold probabilities, cleanlab ``filter_by`` both) and embedding-clean
(one model's penultimate features, k-NN relabel/drop) each judge the labels. Detection precision,
recall and F1 against the labels degrade truly changed, for each and for their union ("both").

For the seeds in ``--train-seeds`` the variants are then trained with the train section's model and
scored on the untouched test split: baseline (as damaged), and threshold + dedup + {confident-learn,
embedding-clean, both} applied as the pipeline's ``pruned`` variant would be (a drop wins; relabels that
disagree drop the image). Means over seeds with paired t-tests against the confident-learn-only variant.

Writes benchmarks/results/embedding_clean.{json,md} after every step.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from confident_learning import load_dataset  # noqa: E402
from winnow import labels as cl  # noqa: E402
from winnow.compare import paired_test  # noqa: E402
from winnow.dedup import dedup_images  # noqa: E402
from winnow.degrade import degrade  # noqa: E402
from winnow.embeddings import clean_rounds, round_options  # noqa: E402
from winnow.judged_rows import considered_rows  # noqa: E402
from winnow.metrics import summarise  # noqa: E402
from winnow.neighbours import final_decisions  # noqa: E402
from winnow.out_of_sample import cross_val_pred_probs  # noqa: E402
from winnow.quality import quality_flags, score_table  # noqa: E402
from winnow.training import TrainConfig, fit, predict_proba  # noqa: E402
from winnow.variants import baseline_rows  # noqa: E402
from winnow.decision_rows import apply_decisions, cleaner_decisions  # noqa: E402

RESULTS = ROOT / "benchmarks/results"
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
VARIANTS = ("baseline", "confident_learn", "embedding_clean", "both")
# the models of the judges and of the test-time variants per data set (CIFAR: hflip + crop 4; epochs cut
# from 20 to 12 to fit the CPU time this benchmark had)
JUDGE = {"mnist5k": {"model": "lenet5", "epochs": 10}, "cifar10": {"model": "cnn_small", "epochs": 10}}
TRAIN = {"mnist5k": {}, "cifar10": {"epochs": 12, "crop_padding": 4, "hflip": True}}


def quality_and_dedup(data) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Threshold flags and dedup groups as the threshold and dedup stages make them, with params.yaml's settings."""
    table = score_table(data.images, data.manifest, **PARAMS["score"])
    t = PARAMS["threshold"]
    flags, _, _ = quality_flags(table, t["issues"], bins=t["bins"], max_flagged_fraction=t["max_flagged_fraction"])
    d = PARAMS["dedup"]
    groups = dedup_images(data.manifest, data.images, table, radius=d["radius"], keep=d["keep"],
                          drop_leaks=d["drop_leaks"], min_correlation=d["min_correlation"])
    return flags, groups


def judge(name: str, data, seed: int) -> dict:
    """Detection by each cleaner on one damaged copy; returns the decision tables and scores."""
    damaged, truth = degrade(data, perturbations=PARAMS["degrade"]["perturbations"], seed=seed)
    flags, groups = quality_and_dedup(damaged)
    considered, conflict = considered_rows(damaged.manifest, flags=flags, groups=groups)
    train, val = damaged.select(considered), damaged.split("val")
    ids, given = train.manifest["id"].to_numpy(), train.labels
    config = TrainConfig(**{**TRAIN[name], **JUDGE[name]})
    p, e = PARAMS["confident_learn"], PARAMS["embedding_clean"]

    t0 = time.perf_counter()
    probs = cross_val_pred_probs(train.images, given, val_images=val.images, val_labels=val.labels, config=config,
                                 classes=data.classes, folds=p["folds"], seed=seed).pred_probs
    is_issue, quality = cl.find_issues(given, probs, filter_by=p["filter_by"])
    issues = cl.decide(ids, given, probs, is_issue=is_issue, label_quality=quality, conflict=conflict[considered],
                       action=p["action"])
    cl_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    # the pipeline's own settings (outliers are scored but, with drop_outliers off, decide nothing)
    rounds = clean_rounds(train.images, given, ids, val_images=val.images, val_labels=val.labels, config=config,
                          num_classes=len(data.classes), **round_options(e), seed=seed)
    neighbours = final_decisions(rounds.decisions)
    emb_seconds = time.perf_counter() - t0

    union = issues[["id", "given_label", "suggested_label", "decision"]].copy()
    # label_issues.parquet is ranked by label quality, so align the neighbour flags by id, not by position
    union["is_issue"] = (issues["is_issue"].to_numpy(bool)
                         | neighbours.set_index("id")["is_issue"].reindex(issues["id"]).to_numpy(bool))
    detection = {"confident_learn": cl.score_against_truth(issues, truth),
                 "embedding_clean": cl.score_against_truth(neighbours, truth),
                 "both": cl.score_against_truth(union, truth)}
    for key, table in (("confident_learn", issues), ("embedding_clean", neighbours), ("both", union)):
        detection[key]["flagged"] = int(table["is_issue"].sum())
    detection["confident_learn"]["seconds"] = round(cl_seconds, 1)
    detection["embedding_clean"]["seconds"] = round(emb_seconds, 1)
    return {"damaged": damaged, "flags": flags, "groups": groups, "issues": issues, "neighbours": neighbours,
            "detection": detection, "judged": len(train)}


def variant_train_sets(j: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    damaged = j["damaged"]
    rows = baseline_rows(damaged.manifest)
    common = {"flags": j["flags"], "groups": j["groups"]}
    decisions = {"baseline": None,
                 "confident_learn": cleaner_decisions(**common, label_issues=j["issues"]),
                 "embedding_clean": cleaner_decisions(**common, neighbour_decisions=j["neighbours"]),
                 "both": cleaner_decisions(**common, label_issues=j["issues"], neighbour_decisions=j["neighbours"])}
    position = pd.Series(np.arange(len(damaged)), index=damaged.manifest["id"].to_numpy())
    out = {}
    for variant, table in decisions.items():
        kept = rows if table is None else apply_decisions(rows, table)
        kept = kept[kept["action"] != "drop"]
        out[variant] = (damaged.images[position[kept["id"]].to_numpy()], kept["label"].to_numpy(np.int64))
    return out


def run_dataset(name: str, args, results: dict) -> None:
    out = results["datasets"].setdefault(name, {"seeds": {}})
    for seed in args.seeds:
        data = load_dataset(name, seed)
        if data is None:
            return
        started = time.perf_counter()
        j = judge(name, data, seed)
        entry = out["seeds"][str(seed)] = {"judged": j["judged"], "detection": j["detection"]}
        save(results)
        print(f"{name} seed {seed}: " + ", ".join(f"{k} F1 {v['f1']:.3f}" for k, v in j["detection"].items()), flush=True)
        if seed in args.train_seeds:
            val, test = j["damaged"].split("val"), data.split("test")
            config = TrainConfig(**{**PARAMS["train"], **TRAIN[name], "device": "auto"})
            entry["variants"] = {}
            for variant, (x, y) in variant_train_sets(j).items():
                trained = fit(x, y, val.images, val.labels, config=config, num_classes=len(data.classes), seed=seed,
                              progress=False)
                m = summarise(test.labels, predict_proba(trained, test.images).argmax(1), classes=data.classes)
                entry["variants"][variant] = {"train_images": len(y), "accuracy": m["accuracy"], "macro_f1": m["macro"]["f1"]}
                save(results)
            print(f"{name} seed {seed}: " + ", ".join(f"{v} {r['accuracy']:.4f}" for v, r in entry["variants"].items()),
                  flush=True)
        entry["seconds"] = round(time.perf_counter() - started, 1)
        summarise_dataset(out)
        save(results)


def summarise_dataset(out: dict) -> None:
    seeds = list(out["seeds"].values())
    out["detection"] = {k: {m: float(np.mean([s["detection"][k][m] for s in seeds])) for m in ("precision", "recall", "f1")}
                        for k in ("confident_learn", "embedding_clean", "both")}
    trained = [s["variants"] for s in seeds if len(s.get("variants", {})) == len(VARIANTS)]
    if trained:
        out["variants"] = {}
        for v in VARIANTS:
            acc, f1 = (np.array([t[v][k] for t in trained]) for k in ("accuracy", "macro_f1"))
            ref_acc, ref_f1 = (np.array([t["confident_learn"][k] for t in trained]) for k in ("accuracy", "macro_f1"))
            out["variants"][v] = {"accuracy": float(acc.mean()), "macro_f1": float(f1.mean()), "runs": len(trained),
                                  "vs_confident_learn": {"accuracy": paired_test(ref_acc, acc), "macro_f1": paired_test(ref_f1, f1)}}


def markdown(results: dict) -> str:
    lines = ["## Representation-based cleaning (issue 11)", "",
             f"`{results['command']}` on {results['machine']}. Default damage mix of params.yaml; quality thresholds "
             "and dedup leave out what they flag, then confident-learn (cleanlab `filter_by` both on 4-fold "
             "probabilities) and embedding-clean (k = 10 neighbours in one model's penultimate features, relabel at "
             "80% agreement, drop when nearer another class's centroid) judge the rest. Judges: "
             + "; ".join(f"{k} {v['model']} {v['epochs']} epochs" for k, v in JUDGE.items()) + "; test-time "
             "models: params.yaml train (cnn_small, 15 epochs), CIFAR 12 epochs with flips and 4-pixel crops. "
             "Both = union of the two flag sets.", ""]
    lines += [f"- {note}" for note in results.get("notes", [])] + ([""] if results.get("notes") else [])
    for name, d in results["datasets"].items():
        if "detection" not in d:
            continue
        lines += [f"### {name}: seeds {', '.join(d['seeds'])}", "",
                  "| cleaner | precision | recall | F1 | per seed F1 | flagged (seed 0) | seconds (seed 0) |",
                  "|---|---|---|---|---|---|---|"]
        first = next(iter(d["seeds"].values()))["detection"]
        for k, v in d["detection"].items():
            per_seed = ", ".join(f"{s['detection'][k]['f1']:.3f}" for s in d["seeds"].values())
            lines.append(f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {per_seed} | "
                         f"{first[k]['flagged']} | {first[k].get('seconds', '-')} |")
        if "variants" in d:
            lines += ["", "Test accuracy and macro F1 (means over the trained seeds; p: paired t-test against "
                      "confident-learn only):", "",
                      "| variant (threshold + dedup + …) | runs | accuracy | p | macro F1 | p |", "|---|---|---|---|---|---|"]
            for v, r in d["variants"].items():
                pa, pf = r["vs_confident_learn"]["accuracy"]["p"], r["vs_confident_learn"]["macro_f1"]["p"]
                lines.append(f"| {v} | {r['runs']} | {r['accuracy']:.4f} | {'-' if pa != pa else f'{pa:.3g}'} | "
                             f"{r['macro_f1']:.4f} | {'-' if pf != pf else f'{pf:.3g}'} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def save(results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for path, text in ((RESULTS / "embedding_clean.json", json.dumps(results, indent=1, default=float) + "\n"),
                       (RESULTS / "embedding_clean.md", markdown(results))):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist5k", "cifar10"], choices=["mnist5k", "cifar10"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--train-seeds", nargs="*", type=int, default=[0, 1, 2], help="seeds whose variants are trained")
    args = parser.parse_args()
    path = RESULTS / "embedding_clean.json"
    results = json.loads(path.read_text()) if path.is_file() else {"datasets": {}}
    results |= {"command": "python benchmarks/embedding_clean.py " + " ".join(sys.argv[1:]),
                "machine": f"{platform.machine()}, 2 CPU cores shared with other jobs, no GPU"}
    for name in args.datasets:
        run_dataset(name, args, results)


if __name__ == "__main__":
    main()
