"""The merge gate's false alarms on changes that change nothing, and its power on planted regressions.

    # in a project where the pipeline ran (make repro, or dvc pull): data/variants/<v>/ and data/ingest
    nice python benchmarks/gate.py --project . --variants baseline pruned
    # a smoke test: python benchmarks/gate.py --epochs 1 --seeds 2 --planted-classes 2 --out /tmp/gate-smoke

Trains with the library (``winnow.training.fit`` / ``predict_proba`` on the variants' imagesets, the
``train`` section of the project's params.yaml), not ``dvc exp``, to stay affordable:

- **no-op changes**: every variant trained at ``--base-seed`` is the base; each of ``--seeds`` other
  training seeds, and the base seed at ``--other-threads`` torch threads, is a head that changes
  nothing but the training's randomness. A run is a false alarm when the gate fails on any variant.
  Another seed moves a model more than another processor or thread count does, so this is the noise a
  CI that retrains meets, at its worst.
- **planted regressions**: the base variant's train split with ``--flip`` fractions of one class's
  labels moved to other classes, or the class cut to ``--cut`` of its images, trained at the base seed
  (what a pull request that damages the data does) against the base.

Each head goes through today's gate (the tolerance-only check of the metrics files that ``winnow gate``
made before the paired test: a drop larger than 0.005 in accuracy or macro F1 or 0.02 in a class's F1)
and the paired gate (:func:`winnow.gate.paired_rows` with this checkout's ``gate`` params). Writes
``benchmarks/results/gate.json`` (``no_op.runs``, ``no_op.false_alarms_old``, ``no_op.false_alarms_new``,
``planted.total``, ``planted.caught`` and the detail) and ``gate.md``.
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

from winnow.gate import GateSettings, paired_rows  # noqa: E402
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

    def __init__(self, *, config, threads: int):
        from winnow.variants import load_test

        self.config, self.threads, self.test = config, threads, load_test()
        self.seconds: list[float] = []

    def run(self, train, val, *, seed: int, threads: int | None = None):
        """``(predictions, summary)`` of a model trained on ``train`` at ``seed``."""
        from winnow.training import fit, predict_proba

        # fit and predict_proba set torch's threads from the config (train.threads), so the count travels there
        config = dataclasses.replace(self.config, threads=threads or self.threads)
        started = time.perf_counter()
        trained = fit(train.images, train.labels, val.images, val.labels, config=config,
                      num_classes=len(train.classes), seed=seed, progress=False)
        probabilities = predict_proba(trained, self.test.images)
        self.seconds.append(time.perf_counter() - started)
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


def compare(base, head, *, variant: str, settings: GateSettings) -> dict:
    """The gates on one variant: the old gate's regressed keys; the paired gate's table and regressed rows
    at the measured overdispersion (``settings``) and, as ``binomial``, at phi = 1 (plain McNemar); the
    head's summary, and how many test images changed sides (right at one revision only)."""
    rows = paired_rows(base[0], head[0], variant=variant, settings=settings)
    binomial = paired_rows(base[0], head[0], variant=variant,
                           settings=dataclasses.replace(settings, overdispersion=1.0))
    right = [frame["predicted"].to_numpy() == frame["label"].to_numpy() for frame in (base[0], head[0])]
    return {"old": old_gate(base[1], head[1]), "new": rows[rows["verdict"] == "REGRESSED"]["class"].tolist(),
            "binomial": binomial[binomial["verdict"] == "REGRESSED"]["class"].tolist(),
            "rows": rows, "head": head[1], "changed": int(np.sum(right[0] != right[1]))}


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
    parser.add_argument("--seeds", type=int, default=10, help="no-op heads at other training seeds")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of every run but one")
    parser.add_argument("--other-threads", type=int, default=1, help="the no-op head at another thread count")
    parser.add_argument("--planted-variant", default="baseline")
    parser.add_argument("--planted-classes", nargs="+", default=["2", "5"])
    parser.add_argument("--flip", nargs="+", type=float, default=[0.2, 0.4])
    parser.add_argument("--cut", type=float, default=0.2, help="share of the class's train images kept")
    parser.add_argument("--calibration-seeds", nargs="+", type=int, default=[101, 102, 103, 104, 105],
                        help="training seeds whose runs measure the overdispersion (never a no-op head's seed)")
    parser.add_argument("--epochs", type=int, help="override train.epochs (a smoke test)")
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
    runner = Runner(config=config, threads=args.threads)
    data = {v: load_variant(v) for v in args.variants}
    bases = {v: runner.run(*data[v], seed=args.base_seed) for v in args.variants}
    # phi from runs that differ only in their seed (seeds the no-op heads never use): every pair of them
    calibration = {v: [bases[v]] + [runner.run(*data[v], seed=s) for s in args.calibration_seeds]
                   for v in args.variants}
    lost, gained = [], []
    for runs in calibration.values():
        for i in range(len(runs)):
            for j in range(i + 1, len(runs)):
                pair = class_tables(runs[i][0], runs[j][0])
                lost += pair[0]
                gained += pair[1]
    phi = round(overdispersion(lost, gained), 2)
    print(f"overdispersion from {len(args.calibration_seeds)} calibration seeds per variant: {phi}", flush=True)
    settings = dataclasses.replace(settings, overdispersion=phi)

    heads = [{"seed": args.base_seed + i, "threads": args.threads} for i in range(1, args.seeds + 1)]
    heads.append({"seed": args.base_seed, "threads": args.other_threads})
    no_op = []
    for head in heads:
        results = {v: compare(bases[v], runner.run(*data[v], seed=head["seed"], threads=head["threads"]), variant=v,
                              settings=settings) for v in args.variants}
        no_op.append({**head, "old_alarm": any(r["old"] for r in results.values()),
                      "new_alarm": any(r["new"] for r in results.values()),
                      "binomial_alarm": any(r["binomial"] for r in results.values()),
                      "binomial_regressed": {v: r["binomial"] for v, r in results.items() if r["binomial"]},
                      "old_regressed": {v: r["old"] for v, r in results.items() if r["old"]},
                      "new_regressed": {v: r["new"] for v, r in results.items() if r["new"]},
                      "accuracy_change": {v: round(float(r["rows"]["change"].iloc[0]), 4) for v, r in results.items()},
                      "images_changed": {v: r["changed"] for v, r in results.items()}})
        print(f"no-op seed {head['seed']} threads {head['threads']}: old {'ALARM' if no_op[-1]['old_alarm'] else 'pass'}, "
              f"new {'ALARM' if no_op[-1]['new_alarm'] else 'pass'}", flush=True)

    v = args.planted_variant
    plants = [(c, "flip", f) for c in args.planted_classes for f in args.flip]
    plants += [(c, "cut", args.cut) for c in args.planted_classes]
    planted_runs = []
    for klass, kind, level in plants:
        train = planted(data[v][0], klass=klass, kind=kind, level=level, seed=args.base_seed)
        result = compare(bases[v], runner.run(train, data[v][1], seed=args.base_seed), variant=v, settings=settings)
        row = result["rows"].set_index("class").loc[klass]
        f1_change = result["head"]["per_class"][klass]["f1"] - bases[v][1]["per_class"][klass]["f1"]
        planted_runs.append({
            "variant": v, "class": klass, "kind": kind, "level": level,
            "recall_change_points": round(100 * float(row["change"]), 1),
            "f1_change_points": round(100 * f1_change, 1),
            "p_adj": float(row["p_adj"]), "caught": bool(result["new"]), "caught_on_class": klass in result["new"],
            "caught_binomial": bool(result["binomial"]),
            "caught_old": bool(result["old"]), "new_regressed": result["new"], "old_regressed": result["old"]})
        print(f"planted {kind} {level} on class {klass}: recall {planted_runs[-1]['recall_change_points']:+.1f} points, "
              f"new {'caught' if result['new'] else 'missed'}, old {'caught' if result['old'] else 'missed'}", flush=True)

    write(args, settings, no_op, planted_runs, runner, seconds=time.perf_counter() - started,
          calibration={"seeds": args.calibration_seeds, "tables": len(lost), "overdispersion": phi})


def write(args, settings: GateSettings, no_op: list[dict], planted_runs: list[dict], runner: Runner, *,
          seconds: float, calibration: dict) -> None:
    big = [p for p in planted_runs if p["recall_change_points"] <= -TARGETS["caught_drop_points"]]
    out = {
        "command": "python benchmarks/gate.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads},
        "settings": {"variants": args.variants, "base_seed": args.base_seed, "epochs": runner.config.epochs,
                     "model": runner.config.model, "gate": {"alpha": settings.alpha, "correction": settings.correction,
                                                            "tolerances": settings.tolerances},
                     "old_tolerances": OLD_TOLERANCES},
        "calibration": calibration,
        "no_op": {"runs": len(no_op), "false_alarms_old": sum(r["old_alarm"] for r in no_op),
                  "false_alarms_new": sum(r["new_alarm"] for r in no_op),
                  "false_alarms_binomial": sum(r["binomial_alarm"] for r in no_op), "detail": no_op},
        "planted": {"total": len(planted_runs), "caught": sum(p["caught"] for p in planted_runs),
                    "caught_old": sum(p["caught_old"] for p in planted_runs),
                    "caught_binomial": sum(p["caught_binomial"] for p in planted_runs),
                    "at_least_5_points": len(big), "at_least_5_points_caught": sum(p["caught"] for p in big),
                    "detail": planted_runs},
        "train_seconds_mean": round(float(np.mean(runner.seconds)), 1), "seconds": round(seconds, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gate.json").write_text(json.dumps(out, indent=2) + "\n")
    (args.out / "gate.md").write_text(markdown(out))
    print(f"wrote {args.out / 'gate.json'}")


def markdown(out: dict) -> str:
    no_op, plant = out["no_op"], out["planted"]
    rate_ok = no_op["false_alarms_new"] * 10 <= TARGETS["false_alarms_per_10"] * no_op["runs"]
    power_ok = plant["at_least_5_points_caught"] == plant["at_least_5_points"]
    lines = [
        "## The merge gate: false alarms and power (issue 17)", "",
        f"`{out['command']}` — {out['machine']['platform']}, {out['machine']['cpus']} CPUs, "
        f"{out['machine']['torch_threads']} torch threads; {out['settings']['model']}, "
        f"{out['settings']['epochs']} epochs, variants {', '.join(out['settings']['variants'])}; "
        f"{out['train_seconds_mean']} s per training, {out['seconds']:.0f} s in all.", "",
        f"No-op changes ({no_op['runs']} runs: other training seeds against seed {out['settings']['base_seed']}, "
        "and the base seed at another thread count; an alarm is a failure on any variant):", "",
        "| gate | false alarms |", "|---|---|",
        f"| today's (tolerance only: {', '.join(f'{k} {v}' for k, v in out['settings']['old_tolerances'].items())}) "
        f"| {no_op['false_alarms_old']} of {no_op['runs']} |",
        f"| paired, binomial (McNemar exact, phi 1) | {no_op['false_alarms_binomial']} of {no_op['runs']} |",
        f"| paired, phi {out['calibration']['overdispersion']} measured on seeds "
        f"{', '.join(map(str, out['calibration']['seeds']))} (alpha {out['settings']['gate']['alpha']}, "
        f"{out['settings']['gate']['correction']}, tolerances "
        f"{', '.join(f'{k} {v}' for k, v in out['settings']['gate']['tolerances'].items())}) "
        f"| {no_op['false_alarms_new']} of {no_op['runs']} |", "",
        f"Target ≤ 1 in 10 for the paired gate: {'met' if rate_ok else 'missed'}.", "",
        "Planted regressions (trained at the base seed, against the base):", "",
        "| class | damage | recall change (points) | F1 change (points) | p adj | paired gate (phi) | paired (phi 1) "
        "| today's gate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in plant["detail"]:
        damage = f"{p['level']:.0%} of labels flipped" if p["kind"] == "flip" else f"cut to {p['level']:.0%}"
        lines.append(f"| {p['class']} | {damage} | {p['recall_change_points']:+.1f} | {p['f1_change_points']:+.1f} | "
                     f"{p['p_adj']:.4f} | {'caught' if p['caught'] else 'missed'} | "
                     f"{'caught' if p['caught_binomial'] else 'missed'} | {'caught' if p['caught_old'] else 'missed'} |")
    lines += ["", f"Caught {plant['caught']} of {plant['total']} (today's gate {plant['caught_old']}); of the "
              f"{plant['at_least_5_points']} that cost their class ≥ 5 points of recall, {plant['at_least_5_points_caught']} "
              f"caught (target: all — {'met' if power_ok else 'missed'}).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
