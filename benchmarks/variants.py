"""Variants side by side over seeds, from real pipeline runs (issues 7 and 8).

    # the runs: one `dvc exp run` per seed (any data set), e.g. the CIFAR-10 exact subset
    for s in 0 1 2; do dvc exp run --queue -n cifar-seed$s -S seed=$s -S ingest.source=npz ...; done
    dvc queue start -j 1
    # then, per data set, name its runs (experiment names or git revisions holding metrics/)
    python benchmarks/variants.py --runs mnist5k=b7d372f,mnist-seed1,mnist-seed2 \\
                                  --runs cifar10=cifar-seed0,cifar-seed1,cifar-seed2

Reads each run's committed metrics (``metrics/evaluate/<variant>.json``, ``metrics/gan.json``,
``metrics/variants.json``) straight from git (an experiment is a commit under ``refs/exps``), and writes

- ``results/variants.{json,md}``: the per-class F1 table of every variant as mean ± std over seeds, and
  a paired t-test with its t CI for every pair of variants (macro F1 and each class), plus the
  wall time of each run (finish-to-finish interval in a one-worker queue, or from its ``--started`` time);
- ``results/gan.{json,md}``: augmented against pruned per seed: the weak classes the run picked, the
  filter's acceptance, Fréchet distances, and the weak classes' and macro F1 with a paired test.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from winnow.compare import paired_test, seed_summary, to_markdown  # noqa: E402

RESULTS = ROOT / "benchmarks/results"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def resolve(run: str) -> str:
    """A commit for an experiment name (``refs/exps/.../<name>``) or any git revision."""
    refs = [line.split() for line in git("for-each-ref", "refs/exps", "--format=%(refname) %(objectname)").splitlines()]
    named = [sha for ref, sha in refs if ref.rsplit("/", 1)[-1] == run]
    return named[-1] if named else git("rev-parse", run).strip()


def read(commit: str, path: str) -> dict:
    return json.loads(git("show", f"{commit}:{path}"))


def finished(commit: str) -> datetime:
    return datetime.fromisoformat(git("show", "-s", "--format=%cI", commit).strip())


def wall_seconds(commits: list[str], started: dict[str, str]) -> dict[str, float | None]:
    """Seconds between each experiment's finish and the one before it among all experiments (a queue
    run with one worker starts each as the previous one ends); None for the first and for plain commits.
    ``started``: ``{commit: ISO time}`` where a run's start was recorded instead ("unknown": None)."""
    lines = git("for-each-ref", "refs/exps", "--format=%(refname) %(objectname) %(committerdate:iso-strict)").splitlines()
    # refs/exps/celery/* is the queue's own stash, moved whenever something is queued: not an experiment
    exps = {sha: datetime.fromisoformat(date) for ref, sha, date in (line.split() for line in lines)
            if "/celery/" not in ref}
    order = sorted(exps.values())
    out = {}
    for commit in commits:
        if commit in started:
            out[commit] = (None if started[commit] == "unknown"
                           else (finished(commit) - datetime.fromisoformat(started[commit])).total_seconds())
            continue
        end = exps.get(commit)
        before = [t for t in order if end is not None and t < end]
        out[commit] = (end - before[-1]).total_seconds() if before else None
    return out


def summarise(name: str, runs: list[str], started: dict[str, str]) -> tuple[dict, dict]:
    commits = [resolve(r) for r in runs]
    evaluations = []
    for commit in commits:
        # one <variant>.json per variant; since issue 17 a <variant>/ folder beside it holds the full table
        entries = [p.rsplit("/", 1)[-1] for p in git("ls-tree", "--name-only", commit, "metrics/evaluate/").split()]
        names = sorted(e[:-5] for e in entries if e.endswith(".json"))
        evaluations.append({v: read(commit, f"metrics/evaluate/{v}/summary.json" if v in entries
                                    else f"metrics/evaluate/{v}.json") for v in names})
    order = [v for v in ("oracle", "baseline", "pruned", "augmented") if all(v in e for e in evaluations)]
    order += sorted(set(evaluations[0]) - set(order))
    evaluations = [{v: e[v] for v in order} for e in evaluations]

    cells, tests = seed_summary(evaluations, metric="f1")
    macro = {v: [e[v]["macro"]["f1"] for e in evaluations] for v in order}
    accuracy = {v: [e[v]["accuracy"] for e in evaluations] for v in order}
    walls = wall_seconds(commits, {c: started[r] for r, c in zip(runs, commits) if r in started})
    variants = {
        "runs": [{"run": r, "commit": c[:7], "seed": yaml.safe_load(git("show", f"{c}:params.yaml"))["seed"],
                  "wall_seconds": walls[c], "train_images": {v: read(c, "metrics/variants.json").get(v, {}).get("train_images")
                                                             for v in order}}
                 for r, c in zip(runs, commits)],
        "variants": order,
        "per_class_f1": cells.to_dict(),
        "macro_f1": {v: {"mean": float(np.mean(x)), "std": float(np.std(x, ddof=1)) if len(x) > 1 else 0.0, "runs": x}
                     for v, x in macro.items()},
        "accuracy": {v: {"mean": float(np.mean(x)), "std": float(np.std(x, ddof=1)) if len(x) > 1 else 0.0, "runs": x}
                     for v, x in accuracy.items()},
        "tests": json.loads(tests.to_json(orient="records")),
    }

    gan_runs = []
    for commit, e in zip(commits, evaluations):
        if "augmented" not in e:
            continue
        gan = read(commit, "metrics/gan.json")
        weak = gan["weak_classes"]
        gan_runs.append({
            "commit": commit[:7], "weak_classes": weak, "added": gan["added"],
            "acceptance": {c: gan["acceptance"][c]["rate"] for c in weak},
            "frechet": {c: {"generated": gan["frechet"][c]["generated"]["generated"],
                            "accepted": gan["frechet"][c]["accepted"]["generated"],
                            "real_reference": gan["frechet"][c]["generated"]["real_reference"]} for c in weak},
            "weak_class_f1": {v: {c: e[v]["per_class"][c]["f1"] for c in weak} for v in ("pruned", "augmented")},
            "macro_f1": {v: e[v]["macro"]["f1"] for v in ("pruned", "augmented")},
            "std_f1": {v: e[v]["per_class_std"]["f1"] for v in ("pruned", "augmented")},
        })
    gan_summary = {"seeds": len(gan_runs), "runs": gan_runs}
    if gan_runs:
        weak_mean = {v: np.array([np.mean(list(r["weak_class_f1"][v].values())) for r in gan_runs])
                     for v in ("pruned", "augmented")}
        for key, values in (("weak_class_f1", weak_mean),
                            ("macro_f1", {v: np.array([r["macro_f1"][v] for r in gan_runs]) for v in ("pruned", "augmented")}),
                            ("std_f1", {v: np.array([r["std_f1"][v] for r in gan_runs]) for v in ("pruned", "augmented")})):
            gan_summary[key] = {"pruned": float(values["pruned"].mean()), "augmented": float(values["augmented"].mean()),
                                "test": paired_test(values["pruned"], values["augmented"])}
        gan_summary["acceptance_rate"] = float(np.mean([a for r in gan_runs for a in r["acceptance"].values()]))
    return variants, gan_summary


def variants_markdown(results: dict) -> str:
    lines = ["## Variants side by side over seeds (issue 7)", "",
             f"`{results['command']}` on {results['machine']}. Each run is one `dvc exp run` of the whole pipeline "
             "(ingest → … → train@v → evaluate@v) at one seed; numbers are read from the runs' committed metrics. "
             "Cells: test-split F1 as mean ± std over the runs; p: paired t-test over runs (to − from), with a "
             "95% t CI of the mean difference.", ""]
    lines += [f"- {note}" for note in results.get("notes", [])] + ([""] if results.get("notes") else [])
    for name, d in results["datasets"].items():
        walls = [f"{r['run']} {r['wall_seconds']:.0f} s" for r in d["runs"] if r["wall_seconds"]]
        lines += [f"### {name}: {len(d['runs'])} runs ({', '.join(r['run'] for r in d['runs'])})", "",
                  "Wall time of the whole pipeline (from the previous experiment's finish in a one-worker queue, "
                  "or from the run's recorded start; the cores were shared, see the notes): "
                  + (", ".join(walls) if walls else "not measured (plain commits)") + ".",
                  "Train images per variant (first run): "
                  + ", ".join(f"{v} {n}" for v, n in d["runs"][0]["train_images"].items() if n) + ".", "",
                  "Per-class F1:", "", to_markdown(_cells(d)), "",
                  "| variant | accuracy | macro F1 |", "|---|---|---|"]
        for v in d["variants"]:
            a, m = d["accuracy"][v], d["macro_f1"][v]
            lines.append(f"| {v} | {a['mean']:.4f} ± {a['std']:.4f} | {m['mean']:.4f} ± {m['std']:.4f} |")
        lines += ["", "Macro F1 (average row), paired over runs:", "",
                  "| from | to | mean diff | p | 95% CI |", "|---|---|---|---|---|"]
        for t in d["tests"]:
            if t["row"] == "average":
                lines.append(f"| {t['from']} | {t['to']} | {t['mean_diff']:+.4f} | {_p(t['p'])} | {_ci(t)} |")
        significant = [t for t in d["tests"] if t["row"] != "average" and t["p"] is not None and t["p"] < 0.05]
        lines += ["", "Classes whose F1 moved with p < 0.05 over the runs: "
                  + (", ".join(f"{t['row']} {t['from']}→{t['to']} {t['mean_diff']:+.3f}" for t in significant) or "none")
                  + ".", ""]
    return "\n".join(lines) + "\n"


def gan_markdown(results: dict) -> str:
    lines = ["## gan-synthesize over seeds (issue 8)", "",
             f"From the same pipeline runs as the variants section (`{results['command']}`): per run, the weak classes "
             "its baseline picked (lowest val F1), the share of GAN samples the filter kept, Fréchet distances in the "
             "baseline classifier's features (real vs real as the reference), and test F1 of pruned against "
             "augmented (= pruned + kept samples). p: paired t-test over runs.", ""]
    for name, g in results["datasets"].items():
        if not g.get("runs"):
            continue
        lines += [f"### {name}: {g['seeds']} runs", "",
                  "| run | weak classes | kept | FD generated (real-vs-real) | weak F1 pruned → augmented | macro F1 pruned → augmented |",
                  "|---|---|---|---|---|---|"]
        for r in g["runs"]:
            lines.append(
                f"| {r['commit']} | {', '.join(r['weak_classes'])} | "
                + ", ".join(f"{r['acceptance'][c]:.0%}" for c in r["weak_classes"]) + " | "
                + ", ".join(f"{r['frechet'][c]['generated']:.2f} ({r['frechet'][c]['real_reference']:.2f})" for c in r["weak_classes"])
                + " | " + ", ".join(f"{r['weak_class_f1']['pruned'][c]:.3f} → {r['weak_class_f1']['augmented'][c]:.3f}"
                                    for c in r["weak_classes"])
                + f" | {r['macro_f1']['pruned']:.4f} → {r['macro_f1']['augmented']:.4f} |")
        lines += ["", "| metric (mean over runs) | pruned | augmented | diff | p | 95% CI |", "|---|---|---|---|---|---|"]
        for key in ("weak_class_f1", "macro_f1", "std_f1"):
            m, t = g[key], g[key]["test"]
            lines.append(f"| {key} | {m['pruned']:.4f} | {m['augmented']:.4f} | {t['mean_diff']:+.4f} | {_p(t['p'])} | "
                         f"{_ci(t)} |")
        met = g["weak_class_f1"]["test"]["mean_diff"] >= 0.02 and g["macro_f1"]["test"]["mean_diff"] >= 0
        verdict = "met" if met else "missed"
        if g["seeds"] < 3:
            verdict += f" on {g['seeds']} run(s), which is not enough to establish it"
        lines += ["", f"Target (weak-class F1 up ≥ 2 points, macro F1 not lower, over ≥ 3 seeds): **{verdict}** "
                  f"(weak {g['weak_class_f1']['test']['mean_diff'] * 100:+.1f} points, macro "
                  f"{g['macro_f1']['test']['mean_diff'] * 100:+.2f} points, mean acceptance {g['acceptance_rate']:.0%}).", ""]
    return "\n".join(lines) + "\n"


def _cells(d: dict):
    import pandas as pd

    table = pd.DataFrame(d["per_class_f1"])[d["variants"]]
    table.index.name = "class"
    return table


def _p(p: float | None) -> str:
    return "-" if p is None or p != p else f"{p:.3g}"


def _ci(t: dict) -> str:
    """The t CI, or - with a single run."""
    low, high = t["ci_low"], t["ci_high"]
    return "-" if low is None or low != low else f"[{low:+.4f}, {high:+.4f}]"


def write(stem: str, results: dict, markdown) -> None:
    for path, text in ((RESULTS / f"{stem}.json", json.dumps(results, indent=1, default=float) + "\n"),
                       (RESULTS / f"{stem}.md", markdown(results))):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", action="append", required=True, metavar="DATASET=RUN,RUN,...",
                        help="a data set's runs: experiment names or git revisions")
    parser.add_argument("--started", action="append", default=[], metavar="RUN=ISO-TIME",
                        help="when a run started, where that was not as the previous experiment finished; "
                             "'unknown' leaves its wall time out")
    parser.add_argument("--note", action="append", default=[], help="a line for the variants section")
    args = parser.parse_args()
    started = dict(spec.split("=", 1) for spec in args.started)
    command = "python benchmarks/variants.py " + " ".join([f"--runs {r}" for r in args.runs]
                                                          + [f"--started {s}" for s in args.started])
    machine = f"{platform.machine()}, 2 CPU cores shared with other jobs, no GPU"
    variants, gans = {}, {}
    for spec in args.runs:
        name, _, runs = spec.partition("=")
        variants[name], gans[name] = summarise(name, runs.split(","), started)
    write("variants", {"command": command, "machine": machine, "notes": args.note, "datasets": variants},
          variants_markdown)
    write("gan", {"command": command, "machine": machine, "datasets": gans}, gan_markdown)


if __name__ == "__main__":
    main()
