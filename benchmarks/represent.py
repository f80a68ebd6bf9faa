"""Cleaning on label-free representations (issue 18): each represent source on three data sets, run as
the pipeline itself (dvc repro, one stage at a time, timed), in throwaway copies of this checkout.

    make bench-extra && python benchmarks/pretrained_model.py     # the pretrained source's TorchScript file
    python benchmarks/represent.py                                 # every data set, source and seed
    python benchmarks/represent.py --datasets mnist5k --sources judge --seeds 0   # one cell

Data sets: ``mnist5k`` (the default pipeline: degrade's default damage mix), ``cifar10_sym20`` (the
CIFAR-10 exact subset with 20% symmetric label noise planted by degrade) and ``cifar10n`` (the same
images with one human annotator's CIFAR-10N ``random_label1`` labels: 17.4% wrong, real class- and
image-dependent noise; degrade off, so nothing in the pipeline knows the truth). ``cifar10n_trusted`` is
cifar10n with 50 train images a class (seeded) taken out and given, with their original labels, as
``ingest.trusted_path``: a small set whose labels a user checked (001's label book), which judges the
cleaning budget instead of the noisy val split. The truth for scoring comes from outside the pipeline:
degrade's record for cifar10_sym20 and MNIST-5k, the original CIFAR-10 labels for the others.

Per (data set, source, seed) it records, against the truth: label-error precision / recall / F1 of each
label cleaner (``is_issue``) and of the pruned variant's label decisions (an image dropped or relabelled
because of its label), the accuracy of the relabels, the train set's label noise before (baseline) and
after (pruned: kept images with their final labels), the cleaning budget chosen, the judges' measured
strength, test accuracy and macro F1 of baseline and pruned, and the seconds of each stage. Over the
seeds: pruned - baseline macro F1, mean and the paired t-test across seeds, and the paired t-test across
classes of the seed-averaged per-class F1. The pretrained and selfsup sources never read a label, so
their embedding is computed once (seed 0, timed) and given to the other seeds as a ``file`` source: the
seeds then vary training and cleaning, not the representation.

Writes benchmarks/results/represent.json (``<dataset>.<source>.f1`` and the rest) and represent.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared/data"
CIFAR = SHARED / "cifar-10-exact-subset/cifar10_exact_subset.npz"
CIFAR10N = SHARED / "cifar-10n-random1/random_label1_subset.npz"
TORCHSCRIPT = ROOT / "benchmarks/models/efficientnet_lite0.ts"
RESULTS = ROOT / "benchmarks/results"
sys.path.insert(0, str(ROOT / "src"))
from winnow.groundtruth import LABEL_KINDS, TRUTH  # noqa: E402

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
LABEL_CLEANERS = {"confident_learn": "data/confident-learn/label_issues.parquet",
                  "embedding_clean": "data/embedding-clean/decisions.parquet"}
TARGETS = ["evaluate@baseline", "evaluate@pruned"]  # the stages run are these and all they depend on
TRUSTED_PER_CLASS = 50  # cifar10n_trusted: train images a class given with their checked labels


def source_params(source: str, *, dataset: str, embedding_file: Path | None) -> dict:
    """The represent section for a source (a ``file`` when seed 0 already computed a label-free one)."""
    if embedding_file is not None:
        return {"source": "file", "file": str(embedding_file)}
    if source == "pretrained":
        return {"source": "pretrained", "pretrained": {"torchscript": str(TORCHSCRIPT), "input_size": 128}}
    if source == "selfsup":
        return {"source": "selfsup", "selfsup": {"hflip": dataset != "mnist5k"}}
    return {"source": source}


def dataset_params(dataset: str, data_dir: Path) -> dict:
    """Section overrides that make the default params run on a data set."""
    if dataset == "mnist5k":
        return {}
    train = {"model": "cnn_small", "epochs": 20, "crop_padding": 4, "hflip": True}
    if dataset == "cifar10_sym20":
        return {"ingest": {"source": "npz", "path": str(CIFAR)}, "train": train,
                "degrade": {"enabled": True, "disjoint": True,
                            "perturbations": [{"kind": "symmetric_noise", "fraction": 0.2}]}}
    ingest = {"source": "npz", "path": str(data_dir / "cifar10n.npz")}
    if dataset == "cifar10n_trusted":
        ingest = {"source": "npz", "path": str(data_dir / "cifar10n_untrusted.npz"),
                  "trusted_path": str(data_dir / "cifar10n_trusted_set.npz")}
    return {"ingest": ingest, "train": train, "degrade": {"enabled": False, "disjoint": True, "perturbations": []}}


def write_cifar10n(data_dir: Path) -> None:
    """The CIFAR subset with the human labels on its train images (test labels stay the originals)."""
    cifar, human = np.load(CIFAR), np.load(CIFAR10N)
    assert np.array_equal(human["train_index"], cifar["train_index"])
    data_dir.mkdir(parents=True, exist_ok=True)
    test = {"test_data": cifar["test_data"], "test_index": cifar["test_index"],
            "test_labels": cifar["test_labels"].astype(np.int64), "classes": np.array(CIFAR_CLASSES)}
    np.savez(data_dir / "cifar10n.npz", train_data=cifar["train_data"], train_index=cifar["train_index"],
             train_labels=human["random_label1"].astype(np.int64), **test)
    trusted = trusted_rows(cifar["train_labels"])
    kept = np.setdiff1d(np.arange(len(cifar["train_labels"])), trusted)  # untrusted_rows, without drawing again
    np.savez(data_dir / "cifar10n_untrusted.npz", train_data=cifar["train_data"][kept],
             train_index=cifar["train_index"][kept], train_labels=human["random_label1"].astype(np.int64)[kept], **test)
    np.savez(data_dir / "cifar10n_trusted_set.npz", images=cifar["train_data"][trusted],
             labels=cifar["train_labels"].astype(np.int64)[trusted], classes=np.array(CIFAR_CLASSES))


def trusted_rows(true_labels: np.ndarray) -> np.ndarray:
    """The train rows of cifar10n_trusted's checked set: :data:`TRUSTED_PER_CLASS` of each true class, seeded."""
    rng = np.random.default_rng(18)
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(true_labels == c), TRUSTED_PER_CLASS, replace=False)
                                   for c in range(len(CIFAR_CLASSES))]))


def untrusted_rows(true_labels: np.ndarray) -> np.ndarray:
    """The train rows left to cifar10n_trusted's pipeline, in file order."""
    return np.setdiff1d(np.arange(len(true_labels)), trusted_rows(true_labels))


def original_cifar_labels(ids, *, dataset: str = "cifar10n") -> np.ndarray:
    """int64 ``(N,)``: the original CIFAR-10 label of each train image id of the data set's npz."""
    rows = pd.Index(ids).str.rsplit("-", n=1).str[1].astype(int).to_numpy()  # npz ids number the file's rows
    original = np.load(CIFAR)["train_labels"].astype(np.int64)
    if dataset == "cifar10n_trusted":
        rows = untrusted_rows(original)[rows]
    return original[rows]


def true_labels(project: Path, dataset: str) -> pd.Series:
    """id -> the true label of every train image the pipeline saw."""
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    train = manifest[manifest["split"] == "train"].set_index("id")["label"]
    if dataset.startswith("cifar10n"):
        return pd.Series(original_cifar_labels(train.index, dataset=dataset), index=train.index)
    truth = pd.read_parquet(project / TRUTH)
    changed = truth[truth["kind"].isin(LABEL_KINDS)].drop_duplicates("id").set_index("id")["original_label"]
    return train.where(~train.index.isin(changed.index), changed.reindex(train.index)).astype(np.int64)


def scores(flagged: np.ndarray, wrong: np.ndarray) -> dict:
    tp, fp, fn = int(np.sum(flagged & wrong)), int(np.sum(flagged & ~wrong)), int(np.sum(~flagged & wrong))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "flagged": int(flagged.sum())}


def measure(project: Path, dataset: str) -> dict:
    """Label metrics of one finished run against the truth, and what the evaluate stages wrote."""
    truth = true_labels(project, dataset)
    baseline = pd.read_parquet(project / "data/variants/baseline/rows.parquet").set_index("id")
    pruned = pd.read_parquet(project / "data/variants/pruned/rows.parquet").set_index("id")
    wrong_given = baseline["label"] != truth.reindex(baseline.index)
    out = {"train_images": len(baseline), "noise_before": round(float(wrong_given.mean()), 4)}
    # the cleaners' tables are read without their pixel check (winnow.judged_rows.check_pixels): run_pipeline has
    # just reproduced every one in this project after data/degrade (each a dep of budget, one of TARGETS' stages)
    for cleaner, path in LABEL_CLEANERS.items():
        if (project / path).is_file():
            table = pd.read_parquet(project / path).set_index("id")
            judged = wrong_given.reindex(table.index).fillna(False).to_numpy(bool)
            out[cleaner] = scores(table["is_issue"].to_numpy(bool), judged)
    # the pruned variant's label decisions: relabels, and drops a label cleaner asked for
    label_stage = pruned["stage"].fillna("").str.contains("confident_learn|embedding_clean")
    acted = pruned["action"].isin(["drop", "relabel"]) & label_stage
    out["pruned"] = scores(acted.reindex(wrong_given.index).fillna(False).to_numpy(bool), wrong_given.to_numpy(bool))
    relabelled = pruned[pruned["action"] == "relabel"]
    out["relabels"] = len(relabelled)
    out["relabel_accuracy"] = (round(float((relabelled["label"] == truth.reindex(relabelled.index)).mean()), 4)
                               if len(relabelled) else None)
    kept = pruned[pruned["action"] != "drop"]
    out["kept"] = len(kept)
    out["noise_after"] = round(float((kept["label"] != truth.reindex(kept.index)).mean()), 4)
    for name in ("budget", "confident_learn", "embedding_clean", "represent"):
        path = project / f"metrics/{name}.json"
        if path.is_file():
            metrics = json.loads(path.read_text())
            out[f"{name}_metrics"] = {k: metrics[k] for k in ("judge", "chosen", "winner", "knn_val_accuracy",
                                                               "candidates", "model_check", "filters_check",
                                                               "seconds") if k in metrics}
    for variant in ("baseline", "pruned"):
        summary = json.loads((project / f"metrics/evaluate/{variant}/summary.json").read_text())
        out[f"test_{variant}"] = {"accuracy": summary["accuracy"], "macro_f1": summary["macro"]["f1"],
                                  "per_class_f1": {c: v["f1"] for c, v in summary["per_class"].items()}}
    return out


def make_project(dest: Path) -> Path:
    """A copy of this checkout's tracked files (no metrics or lock) as a fresh git + DVC project."""
    if dest.exists():
        shutil.rmtree(dest)
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file() and not name.startswith(("metrics/", "plots/", "reports/")) and name != "dvc.lock":
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    env = _env()
    for args in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "bench"]):
        subprocess.run(args, cwd=dest, env=env, check=True, capture_output=True)
    return dest


def _env() -> dict:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
            "GIT_COMMITTER_EMAIL": "b@b"}


def stages_for(project: Path, targets: list[str]) -> list[str]:
    """The stages ``dvc repro`` runs for ``targets`` in ``project``, each after the stages it depends on
    (alphabetical where the order is free): read from dvc.yaml's graph, so a new stage is timed too."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(project)) as repo:
        graph = repo.index.graph  # edges go from a stage to the stages it depends on
        # by name: a stage's address is relative to the caller's working directory, not the project
        wanted = [stage for stage in graph if stage.name in targets]
        needed = graph.subgraph(set().union(*(nx.descendants(graph, stage) | {stage} for stage in wanted)))
        return [stage.name for stage in
                nx.lexicographical_topological_sort(needed.reverse(), key=lambda stage: stage.name)]


def run_pipeline(project: Path, params: dict) -> dict[str, float]:
    """Write params.yaml and reproduce the stages one by one; seconds per stage (0 when DVC had it)."""
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    seconds = {}
    for stage in stages_for(project, TARGETS):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "dvc", "repro", "--single-item", stage], cwd=project,
                              env=_env(), capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"error: {project.name}: stage {stage} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        seconds[stage] = round(time.perf_counter() - started, 1) if "Running stage" in done.stdout else 0.0
    return seconds


def over_seeds(runs: list[dict]) -> dict:
    """pruned - baseline over the seeds: macro F1 per seed, its mean, the t-test across seeds, and the
    paired t-test across classes of the seed-averaged per-class F1."""
    base = np.array([r["test_baseline"]["macro_f1"] for r in runs])
    pruned = np.array([r["test_pruned"]["macro_f1"] for r in runs])
    classes = list(runs[0]["test_baseline"]["per_class_f1"])
    per_class = {v: np.mean([[r[f"test_{v}"]["per_class_f1"][c] for c in classes] for r in runs], axis=0)
                 for v in ("baseline", "pruned")}
    out = {"seeds": len(runs), "baseline_macro_f1": round(float(base.mean()), 4),
           "pruned_macro_f1": round(float(pruned.mean()), 4),
           "macro_f1_diff": round(float((pruned - base).mean()), 4),
           "p_classes": round(float(stats.ttest_rel(per_class["pruned"], per_class["baseline"]).pvalue), 4)}
    out["p_seeds"] = (round(float(stats.ttest_rel(pruned, base).pvalue), 4) if len(runs) > 1 and np.ptp(pruned - base)
                      else None)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist5k", "cifar10_sym20", "cifar10n"])
    parser.add_argument("--sources", nargs="+", default=["judge", "selfsup", "pretrained"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=Path("/tmp/winnow-represent"))
    parser.add_argument("--override", nargs="*", default=[], help="params overrides for every run, key=yaml")
    parser.add_argument("--tag", default="", help="suffix of the results key (<source><tag>) for a run with overrides")
    parser.add_argument("--embedding", type=Path, default=None,
                        help="a label-free embedding computed elsewhere (.parquet: id, embedding), every seed's "
                             "`file` source: benchmarks/device_check.py's GPU selfsup, say")
    args = parser.parse_args()
    if "pretrained" in args.sources and not TORCHSCRIPT.is_file():
        raise SystemExit(f"error: {TORCHSCRIPT} not found; run `make bench-extra && python benchmarks/pretrained_model.py`")
    if any(d != "mnist5k" for d in args.datasets) and not CIFAR.is_file():
        raise SystemExit(f"error: {CIFAR} not found (the CIFAR benchmarks need ../shared/data)")
    path = RESULTS / "represent.json"
    defaults = yaml.safe_load((ROOT / "params.yaml").read_text())
    write_cifar10n(args.work / "data")
    for dataset in args.datasets:
        project = make_project(args.work / dataset)
        for source in args.sources:
            runs, embedding_file = [], args.embedding
            for seed in args.seeds:
                params = json.loads(json.dumps(defaults))
                for section, values in dataset_params(dataset, args.work / "data").items():
                    params[section] = {**params[section], **values}
                params["represent"] = {**params["represent"], **source_params(source, dataset=dataset,
                                                                              embedding_file=embedding_file)}
                params["variants"], params["seed"] = ["baseline", "pruned"], seed
                params["contracts"]["enforce_variants"] = []
                for override in args.override:
                    key, value = override.split("=", 1)
                    *parents, leaf = key.split(".")
                    node = params
                    for part in parents:
                        node = node[part]
                    node[leaf] = yaml.safe_load(value)
                started, load = time.perf_counter(), os.getloadavg()[0]
                seconds = run_pipeline(project, params)
                run = {"seed": seed, "seconds": seconds, "wall_seconds": round(time.perf_counter() - started, 1),
                       "load_1min": [round(load, 1), round(os.getloadavg()[0], 1)], **measure(project, dataset)}
                runs.append(run)
                print(f"{dataset} {source} seed {seed}: label F1 pruned {run['pruned']['f1']}, noise "
                      f"{run['noise_before']} -> {run['noise_after']}, macro F1 {run['test_baseline']['macro_f1']:.4f}"
                      f" -> {run['test_pruned']['macro_f1']:.4f} ({run['wall_seconds']:.0f} s)", flush=True)
                if source in ("pretrained", "selfsup") and embedding_file is None:
                    embedding_file = _keep_embedding(project, args.work / f"{dataset}-{source}.parquet")
                # written after every seed, so a long run stopped part way keeps the seeds it finished; read
                # again first, so runs of other data sets or sources side by side keep theirs
                results = json.loads(path.read_text()) if path.is_file() else {}
                results.setdefault(dataset, {})[source + args.tag] = {
                    **_headline(runs), "summary": over_seeds(runs), "runs": runs,
                    **({"overrides": args.override} if args.override else {}),
                    **({"embedding": str(args.embedding)} if args.embedding else {})}
                path.write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "represent.md").write_text(markdown(json.loads(path.read_text())))
    return 0


def _keep_embedding(project: Path, dest: Path) -> Path:
    """Seed 0's label-free embedding as a parquet keyed by id, for the other seeds' ``file`` source."""
    features = np.load(project / "data/represent/embeddings.npy")
    ids = json.loads((project / "data/represent/ids.json").read_text())
    pd.DataFrame({"id": ids, "embedding": list(features)}).to_parquet(dest, index=False)
    return dest


def _headline(runs: list[dict]) -> dict:
    """The figures the issue names, averaged over the seeds (``<dataset>.<source>.f1`` and so on)."""
    mean = lambda values: round(float(np.mean(values)), 4) if values else None  # noqa: E731
    relabels = [r["relabel_accuracy"] for r in runs if r["relabel_accuracy"] is not None]
    return {"f1": mean([r["pruned"]["f1"] for r in runs]), "precision": mean([r["pruned"]["precision"] for r in runs]),
            "recall": mean([r["pruned"]["recall"] for r in runs]), "relabel_accuracy": mean(relabels),
            "noise_before": mean([r["noise_before"] for r in runs]), "noise_after": mean([r["noise_after"] for r in runs]),
            "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}"}


def markdown(results: dict) -> str:
    lines = ["## Cleaning on label-free representations (issue 18)", "",
             "`python benchmarks/represent.py` (each run is the pipeline itself, `dvc repro` stage by stage, in a "
             "copy of the checkout); CPU only. Label F1 is the pruned variant's label decisions against the truth; "
             "noise is the share of wrong labels among the train images before (baseline) and after (pruned). "
             "pretrained: EfficientNet-Lite0 (ImageNet weights) as TorchScript from benchmarks/pretrained_model.py, "
             "128 px; CIFAR data sets train cnn_small 20 epochs with crop and flip, MNIST-5k the params.yaml defaults. "
             "p (seeds): paired t-test of macro F1 over seeds; p (classes): over the seed-averaged per-class F1.", "",
             "| data set | source | label P | label R | label F1 | relabel acc. | noise before → after | "
             "macro F1 baseline → pruned (seeds) | diff | p (seeds) | p (classes) | represent s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for dataset, sources in results.items():
        for source, r in sources.items():
            s = r["summary"]
            represent_s = r["runs"][0]["seconds"].get("represent")
            lines.append(f"| {dataset} | {source} | {r['precision']} | {r['recall']} | {r['f1']} | "
                         f"{r['relabel_accuracy']} | {r['noise_before']} → {r['noise_after']} | "
                         f"{s['baseline_macro_f1']} → {s['pruned_macro_f1']} ({s['seeds']}) | {s['macro_f1_diff']:+.4f} | "
                         f"{s['p_seeds']} | {s['p_classes']} | {represent_s} |")
    lines += [f"\n- {dataset} {source}: params overrides {', '.join(f'`{o}`' for o in r['overrides'])}"
              for dataset, sources in results.items() for source, r in sources.items() if r.get("overrides")]
    lines += [f"\n- {dataset} {source}: every seed's embedding read from `{r['embedding']}`"
              for dataset, sources in results.items() for source, r in sources.items() if r.get("embedding")]
    lines += [f"\n- {dataset} {source}: {r['note']}" for dataset, sources in results.items()
              for source, r in sources.items() if r.get("note")]  # how a run was made, written by hand after it
    lines += ["", "Each label cleaner on its own (every image it flags, before the budget; mean over seeds): what a "
              "cleaner finds, where the table above is what the pruned variant ships after the budget's cut.", "",
              "| data set | source | cleaner | P | R | F1 | flagged |", "|---|---|---|---|---|---|---|"]
    for dataset, sources in results.items():
        for source, r in sources.items():
            for cleaner in LABEL_CLEANERS:
                found = [run[cleaner] for run in r["runs"] if cleaner in run]
                if found:
                    mean = {k: round(float(np.mean([f[k] for f in found])), 4) for k in ("precision", "recall", "f1")}
                    flagged = round(float(np.mean([f["flagged"] for f in found])))
                    lines.append(f"| {dataset} | {source} | {cleaner} | {mean['precision']} | {mean['recall']} | "
                                 f"{mean['f1']} | {flagged} |")
    lines += ["", "Test accuracy (mean over seeds) and seconds per stage of seed 0 (wall, `dvc repro --single-item`; "
              "a stage DVC had cached counts 0; the pretrained/selfsup embedding is computed at seed 0 only). "
              "The 1-minute load at the start and end of each seed's run says how busy the 2 cores were: other "
              "jobs shared them, so the seconds are upper bounds for an idle machine.", "",
              "| data set | source | test acc baseline → pruned | machine | load (start, end) per seed | "
              "stage seconds (seed 0) |", "|---|---|---|---|---|---|"]
    for dataset, sources in results.items():
        for source, r in sources.items():
            runs = r["runs"]
            accuracy = {v: round(float(np.mean([run[f"test_{v}"]["accuracy"] for run in runs])), 4)
                        for v in ("baseline", "pruned")}
            stages = ", ".join(f"{k} {v}" for k, v in runs[0]["seconds"].items() if v)
            loads = "; ".join(str(tuple(run.get("load_1min", []))) for run in runs)
            lines.append(f"| {dataset} | {source} | {accuracy['baseline']} → {accuracy['pruned']} | {r['machine']} | "
                         f"{loads} | {stages} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
