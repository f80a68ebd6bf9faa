"""Data valuation (issue 23): does removing the images valued most harmful help more than removing as many at
random, or as many of the other label cleaners' surest images?

    python benchmarks/valuation.py                                   # both data sets, seeds 0 1 2, k 2 5 10 %
    nice -n 10 python benchmarks/valuation.py --datasets mnist5k --seeds 0 --ks 0.05   # the reduced check

Data sets: ``mnist5k`` with params.yaml's default damage (degrade, seeded), the represent section's
embedding (the judge by default), threshold and dedup as the pipeline runs them; ``cifar10n``: the CIFAR-10
exact subset with one annotator's CIFAR-10N ``random_label1`` labels on its train images (real human noise;
10% of train carved out as val with the true labels, which the valuation trusts), embedded by the pretrained
TorchScript file when ``benchmarks/models/efficientnet_lite0.ts`` exists (``benchmarks/pretrained_model.py``),
else by SimCLR (``selfsup``, hflip). Skipped with a reason when the shared files are absent.

Per data set and seed, on the train images that survive threshold and dedup (what data-valuation values):

- detection: precision / recall / F1 of the stage's drops ("reliably negative under both estimators") and of
  each estimator's plain sign (value < 0) against the flipped labels (``label``) and against every damaged
  image (``damaged``: flipped labels and contaminated images, MNIST only);
- removal: for k in ``--ks``, the train section's model trained on what is left after removing k% of the
  train images ranked by: ``valuation`` (harm, most harmful first), ``random``, ``confident_learn`` (K-fold
  probe: the lowest probability of the given label first), ``embedding_clean`` (the largest share of the 10
  nearest neighbours carrying one other label first), ``oracle`` (the truly wrong labels first: the most any
  ranking can remove, so the ceiling of removal for this model), test macro F1 and accuracy; ``--methods``
  runs some of them;
- seconds of the valuation.

Over the seeds: per k and method the mean macro F1, and the paired test (winnow.paired, the test images
pooled over seeds, gate.overdispersion) of valuation against each other method: the one-sided p-value that
the other method's model is not worse than valuation's; and the oracle's against random.

Writes benchmarks/results/valuation.{json,md} after every step.
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
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from confident_learning import load_dataset  # noqa: E402
from embedding_clean import quality_and_dedup  # noqa: E402
from winnow.degrade import degrade  # noqa: E402
from winnow.groundtruth import LABEL_KINDS  # noqa: E402
from winnow.imageset import ImageSet  # noqa: E402
from winnow.judged_rows import considered_rows  # noqa: E402
from winnow.neighbours import Space, evidence  # noqa: E402
from winnow.out_of_sample import probe_pred_probs  # noqa: E402
from winnow.paired import PairedCounts, drop_p_value  # noqa: E402
from winnow.represent import embed_imageset, options  # noqa: E402
from winnow.training import TrainConfig, fit, predict_proba  # noqa: E402
from winnow.valuation import decide, knn_shapley, tracin  # noqa: E402

RESULTS = ROOT / "benchmarks/results"
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
SHARED = Path(os.environ.get("WINNOW_SHARED", ROOT.parent / "shared/data"))
CIFAR = SHARED / "cifar-10-exact-subset/cifar10_exact_subset.npz"
CIFAR10N = SHARED / "cifar-10n-random1/random_label1_subset.npz"
TORCHSCRIPT = ROOT / "benchmarks/models/efficientnet_lite0.ts"
METHODS = ("valuation", "random", "confident_learn", "embedding_clean", "oracle")
TRAIN = {"mnist5k": {}, "cifar10n": {"epochs": 20, "crop_padding": 4, "hflip": True}}


def prf(flagged: np.ndarray, truth: np.ndarray) -> dict:
    tp = int(np.sum(flagged & truth))
    precision = tp / max(int(flagged.sum()), 1)
    recall = tp / max(int(truth.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "flagged": int(flagged.sum())}


def cifar10n(seed: int) -> tuple[ImageSet, np.ndarray] | None:
    """The CIFAR subset with the human labels on train (val, carved from train, keeps the true ones), and the
    true label of every row."""
    if not (CIFAR.is_file() and CIFAR10N.is_file()):
        return None
    data = load_dataset("cifar10", seed)
    human = np.load(CIFAR10N)
    original = np.load(CIFAR)
    assert np.array_equal(human["train_index"], original["train_index"])
    rows = data.manifest["id"].str.rsplit("-", n=1).str[1].astype(int).to_numpy()  # npz ids number the file's rows
    true = data.manifest["label"].to_numpy(np.int64)
    train = (data.manifest["split"] == "train").to_numpy()
    noisy = true.copy()
    noisy[train] = human["random_label1"].astype(np.int64)[rows[train]]
    manifest = data.manifest.copy()
    manifest["label"] = noisy
    return ImageSet(data.images, manifest, data.classes), true


def prepare(name: str, seed: int):
    """(damaged imageset, considered rows, flipped bool (N,), damaged bool (N,), represent section, the true
    label of every row) or None."""
    if name == "mnist5k":
        clean = load_dataset("mnist5k", seed)
        data, truth = degrade(clean, perturbations=PARAMS["degrade"]["perturbations"], seed=seed)
        ids = data.manifest["id"]
        flipped = ids.isin(truth.loc[truth["kind"].isin(LABEL_KINDS), "id"]).to_numpy()
        damaged = ids.isin(truth.loc[~truth["kind"].isin(("class_subsample",)), "id"]).to_numpy()
        flags, groups = quality_and_dedup(data)
        considered, _ = considered_rows(data.manifest, flags=flags, groups=groups)
        true = ids.map(dict(zip(clean.manifest["id"], clean.labels))).to_numpy(np.int64)
        return data, considered, flipped, damaged, PARAMS.get("represent") or {}, true
    loaded = cifar10n(seed)
    if loaded is None:
        return None
    data, true = loaded
    flipped = data.labels != true
    considered = (data.manifest["split"] == "train").to_numpy()  # human noise only: nothing for the filters
    represent = ({"source": "pretrained", "pretrained": {"torchscript": str(TORCHSCRIPT), "input_size": 128}}
                 if TORCHSCRIPT.is_file() else {"source": "selfsup", "selfsup": {"hflip": True}})
    return data, considered, flipped, None, represent, true


def rankings(features, given, val_features, val_labels, *, classes, harm: np.ndarray, wrong: np.ndarray,
             seed: int) -> dict:
    """Per method, the considered train images in removal order (int64 positions, most removable first).
    ``oracle`` knows the truth (bool ``wrong``): the wrong labels first, in random order, then the rest; no
    ranking removes more wrong labels at any k, so it bounds what removal can do for this model."""
    rng = np.random.default_rng(seed)
    shuffled = np.random.default_rng(seed + 1).permutation(len(given))  # its own stream: random's order stays
    judged = probe_pred_probs(features, given, val_features=val_features, val_labels=val_labels, classes=classes,
                              folds=PARAMS["confident_learn"]["folds"], seed=seed)
    given_prob = judged.pred_probs[np.arange(len(given)), given]
    positions = np.arange(len(given))
    space = Space(positions=positions, features=features, reference_positions=positions, reference_features=features,
                  reference_labels=given)
    near = evidence(space, given, k=PARAMS["embedding_clean"]["k"], num_classes=len(classes))
    margin = np.nan_to_num(near["centroid_margin"].to_numpy(np.float64), nan=-np.inf)
    return {"valuation": np.argsort(-harm, kind="stable"), "random": rng.permutation(len(given)),
            "confident_learn": np.argsort(given_prob, kind="stable"),
            "embedding_clean": np.lexsort((-margin, -near["agreement"].to_numpy(np.float64))),
            "oracle": shuffled[np.argsort(~wrong[shuffled], kind="stable")]}


def one_seed(name: str, seed: int, *, ks, epochs: int | None, methods=METHODS) -> dict | None:
    prepared = prepare(name, seed)
    if prepared is None:
        return None
    data, considered, flipped, damaged, represent, _ = prepared
    t0 = time.perf_counter()
    embedded = embed_imageset(data, options=options(represent, train=PARAMS["train"]), seed=seed, progress=False)
    embed_seconds = time.perf_counter() - t0
    splits = data.manifest["split"].to_numpy()
    train_rows, val_rows = np.flatnonzero(considered), np.flatnonzero(splits == "val")
    x, given = embedded.features[train_rows], data.labels[train_rows]
    vx, vy = embedded.features[val_rows], data.labels[val_rows]
    p = PARAMS["data_valuation"]
    t0 = time.perf_counter()
    values = {"knn_shapley": knn_shapley(x, given, vx, vy, k=p["knn_k"]),
              "tracin": tracin(x, given, vx, vy, num_classes=len(data.classes), **p["tracin"], seed=seed)}
    table = decide(data.manifest["id"].to_numpy()[train_rows], given, values, bound=p["bound"], combine=p["combine"])
    value_seconds = time.perf_counter() - t0
    drop = (table["decision"] == "drop").to_numpy()
    truths = {"label": flipped[train_rows], **({"damaged": damaged[train_rows]} if damaged is not None else {})}
    detection = {truth: {"stage": prf(drop, wrong), **{f"{e}_negative": prf(v.mean < 0, wrong)
                                                       for e, v in values.items()}}
                 for truth, wrong in truths.items()}
    order = rankings(x, given, vx, vy, classes=data.classes, harm=table["harm"].to_numpy(),
                     wrong=flipped[train_rows], seed=seed)
    trial = Trial(data, config=train_config(name, epochs), seed=seed)
    removal = {}
    for k in ks:
        n = int(round(k * len(train_rows)))
        for method in methods:
            kept = train_rows[np.setdiff1d(np.arange(len(train_rows)), order[method][:n])]
            removal[f"{k:g}/{method}"] = {"removed": n, "removed_flipped": int(flipped[train_rows][order[method][:n]].sum()),
                                          **trial.tested(kept, data.labels[kept])}
            print(f"{name} seed {seed} k {k:g} {method}: macro F1 {removal[f'{k:g}/{method}']['macro_f1']:.4f}",
                  flush=True)
    return {"train_images": len(train_rows), "flipped": int(flipped[train_rows].sum()), "dropped": int(drop.sum()),
            "embedding": represent.get("source", "judge"), "embed_seconds": round(embed_seconds, 2),
            "valuation_seconds": round(value_seconds, 2), "tracin_val_accuracy": values["tracin"].val_accuracy,
            "detection": detection, "removal": removal}


def train_config(name: str, epochs: int | None) -> TrainConfig:
    """The train section with the data set's overrides (and ``epochs`` when given)."""
    return TrainConfig(**{**PARAMS["train"], **TRAIN[name], **({"epochs": epochs} if epochs else {})})


class Trial:
    """Models trained on chosen train rows of one data set and seed, early-stopped on its val split and
    scored on its test split (both selected once)."""

    def __init__(self, data: ImageSet, *, config: TrainConfig, seed: int):
        splits = data.manifest["split"].to_numpy()
        self.data, self.config, self.seed = data, config, seed
        self.val, self.test = (data.select(np.flatnonzero(splits == s)) for s in ("val", "test"))

    def tested(self, rows: np.ndarray, labels: np.ndarray) -> dict:
        """Test macro F1, accuracy and per test image right (1) or wrong (0) of the model trained on ``rows``
        with ``labels``."""
        classes = len(self.data.classes)
        trained = fit(self.data.images[rows], labels, self.val.images, self.val.labels, config=self.config,
                      num_classes=classes, seed=self.seed, progress=False)
        predicted = predict_proba(trained, self.test.images).argmax(1)
        return {"macro_f1": macro_f1(self.test.labels, predicted, classes),
                "accuracy": float(np.mean(predicted == self.test.labels)),
                "right": (predicted == self.test.labels).astype(int).tolist()}


def reference_seed(name: str, seed: int, *, epochs: int | None) -> dict | None:
    """The two ends of label cleaning for the model: every considered train image with its given label
    (``none``: nothing removed) and with its true label (``true_labels``: every wrong label fixed)."""
    prepared = prepare(name, seed)
    if prepared is None:
        return None
    data, considered, flipped, _, _, true = prepared
    trial = Trial(data, config=train_config(name, epochs), seed=seed)
    rows = np.flatnonzero(considered)
    out = {"train_images": len(rows), "flipped": int(flipped[rows].sum())}
    for method, labels in (("none", data.labels[rows]), ("true_labels", true[rows])):
        out[method] = trial.tested(rows, labels)
        print(f"{name} seed {seed} reference {method}: macro F1 {out[method]['macro_f1']:.4f}", flush=True)
    return out


def macro_f1(truth: np.ndarray, predicted: np.ndarray, classes: int) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, labels=np.arange(classes), average="macro", zero_division=0))


def summarise(runs: dict, *, ks) -> dict:
    """Per k and method run: mean macro F1 over the seeds; valuation's paired test against each other method,
    and the oracle's against random (``oracle_vs_random``), where both were run."""
    out = {}
    for k in ks:
        ran = [m for m in METHODS if all(f"{k:g}/{m}" in r["removal"] for r in runs.values())]
        means = {m: float(np.mean([r["removal"][f"{k:g}/{m}"]["macro_f1"] for r in runs.values()])) for m in ran}
        row = {"macro_f1": means}
        if "valuation" in ran:
            row["valuation_vs"] = {other: _paired(runs, k, "valuation", other) for other in ran if other != "valuation"}
        if {"oracle", "random"} <= set(ran):
            row["oracle_vs_random"] = _paired(runs, k, "oracle", "random")
        out[f"{k:g}"] = row
    return out


def summarise_reference(runs: dict) -> dict:
    """Mean macro F1 of ``none`` and ``true_labels`` over the seeds, and the paired test: the p that the model
    on the given labels is not worse than on the true ones."""
    return {"macro_f1": {m: float(np.mean([r[m]["macro_f1"] for r in runs.values()])) for m in ("none", "true_labels")},
            "true_labels_vs_none": _paired_cells([r["true_labels"] for r in runs.values()],
                                                 [r["none"] for r in runs.values()])}


def _paired(runs: dict, k: float, base: str, other: str) -> dict:
    """The paired test over the test images pooled over seeds: the one-sided p that ``other`` is not worse."""
    return _paired_cells(*([r["removal"][f"{k:g}/{m}"] for r in runs.values()] for m in (base, other)))


def _paired_cells(base: list[dict], other: list[dict]) -> dict:
    counts = PairedCounts.from_correct(*(np.concatenate([cell["right"] for cell in cells]) for cells in (base, other)))
    return {"lost": counts.lost, "gained": counts.gained,
            "p_other_worse": drop_p_value(counts, overdispersion=PARAMS["gate"]["overdispersion"])}


def write(results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    lean = json.loads(json.dumps(results))
    for data in lean["datasets"].values():
        for run in data.get("seeds", {}).values():
            for cell in run["removal"].values():
                cell.pop("right", None)
        for run in data.get("reference", {}).values():
            for cell in (run["none"], run["true_labels"]):
                cell.pop("right", None)
    (RESULTS / "valuation.json").write_text(json.dumps(lean, indent=2) + "\n")
    commands = results.get("commands") or ["python benchmarks/valuation.py " + " ".join(sys.argv[1:])]
    lines = ["## Data valuation (issue 23)", "", f"Written by {'; '.join(f'`{c}`' for c in commands)} on "
             f"{results['machine']}, shared with other jobs; train section's epochs unless overridden "
             f"({results.get('epochs')}).", ""]
    for name, data in lean["datasets"].items():
        if "skipped" in data:
            lines += [f"### {name}", "", f"skipped: {data['skipped']}", ""]
            continue
        lines += [f"### {name}", ""]
        if "seeds" in data:
            lines += _removal_tables(data)
        if "reference_summary" in data:
            ref = data["reference_summary"]
            lines += [f"Every train image kept ({len(data['reference'])} seeds): given labels "
                      f"{ref['macro_f1']['none']:.4f}, true labels {ref['macro_f1']['true_labels']:.4f}; p that the given "
                      f"labels are not worse: {ref['true_labels_vs_none']['p_other_worse']:.3g}.", ""]
    (RESULTS / "valuation.md").write_text("\n".join(lines))


def _removal_tables(data: dict) -> list[str]:
    """Markdown lines: the stage's detection per seed, then per k each ranking's mean macro F1 and the tests."""
    lines = ["| seed | train | flipped | dropped | stage P / R / F1 vs flipped | seconds |", "|---|---|---|---|---|---|"]
    for seed, run in data["seeds"].items():
        s = run["detection"]["label"]["stage"]
        lines.append(f"| {seed} | {run['train_images']} | {run['flipped']} | {run['dropped']} | "
                     f"{s['precision']:.3f} / {s['recall']:.3f} / {s['f1']:.3f} | {run['valuation_seconds']} |")
    lines += ["", "| k | " + " | ".join(METHODS) + " | p(random not worse) | p(cl) | p(ec) | p(oracle) | "
              "p(random not worse than oracle) |", "|---|" + "---|" * (len(METHODS) + 5)]
    for k, row in data.get("summary", {}).items():
        tests = [row.get("valuation_vs", {}).get(m) for m in METHODS[1:]] + [row.get("oracle_vs_random")]
        lines.append(f"| {k} | " + " | ".join(f"{row['macro_f1'][m]:.4f}" if m in row["macro_f1"] else "-"
                                             for m in METHODS) + " | "
                     + " | ".join(f"{t['p_other_worse']:.3g}" if t else "-" for t in tests) + " |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["mnist5k", "cifar10n"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--ks", nargs="+", type=float, default=[0.02, 0.05, 0.1])
    parser.add_argument("--epochs", type=int, default=None, help="override the train section's epochs (a quick check)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--reference", action="store_true",
                        help="instead: train on every train image with the given and with the true labels")
    args = parser.parse_args()
    results = {"machine": f"{platform.node()} ({os.cpu_count()} CPUs)", "ks": args.ks, "epochs": args.epochs,
               "datasets": {}}
    for name in args.datasets:
        runs = {}
        for seed in args.seeds:
            run = (reference_seed(name, seed, epochs=args.epochs) if args.reference else
                   one_seed(name, seed, ks=args.ks, epochs=args.epochs, methods=args.methods))
            if run is None:
                results["datasets"][name] = {"skipped": f"{CIFAR} or {CIFAR10N} is absent"}
                break
            runs[str(seed)] = run
            results["datasets"][name] = ({"reference": runs, "reference_summary": summarise_reference(runs)}
                                         if args.reference else {"seeds": runs, "summary": summarise(runs, ks=args.ks)})
            write(results)
    write(results)


if __name__ == "__main__":
    main()
