"""The tests behind each row of the merge gate's table (:func:`winnow.gate_table.paired_rows`): the one-sided drop
tests of a family of paired tables and their adjustment (:func:`drop_tests`, :func:`family_tests`), the phi of a
class's false-positive test (:func:`taken_phi`), each head run tested alone (:func:`alone_pairs`,
:func:`regressed_in_every_run`), the least p adj a row could reach (:func:`floor_p`) and the verdict a row's change and
p adj give against its tolerance (:func:`verdict`). The statistics themselves are :mod:`winnow.paired`'s."""

from __future__ import annotations

import numpy as np

from winnow.paired import PairedCounts, adjust, drop_p_value, overdispersion


def alone_pairs(base_runs: int, head_runs: int) -> list[tuple[slice, slice]]:
    """The (base runs, head runs) of each test alone beside the pooled one: each head run against the pooled base
    runs, or, with one head run, that run against each base run. Before: one head run was tested against the pooled
    base runs at the settings' phi, the pooled test with the phi the runs measure left out. A second base seed 15
    images a class worse than the first no longer passed a class that lost 30 of its 100 images (p adj 2e-5 against
    either seed alone), but a head run predicting every image as one of the base runs did failed (accuracy -0.015), and
    on simulated seed noise of phi 2.8 for accuracy (stop 55's runs measured 2.64) one head run against two base runs
    failed 5.8% of changes that change nothing, above alpha 0.05 (the pooled test alone: 4.1%). Against each base run
    alone, 4.1% again, and the 30 images lost still regress."""
    if head_runs == 1:
        return [(slice(k, k + 1), slice(0, 1)) for k in range(base_runs)]
    return [(slice(0, base_runs), slice(k, k + 1)) for k in range(head_runs)]


def regressed_in_every_run(alone: list[list[tuple[float, float, float]]], tolerances: list[float | None],
                            p: np.ndarray, p_adj: np.ndarray, *, alpha: float) -> None:
    """Where a row regresses in every head run tested alone (``alone``: per run, ``(change, p, p adj)`` of each row),
    its ``p`` and ``p_adj`` become the largest of theirs, in place; a row without a tolerance is left as it is."""
    for k, tolerance in enumerate(tolerances):
        if tolerance is not None and all(verdict(change, adjusted, tolerance=tolerance, alpha=alpha) == "REGRESSED"
                                         for change, _, adjusted in (r[k] for r in alone)):
            p[k], p_adj[k] = max(r[k][1] for r in alone), max(r[k][2] for r in alone)


def floor_p(count: PairedCounts, *, phi: float, factor: int) -> float:
    """The least p adj ``count``'s test can give: every image right at base lost, none gained, its p multiplied by
    ``factor``, as Holm's (and Bonferroni's) adjustment multiplies a variant's least p by the number of classes."""
    worst = PairedCounts(both=0.0, lost=count.base * count.n, gained=0.0, neither=count.n - count.base * count.n)
    return min(1.0, drop_p_value(worst, overdispersion=phi) * factor)


def taken_phi(sides: list[np.ndarray], *, labels: np.ndarray, classes: list[str], klass: str) -> float:
    """phi of ``klass``'s false-positive test: :func:`winnow.paired.overdispersion` of the other classes'
    false-positive tables over every pair of runs within a side, on the images no run predicts as ``klass``.

    Before: the other classes' tables held the images a seed moved between ``klass`` and another class (the other
    table's too), so balanced swaps of the class under test narrowed the phi that tested it (1.96 -> 1.63 for one
    class on benchmarks/gate.py's seed runs).

    Args:
        sides: ``(runs, n)`` per side, the predicted class of each test image in each run.
    """
    keep = ~np.any([np.any(side == klass, axis=0) for side in sides], axis=0)
    lost, gained = [], []
    for side in sides:
        for i in range(len(side)):
            for j in range(i + 1, len(side)):
                for other in classes:
                    if other != klass:
                        mask = keep & (labels != other)
                        table = PairedCounts.from_correct(side[i, mask] != other, side[j, mask] != other)
                        lost.append(table.lost)
                        gained.append(table.gained)
    return overdispersion(lost, gained)


def drop_tests(counts: list[PairedCounts], phis: list[float], *, correction: str) -> tuple[np.ndarray, np.ndarray]:
    """``(p, p_adj)``: the one-sided drop test of each table (overall first, then the classes) and the p-values
    adjusted over the classes (the overall row stays as it is)."""
    overall = [drop_p_value(counts[0], overdispersion=phis[0])]
    p, p_adj = family_tests(counts[1:], phis[1:], correction=correction)
    return np.concatenate([overall, p]), np.concatenate([overall, p_adj])


def family_tests(counts: list[PairedCounts], phis: list[float], *,
                  correction: str) -> tuple[np.ndarray, np.ndarray]:
    """``(p, p_adj)``: the one-sided drop test of each table and the p-values adjusted over them as one family."""
    p = np.array([drop_p_value(c, overdispersion=phi) for c, phi in zip(counts, phis)])
    return p, adjust(p, method=correction)


def verdict(change: float, p_adj: float, *, tolerance: float, alpha: float) -> str:
    """``REGRESSED`` (significant and beyond the tolerance), ``drop not significant``, ``drop within
    tolerance`` (significant but small), or ``ok``."""
    beyond = change < -tolerance - 1e-12
    significant = p_adj < alpha and change < 0
    if beyond and significant:
        return "REGRESSED"
    if beyond:
        return "drop not significant"
    return "drop within tolerance" if significant else "ok"
