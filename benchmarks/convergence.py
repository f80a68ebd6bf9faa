"""Training to convergence: what early stopping on val (``train.patience`` under the budget
``train.epochs``) buys and costs, for the train stage, the label judges and on CIFAR (issue 18, item 3).

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python benchmarks/convergence.py --project /work/main \\
        --cifar ../shared/data/cifar-10-exact-subset/cifar10_exact_subset.npz

``--project`` is a checkout where the default MNIST-5k pipeline has run (``data/ingest``, ``data/degrade``,
``data/threshold``, ``data/dedup``, ``data/variants``); it is only read. ``OMP_WAIT_POLICY=PASSIVE`` lets
torch's waiting threads sleep instead of spin: on a shared machine it cut one cnn_small epoch from ~11 to
~3.5 CPU seconds and changes no number (same thread count, same sums).

Every run is :func:`winnow.training.fit` with ``patience: null`` over a budget of epochs, traced: after
each epoch's validation the benchmark also predicts the test split (and, for confident-learn's fold models,
the held-out fold) with that epoch's weights, and times the epoch without that extra work. ``fit`` lays
the learning-rate schedule over the budget whether or not it stops early, so the run that patience P would
stop is the traced run's first epochs: for every P, the stop, the kept epoch (best val accuracy so far),
its test accuracy and macro F1 and the CPU seconds spent follow from one trace. Real fits with the
params.yaml defaults (``patience`` set) check that (same history, same test predictions at the kept
epoch) and give the figures reported for the defaults. Traces are cached in ``--cache``, so a rerun only
trains what is missing. Writes benchmarks/results/convergence.json and convergence.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

RESULTS = ROOT / "benchmarks/results/convergence.json"
COMMAND = ("OMP_WAIT_POLICY=PASSIVE nice -n 10 python benchmarks/convergence.py --project /work/main "
           "--cifar ../shared/data/cifar-10-exact-subset/cifar10_exact_subset.npz")
PATIENCES = (None, 2, 3, 5, 8)


# -- traced training ---------------------------------------------------------------------------------

@contextmanager
def tracing(probes: dict[str, np.ndarray], record: dict):
    """Within the block, every validation inside ``fit`` also records softmax probabilities of ``probes``
    (uint8 ``(N, H, W, C)`` each) under ``record["probs"][name]`` and the epoch's CPU and wall seconds
    (without this extra prediction) under ``record["cpu"]``, ``record["wall"]``."""
    import torch

    from winnow import training
    from winnow.device_rows import to_tensor

    real = training._evaluate
    tensors = {name: to_tensor(images, torch.device("cpu")) for name, images in probes.items()}
    record.update(cpu=[], wall=[], probs={name: [] for name in probes})
    clock = [time.process_time(), time.perf_counter()]

    def evaluate(model, x, y, mean, std, batch_size):
        out = real(model, x, y, mean, std, batch_size)
        record["cpu"].append(time.process_time() - clock[0])
        record["wall"].append(time.perf_counter() - clock[1])
        with torch.inference_mode():
            for name, tensor in tensors.items():
                logits = training._logits(model, tensor, mean, std, batch_size)
                record["probs"][name].append(torch.softmax(logits, dim=1).numpy())
        clock[:] = [time.process_time(), time.perf_counter()]
        return out

    training._evaluate = evaluate
    try:
        yield
    finally:
        training._evaluate = real


def trace(cache: Path, key: str, train, val, *, config, seed: int, probes: dict[str, np.ndarray]) -> dict:
    """One traced fit (patience null), from the cache when it was run before: ``val_acc`` (E,), ``cpu``,
    ``wall`` (E,) seconds per epoch, and ``<probe>`` float32 ``(E, N, K)`` probabilities per probe."""
    from dataclasses import replace

    from winnow.training import fit

    path = cache / f"{key}.npz"
    if path.is_file():
        return dict(np.load(path))
    record: dict = {}
    start = time.perf_counter()
    with tracing(probes, record):
        trained = fit(train.images, train.labels, val.images, val.labels, config=replace(config, patience=None),
                      num_classes=len(train.classes), seed=seed, progress=False)
    out = {"val_acc": np.array([h["val_acc"] for h in trained.history]), "cpu": np.array(record["cpu"]),
           "wall": np.array(record["wall"]), **{n: np.stack(p) for n, p in record["probs"].items()}}
    np.savez(path, **out)
    print(f"{key}: {len(trained.history)} epochs, {time.perf_counter() - start:.0f} s wall, "
          f"{out['cpu'].sum():.0f} s CPU, best val {out['val_acc'].max():.4f}", flush=True)
    return out


def stop(val_acc: np.ndarray, patience: int | None, start: int) -> tuple[int, int]:
    """(epochs run, epoch kept) of a fit with ``patience`` whose val accuracies are ``val_acc``, by fit's
    rule: best = strictly higher; stop once ``patience`` epochs passed since the best or since ``start``
    (:func:`winnow.schedule.patience_starts`), whichever is later."""
    best, kept = -1.0, 0
    for epoch, acc in enumerate(val_acc, start=1):
        if acc > best:
            best, kept = acc, epoch
        if patience is not None and epoch - max(kept, start) >= patience:
            return epoch, kept
    return len(val_acc), kept


def scored(run: dict, patience: int | None, start: int, test_labels: np.ndarray, classes: list[str]) -> dict:
    from winnow.metrics import summarise

    epochs, kept = stop(run["val_acc"], patience, start)
    summary = summarise(test_labels, run["test"][kept - 1].argmax(1), classes=classes)
    return {"epochs": epochs, "kept": kept, "val_acc": round(float(run["val_acc"][kept - 1]), 4),
            "test_acc": round(summary["accuracy"], 4), "test_macro_f1": round(summary["macro"]["f1"], 4),
            "cpu_s": round(float(run["cpu"][:epochs].sum()), 1), "wall_s": round(float(run["wall"][:epochs].sum()), 1)}


def mean_over(rows: list[dict]) -> dict:
    out = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}
    out["epochs_each"] = [r["epochs"] for r in rows]
    out["kept_each"] = [r["kept"] for r in rows]
    return out


def rules(config) -> list[tuple[str, int | None, int]]:
    """(row name, patience, first epoch counted) for every patience under fit's rule (``<budget>/<patience>``),
    and for 3 and 5 counted from the first epoch (``<budget>/<patience> from 1``), the rule fit does not use."""
    from winnow.schedule import patience_starts

    budget = config.epochs
    out = [(f"{budget}/{p}", p, patience_starts(config)) for p in PATIENCES if p is None or p < budget]
    return out + [(f"{budget}/{p} from 1", p, 0) for p in (3, 5) if p < budget]


def sweep(runs: list[dict], config, test_labels, classes) -> dict:
    return {name: mean_over([scored(r, p, start, test_labels, classes) for r in runs])
            for name, p, start in rules(config)}


# -- the data sets -------------------------------------------------------------------------------------

def judged_train(manifest) -> np.ndarray:
    """bool ``(N,)`` over ``manifest`` (data/degrade's): the train images the label cleaners judge, from threshold's
    flags and dedup's groups read and checked as the pipeline reads them (:func:`winnow.judged_rows.read_filters`:
    one row an image, of data/degrade's pixels now), in the project (the working directory). Before, both were read
    unchecked, so tables of pixels degrade had changed since chose the images the judges were traced on."""
    from winnow.errors import WinnowError
    from winnow.judged_rows import considered_rows, read_filters

    flags, groups = read_filters(manifest)
    if flags is None or groups is None:  # left out, the judges would be traced on images the filters drop
        raise WinnowError("data/threshold/flags.parquet or data/dedup/groups.parquet not found in --project; run "
                          "dvc repro there first")
    return considered_rows(manifest, flags=flags, groups=groups)[0]


def mnist(project: Path, params: dict, cache: Path, *, seeds, budgets, first_seed_budgets, judge_budgets) -> dict:
    from dataclasses import replace

    import pandas as pd

    from winnow import labels as cl
    from winnow.groundtruth import LABEL_KINDS, TRUTH, precision_recall_f1
    from winnow.imageset import read_imageset
    from winnow.out_of_sample import stratified_folds
    from winnow.training import TrainConfig
    from winnow.variants import load_test, load_variant

    with contextlib.chdir(project):  # the variants module reads the pipeline's outputs by their relative paths
        variants = {v: load_variant(v) for v in ("baseline", "pruned")}
        test = load_test()
        degraded = read_imageset("data/degrade")
        considered = judged_train(degraded.manifest)
        truth = pd.read_parquet(TRUTH)
    probes = {"test": test.images}
    out = {"data": {**{v: len(t) for v, (t, _) in variants.items()}, "val": len(variants["baseline"][1]),
                    "test": len(test), "judge_train": int((degraded.manifest["split"] == "train").sum())}}

    config = TrainConfig(**{**params["train"], "device": "cpu"})
    out["train"] = {}
    for variant, (train, val) in variants.items():
        out["train"][variant] = {}
        for budget in sorted({*budgets, *first_seed_budgets}):
            runs = [trace(cache, f"mnist-{variant}-e{budget}-s{seed}", train, val, config=replace(config, epochs=budget),
                          seed=seed, probes=probes) for seed in (seeds if budget in budgets else seeds[:1])]
            out["train"][variant] |= sweep(runs, replace(config, epochs=budget), test.labels, test.classes)

    # represent.judge: lenet5 on the train split; embedding_clean.train (embedding: judge): the same model on
    # the train images threshold and dedup left
    judged, val = degraded.select(considered), degraded.split("val")
    judge = TrainConfig(**{**params["train"], **params["represent"]["judge"], "device": "cpu"})
    for name, rows in (("represent_judge", degraded.split("train")), ("judge", judged)):
        out[name] = {}
        for budget in judge_budgets:
            runs = [trace(cache, f"mnist-{name.replace('_', '-')}-e{budget}-s{seed}", rows, val,
                          config=replace(judge, epochs=budget), seed=seed, probes=probes) for seed in seeds]
            out[name] |= sweep(runs, replace(judge, epochs=budget), test.labels, test.classes)

    # confident_learn.train: 4 fold models (seed 0), label-error F1 of cleanlab on their held-out probabilities
    folds = params["confident_learn"]["folds"]
    fold_of = stratified_folds(judged.labels, folds=folds, seed=params["seed"])
    changed = truth[truth["kind"].isin(LABEL_KINDS)]["id"]
    wrong = judged.manifest["id"].isin(changed).to_numpy()
    out["folds"] = {"images": len(judged), "wrong_labels": int(wrong.sum())}
    for budget in judge_budgets:
        runs = [trace(cache, f"mnist-fold{f}-e{budget}", judged.select(np.flatnonzero(fold_of != f)), val,
                      config=replace(judge, epochs=budget), seed=params["seed"] + f,
                      probes={"test": test.images, "held": judged.images[fold_of == f]}) for f in range(folds)]
        for name, p, start in rules(replace(judge, epochs=budget)):
            probs = np.zeros((len(judged), len(degraded.classes)), np.float32)
            for f, r in enumerate(runs):
                probs[fold_of == f] = r["held"][stop(r["val_acc"], p, start)[1] - 1]
            is_issue, _ = cl.find_issues(judged.labels, probs, filter_by=params["confident_learn"]["filter_by"],
                                         rank_by=params["confident_learn"]["rank_by"])
            scores = precision_recall_f1(is_issue, wrong)
            fold_rows = [scored(r, p, start, test.labels, test.classes) for r in runs]
            out["folds"][name] = {
                "label_error_f1": round(scores["f1"], 4), "precision": round(scores["precision"], 4),
                "recall": round(scores["recall"], 4), "flagged": int(is_issue.sum()),
                "val_acc": round(float(np.mean([r["val_acc"] for r in fold_rows])), 4),
                "test_acc": round(float(np.mean([r["test_acc"] for r in fold_rows])), 4),
                "epochs_each": [r["epochs"] for r in fold_rows], "kept_each": [r["kept"] for r in fold_rows],
                "epochs_total": sum(r["epochs"] for r in fold_rows),
                "cpu_s": round(sum(r["cpu_s"] for r in fold_rows), 1)}
    return out


def cifar(path: Path, params: dict, cache: Path, *, budgets) -> dict:
    from dataclasses import replace

    from winnow.imageset import ImageSet
    from winnow.ingest import to_imageset
    from winnow.npz_files import load_npz
    from winnow.training import TrainConfig

    loaded = load_npz(path)
    images, manifest = to_imageset(loaded, size=None, val_fraction=params["ingest"]["val_fraction"],
                                   test_fraction=params["ingest"]["test_fraction"], seed=params["seed"])
    data = ImageSet(images, manifest, loaded.classes)
    train, val, test = data.split("train"), data.split("val"), data.split("test")
    config = TrainConfig(**{**params["train"], "hflip": True, "device": "cpu"})  # natural images: flips allowed
    out = {"data": {"train": len(train), "val": len(val), "test": len(test)}, "config": "train defaults, hflip true"}
    for budget in budgets:
        run = trace(cache, f"cifar-e{budget}", train, val, config=replace(config, epochs=budget), seed=params["seed"],
                    probes={"test": test.images})
        out["sweep"] = out.get("sweep", {}) | sweep([run], replace(config, epochs=budget), test.labels, test.classes)
    return out


def repro_cost(project: Path, params: dict, m: dict) -> dict:
    """Training CPU seconds the params.yaml defaults add to the default pipeline over the old ones (train 15
    epochs, represent.judge 10, no patience), as measured here: baseline and pruned by their traces (mean
    over seeds), oracle, augmented and balanced at the full budget, by their image counts at baseline's
    CPU seconds per image and epoch; the represent judge by its traces."""
    import pandas as pd

    budget, patience = params["train"]["epochs"], params["train"]["patience"]
    new, old = f"{budget}/{patience}", "15/None"
    runs = m["train"]["baseline"][f"{budget}/None"]
    per_image_epoch = runs["cpu_s"] / budget / m["data"]["baseline"]
    out = {"measured": {v: round(m["train"][v][new]["cpu_s"] - m["train"][v][old]["cpu_s"], 1)
                        for v in ("baseline", "pruned")}, "at_budget": {}}
    for variant in ("oracle", "augmented", "balanced"):
        rows = pd.read_parquet(project / "data/variants" / variant / "rows.parquet")
        images = int((rows["action"] != "drop").sum())
        out["at_budget"][variant] = round((budget - 15) * images * per_image_epoch, 1)
    judge = params["represent"]["judge"]
    out["represent_judge"] = round(m["represent_judge"][f"{judge['epochs']}/{judge.get('patience')}"]["cpu_s"]
                                   - m["represent_judge"]["10/None"]["cpu_s"], 1)
    out["total_cpu_s"] = round(sum(out["measured"].values()) + sum(out["at_budget"].values())
                               + out["represent_judge"], 1)
    return out


# -- the defaults, for real ----------------------------------------------------------------------------

def check_defaults(project: Path, params: dict, cache: Path) -> dict:
    """Real fits at params.yaml's train (and judge) settings, patience on: baseline and pruned, seed 0,
    against the trace's prediction of the same run."""
    import torch

    from winnow.metrics import summarise
    from winnow.schedule import patience_starts
    from winnow.training import TrainConfig, fit, predict_proba
    from winnow.variants import load_test, load_variant

    with contextlib.chdir(project):
        data = {v: load_variant(v) for v in ("baseline", "pruned")}
        test = load_test()
    config = TrainConfig(**{**params["train"], "device": "cpu"})
    out = {"config": {"epochs": config.epochs, "patience": config.patience}}
    for variant, (train, val) in data.items():
        start, cpu = time.perf_counter(), time.process_time()
        trained = fit(train.images, train.labels, val.images, val.labels, config=config, num_classes=len(train.classes),
                      seed=0, progress=False)
        seconds = time.perf_counter() - start, time.process_time() - cpu
        pred = predict_proba(trained, test.images)
        summary = summarise(test.labels, pred.argmax(1), classes=test.classes)
        traced = dict(np.load(cache / f"mnist-{variant}-e{config.epochs}-s0.npz"))
        epochs, kept = stop(traced["val_acc"], config.patience, patience_starts(config))
        out[variant] = {
            "epochs": len(trained.history), "kept": trained.best_epoch, "stop_reason": trained.stop_reason,
            "test_acc": round(summary["accuracy"], 4), "test_macro_f1": round(summary["macro"]["f1"], 4),
            "wall_s": round(seconds[0], 1), "cpu_s": round(seconds[1], 1),
            "matches_trace": bool(
                (len(trained.history), trained.best_epoch) == (epochs, kept)
                and np.array_equal([h["val_acc"] for h in trained.history], traced["val_acc"][:epochs])
                and np.array_equal(pred.argmax(1), traced["test"][kept - 1].argmax(1))),
            "torch": torch.__version__}
    out["represent_judge"] = represent_judges(project, params)
    return out


def represent_judges(project: Path, params: dict) -> dict:
    """The represent stage's judge as the pipeline runs it (seed 0), at 10 epochs without patience (the
    old default) and at params.yaml's represent.judge: its epochs, val accuracy, the 10-NN val vote in its
    embedding, and the label-error F1 of cleanlab on confident-learn's default judge (K-fold linear probes
    on that embedding) over the train images threshold and dedup left."""
    import pandas as pd

    from winnow import labels as cl
    from winnow.groundtruth import LABEL_KINDS, TRUTH, precision_recall_f1
    from winnow.imageset import read_imageset
    from winnow.out_of_sample import probe_pred_probs
    from winnow.represent import embed_imageset, knn_val_accuracy, options

    with contextlib.chdir(project):
        data = read_imageset("data/degrade")
        considered = judged_train(data.manifest)
        truth = pd.read_parquet(TRUTH)
    splits, ids = data.manifest["split"].to_numpy(), data.manifest["id"]
    wrong = ids[considered].isin(truth[truth["kind"].isin(LABEL_KINDS)]["id"]).to_numpy()
    cl_params = params["confident_learn"]
    out = {}
    for name, judge in (("10/None", {**params["represent"]["judge"], "epochs": 10, "patience": None}),
                        ("default", params["represent"]["judge"])):
        opts = options({**params["represent"], "judge": {**judge, "device": "cpu"}}, train=params["train"])
        start, cpu = time.perf_counter(), time.process_time()
        rep = embed_imageset(data, options=opts, seed=params["seed"], progress=False)
        seconds = time.perf_counter() - start, time.process_time() - cpu
        judged = probe_pred_probs(rep.features[considered], data.labels[considered],
                                  val_features=rep.features[splits == "val"], val_labels=data.labels[splits == "val"],
                                  classes=data.classes, folds=cl_params["folds"], repeats=cl_params["repeats"],
                                  seed=params["seed"])
        is_issue, _ = cl.find_issues(data.labels[considered], judged.pred_probs, filter_by=cl_params["filter_by"],
                                     rank_by=cl_params["rank_by"], frac_noise=cl_params["frac_noise"])
        scores = precision_recall_f1(is_issue, wrong)
        out[name] = {"epochs": opts.judge.epochs, "patience": opts.judge.patience, "epochs_run": rep.info["epochs"],
                     "kept": rep.info["best_epoch"], "stop_reason": rep.info["stop_reason"],
                     "judge_val_acc": round(rep.info["judge_val_accuracy"], 4),
                     "knn_val_acc": round(knn_val_accuracy(rep.features, data.labels, splits, k=opts.knn_k), 4),
                     "probe_label_error_f1": round(scores["f1"], 4), "precision": round(scores["precision"], 4),
                     "recall": round(scores["recall"], 4), "wall_s": round(seconds[0], 1), "cpu_s": round(seconds[1], 1)}
    return out


# -- output --------------------------------------------------------------------------------------------

def table(rows: dict, columns: tuple[str, ...]) -> list[str]:
    lines = ["| budget/patience | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for key, row in rows.items():
        if not isinstance(row, dict):
            continue
        cells = [" ".join(map(str, row[c])) if isinstance(row[c], list) else f"{row[c]}" for c in columns]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return lines


def markdown(result: dict) -> str:
    m = result["mnist5k"]
    cols = ("epochs_each", "kept_each", "val_acc", "test_acc", "test_macro_f1", "cpu_s")
    lines = ["## Training to convergence (early stopping)", "",
             f"`{result['command']}` on {result['machine']}.", "",
             "Budget/patience `30/5` = `train.epochs: 30`, `train.patience: 5` (cosine schedule over the 30 epochs; "
             "patience counts from the epoch the learning rate is down to half its peak, mid-budget, as fit does); "
             "`/None` runs every epoch; `from 1` rows count patience from the first epoch instead (the rule fit does "
             "not use, for comparison). Each figure is the mean over the model seeds (rows whose `epochs_each` has "
             "one entry ran seed 0 only); `epochs_each` / `kept_each` list epochs run and the epoch kept per seed; "
             "CPU seconds are training only (the process's CPU time, both threads, on a shared machine). Derived "
             "from one traced run per budget and seed, as the module docstring says.", ""]
    for variant, rows in m["train"].items():
        lines += [f"### MNIST-5k train stage, {variant} ({m['data'][variant]} train images, cnn_small)", "",
                  *table(rows, cols), ""]
    lines += [f"### MNIST-5k represent.judge (lenet5, the {m['data']['judge_train']} train images)", "",
              *table(m["represent_judge"], cols), "",
              f"### MNIST-5k embedding_clean.train, embedding: judge (lenet5, the {m['folds']['images']} train images "
              "threshold and dedup left)", "", *table(m["judge"], cols), ""]
    lines += [f"### MNIST-5k confident_learn.train, judge: cnn (lenet5, 4 folds, seed 0; {m['folds']['wrong_labels']} "
              f"wrong labels among {m['folds']['images']})", "",
              *table(m["folds"], ("label_error_f1", "precision", "recall", "flagged", "epochs_each", "kept_each",
                                  "val_acc", "test_acc", "cpu_s")), ""]
    c = result["repro_cost"]
    lines += ["### What the defaults add to the default `dvc repro` (training CPU seconds on this machine)", "",
              f"baseline +{c['measured']['baseline']}, pruned +{c['measured']['pruned']} (their traces, mean over "
              f"seeds); oracle +{c['at_budget']['oracle']}, augmented +{c['at_budget']['augmented']}, balanced "
              f"+{c['at_budget']['balanced']} (every epoch of the budget, baseline's CPU seconds per image and "
              f"epoch); represent judge +{c['represent_judge']}: {c['total_cpu_s']} CPU seconds in all, measured "
              "under the load above (the confident-learn and embedding-clean CNN judges are off by default).", ""]
    if "cifar" in result:
        lines += [f"### CIFAR-10 exact subset, cnn_small, hflip ({result['cifar']['data']['train']} train images, "
                  "seed 0)", "", *table(result["cifar"]["sweep"], cols), ""]
    if "defaults" in result:
        d = result["defaults"]
        lines += [f"### Real fits at the defaults (epochs {d['config']['epochs']}, patience {d['config']['patience']},"
                  " seed 0)", "", "| variant | epochs | kept | stop | test acc | macro F1 | CPU s | wall s | "
                  "matches trace |", "|---|---|---|---|---|---|---|---|---|"]
        for v in ("baseline", "pruned"):
            r = d[v]
            lines.append(f"| {v} | {r['epochs']} | {r['kept']} | {r['stop_reason']} | {r['test_acc']} | "
                         f"{r['test_macro_f1']} | {r['cpu_s']} | {r['wall_s']} | {r['matches_trace']} |")
        lines += ["", "### represent.judge as the stage runs it (seed 0): its embedding judging labels", "",
                  "| budget/patience | epochs run | kept | judge val acc | 10-NN val vote | probe label-error F1 | "
                  "precision | recall | CPU s | wall s |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in d["represent_judge"].values():
            lines.append(f"| {r['epochs']}/{r['patience']} | {r['epochs_run']} | {r['kept']} | {r['judge_val_acc']} | "
                         f"{r['knn_val_acc']} | {r['probe_label_error_f1']} | {r['precision']} | {r['recall']} | "
                         f"{r['cpu_s']} | {r['wall_s']} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, required=True, help="a checkout where the default pipeline ran")
    parser.add_argument("--cifar", type=Path, help="the CIFAR-10 exact subset .npz (left out when not given)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/winnow-convergence"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budgets", type=int, nargs="+", default=[15, 20], help="train stage budgets")
    parser.add_argument("--first-seed-budgets", type=int, nargs="*", default=[30],
                        help="train stage budgets traced on the first seed only")
    parser.add_argument("--judge-budgets", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--cifar-budgets", type=int, nargs="+", default=[30])
    parser.add_argument("--no-check", action="store_true", help="skip the real fits at the params.yaml defaults")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    load = os.getloadavg()[0]
    started = time.process_time()
    result = {"command": COMMAND,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs (1-minute load "
                         f"{load:.1f} at the start), Python {platform.python_version()}, CPU only, torch threads "
                         f"{params['train']['threads']}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}",
              "mnist5k": mnist(args.project, params, args.cache, seeds=args.seeds, budgets=args.budgets,
                               first_seed_budgets=args.first_seed_budgets, judge_budgets=args.judge_budgets)}
    result["repro_cost"] = repro_cost(args.project, params, result["mnist5k"])
    if args.cifar is not None:
        result["cifar"] = cifar(args.cifar, params, args.cache, budgets=args.cifar_budgets)
    if not args.no_check:
        result["defaults"] = check_defaults(args.project, params, args.cache)
    result["cpu_s_this_invocation"] = round(time.process_time() - started, 1)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    RESULTS.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    from winnow.errors import WinnowError

    try:
        main()
    except WinnowError as error:  # one line, as a stage says it
        raise SystemExit(f"error: {error}")
