"""The merge gate: fail when metrics regress against a base revision beyond the tolerances.

``winnow gate --base main`` reads both revisions' metrics through DVC (``Repo.metrics.diff``), keeps
the files matching ``gate.files`` and checks every key matching a pattern of ``gate.tolerances``
(fnmatch patterns over DVC's flattened keys, e.g. ``per_class.*.f1``): a drop larger than its
tolerance is a regression (all gated metrics are higher-is-better). It never passes silently: a gated
file missing at either revision, a gated key added or removed, or no gated metric at all, fails too.
"""

from __future__ import annotations

import argparse
import fnmatch
import math
from pathlib import Path

import pandas as pd

from winnow.compare import to_markdown
from winnow.errors import WinnowError
from winnow.stage import load_params


def gate_table(diff: dict[str, dict[str, dict]], *, files: list[str], tolerances: dict[str, float]) -> pd.DataFrame:
    """One row per gated (file, key): old, new, change, tolerance, status.

    Args:
        diff: ``Repo.metrics.diff(..., all=True)["diff"]``: file → flattened key → {old, new, diff}.
        files: fnmatch patterns of the metric files to gate.
        tolerances: fnmatch pattern over keys → the largest allowed drop (first matching pattern wins).

    ``status`` is ``ok``, ``regressed``, ``added`` (no old value), ``removed`` (no new value) or
    ``missing`` (a whole file exists at one revision only).
    """
    rows = []
    for path, keys in sorted(diff.items()):
        if not any(fnmatch.fnmatch(path, pattern) for pattern in files):
            continue
        olds = [v.get("old") for v in keys.values()]
        news = [v.get("new") for v in keys.values()]
        whole_file = all(o is None for o in olds) or all(n is None for n in news)
        for key, change in keys.items():
            tolerance = next((t for pattern, t in tolerances.items() if fnmatch.fnmatch(key, pattern)), None)
            if tolerance is None:
                continue
            old, new = change.get("old"), change.get("new")
            if old is None or new is None:
                status = "missing" if whole_file else "added" if old is None else "removed"
                delta = math.nan
            else:
                delta = float(new) - float(old)
                status = "regressed" if delta < -float(tolerance) - 1e-12 else "ok"
            rows.append({"file": path, "key": key, "old": old, "new": new, "change": delta,
                         "tolerance": float(tolerance), "status": status})
    return pd.DataFrame(rows, columns=["file", "key", "old", "new", "change", "tolerance", "status"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="the revision to compare against, e.g. main or origin/main")
    parser.add_argument("--target", default="workspace", help="the revision under test (default: the workspace)")
    parser.add_argument("--repo", default=".", help="the DVC project")
    parser.add_argument("--all", action="store_true", help="list unchanged metrics too")


def run(args: argparse.Namespace) -> int:
    from dvc.repo import Repo

    params = load_params(Path(args.repo) / "params.yaml")
    if "gate" not in params:
        raise WinnowError("params.yaml: gate: missing; winnow gate needs gate.files and gate.tolerances")
    settings = params["gate"]
    with Repo(args.repo) as repo:
        result = repo.metrics.diff(a_rev=args.base, b_rev=args.target, all=True)
    for rev, errors in (result.get("errors") or {}).items():
        if errors:
            print(f"gate: DVC could not read metrics at {rev}: {errors}")
    table = gate_table(result.get("diff") or {}, files=settings["files"], tolerances=settings["tolerances"])
    if table.empty:
        print(f"gate: FAIL — no gated metrics at {args.base} or {args.target} (gate.files: {settings['files']})")
        return 1
    bad = table[table["status"] != "ok"]
    shown = table if args.all else table[(table["status"] != "ok") | (table["change"].abs() > 1e-12)]
    print(f"## Metrics {args.base} → {args.target}\n")
    print(to_markdown(shown.set_index("file")) if len(shown) else "(no metric moved)")
    if len(bad):
        counts = bad["status"].value_counts().to_dict()
        print(f"\ngate: FAIL — {len(bad)} gated metric(s) not ok: {counts}")
        return 1
    print(f"\ngate: PASS — {len(table)} gated metrics within tolerance")
    return 0
