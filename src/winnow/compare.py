"""Variants side by side: the per-class tables of 000 (Tables 1-8), and their significance.

Within one run the tables have rows = classes, then ``average`` and ``std`` (across classes, ddof=0),
and columns = variants. Across runs (seeds, via ``dvc exp``) each cell is ``mean ± std`` over the
runs, and every pair of variants gets a paired t-test and a bootstrap confidence interval of the mean
difference, pairing the two variants' values within each run, as 000's before/after t-test does.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from winnow.errors import WinnowError
from winnow.metrics import PER_CLASS_METRICS
from winnow.stage import load_params

SUMMARY_ROWS = ("average", "std")


def class_table(metrics: dict[str, dict], *, metric: str) -> pd.DataFrame:
    """Rows = classes then average and std across classes; columns = variants.

    Args:
        metrics: variant → the evaluate JSON (``per_class.<class>.<metric>``).
    """
    columns = {}
    for variant, m in metrics.items():
        per_class = pd.Series({c: v[metric] for c, v in m["per_class"].items()}, dtype=float)
        columns[variant] = pd.concat([per_class, pd.Series({"average": per_class.mean(),
                                                            "std": per_class.std(ddof=0)})])
    table = pd.DataFrame(columns)
    table.index.name = "class"
    return table


def paired_test(a: np.ndarray, b: np.ndarray, *, n_boot: int = 10_000, confidence: float = 0.95,
                seed: int = 0) -> dict[str, float]:
    """Paired t-test of ``b - a`` and a percentile bootstrap CI of its mean.

    Args:
        a, b: float ``(n,)`` paired observations (the same seeds, or the same classes).

    Returns:
        ``mean_diff``, ``t``, ``p`` (two-sided; NaN when fewer than two pairs or no variance),
        ``ci_low``, ``ci_high``, ``n``.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise WinnowError(f"paired test: {a.shape} and {b.shape} observations do not pair up")
    diff = b - a
    out = {"mean_diff": float(diff.mean()) if len(diff) else float("nan"), "n": int(len(diff)),
           "t": float("nan"), "p": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    if len(diff) >= 2 and np.ptp(diff) > 0:
        result = stats.ttest_rel(b, a)
        out["t"], out["p"] = float(result.statistic), float(result.pvalue)
    if len(diff) >= 2:
        rng = np.random.default_rng(seed)
        means = diff[rng.integers(0, len(diff), (n_boot, len(diff)))].mean(axis=1)
        tail = (1 - confidence) / 2
        out["ci_low"], out["ci_high"] = (float(q) for q in np.quantile(means, [tail, 1 - tail]))
    return out


def pairwise(values: dict[str, np.ndarray], **kw) -> pd.DataFrame:
    """:func:`paired_test` for every ordered pair (earlier variant → later) of ``values``."""
    rows = [{"from": a, "to": b, **paired_test(values[a], values[b], **kw)}
            for a, b in itertools.combinations(values, 2)]
    return pd.DataFrame(rows, columns=["from", "to", "mean_diff", "t", "p", "ci_low", "ci_high", "n"])


def seed_summary(runs: list[dict[str, dict]], *, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tables over several runs.

    Args:
        runs: one dict per run (seed): variant → evaluate JSON. Every run must hold the same variants.

    Returns:
        ``(cells, tests)``: ``cells`` has rows = classes + average + std and columns = variants, each
        ``"mean ± std"`` over runs; ``tests`` pairs the variants on macro ``metric`` (the per-run
        average over classes) and on each class's ``metric``.
    """
    if not runs:
        raise WinnowError("compare: no runs to summarise")
    variants = list(runs[0])
    stacked = np.stack([class_table(run, metric=metric)[variants].to_numpy() for run in runs])  # (runs, rows, v)
    index = class_table(runs[0], metric=metric).index
    mean, std = stacked.mean(axis=0), stacked.std(axis=0, ddof=1) if len(runs) > 1 else np.zeros(stacked.shape[1:])
    cells = pd.DataFrame([[f"{m:.4f} ± {s:.4f}" for m, s in zip(mr, sr)] for mr, sr in zip(mean, std)],
                         index=index, columns=variants)
    tests = []
    for row, name in enumerate(index):
        if name == "std":
            continue
        per_variant = {v: stacked[:, row, j] for j, v in enumerate(variants)}
        tests.append(pairwise(per_variant).assign(row=name))
    return cells, pd.concat(tests, ignore_index=True)


def experiment_runs(rows: list[dict], *, variants: list[str]) -> list[dict[str, dict]]:
    """Evaluate metrics per run from ``dvc.api.exp_show()`` rows (one row per commit or experiment).

    Rows lacking any variant's metrics (failed or queued experiments) are left out, and so is a row
    whose metrics repeat an earlier row's: an unchanged workspace shows HEAD's run a second time, and
    counting it twice would fake a seed.
    """
    runs, seen = [], set()
    for row in rows:
        run = {}
        for variant in variants:
            prefix = f"metrics/evaluate/{variant}.json:"
            flat = {k[len(prefix):]: v for k, v in row.items() if k.startswith(prefix) and v is not None}
            if not flat:
                break
            run[variant] = _unflatten(flat)
        else:
            key = json.dumps(run, sort_keys=True)
            if key not in seen:
                seen.add(key)
                runs.append(run)
    return runs


def _unflatten(flat: dict[str, float]) -> dict:
    out: dict = {}
    for key, value in flat.items():
        if key.startswith("per_class."):
            name, _, metric = key[len("per_class."):].rpartition(".")
            out.setdefault("per_class", {}).setdefault(name, {})[metric] = value
        else:
            out[key] = value
    return out


def to_markdown(table: pd.DataFrame, *, digits: int = 4) -> str:
    """A GitHub markdown table (no tabulate dependency)."""
    frame = table.reset_index()
    cells = [[f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row] for row in frame.to_numpy()]
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    return "\n".join([header, rule] + ["| " + " | ".join(r) + " |" for r in cells])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variants", nargs="+", help="variants to compare (default: params.yaml variants)")
    parser.add_argument("--metrics", nargs="+", default=["f1"], choices=PER_CLASS_METRICS)
    parser.add_argument("--num", type=int, default=1, help="commits back from HEAD whose experiments count")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    parser.add_argument("--repo", default=".", help="the DVC project")


def run(args: argparse.Namespace) -> int:
    import dvc.api

    variants = args.variants or load_params(Path(args.repo) / "params.yaml")["variants"]
    runs = experiment_runs(dvc.api.exp_show(repo=args.repo, num=args.num), variants=variants)
    if not runs:
        raise WinnowError("compare: no experiment holds metrics for all of " + ", ".join(variants)
                          + "; run e.g. dvc exp run --queue -S seed=1 ... && dvc queue start")
    parts = [f"# Variants over {len(runs)} run(s)\n"]
    for metric in args.metrics:
        cells, tests = seed_summary(runs, metric=metric)
        parts += [f"## {metric} (mean ± std over runs)\n", to_markdown(cells), "",
                  f"## {metric}: paired t-test and 95% bootstrap CI of the difference (to − from)\n",
                  to_markdown(tests.set_index("row")), ""]
    text = "\n".join(parts)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps({"runs": len(runs), "variants": variants}, indent=2))
    return 0
