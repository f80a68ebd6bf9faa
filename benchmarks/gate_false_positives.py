"""The merge gate's false-positive test (``per_class.<class>.false_positives``) on the runs benchmarks/gate.py cached.

    python benchmarks/gate_false_positives.py --project . --cache /tmp/gate_cache   # after benchmarks/gate.py

Trains nothing: every run must be in ``--cache`` (benchmarks/gate.py's keys; a missing one is an error). Prints:

- the Pearson dispersion (phi) of the false-positive tables over the seed-only pairs of the base and calibration
  seeds, beside the recall tables' (the gate uses ``gate.overdispersion`` for both);
- no-op false alarms of the false-positive rows alone, one run a side (each pool seed and the base seed at the
  other thread count against base seed 0) and pooled (benchmarks/gate.py's head sets), and their smallest p adj;
- the same with the false-positive tests in one Holm family with recall's (2K tests a variant) instead of their own,
  and what that does to recall's p adj;
- the planted damages benchmarks/gate.py trains (labels of class 2 or 5 flipped, or the class cut): the class's recall
  p adj with the false-positive tests apart and in one family, and any false-positive row they regress;
- power: on top of each one-run no-op head's real seed noise, ``k`` images of other classes (an equal share of each
  other class, images the head got right) newly predicted as one class; the smallest ``k`` of each class the gate
  catches on that class's false-positive row, per the class's test images.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gate import Runner, head_sets  # noqa: E402
from winnow.gate_table import FALSE_POSITIVES, GateSettings, paired_rows  # noqa: E402
from winnow.paired import PairedCounts, adjust, overdispersion  # noqa: E402


def dispersion(runs: list[pd.DataFrame]) -> tuple[float, float]:
    """(phi of the recall tables, phi of the false-positive tables) over every pair of ``runs``."""
    tables = {"recall": ([], []), FALSE_POSITIVES: ([], [])}
    labels = runs[0]["label"].to_numpy()
    for i in range(len(runs)):
        for j in range(i + 1, len(runs)):
            a, b = runs[i]["predicted"].to_numpy(), runs[j]["predicted"].to_numpy()
            for c in pd.unique(labels):
                own, others = labels == c, labels != c
                for metric, (x, y) in {"recall": (a[own] == c, b[own] == c),
                                       FALSE_POSITIVES: (a[others] != c, b[others] != c)}.items():
                    counts = PairedCounts.from_correct(x, y)
                    tables[metric][0].append(counts.lost)
                    tables[metric][1].append(counts.gained)
    return overdispersion(*tables["recall"]), overdispersion(*tables[FALSE_POSITIVES])


def joint(table: pd.DataFrame, settings: GateSettings) -> pd.DataFrame:
    """``table`` with its class rows' p adj recomputed as one Holm family of recall and false positives (one run a
    side: the p of each row as it stands)."""
    table = table.copy()
    classes = table["metric"] != "accuracy"
    table.loc[classes, "p_adj"] = adjust(table.loc[classes, "p"].to_numpy(), method=settings.correction)
    return table


def alarms(table: pd.DataFrame, settings: GateSettings, *, metric: str) -> bool:
    rows = table[table["metric"] == metric]
    if metric == FALSE_POSITIVES:
        return bool(((rows["p_adj"] < settings.alpha) & (rows["change"] > rows["tolerance"] + 1e-12)).any())
    return bool(((rows["p_adj"] < settings.alpha) & (rows["change"] < -rows["tolerance"] - 1e-12)).any())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default=".")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--variant", default="baseline")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--pool", type=int, default=12)
    parser.add_argument("--calibration-seeds", nargs="+", type=int, default=[101, 102, 103, 104, 105, 106, 107])
    args = parser.parse_args()

    from winnow.training import TrainConfig
    from winnow.variants import load_variant

    project = Path(args.project).resolve()
    params = yaml.safe_load((project / "params.yaml").read_text())
    settings = GateSettings.from_params(yaml.safe_load((ROOT / "params.yaml").read_text())["gate"])
    config = TrainConfig.from_params({**params["train"], "device": "cpu"})
    os.chdir(project)
    runner = Runner(config=config, threads=2, cache=args.cache)
    train, val = load_variant(args.variant)
    original = Runner.run

    def cached_only(self, *a, key: str, threads=None, **k):
        path = self.cache / f"{key}-t{threads or self.threads}-e{self.config.epochs}.npy"
        if not path.exists():
            raise SystemExit(f"{path}: not cached; run benchmarks/gate.py first (this script trains nothing)")
        return original(self, *a, key=key, threads=threads, **k)

    Runner.run = cached_only

    def run(seed: int, threads: int = 2) -> pd.DataFrame:
        return runner.run(train, val, seed=seed, key=f"{args.variant}-s{seed}", threads=threads)[0]

    base = [run(s) for s in range(args.runs)]
    calibration = base + [run(s) for s in args.calibration_seeds]
    phi_recall, phi_fp = dispersion(calibration)
    print(f"phi over {len(calibration) * (len(calibration) - 1) // 2} seed-only pairs: recall tables {phi_recall:.2f}, "
          f"false-positive tables {phi_fp:.2f} (gate.overdispersion {settings.overdispersion})")

    pool = list(range(args.runs, args.runs + args.pool))
    heads = [[run(s)] for s in pool] + [[run(0, threads=1)]]
    one = [paired_rows(base[0], h[0], variant=args.variant, settings=settings) for h in heads]
    sets = head_sets(pool, runs=args.runs, count=args.seeds, seed=0)
    pooled = [paired_rows(base, [run(s) for s in seeds], variant=args.variant, settings=settings) for seeds in sets]
    pooled.append(paired_rows(base, [run(s, threads=1) for s in range(args.runs)], variant=args.variant,
                              settings=settings))

    def least(tables: list[pd.DataFrame], metric: str) -> float:
        return min(float(t.loc[t["metric"] == metric, "p_adj"].min()) for t in tables)

    for name, tables in (("one run a side", one), ("pooled", pooled)):
        fp = sum(alarms(t, settings, metric=FALSE_POSITIVES) for t in tables)
        rec = sum(alarms(t, settings, metric="recall") for t in tables)
        either = sum(alarms(t, settings, metric=FALSE_POSITIVES) or alarms(t, settings, metric="recall")
                     or (t["verdict"] == "REGRESSED").any() for t in tables)
        print(f"no-op, {name}: false-positive rows alarm on {fp} of {len(tables)} (least p adj "
              f"{least(tables, FALSE_POSITIVES):.4f}), recall rows on {rec}, the gate on {either}")
    together = [joint(t, settings) for t in one]
    print(f"one Holm family of 2K (one run a side): false-positive alarms {sum(alarms(t, settings, metric=FALSE_POSITIVES) for t in together)}"
          f" of {len(together)}, recall alarms {sum(alarms(t, settings, metric='recall') for t in together)}; least "
          f"recall p adj {least(one, 'recall'):.4f} apart -> {least(together, 'recall'):.4f} joint")

    for klass, kind, level in [(c, k, x) for c in ("2", "5") for k, x in (("flip", 0.2), ("flip", 0.4))] + [
            (c, "cut", 0.2) for c in ("2", "5")]:
        damaged = [runner.run(train, val, seed=s, key=f"{args.variant}-s{s}-{kind}{level}-c{klass}")[0]
                   for s in range(args.runs)]
        shown = []
        for name, table in (("one run", paired_rows(base[0], damaged[0], variant=args.variant, settings=settings)),
                            ("pooled", paired_rows(base, damaged, variant=args.variant, settings=settings))):
            row = (table["metric"] == "recall") & (table["class"] == klass)
            together = joint(table, settings)
            shown.append(f"{name} recall p adj {float(table.loc[row, 'p_adj'].iloc[0]):.4f} apart, "
                         f"{float(together.loc[row, 'p_adj'].iloc[0]):.4f} in one family; false positives regressed: "
                         + (", ".join(table.loc[(table["metric"] == FALSE_POSITIVES)
                                                & (table["verdict"] == "REGRESSED"), "class"]) or "none"))
        print(f"planted {kind} {level} on class {klass}: " + "; ".join(shown))

    labels = base[0]["label"].to_numpy()
    classes = sorted(pd.unique(labels), key=str)
    rng = np.random.default_rng(0)
    caught_at: dict[str, list[int]] = {c: [] for c in classes}
    joint_at: dict[str, list[int]] = {c: [] for c in classes}
    for h in heads:
        for c in classes:
            others = [k for k in classes if k != c]
            found = {"apart": None, "joint": None}
            start = h[0]["predicted"].to_numpy()
            order = {o: rng.permutation(np.flatnonzero((labels == o) & (start == o))) for o in others}
            for k in range(1, 61):
                predicted = start.copy()
                for other, part in zip(others, np.array_split(np.arange(k), len(others))):
                    predicted[order[other][:len(part)]] = c
                head = h[0].assign(predicted=predicted)
                table = paired_rows(base[0], head, variant=args.variant, settings=settings)
                row = table[(table["metric"] == FALSE_POSITIVES) & (table["class"] == c)].iloc[0]
                if found["apart"] is None and row["verdict"] == "REGRESSED":
                    found["apart"] = k
                both = joint(table, settings)
                row = both[(both["metric"] == FALSE_POSITIVES) & (both["class"] == c)].iloc[0]
                if found["joint"] is None and row["p_adj"] < settings.alpha and row["change"] > row["tolerance"]:
                    found["joint"] = k
                if None not in found.values():
                    break
            caught_at[c].append(found["apart"] or 10 ** 6)
            joint_at[c].append(found["joint"] or 10 ** 6)
    sizes = {c: int(np.sum(labels == c)) for c in classes}
    for name, at in (("own family", caught_at), ("one family of 2K", joint_at)):
        worst = {c: max(v) for c, v in at.items()}
        print(f"power ({name}): images newly taken from the others that every one of the {len(heads)} no-op heads' "
              "noise lets the gate catch, per class: " + ", ".join(f"{c} {worst[c]} of {sizes[c]}" for c in classes)
              + f"; median over heads and classes {int(np.median([x for v in at.values() for x in v]))}")


if __name__ == "__main__":
    main()
