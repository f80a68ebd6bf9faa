"""The hostile-input corpus: how many bad inputs and faults end as required, per area.

    python benchmarks/hostile.py            # runs every test marked hostile (tests/hostile_harness.py)
    python benchmarks/hostile.py --workers 2   # the same over two pytest-xdist workers, whole files to each

A case is handled when its test passes: the stage stopped with one clear ``error:`` line and left
nothing partial, or it quarantined the bad item as a row with its reason and processed the rest.
Writes benchmarks/results/hostile.json (``cases``, ``handled``, ``by_area``) and hostile.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks/results"


class Areas:
    """Pytest plugin: each hostile case's area, from its marker (collected in this process: under xdist the
    workers collect, and only the reports reach the plugin of the process that runs them)."""

    def __init__(self) -> None:
        self.area: dict[str, str] = {}

    def pytest_collection_modifyitems(self, items):
        for item in items:
            marker = item.get_closest_marker("hostile")
            if marker is not None:
                self.area[item.nodeid] = marker.args[0]


class Tally:
    """Pytest plugin: whether each hostile case of ``area`` passed."""

    def __init__(self, area: dict[str, str]) -> None:
        self.area = area
        self.outcome: dict[str, bool] = {}

    def pytest_runtest_logreport(self, report):
        if report.nodeid not in self.area:
            return
        failed = report.failed or (report.when == "call" and report.skipped)
        if report.when == "call" or failed:
            self.outcome[report.nodeid] = self.outcome.get(report.nodeid, True) and not failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=0,
                        help="pytest-xdist workers (0: every case in this process, the default)")
    workers = parser.parse_args().workers
    started = time.perf_counter()
    areas = Areas()
    select = ["-q", "-m", "hostile", "-p", "no:cacheprovider", str(ROOT / "tests")]
    if pytest.main([*select, "-q", "--collect-only"], plugins=[areas]) != 0:  # -qq: a line a file, not a case
        print("hostile: the cases could not be collected (above)")
        return 1
    tally = Tally(areas.area)
    pytest.main([*select, *(["-n", str(workers), "--dist", "loadfile"] if workers else [])], plugins=[tally])
    seconds = time.perf_counter() - started
    cases, handled = Counter(), Counter()
    for nodeid, area in tally.area.items():
        cases[area] += 1
        handled[area] += tally.outcome.get(nodeid, False)
    result = {
        "cases": sum(cases.values()), "handled": sum(handled.values()),
        "by_area": {a: {"cases": cases[a], "handled": handled[a]} for a in sorted(cases)},
        "not_handled": sorted(n for n, ok in tally.outcome.items() if not ok)
        + sorted(n for n in tally.area if n not in tally.outcome),
        "seconds": round(seconds, 1),
        "workers": workers,
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, "
                   f"Python {platform.python_version()}",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "hostile.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {a} | {v['cases']} | {v['handled']} |" for a, v in result["by_area"].items())
    (RESULTS / "hostile.md").write_text(
        "## Hostile inputs and faults (issue 16)\n\n"
        f"`python benchmarks/hostile.py{f' --workers {workers}' if workers else ''}` on {result['machine']}: every "
        "test marked `hostile` in tests/. "
        "A case is handled when the stage ends as required: one `error:` line naming the file, row or "
        "parameter, exit 1, no traceback and nothing partial left, or a quarantine row with its reason while "
        f"the rest is processed. {result['cases']} cases, {result['handled']} handled, "
        f"{result['seconds']:.0f} s.\n\n| area | cases | handled |\n|---|---|---|\n{rows}\n")
    print(f"hostile: {result['handled']} of {result['cases']} cases handled")
    return 0 if result["handled"] == result["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
