"""False alarms of the ``auto`` threshold on clean, unimodal scores, and what a stricter test costs (issue 20).

    python benchmarks/threshold_null.py [--seeds 200] [--alphas 0.01 0.001]

A clean score has one mode; ``auto`` should flag nothing on it. Per shape (uniform: flat, the least
favourable unimodal shape for a valley test; normal; gamma(2), skewed; the negative of an exponential,
a long lower tail; beta(5, 2); a triangle rising to its top; uniform and gamma(2) scores on a grid, rounded
to 0.01 and 0.1, as a share of pixels or a rounded measurement is; Student's t of 3 and 5 degrees of freedom
and 1 - lognormal(sigma 1), lower tails heavier than an exponential's, which the ``isolated`` rule's test
assumes: found by a probe, they fire it on many draws), per size (1,000 and 5,000 scores) and per
``alpha``: on how many of ``--seeds`` seeded draws each rule fired, and the median number flagged when
it did. Then, for each ``alpha`` other than the default 0.01, the prevalence benchmark's F1 (the CIFAR
subset, every damage at 0.5-12%, protocol and mild strength, single and every dual pair, as
benchmarks/quality_detection.py measures it) wherever it moves from the default's by more than 0.05:
the detections a stricter test gives up. Writes benchmarks/results/threshold_null.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import quality_detection as qd  # noqa: E402  (damages, prevalence runs, the CIFAR subset's path)
from winnow.thresholds import threshold_rule  # noqa: E402

SHAPES = {
    "uniform": lambda rng, n: rng.uniform(0.9, 0.99, n),
    "normal": lambda rng, n: rng.normal(0.0, 1.0, n),
    "gamma2": lambda rng, n: rng.gamma(2.0, 1.0, n),
    "negative_exponential": lambda rng, n: -rng.exponential(1.0, n),
    "beta_5_2": lambda rng, n: rng.beta(5.0, 2.0, n),
    "triangle": lambda rng, n: rng.triangular(0.0, 1.0, 1.0, n),
    "uniform_grid_0.01": lambda rng, n: np.round(rng.uniform(0.0, 1.0, n), 2),
    "gamma2_grid_0.1": lambda rng, n: np.round(rng.gamma(2.0, 1.0, n), 1),
    "student_t3": lambda rng, n: rng.standard_t(3.0, n),
    "student_t5": lambda rng, n: rng.standard_t(5.0, n),
    "one_minus_lognormal_1": lambda rng, n: 1.0 - rng.lognormal(0.0, 1.0, n),
}
SIZES = (1000, 5000)


def false_alarms(alpha: float, seeds: int) -> dict:
    """``{shape: {size: {"fired": {rule: draws}, "median_flagged": int | None}}}``."""
    out = {}
    for shape, draw in SHAPES.items():
        for n in SIZES:
            fired, flagged = Counter(), []
            for seed in range(seeds):
                scores = draw(np.random.default_rng(seed), n)
                cut, rule = threshold_rule(scores, method="auto", alpha=alpha)
                if rule != "none":
                    fired[rule] += 1
                    flagged.append(int(np.sum(scores <= cut)))
            out.setdefault(shape, {})[str(n)] = {"fired": dict(fired),
                                                 "median_flagged": int(statistics.median(flagged)) if flagged else None}
    return out


def f1_table(prevalence: dict) -> dict:
    """``{"<strength> <damage> <rate> single|dual": F1}`` (dual: the worst pair) of a prevalence run."""
    out = {}
    for strength in qd.STRENGTHS:
        for issue in qd.ISSUES:
            for rate in map(qd.rate_key, qd.RATES):
                out[f"{strength} {issue} {rate} single"] = prevalence["single"][strength][issue][rate]
                out[f"{strength} {issue} {rate} dual"] = qd.worst_dual(prevalence["dual"][strength], issue, rate)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.01, 0.001])
    parser.add_argument("--npz", default=qd.DEFAULT_NPZ)
    args = parser.parse_args()
    started = time.perf_counter()
    report = {"command": "python benchmarks/threshold_null.py " + " ".join(sys.argv[1:]),
              "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}",
              "seeds": args.seeds, "false_alarms": {str(a): false_alarms(a, args.seeds) for a in args.alphas}}
    if any(a != 0.01 for a in args.alphas) and Path(args.npz).is_file():
        images = qd.cifar_train_images(args.npz)
        with tempfile.TemporaryDirectory() as tmp:
            runs = {a: f1_table(qd.prevalence(images, seed=0, cleanvision_rates=(), workdir=Path(tmp),
                                              auto_options={"alpha": a})) for a in {0.01, *args.alphas}}
        report["prevalence_moves"] = {str(a): {case: [round(runs[0.01][case], 3), round(f1, 3)]
                                               for case, f1 in runs[a].items() if abs(f1 - runs[0.01][case]) > 0.05}
                                      for a in args.alphas if a != 0.01}
    report["wall_seconds"] = round(time.perf_counter() - started)
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results/threshold_null.json").write_text(json.dumps(report, indent=1) + "\n")
    (ROOT / "results/threshold_null.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    lines = ["## auto on clean unimodal scores: false alarms (issue 20)", "",
             f"`{report['command']}`; {report['machine']}; {report['wall_seconds']} s. Per shape, size and alpha: the "
             f"draws (of {report['seeds']}) on which a rule fired, and the median images flagged when one did.", "",
             "student_t3, student_t5 and one_minus_lognormal_1 have lower tails heavier than an exponential's, "
             "which the isolated rule's gap test assumes: on them it flags a few clean images on many draws, and "
             "a lower alpha does not cure it (docs/design.md: a fitted tail shape was tried and not adopted).", "",
             "| alpha | shape | n | fired (rule: draws) | median flagged |", "|---|---|---|---|---|"]
    for alpha, shapes in report["false_alarms"].items():
        for shape, sizes in shapes.items():
            for n, e in sizes.items():
                fired = ", ".join(f"{rule}: {k}" for rule, k in e["fired"].items()) or "none"
                lines.append(f"| {alpha} | {shape} | {n} | {fired} | {e['median_flagged'] or ''} |")
    for alpha, moves in report.get("prevalence_moves", {}).items():
        lines += ["", f"alpha {alpha} on the prevalence benchmark (CIFAR subset, seed 0): F1 that moves by more than "
                      "0.05 from alpha 0.01's (dual: the worst pair):", "", "| case | alpha 0.01 | alpha " + alpha + " |",
                  "|---|---|---|"]
        lines += [f"| {case} | {a:.3f} | {b:.3f} |" for case, (a, b) in moves.items()] or ["| none | | |"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
