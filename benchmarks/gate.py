"""The merge gate's false alarms on changes that change nothing, and its power on planted regressions.

    # in a project where the pipeline ran (make repro, or dvc pull): data/variants/<v>/ and data/ingest
    nice python benchmarks/gate.py --project . --variants baseline pruned
    # a smoke test: python benchmarks/gate.py --epochs 1 --runs 2 --seeds 2 --planted-classes 2 --out /tmp/gate-smoke

Trains with the library (``winnow.training.fit`` / ``predict_proba`` on the variants' imagesets, the
``train`` section of the project's params.yaml), not ``dvc exp``, to stay affordable:

- **no-op changes**: every variant trained at ``--runs`` seeds from ``--base-seed`` on is the base; each
  of ``--seeds`` heads at ``--runs`` other training seeds, and one at the base seeds and
  ``--other-threads`` torch threads, changes nothing but the training's randomness. A head is a false
  alarm when the gate fails on any variant. The one-run gates compare the first run of each side; the
  pooled gate all of them (``winnow gate --base A B C --target D E F``).
  Another seed moves a model more than another processor or thread count does, so this is the noise a
  CI that retrains meets, at its worst.
- **planted regressions**: the base variant's train split with ``--flip`` fractions of one class's
  labels moved to other classes, or the class cut to ``--cut`` of its images, trained at the base seed
  (what a pull request that damages the data does) against the base, at each base seed.

Each head goes through today's gate (the tolerance-only check of the metrics files that ``winnow gate``
made before the paired test: a drop larger than 0.005 in accuracy or macro F1 or 0.02 in a class's F1)
and the paired gate (:func:`winnow.gate_table.paired_rows` with this checkout's ``gate`` params). Writes
``benchmarks/results/gate.json`` (``no_op.runs``, ``no_op.false_alarms_old``, ``no_op.false_alarms_new``,
``no_op.false_alarms_pooled``, ``planted.total``, ``planted.caught``, ``planted.caught_pooled`` and the
detail) and ``gate.md``. ``--cache`` keeps each run's test probabilities, so a stopped run resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from winnow.gate_table import FALSE_POSITIVES, GateSettings, paired_rows  # noqa: E402
from winnow.paired import PairedCounts, overdispersion  # noqa: E402
from winnow.metrics import predictions_table, summarise  # noqa: E402

# the tolerances of the gate before the paired test (params.yaml at 515db50), on the metrics files
OLD_TOLERANCES = {"accuracy": 0.005, "macro.f1": 0.005, "per_class.*.f1": 0.02}
TARGETS = {"false_alarms_per_10": 1, "caught_drop_points": 5}


def old_gate(base: dict, head: dict) -> list[str]:
    """The keys today's (tolerance-only) gate calls regressed between two :func:`summarise` results."""
    pairs = [("accuracy", base["accuracy"], head["accuracy"]), ("macro.f1", base["macro"]["f1"], head["macro"]["f1"])]
    pairs += [(f"per_class.{c}.f1", base["per_class"][c]["f1"], head["per_class"][c]["f1"]) for c in base["per_class"]]
    tolerance = {"accuracy": OLD_TOLERANCES["accuracy"], "macro.f1": OLD_TOLERANCES["macro.f1"]}
    return [key for key, old, new in pairs
            if new - old < -tolerance.get(key, OLD_TOLERANCES["per_class.*.f1"]) - 1e-12]


class Runner:
    """Trains one variant's (possibly planted) train split and evaluates it on the test split."""

    def __init__(self, *, config, threads: int, cache: Path | None = None):
        from winnow.variants import load_test

        self.config, self.threads, self.test, self.cache = config, threads, load_test(), cache
        self.seconds: list[float] = []
        self.reused = 0  # runs read back from the cache

    def run(self, train, val, *, seed: int, key: str, threads: int | None = None):
        """``(predictions, summary)`` of a model trained on ``train`` at ``seed``; ``key`` names the run in
        the cache (its test probabilities, reused when there)."""
        from winnow.training import fit, predict_proba

        threads = threads or self.threads
        cached = self.cache / f"{key}-t{threads}-e{self.config.epochs}.npy" if self.cache else None
        if cached is not None and cached.exists():
            probabilities = np.load(cached)
            self.reused += 1
        else:
            # fit and predict_proba set torch's threads from the config (train.threads), so the count travels there
            config = dataclasses.replace(self.config, threads=threads)
            started = time.perf_counter()
            trained = fit(train.images, train.labels, val.images, val.labels, config=config,
                          num_classes=len(train.classes), seed=seed, progress=False)
            probabilities = predict_proba(trained, self.test.images)
            self.seconds.append(time.perf_counter() - started)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.save(cached, probabilities)
        labels = self.test.labels
        table = predictions_table(self.test.manifest["id"].to_numpy(), labels, probabilities, classes=train.classes)
        return table[["id", "label", "predicted"]], summarise(labels, probabilities.argmax(1), classes=train.classes)


def planted(train, *, klass: str, kind: str, level: float, seed: int):
    """``train`` with one class damaged: ``flip`` moves ``level`` of its labels to uniformly drawn other
    classes; ``cut`` keeps ``level`` of its images."""
    from winnow.imageset import ImageSet

    rng = np.random.default_rng(seed)
    k = train.classes.index(klass)
    members = np.flatnonzero(train.labels == k)
    chosen = rng.choice(members, size=round(len(members) * (level if kind == "flip" else 1 - level)), replace=False)
    manifest = train.manifest.copy()
    if kind == "flip":
        others = np.array([c for c in range(len(train.classes)) if c != k])
        manifest.loc[chosen, "label"] = rng.choice(others, size=len(chosen))
        return ImageSet(train.images, manifest, train.classes)
    keep = np.setdiff1d(np.arange(len(train)), chosen)
    return ImageSet(train.images[keep], manifest.iloc[keep].reset_index(drop=True), train.classes)


def compare(base: list, head: list, *, variant: str, settings: GateSettings) -> dict:
    """The gates on one variant, ``base`` and ``head`` lists of ``(predictions, summary)`` runs: one run a
    side (the first of each) through the old gate, the paired gate at ``settings`` and, as ``binomial``, at
    phi = 1 (plain McNemar); every run of both sides through the paired gate pooled (``pooled``); the
    first head's summary, and how many test images changed sides between the first runs."""
    rows = paired_rows(base[0][0], head[0][0], variant=variant, settings=settings)
    binomial = paired_rows(base[0][0], head[0][0], variant=variant,
                           settings=dataclasses.replace(settings, overdispersion=1.0, accuracy_overdispersion=1.0))
    pooled = (rows if len(base) == len(head) == 1 else  # one run a side: the pooled gate is the one-run gate
              paired_rows([run[0] for run in base], [run[0] for run in head], variant=variant, settings=settings))
    right = [frame["predicted"].to_numpy() == frame["label"].to_numpy() for frame in (base[0][0], head[0][0])]

    def regressed(table: pd.DataFrame) -> list[str]:  # a class's false-positive row as "<class> (false positives)"
        hit = table[table["verdict"] == "REGRESSED"]
        return [f"{c} (false positives)" if m == FALSE_POSITIVES else c for c, m in zip(hit["class"], hit["metric"])]

    return {"old": old_gate(base[0][1], head[0][1]), "new": regressed(rows), "binomial": regressed(binomial),
            "pooled": regressed(pooled), "rows": rows, "pooled_rows": pooled, "head": head[0][1],
            "changed": int(np.sum(right[0] != right[1]))}


def head_sets(pool: list[int], *, runs: int, count: int, seed: int) -> list[list[int]]:
    """``count`` distinct sets of ``runs`` seeds from ``pool``: its disjoint chunks first, then sets drawn at
    random (they share seeds with others, so those heads are not independent of each other)."""
    sets = [pool[i:i + runs] for i in range(0, len(pool) - runs + 1, runs)][:count]
    rng = np.random.default_rng(seed)
    while len(sets) < count:
        drawn = sorted(rng.choice(pool, size=runs, replace=False).tolist())
        if drawn not in sets:
            sets.append(drawn)
    return sets


def _head_runs(head: dict, *, data, runner, variant: str) -> list:
    return [runner.run(*data[variant], seed=s, threads=head["threads"], key=f"{variant}-s{s}") for s in head["seeds"]]


def one_run_head(head: dict, *, bases: dict, data: dict, runner, settings: GateSettings) -> dict:
    """A no-op head of one run against the first base run, through the old, the paired and the plain McNemar
    gates."""
    results = {v: compare(bases[v][:1], _head_runs(head, data=data, runner=runner, variant=v), variant=v,
                          settings=settings) for v in bases}
    row = {**head}
    for gate in ("old", "new", "binomial"):
        row[f"{gate}_alarm"] = any(r[gate] for r in results.values())
        row[f"{gate}_regressed"] = {v: r[gate] for v, r in results.items() if r[gate]}
    row["accuracy_change"] = {v: round(float(r["rows"]["change"].iloc[0]), 4) for v, r in results.items()}
    row["images_changed"] = {v: r["changed"] for v, r in results.items()}
    print(f"no-op seed {head['seeds'][0]} threads {head['threads']}: " + ", ".join(
        f"{gate} {'ALARM' if row[f'{gate}_alarm'] else 'pass'}" for gate in ("old", "new", "binomial")), flush=True)
    return row


def pooled_head(head: dict, *, bases: dict, data: dict, runner, settings: GateSettings) -> dict:
    """A no-op head of several runs against all the base runs, through the pooled gate."""
    results = {v: compare(bases[v], _head_runs(head, data=data, runner=runner, variant=v), variant=v,
                          settings=settings) for v in bases}
    row = {**head, "alarm": any(r["pooled"] for r in results.values()),
           "regressed": {v: r["pooled"] for v, r in results.items() if r["pooled"]},
           "accuracy_change": {v: round(float(r["pooled_rows"]["change"].iloc[0]), 4) for v, r in results.items()}}
    print(f"no-op pooled seeds {head['seeds']} threads {head['threads']}: {'ALARM' if row['alarm'] else 'pass'}",
          flush=True)
    return row


def class_tables(first: pd.DataFrame, second: pd.DataFrame) -> tuple[list[int], list[int]]:
    """Per class, the images right in ``first`` only (lost) and in ``second`` only (gained)."""
    pairs = first.merge(second, on="id", suffixes=("_a", "_b"))
    labels = pairs["label_a"].to_numpy()
    right_a, right_b = pairs["predicted_a"].to_numpy() == labels, pairs["predicted_b"].to_numpy() == labels
    counts = [PairedCounts.from_correct(right_a[labels == k], right_b[labels == k]) for k in pd.unique(labels)]
    return [c.lost for c in counts], [c.gained for c in counts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default=".", help="a project where the pipeline ran (data/ingest, data/variants)")
    parser.add_argument("--variants", nargs="+", default=["baseline", "pruned"])
    parser.add_argument("--base-seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3,
                        help="runs (seeds) a side for the pooled gate; the first of each side is the one-run gate's")
    parser.add_argument("--seeds", type=int, default=10, help="pooled no-op heads, each at --runs other seeds")
    parser.add_argument("--pool", type=int, help="the other seeds the heads draw from (default --seeds x --runs: "
                                                 "disjoint heads); every one is also a one-run no-op head")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of every run but one head's")
    parser.add_argument("--other-threads", type=int, default=1, help="the no-op head at the base seeds and this "
                                                                     "thread count")
    parser.add_argument("--planted-variant", default="baseline")
    parser.add_argument("--planted-classes", nargs="+", default=["2", "5"])
    parser.add_argument("--flip", nargs="+", type=float, default=[0.2, 0.4])
    parser.add_argument("--cut", type=float, default=0.2, help="share of the class's train images kept")
    parser.add_argument("--calibration-seeds", nargs="+", type=int, default=[101, 102, 103],
                        help="more seeds (never a head's) whose runs, with the base runs, measure phi")
    parser.add_argument("--epochs", type=int, help="override train.epochs (a smoke test)")
    parser.add_argument("--cache", type=Path, help="keep every run's predictions here and reuse them (a rerun "
                                                   "trains only what is missing)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results")
    args = parser.parse_args()

    from winnow.training import TrainConfig
    from winnow.variants import load_variant

    started = time.perf_counter()
    project = Path(args.project).resolve()
    params = yaml.safe_load((project / "params.yaml").read_text())
    settings = GateSettings.from_params(yaml.safe_load((ROOT / "params.yaml").read_text())["gate"])
    train_section = {**params["train"], "device": "cpu", **({"epochs": args.epochs} if args.epochs else {})}
    config = TrainConfig.from_params(train_section)
    os.chdir(project)  # the variants and the test split are read relative to the project
    runner = Runner(config=config, threads=args.threads, cache=args.cache)
    data = {v: load_variant(v) for v in args.variants}
    base_seeds = [args.base_seed + j for j in range(args.runs)]
    bases = {v: [runner.run(*data[v], seed=s, key=f"{v}-s{s}") for s in base_seeds] for v in args.variants}
    # phi from the pairs of runs that differ only in their seed (the base runs and the calibration runs, never a
    # head's seed), per class and over all; the gate itself runs at params.yaml's values, what a user gets
    calibration = {v: bases[v] + [runner.run(*data[v], seed=s, key=f"{v}-s{s}") for s in args.calibration_seeds]
                   for v in args.variants}
    lost, gained, overall_lost, overall_gained = [], [], [], []
    for runs in calibration.values():
        for i in range(len(runs)):
            for j in range(i + 1, len(runs)):
                pair = class_tables(runs[i][0], runs[j][0])
                lost += pair[0]
                gained += pair[1]
                overall_lost.append(sum(pair[0]))
                overall_gained.append(sum(pair[1]))
    phi = round(overdispersion(lost, gained), 2)
    phi_accuracy = round(overdispersion(overall_lost, overall_gained), 2)
    print(f"overdispersion over {len(overall_lost)} seed-only pairs: per class {phi}, accuracy {phi_accuracy} (the "
          f"gate uses {settings.overdispersion} and {settings.accuracy_overdispersion})", flush=True)

    pool = [args.base_seed + args.runs + i for i in range(args.pool or args.seeds * args.runs)]
    other = {"threads": args.other_threads}
    no_op = [one_run_head(head, bases=bases, data=data, runner=runner, settings=settings)
             for head in [{"seeds": [s], "threads": args.threads} for s in pool] + [{"seeds": base_seeds[:1], **other}]]
    no_op_pooled = [pooled_head(head, bases=bases, data=data, runner=runner, settings=settings)
                    for head in [{"seeds": seeds, "threads": args.threads}
                                 for seeds in head_sets(pool, runs=args.runs, count=args.seeds, seed=args.base_seed)]
                    + [{"seeds": base_seeds, **other}]]

    v = args.planted_variant
    plants = [(c, "flip", f) for c in args.planted_classes for f in args.flip]
    plants += [(c, "cut", args.cut) for c in args.planted_classes]
    planted_runs = []
    for klass, kind, level in plants:
        train = planted(data[v][0], klass=klass, kind=kind, level=level, seed=args.base_seed)
        # a pull request that damages the data, run at the base's own seeds
        result = compare(bases[v], [runner.run(train, data[v][1], seed=s, key=f"{v}-s{s}-{kind}{level}-c{klass}")
                                    for s in base_seeds], variant=v, settings=settings)
        row, pooled_row = (rows[rows["metric"] != FALSE_POSITIVES].set_index("class").loc[klass]
                           for rows in (result["rows"], result["pooled_rows"]))
        f1_change = result["head"]["per_class"][klass]["f1"] - bases[v][0][1]["per_class"][klass]["f1"]
        planted_runs.append({
            "variant": v, "class": klass, "kind": kind, "level": level,
            "recall_change_points": round(100 * float(row["change"]), 1),
            "pooled_recall_change_points": round(100 * float(pooled_row["change"]), 1),
            "f1_change_points": round(100 * f1_change, 1),
            "p_adj": float(row["p_adj"]), "pooled_p_adj": float(pooled_row["p_adj"]),
            "caught": bool(result["new"]), "caught_on_class": klass in result["new"],
            "caught_pooled": bool(result["pooled"]), "caught_pooled_on_class": klass in result["pooled"],
            "caught_binomial": bool(result["binomial"]), "caught_old": bool(result["old"]),
            "new_regressed": result["new"], "pooled_regressed": result["pooled"], "old_regressed": result["old"]})
        print(f"planted {kind} {level} on class {klass}: recall {planted_runs[-1]['recall_change_points']:+.1f} "
              f"points (pooled {planted_runs[-1]['pooled_recall_change_points']:+.1f}), one-run "
              f"{'caught' if result['new'] else 'missed'}, pooled {'caught' if result['pooled'] else 'missed'}, "
              f"old {'caught' if result['old'] else 'missed'}", flush=True)

    write(args, settings, no_op, no_op_pooled, planted_runs, runner, seconds=time.perf_counter() - started,
          calibration={"seeds": base_seeds + args.calibration_seeds, "pairs": len(overall_lost),
                       "overdispersion": phi, "accuracy_overdispersion": phi_accuracy})


def write(args, settings: GateSettings, no_op: list[dict], no_op_pooled: list[dict], planted_runs: list[dict],
          runner: Runner, *,
          seconds: float, calibration: dict) -> None:
    big = [p for p in planted_runs if p["recall_change_points"] <= -TARGETS["caught_drop_points"]]
    big_pooled = [p for p in planted_runs if p["pooled_recall_change_points"] <= -TARGETS["caught_drop_points"]]
    out = {
        "command": "python benchmarks/gate.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads},
        "settings": {"variants": args.variants, "base_seed": args.base_seed, "runs": args.runs,
                     "epochs": runner.config.epochs, "model": runner.config.model,
                     "gate": {"alpha": settings.alpha, "correction": settings.correction,
                              "overdispersion": settings.overdispersion,
                              "accuracy_overdispersion": settings.accuracy_overdispersion,
                              "tolerances": settings.tolerances},
                     "old_tolerances": OLD_TOLERANCES},
        "calibration": calibration,
        "no_op": {"runs": len(no_op), "false_alarms_old": sum(r["old_alarm"] for r in no_op),
                  "false_alarms_new": sum(r["new_alarm"] for r in no_op),
                  "false_alarms_binomial": sum(r["binomial_alarm"] for r in no_op), "detail": no_op,
                  "pooled_runs": len(no_op_pooled), "false_alarms_pooled": sum(r["alarm"] for r in no_op_pooled),
                  "pooled_detail": no_op_pooled},
        "planted": {"total": len(planted_runs), "caught": sum(p["caught"] for p in planted_runs),
                    "caught_pooled": sum(p["caught_pooled"] for p in planted_runs),
                    "caught_old": sum(p["caught_old"] for p in planted_runs),
                    "caught_binomial": sum(p["caught_binomial"] for p in planted_runs),
                    "at_least_5_points": len(big), "at_least_5_points_caught": sum(p["caught"] for p in big),
                    "pooled_at_least_5_points": len(big_pooled),
                    "pooled_at_least_5_points_caught": sum(p["caught_pooled"] for p in big_pooled),
                    "detail": planted_runs},
        "trainings": len(runner.seconds), "reused_from_cache": runner.reused,
        "train_seconds_mean": round(float(np.mean(runner.seconds)), 1) if runner.seconds else None,
        "seconds": round(seconds, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gate.json").write_text(json.dumps(out, indent=2) + "\n")
    (args.out / "gate.md").write_text(markdown(out))
    print(f"wrote {args.out / 'gate.json'}")


def markdown(out: dict) -> str:
    no_op, plant, settings = out["no_op"], out["planted"], out["settings"]
    runs = settings["runs"]

    def met(alarms: int, heads: int) -> str:
        return "met" if alarms * 10 <= TARGETS["false_alarms_per_10"] * heads else "missed"

    def caught(flag: bool) -> str:
        return "caught" if flag else "missed"

    gate = settings["gate"]
    lines = [
        "## The merge gate: false alarms and power (issue 17)", "",
        f"`{out['command']}` — {out['machine']['platform']}, {out['machine']['cpus']} CPUs, "
        f"{out['machine']['torch_threads']} torch threads; {settings['model']}, {settings['epochs']} epochs, "
        f"variants {', '.join(settings['variants'])}; {out['trainings']} trainings in this invocation "
        f"({out['train_seconds_mean']} s each) and {out['reused_from_cache']} runs read back from --cache, "
        f"{out['seconds']:.0f} s in all.", "",
        f"Gate settings (params.yaml): alpha {gate['alpha']}, {gate['correction']} over classes, phi "
        f"{gate['overdispersion']} per class and {gate['accuracy_overdispersion']} for accuracy, tolerances "
        f"{', '.join(f'{k} {v}' for k, v in gate['tolerances'].items())}. phi measured here over the "
        f"{out['calibration']['pairs']} seed-only pairs of seeds {', '.join(map(str, out['calibration']['seeds']))} "
        f"(no head's): {out['calibration']['overdispersion']} per class, "
        f"{out['calibration']['accuracy_overdispersion']} for accuracy.", "",
        f"No-op changes, one run a side: {no_op['runs']} heads ({no_op['runs'] - 1} other training seeds, and the "
        f"base seed at another thread count) against the base run at seed {settings['base_seed']}. Pooled, "
        f"{runs} runs a side: {no_op['pooled_runs']} heads ({no_op['pooled_runs'] - 1} sets of {runs} of those "
        f"other seeds, disjoint first and then drawn, so some share seeds; and the base seeds at another thread "
        f"count) against the base runs at seeds {settings['base_seed']}…{settings['base_seed'] + runs - 1}. An "
        "alarm is a failure on any variant.", "",
        "| gate | false alarms | target ≤ 1 in 10 |", "|---|---|---|",
        f"| today's (tolerance only: {', '.join(f'{k} {v}' for k, v in settings['old_tolerances'].items())}; one run "
        f"a side) | {no_op['false_alarms_old']} of {no_op['runs']} | {met(no_op['false_alarms_old'], no_op['runs'])} |",
        f"| paired, plain McNemar (phi 1; one run a side) | {no_op['false_alarms_binomial']} of {no_op['runs']} | "
        f"{met(no_op['false_alarms_binomial'], no_op['runs'])} |",
        f"| paired, phi {gate['overdispersion']} (one run a side) | {no_op['false_alarms_new']} of {no_op['runs']} | "
        f"{met(no_op['false_alarms_new'], no_op['runs'])} |",
        f"| paired, phi {gate['overdispersion']}, {runs} runs a side pooled | {no_op['false_alarms_pooled']} of "
        f"{no_op['pooled_runs']} | {met(no_op['false_alarms_pooled'], no_op['pooled_runs'])} |", "",
        f"Planted regressions (trained at the base seeds, against the base; pooled: {runs} runs a side):", "",
        "| class | damage | recall change, one run (points) | pooled | F1 change (points) | p adj one run | "
        "p adj pooled | one run (phi) | pooled | plain McNemar | today's gate |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in plant["detail"]:
        damage = f"{p['level']:.0%} of labels flipped" if p["kind"] == "flip" else f"cut to {p['level']:.0%}"
        lines.append(f"| {p['class']} | {damage} | {p['recall_change_points']:+.1f} | "
                     f"{p['pooled_recall_change_points']:+.1f} | {p['f1_change_points']:+.1f} | {p['p_adj']:.4f} | "
                     f"{p['pooled_p_adj']:.4f} | {caught(p['caught'])} | {caught(p['caught_pooled'])} | "
                     f"{caught(p['caught_binomial'])} | {caught(p['caught_old'])} |")
    pooled_all = plant["pooled_at_least_5_points_caught"] == plant["pooled_at_least_5_points"]
    lines += ["", f"One run a side caught {plant['caught']} of {plant['total']}; of the {plant['at_least_5_points']} "
              f"that cost their class ≥ 5 points of recall, {plant['at_least_5_points_caught']} (target: all — "
              f"{'met' if plant['at_least_5_points_caught'] == plant['at_least_5_points'] else 'missed'}). "
              f"Pooled over {runs} runs a side: {plant['caught_pooled']} of {plant['total']}; of the "
              f"{plant['pooled_at_least_5_points']} costing ≥ 5 points, {plant['pooled_at_least_5_points_caught']} "
              f"(target: all — {'met' if pooled_all else 'missed'}). "
              f"Today's gate: {plant['caught_old']}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
