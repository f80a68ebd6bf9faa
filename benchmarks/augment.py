"""Augmentation that wins? (issue 19): baseline, pruned, balanced with the fixed policy and balanced with
the policy the augment-search stage chose on val, per data set over seeds, with the paired test against
baseline and the search's time.

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python benchmarks/augment.py --datasets mnist5k --seeds 0 1 2
    OMP_WAIT_POLICY=PASSIVE nice -n 10 python benchmarks/augment.py --datasets cifar10 cifar10n --seeds 0
    OMP_WAIT_POLICY=PASSIVE nice -n 10 python benchmarks/augment.py --density --datasets mnist5k cifar10 cifar10n

Data sets, as benchmarks/represent.py and benchmarks/variants.py run them: ``mnist5k`` (the default
pipeline, degrade's default damage), ``cifar10`` (the CIFAR-10 exact subset with the default damage mix,
the class cut to 30% being horse) and ``cifar10n`` (the same images with one annotator's CIFAR-10N
``random_label1`` labels, degrade off); on CIFAR train is cnn_small, 20 epochs, crop padding 4, flips.

Per data set, once: a copy of this checkout runs the pipeline with ``dvc repro variants`` (seed 0: the
cleaning that makes pruned), then the real augment-search stage with ``augment_search.enabled: true`` and
its defaults (timed: wall and CPU seconds). Per seed, in this process, with that seed: train.model is fitted
on baseline and on pruned; balanced is pruned plus :func:`winnow.balance.balanced_augment` copies exactly
as the balance stage makes them (edge cases by the distance to the class centroid in this seed's baseline
model), once with ``balance.policy`` (fixed) and once with the searched policy; each is fitted and scored on
the untouched test split. So the seeds vary training and augmentation, not the cleaning. A prepared project
(``data/variants/pruned`` present) is reused. ``--epochs`` overrides train.epochs (train.patience stays as
it is) and writes the results as ``<dataset>_epochs<N>``. ``--balance-target N`` makes the balanced
variants ``N`` images per class (001's competition budget was 10,000 images: 1,000 per class on ten classes)
instead of the data set's ``balance.target`` (max: the largest class, few copies on near-balanced data) and
writes the results as ``<dataset>_target<N>``.
``--density`` then runs the search by density matching (``augment_search.method: density``) on the data
sets measured, and fits its policy's balanced variant on the same seeds where it chose another policy.

Writes benchmarks/results/augment.json (``<dataset>.<variant>.macro_f1`` mean over seeds,
``<dataset>.<variant>.macro_f1_diff`` and ``.p`` against baseline, ``<dataset>.search``) and augment.md.
Results of data sets not run this time are kept from the previous file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import represent as rp  # noqa: E402  (make_project, write_cifar10n, _env: the same projects and data)

RESULTS = ROOT / "benchmarks/results"
VARIANTS = ("baseline", "pruned", "balanced_fixed", "balanced_searched", "balanced_density", "onthefly_fixed",
            "onthefly_searched")  # those run
CIFAR_TRAIN = {"model": "cnn_small", "epochs": 20, "crop_padding": 4, "hflip": True}


def dataset_params(dataset: str, data_dir: Path) -> dict:
    """params.yaml for a data set: the defaults, its overrides, the variants this benchmark reads."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    if dataset == "cifar10":
        params["ingest"] |= {"source": "npz", "path": str(data_dir / "cifar10.npz")}
        params["degrade"]["perturbations"][0]["classes"] = ["horse"]  # the default cut, of a CIFAR class
        params["train"] |= CIFAR_TRAIN
    elif dataset == "cifar10n":
        params["ingest"] |= {"source": "npz", "path": str(data_dir / "cifar10n.npz")}
        params["degrade"] |= {"enabled": False, "perturbations": []}
        params["train"] |= CIFAR_TRAIN
    params["variants"] = ["baseline", "pruned", "balanced"]
    params["contracts"]["enforce_variants"] = []
    return params


def write_cifar(data_dir: Path) -> None:
    """The CIFAR subset with its own labels and with the CIFAR-10N labels, as npz files the npz source reads."""
    rp.write_cifar10n(data_dir)
    cifar = np.load(rp.CIFAR)
    np.savez(data_dir / "cifar10.npz", train_data=cifar["train_data"], train_index=cifar["train_index"],
             train_labels=cifar["train_labels"].astype(np.int64), test_data=cifar["test_data"],
             test_index=cifar["test_index"], test_labels=cifar["test_labels"].astype(np.int64),
             classes=np.array(rp.CIFAR_CLASSES))


def prepare(project: Path, params: dict) -> str:
    """The pipeline up to the variants stage in ``project`` (a copy of this checkout), unless done before."""
    if (project / "data/variants/pruned/rows.parquet").is_file():
        return "reused"
    rp.make_project(project)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dvc", "repro", "variants"], cwd=project, env=rp._env(),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: {project.name}: dvc repro variants failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return f"dvc repro variants, {time.perf_counter() - started:.0f} s"


def run_search(project: Path, params: dict, *, method: str = "train") -> dict:
    """The augment-search stage as DVC runs it (this checkout's code), timed; its metrics."""
    params = json.loads(json.dumps(params))
    params["augment_search"] |= {"enabled": True, "method": method}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "stages/augment_search.py")], cwd=project,
                          env={**rp._env(), "PYTHONPATH": str(ROOT / "src")}, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"error: {project.name}: augment-search failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    metrics = json.loads((project / "metrics/augment_search.json").read_text())
    return {"wall_s": round(wall, 1), "cpu_s": round(after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime, 1),
            **metrics}


def run_seed(project: Path, params: dict, seed: int, balanced: dict[str, dict], *, pruned_too: bool = True,
             onthefly: dict[str, dict] | None = None) -> dict:
    """Test macro F1 and accuracy of each variant fitted with ``seed`` (see the module docstring): baseline
    (its model gives the edge cases), pruned unless ``pruned_too`` is false (baseline's figures, not
    refitted, when its train set is baseline's), a balanced variant per ``balanced`` entry (name →
    policy params), and per ``onthefly`` entry pruned fitted with that policy applied to every batch
    (what ``train.augment: fixed|searched`` does in the train stage)."""
    from winnow.balance import balanced_augment, edge_scores
    from winnow.configs import Policy, TrainConfig
    from winnow.metrics import summarise
    from winnow.training import embed, fit, predict_proba
    from winnow.variants import load_test, load_variant

    with contextlib.chdir(project):  # the variants are read by their paths relative to the project
        (baseline, val), (pruned, _) = load_variant("baseline"), load_variant("pruned")
        test = load_test()
    config = TrainConfig(**{**params["train"], "device": "cpu"})
    balance = params["balance"]
    out = {"seed": seed}

    def score(name: str, images: np.ndarray, labels: np.ndarray, policy: Policy | None = None):
        started = time.perf_counter()
        trained = fit(images, labels, val.images, val.labels, config=config, num_classes=len(test.classes), seed=seed,
                      progress=False, policy=policy)
        summary = summarise(test.labels, predict_proba(trained, test.images).argmax(1), classes=test.classes)
        out[name] = {"macro_f1": round(summary["macro"]["f1"], 4), "accuracy": round(summary["accuracy"], 4),
                     "train_images": len(labels), "epochs": len(trained.history),
                     "fit_s": round(time.perf_counter() - started, 1)}
        print(f"{project.name} seed {seed} {name}: macro F1 {out[name]['macro_f1']:.4f} ({len(labels)} images, "
              f"{out[name]['fit_s']:.0f} s)", flush=True)
        return trained

    model = score("baseline", baseline.images, baseline.labels)
    if pruned_too and _same_set(baseline, pruned):  # a fit is deterministic for a seed: the same model again
        out["pruned"] = {**out["baseline"], "fit_s": 0.0, "same_as": "baseline"}
    elif pruned_too:
        score("pruned", pruned.images, pruned.labels)
    for name, policy in (onthefly or {}).items():
        score(name, pruned.images, pruned.labels, Policy.from_params(policy))
    scores = edge_scores(embed(model, pruned.images), pruned.labels)
    fitted = {}  # policy -> the variant fitted with it: one policy, one set of copies, one deterministic fit
    for name, policy in balanced.items():
        policy = Policy.from_params(policy)
        if policy in fitted:
            out[name] = {**out[fitted[policy]], "fit_s": 0.0, "same_as": fitted[policy]}
            continue
        fitted[policy] = name
        made = balanced_augment(pruned.images, pruned.labels, policy=policy, seed=seed, num_classes=len(test.classes),
                                target=balance["target"], edge_scores=scores, edge_fraction=balance["edge_fraction"],
                                edge_extra=balance["edge_extra"], max_images=balance["max_images"])
        score(name, np.concatenate([pruned.images[made.kept], made.images]),
              np.concatenate([pruned.labels[made.kept], made.labels]))
    return out


def _same_set(one, other) -> bool:
    """Two variants' train sets are the same images (ids of one imageset) with the same labels in the same order."""
    return one.manifest["id"].tolist() == other.manifest["id"].tolist() and np.array_equal(one.labels, other.labels)


def paired(runs: list[dict], variant: str, against: str) -> tuple[float, float | None]:
    """Mean paired macro F1 difference ``variant - against`` over the seeds and the paired t-test's p (None
    with one seed or a constant difference)."""
    f1, other = (np.array([r[v]["macro_f1"] for r in runs]) for v in (variant, against))
    diff = f1 - other
    p = round(float(stats.ttest_rel(f1, other).pvalue), 4) if len(runs) > 1 and np.ptp(diff) > 0 else None
    return round(float(diff.mean()), 4), p


def over_seeds(runs: list[dict]) -> dict:
    """Per variant: macro F1 and accuracy means, and against baseline the mean paired difference and its p;
    for the searched policy also against the fixed one."""
    out = {}
    for variant in [v for v in VARIANTS if v in runs[0]]:
        f1 = [r[variant]["macro_f1"] for r in runs]
        out[variant] = {"macro_f1": round(float(np.mean(f1)), 4),
                        "accuracy": round(float(np.mean([r[variant]["accuracy"] for r in runs])), 4), "runs": f1}
        if variant != "baseline":
            out[variant]["macro_f1_diff"], out[variant]["p"] = paired(runs, variant, "baseline")
    out["balanced_searched"]["diff_vs_fixed"], out["balanced_searched"]["p_vs_fixed"] = paired(
        runs, "balanced_searched", "balanced_fixed")
    for policy in ("fixed", "searched"):  # the same policy on the fly against its materialised copies
        if f"onthefly_{policy}" in runs[0]:
            entry = out[f"onthefly_{policy}"]
            entry["diff_vs_balanced"], entry["p_vs_balanced"] = paired(runs, f"onthefly_{policy}", f"balanced_{policy}")
    return out


def targets(name: str, d: dict) -> dict:
    """The issue's targets for one data set, met or not, with the numbers."""
    s = d["balanced_searched"]
    gain = 0.05 if name == "cifar10" or name.startswith("cifar10_") else 0.0  # >= 5 points: the default damage
    return {"searched_beats_baseline": bool(s["p"] is not None and s["p"] < 0.05 and s["macro_f1_diff"] > gain),
            "needed": f"diff > {gain:.2f} with p < 0.05 over >= 2 seeds" + (" (3 asked)" if d["seeds"] < 3 else ""),
            "search_within_10_min": d["search"]["wall_s"] <= 600}


def _label(policy: dict) -> str:
    """A policy's params as the tables show it: kind, ops, n and magnitude."""
    return f"{policy['kind']} {'+'.join(policy['ops'])} n={policy['n']} m={policy['magnitude']}"


def _against_fixed(search: dict) -> str:
    """The sentence on how the best other candidate fared against balance.policy (augment_search.with_fixed)."""
    against = search.get("against_fixed")
    if not against or against["challenger"] is None:
        return ""
    return (f" The best other candidate ({_label(against['challenger'])}) scored "
            f"{against['gain'] * 100:+.1f} points against balance.policy, SE {against['gain_se'] * 100:.1f}: "
            + ("within" if against["kept"] else "beyond")
            + f" {against.get('bar_se', search['tie_se']):.2f} SE, so "
            + ("balance.policy stays." if against["kept"] else "it replaces balance.policy."))


def markdown(results: dict) -> str:
    lines = ["## Augmentation: the fixed policy against the searched one (issue 19)", "",
             "Each data set: the pipeline up to `variants` once (seed 0), the real augment-search stage at its "
             "defaults (timed), then per seed baseline, pruned and balanced (pruned + the balance stage's copies, "
             "fixed `balance.policy` or the searched policy) fitted and scored on the test split; p: paired t-test "
             "over seeds against baseline. How each line was run is under it.", ""]
    lines += [f"- {note}" for note in results.get("notes", [])] + ([""] if results.get("notes") else [])
    for name, d in results["datasets"].items():
        search = d["search"]
        balance = f", balance {d['balance']}" if "balance" in d else ""
        lines += [f"### {name}: {d['seeds']} seed(s), train {d['train']}{balance}", "",
                  f"`{d['command']}`; {d['machine']}; prepared: {d['prepared']}.", "",
                  "| variant | macro F1 (mean) | accuracy | diff vs baseline | p | per seed |", "|---|---|---|---|---|---|"]
        for variant in [v for v in VARIANTS if v in d]:
            r = d[variant]
            diff = f"{r['macro_f1_diff'] * 100:+.2f} pt" if "macro_f1_diff" in r else ""
            lines.append(f"| {variant} | {r['macro_f1']:.4f} | {r['accuracy']:.4f} | {diff} | {r.get('p', '')} | "
                         f"{', '.join(f'{x:.4f}' for x in r['runs'])} |")
        chosen = search["chosen"]
        lines += ["", f"Search: {search['candidates']} candidates + no augmentation, {search['epochs']} epochs each on "
                      f"{search['max_images']} train images: {search['wall_s']:.0f} s wall, {search['cpu_s']:.0f} s "
                      f"CPU. Chose {_label(chosen)} "
                      f"(val accuracy {search['val_accuracy']:.4f}; no augmentation "
                      f"{search['no_augmentation_val_accuracy']:.4f})."
                      + _against_fixed(search), "",
                  "| policy | val accuracy | s |", "|---|---|---|"]
        for row in search["table"]:
            p = row["policy"]
            label = "none" if p is None else _label(p)
            label += " (balance.policy)" if p is not None and p == search.get("fixed") else ""
            lines.append(f"| {label} | {row['score']:.4f} | {row['seconds']:.0f} |")
        s = d["balanced_searched"]
        lines += ["", f"Searched against fixed: {s['diff_vs_fixed'] * 100:+.2f} pt macro F1 (p {s['p_vs_fixed']})."]
        for policy in ("fixed", "searched"):
            if f"onthefly_{policy}" in d:
                o = d[f"onthefly_{policy}"]
                lines += ["", f"The {policy} policy on the fly (train.augment: {policy}, every batch) against its "
                              f"materialised copies (balanced_{policy}): {o['diff_vs_balanced'] * 100:+.2f} pt macro F1 "
                              f"(p {o['p_vs_balanced']})."]
        if "density_search" in d:
            ds, c = d["density_search"], d["density_search"]["chosen"]
            same = ("the same policy as the training search, so balanced_density equals balanced_searched"
                    if ds["same_policy_as_train_search"] else "another policy than the training search; "
                    "balanced_density fitted per seed (baseline refitted for the edge cases: same macro F1 as "
                    f"before on {ds['baseline_refits_matching']} of {d['seeds']} seeds)")
            lines += ["", f"Density matching (`augment_search.method: density`, `{ds['command']}`): {ds['wall_s']:.0f} s "
                          f"wall, {ds['cpu_s']:.0f} s CPU; chose {_label(c)}: {same}."]
        t = d["targets"]
        lines += ["", f"Targets: searched above baseline ({t['needed']}): **{'met' if t['searched_beats_baseline'] else 'missed'}**; "
                      f"search within 10 minutes: **{'met' if t['search_within_10_min'] else 'missed'}**."
                      + (" The search kept balance.policy: searched is the fixed policy, not a better one it found."
                         if search.get("chosen_is_fixed") else ""), ""]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist5k", "cifar10", "cifar10n"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, help="train.epochs for the fits (default: the data set's)")
    parser.add_argument("--balance-target", type=int, help="balance.target for the balanced variants (images per "
                        "class; default: the data set's, max): the results go under <dataset>_target<N>")
    parser.add_argument("--work", type=Path, default=Path("/tmp/winnow-augment"))
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared/data", help="the shared data folder")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where augment.json and augment.md are")
    parser.add_argument("--density", action="store_true", help="for data sets already in augment.json: the search "
                        "by density matching, timed, and balanced_density on the same seeds where its policy differs")
    parser.add_argument("--onthefly", action="store_true", help="also fit pruned with the fixed and the searched "
                        "policy applied on the fly (train.augment: fixed, searched) on every seed")
    parser.add_argument("--markdown-only", action="store_true", help="recompute the summaries of augment.json's "
                        "runs and rewrite augment.md; run nothing")
    args = parser.parse_args()
    if args.density:
        return add_density(args)
    if args.markdown_only:
        results = json.loads((args.results / "augment.json").read_text())
        for name, entry in results["datasets"].items():
            entry |= over_seeds(entry["runs"])
            entry["targets"] = targets(name, entry)
        (args.results / "augment.json").write_text(json.dumps(results, indent=1) + "\n")
        (args.results / "augment.md").write_text(markdown(results))
        return 0
    rp.CIFAR = args.shared / "cifar-10-exact-subset/cifar10_exact_subset.npz"
    rp.CIFAR10N = args.shared / "cifar-10n-random1/random_label1_subset.npz"
    path = args.results / "augment.json"
    results = json.loads(path.read_text()) if path.is_file() else {"datasets": {}}
    if any(d != "mnist5k" for d in args.datasets):
        write_cifar(args.work / "data")
    for dataset in args.datasets:
        params = dataset_params(dataset, args.work / "data")
        if args.epochs is not None:
            params["train"]["epochs"] = args.epochs
        project = args.work / dataset  # the cleaning does not read balance: one prepared project per data set
        name = dataset
        if args.balance_target is not None:
            params["balance"]["target"] = args.balance_target
            name = f"{name}_target{args.balance_target}"
        if args.epochs is not None:  # another training budget: its own entry beside the data set's defaults
            name = f"{name}_epochs{args.epochs}"
        prepared = prepare(project, params)
        load = os.getloadavg()
        search = run_search(project, params)
        print(f"{dataset}: search {search['wall_s']:.0f} s wall, chose {search['chosen']}", flush=True)
        policies = {"fixed": params["balance"]["policy"], "searched": search["chosen"]}
        runs = [run_seed(project, params, seed, {f"balanced_{k}": v for k, v in policies.items()},
                         onthefly={f"onthefly_{k}": v for k, v in policies.items()} if args.onthefly else None)
                for seed in args.seeds]
        command = ("OMP_WAIT_POLICY=PASSIVE nice -n 10 python benchmarks/augment.py --datasets "
                   f"{dataset} --seeds {' '.join(map(str, args.seeds))}"
                   + (f" --epochs {args.epochs}" if args.epochs is not None else "")
                   + (f" --balance-target {args.balance_target}" if args.balance_target is not None else "")
                   + (" --onthefly" if args.onthefly else ""))
        entry = {"command": command, "seeds": len(runs), "prepared": prepared,
                 "train": {k: params["train"][k] for k in ("model", "epochs", "patience", "threads")},
                 "balance": {k: params["balance"][k] for k in ("target", "max_images")},
                 "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPU cores shared with other jobs "
                            f"(load {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} over 1 / 5 / 15 min at the start), "
                            f"torch threads {params['train']['threads']}, OMP_WAIT_POLICY="
                            f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}, Python {platform.python_version()}, no GPU",
                 **over_seeds(runs), "search": search, "runs": runs}
        entry["targets"] = targets(name, entry)
        results["datasets"][name] = entry
        path.write_text(json.dumps(results, indent=1) + "\n")
        (args.results / "augment.md").write_text(markdown(results))
    return 0


def add_density(args) -> int:
    """``--density``: the density-matching search on each data set already measured (its prepared project,
    its epochs), and, where it chose another policy than the training search, that policy's balanced
    variant fitted on the same seeds."""
    path = args.results / "augment.json"
    results = json.loads(path.read_text())
    for dataset in args.datasets:
        entry = results["datasets"][dataset]
        params = dataset_params(dataset, args.work / "data")
        params["train"]["epochs"] = entry["train"]["epochs"]
        project = args.work / dataset
        search = run_search(project, params, method="density")
        search["command"] = ("OMP_WAIT_POLICY=PASSIVE nice -n 10 python benchmarks/augment.py --density --datasets "
                             + dataset)
        search["same_policy_as_train_search"] = search["chosen"] == entry["search"]["chosen"]
        print(f"{dataset}: density search {search['wall_s']:.0f} s wall, chose {search['chosen']}", flush=True)
        matching = 0
        for run in entry["runs"]:
            if search["same_policy_as_train_search"]:
                run["balanced_density"] = run["balanced_searched"]
                continue
            again = run_seed(project, params, run["seed"], {"balanced_density": search["chosen"]}, pruned_too=False)
            run["balanced_density"] = again["balanced_density"]
            matching += again["baseline"]["macro_f1"] == run["baseline"]["macro_f1"]
        search["baseline_refits_matching"] = matching
        entry["density_search"] = search
        entry |= over_seeds(entry["runs"])
        path.write_text(json.dumps(results, indent=1) + "\n")
        (args.results / "augment.md").write_text(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
