"""The merge gate's table (:mod:`winnow.gate`): one paired test per variant and class, its verdict, and the
markdown a person reads.

:func:`paired_rows` pairs the predictions of one variant at two revisions (several runs a side pooled) and
tests the drop of each metric (:mod:`winnow.paired`); :func:`verdict` decides each row against its tolerance
(:class:`GateSettings`); :func:`report` writes the table, its notes and the PASS or FAIL line.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import numpy as np
import pandas as pd

from winnow import markdown
from winnow.errors import WinnowError
from winnow.evaluated import natural_order
from winnow.paired import PairedCounts, adjust, change_interval, drop_p_value, p_text, seed_overdispersion

CONFIDENCE = 0.95  # of the interval shown; the verdict uses the test
POOLED_TEST = ("McNemar test on the pooled counts, phi at least what the runs of a side measure (a drop every head "
               "run shows alone: the largest p of their own tests; a class's phi from the other classes),")
OVERALL = "all (accuracy)"  # the class cell of a variant's overall row
COLUMNS = ["variant", "class", "images", "changed", "base", "head", "change", "ci_low", "ci_high", "p", "p_adj",
           "tolerance", "verdict", "floor_p", "collapsed"]  # changed: images right at one revision only (the test
# looks at these); floor_p: the smallest p adj the class could reach, every image right at base lost; collapsed: the
# head recognises half or less of what the base recognised of a class (see COLLAPSE_MIN_LOST)
# a class whose recall falls to half or less from 0.5 or more, losing at least this many images, regresses whatever
# its p: a class of 8 test images that lost all 8 tested at p adj 0.18 (phi 1.57, Holm over 4 classes), one of 13
# that kept 1 at p adj 0.055, and a test set's rare classes are often that small; seed noise does not halve what a
# model recognises of a class
COLLAPSE_MIN_LOST = 3


def revision_list(runs: str | list[str]) -> list[str]:
    """One revision or several, as a list (``--base`` and ``--target`` take several)."""
    return [runs] if isinstance(runs, str) else list(runs)


# how the gate's markdown report begins: ``--markdown`` replaces only a file that does
REPORT_HEADING = "## Merge gate: "


@dataclass(frozen=True)
class GateSettings:
    """The ``gate`` section of params.yaml, validated."""

    files: tuple[str, ...]
    tolerances: dict[str, float]
    alpha: float = 0.05
    correction: str = "holm"
    overdispersion: float = 1.0
    accuracy_overdispersion: float = 1.0
    # the revision whose params.yaml these come from (:func:`winnow.gate.base_settings`), or None
    source: str | None = None

    @classmethod
    def from_params(cls, section) -> "GateSettings":
        """From the section as params.yaml holds it (winnow.params has checked every value)."""
        if not isinstance(section, dict):
            raise WinnowError("params.yaml gate: missing; winnow gate needs files, tolerances, alpha and correction")
        return cls(files=tuple(section["files"]), tolerances={str(k): float(v) for k, v in section["tolerances"].items()},
                   alpha=float(section.get("alpha", cls.alpha)), correction=section.get("correction", cls.correction),
                   overdispersion=float(section.get("overdispersion", cls.overdispersion)),
                   accuracy_overdispersion=float(section.get("accuracy_overdispersion", cls.accuracy_overdispersion)))

    def refusal(self, problem: str, *, key: str = "tolerances") -> WinnowError:
        """The error for a ``problem`` of ``gate.<key>`` (``tolerances`` or ``files``), naming the revision whose
        params.yaml holds them. Before: the base's settings (a change is judged by its base's settings) were refused
        as if the workspace's, whose params.yaml already held the entry or pattern the line told the user to fix."""
        if self.source is None:
            return WinnowError(f"gate.{key}: {problem}")
        return WinnowError(f"params.yaml at {self.source}: gate.{key}: {problem}; the gate takes its settings "
                           f"from {self.source}: correct them there")

    def deciding(self, key: str) -> str | None:
        """The entry that sets ``key``'s tolerance: the key's own entry, else the strictest pattern that
        matches it, whatever the order (a specific entry after ``per_class.*.recall`` was once ignored), or None."""
        if key in self.tolerances:
            return key
        matching = [pattern for pattern in self.tolerances if fnmatch.fnmatchcase(key, pattern)]
        return min(matching, key=self.tolerances.__getitem__, default=None)

    def tolerance(self, key: str) -> float | None:
        """The tolerance of ``key`` (:meth:`deciding`), or None."""
        entry = self.deciding(key)
        return None if entry is None else self.tolerances[entry]


def paired_rows(base, head, *, variant: str, settings: GateSettings) -> pd.DataFrame:
    """The paired tests of one variant: its overall row, then one row per class (:data:`COLUMNS`).

    Args:
        base, head: :func:`winnow.evaluated.read_predictions` frames of the same test images, a list of them for several
            runs a side (seeds of one setting, pooled by :meth:`PairedCounts.from_runs`), or one frame.
    """
    base, head = ([frames] if isinstance(frames, pd.DataFrame) else list(frames) for frames in (base, head))
    reference = base[0]
    for side, frame in [("base", f) for f in base[1:]] + [("head", f) for f in head]:
        _check_same_images(reference, frame, variant=variant, side=side, runs=len(base) + len(head))
    order = reference["id"]
    labels = reference["label"].to_numpy()
    base_right, head_right = (np.array([frame.set_index("id").loc[order, "predicted"].to_numpy() == labels
                                        for frame in frames]) for frames in (base, head))
    changed = base_right.mean(axis=0) != head_right.mean(axis=0)
    classes = sorted(set(labels), key=natural_order)
    masks = [np.ones(len(labels), bool)] + [labels == c for c in classes]
    counts = [PairedCounts.from_runs(base_right[:, m], head_right[:, m]) for m in masks]
    # a worse seed is a little worse on every class at once, so overall accuracy spreads more than a class does;
    # runs of one side differ only in their seed, so they measure both spreads too (1.0 with one run a side). A
    # class's phi comes from the other classes: one head seed that lost a class widened the phi that judged the
    # loss, and a second head seed turned a failing gate into a pass
    overall_phi, class_phis = seed_overdispersion([base_right, head_right], masks=masks[1:])
    phis = [max(settings.accuracy_overdispersion, overall_phi)] + [max(settings.overdispersion, phi)
                                                                  for phi in class_phis]
    p, p_adj = _drop_tests(counts, phis, correction=settings.correction)
    intervals = [change_interval(c, confidence=CONFIDENCE, overdispersion=phi) for c, phi in zip(counts, phis)]
    keys = ["accuracy"] + [f"per_class.{c}.recall" for c in classes]
    tolerances = [settings.tolerance(key) for key in keys]
    if len(head) > 1:
        # the measured phi is one figure for every class, so runs unstable on other classes could pool away a
        # drop every head run shows: each run is also tested alone (the settings' phi, as with one run a side),
        # and a drop that regresses in every one of them regresses, its p the largest of theirs
        alone = []
        for run in range(len(head)):
            run_counts = [PairedCounts.from_runs(base_right[:, m], head_right[run:run + 1, m]) for m in masks]
            run_p, run_adj = _drop_tests(run_counts, [settings.accuracy_overdispersion]
                                         + [settings.overdispersion] * len(classes), correction=settings.correction)
            alone.append([(c.change, raw, adjusted) for c, raw, adjusted in zip(run_counts, run_p, run_adj)])
        for k, tolerance in enumerate(tolerances):
            if tolerance is not None and all(verdict(change, adjusted, tolerance=tolerance, alpha=settings.alpha)
                                             == "REGRESSED" for change, _, adjusted in (r[k] for r in alone)):
                p[k], p_adj[k] = max(r[k][1] for r in alone), max(r[k][2] for r in alone)
    rows = []
    for k, (name, key, mask, count, raw, adjusted, (low, high), tolerance) in enumerate(zip(
            [OVERALL, *classes], keys, masks, counts, p, p_adj, intervals, tolerances)):
        if tolerance is None:
            raise settings.refusal(f"no pattern matches {key} (the gate tests accuracy and "
                                   "per_class.<class>.recall); add e.g. 'per_class.*.recall: 0.02'")
        # every image right at base lost, none gained: the least p the test can give; Holm's (and Bonferroni's)
        # adjustment of the least p of a variant multiplies it by the number of classes
        worst = PairedCounts(both=0.0, lost=count.base * count.n, gained=0.0, neither=count.n - count.base * count.n)
        factor = 1 if k == 0 or settings.correction == "none" else len(classes)
        floor = min(1.0, drop_p_value(worst, overdispersion=phis[k]) * factor)
        # from the images themselves: pooled counts are rescaled, and a head of 0 came out as -9e-17
        base_right_images = base_right[:, mask].mean(axis=0).sum()
        base_recall = base_right[:, mask].mean()
        # pooled, or any head run alone: seed noise does not halve a class either way
        collapsed = bool(k and count.change < -tolerance - 1e-12 and base_recall >= 0.5 and any(
            head_recall <= base_recall / 2 and base_right_images - head_right_images >= COLLAPSE_MIN_LOST
            for head_recall, head_right_images in [(head_right[:, mask].mean(), head_right[:, mask].mean(axis=0).sum())]
            + [(run[mask].mean(), run[mask].sum()) for run in head_right]))
        said = verdict(count.change, adjusted, tolerance=tolerance, alpha=settings.alpha)
        rows.append({"variant": variant, "class": name, "images": int(mask.sum()), "changed": int(changed[mask].sum()),
                     "base": count.base, "head": count.head,
                     "change": count.change, "ci_low": low, "ci_high": high, "p": raw, "p_adj": adjusted,
                     "tolerance": tolerance, "verdict": "REGRESSED" if collapsed else said, "floor_p": floor,
                     "collapsed": collapsed})
    return pd.DataFrame(rows, columns=COLUMNS)


def _drop_tests(counts: list[PairedCounts], phis: list[float], *, correction: str) -> tuple[np.ndarray, np.ndarray]:
    """``(p, p_adj)``: the one-sided drop test of each table (overall first, then the classes) and the p-values
    adjusted over the classes (the overall row stays as it is)."""
    p = np.array([drop_p_value(c, overdispersion=phi) for c, phi in zip(counts, phis)])
    return p, np.concatenate([p[:1], adjust(p[1:], method=correction)])


def pair(base: pd.DataFrame, head: pd.DataFrame, *, variant: str, fix: str | None = None) -> pd.DataFrame:
    """The same test images at base and head side by side: ``id``, ``label`` and ``predicted_base``,
    ``predicted_head``, one row per image.

    Args:
        base, head: :func:`winnow.evaluated.read_predictions` frames (``id, label, predicted``).
        variant: what the error names; fix: what its error says to do (by default, the gate's advice).

    Raises:
        WinnowError: the two frames hold other images, or the same image with another label.
    """
    _check_same_images(base, head, variant=variant, side="head", runs=2, fix=fix)
    pairs = base.merge(head, on="id", suffixes=("_base", "_head"))
    return pairs.rename(columns={"label_base": "label"})[["id", "label", "predicted_base", "predicted_head"]]


def _check_same_images(reference: pd.DataFrame, frame: pd.DataFrame, *, variant: str, side: str, runs: int,
                       fix: str | None = None) -> None:
    """One line when ``frame`` holds other test images, or other labels, than the first base run's."""
    two = side == "head" and runs == 2
    what = "base and head" if two else f"the runs (a {side} run and the first base run)"
    # with several runs a side, "at base only" would name both sides when two base runs differ
    here, there = ("at base", f"at {side}") if two else ("in the first base run", f"in that {side} run")
    only_base = sorted(set(reference["id"]) - set(frame["id"]))
    only_other = sorted(set(frame["id"]) - set(reference["id"]))
    if only_base or only_other:
        first = (only_base or only_other)[0]
        raise WinnowError(f"{variant}: {what} were tested on different test sets ({len(only_base)} ids {here} "
                          f"only, {len(only_other)} {there} only, e.g. {first!r}); "
                          + (fix or "the gate pairs the same images: gate runs of the same data and "
                             "ingest.split_seed (it carves val and test; seed does not), or compare them with "
                             "winnow compare"))
    pairs = reference.merge(frame, on="id", suffixes=("_base", "_other"))
    if "digest_base" in pairs.columns:  # both files name each image's pixels (older revisions did not)
        repainted = pairs["digest_base"] != pairs["digest_other"]
        if repainted.any():
            row = pairs[repainted].iloc[0]
            raise WinnowError(f"{variant}: {int(repainted.sum())} test images have other pixels at {side} under the "
                              f"same id, e.g. {row['id']!r}; "
                              + (fix or "the gate pairs the same images: the test split must not change between "
                                        "the revisions gated"))
    relabelled = pairs["label_base"] != pairs["label_other"]
    if relabelled.any():
        row = pairs[relabelled].iloc[0]
        raise WinnowError(f"{variant}: {int(relabelled.sum())} test images carry other labels at {side}, e.g. "
                          f"{row['id']!r}: {row['label_base']!r} at base, {row['label_other']!r} at {side}; "
                          + (fix or "the test split must not change between the revisions gated"))


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


def unused_tolerances(table: pd.DataFrame, settings: GateSettings) -> tuple[list[str], list[str]]:
    """``(unmatched, overridden)`` tolerance entries: those that match no key the gate tested (e.g. a leftover
    ``per_class.*.f1``), and those that match some but decide none (:meth:`GateSettings.deciding`: each key
    they match takes its own entry or a stricter pattern's)."""
    keys = ["accuracy"] + [f"per_class.{c}.recall" for c in table.loc[table["class"] != OVERALL, "class"]]
    # a key's own entry matches it as deciding() reads it: before, per_class.a[1].recall, the entry of a class named
    # a[1], was read only as a pattern ([1] matches "1") and refused as matching no metric
    matched = {p: [k for k in keys if k == p or fnmatch.fnmatchcase(k, p)] for p in settings.tolerances}
    decided = {settings.deciding(k) for k in keys}
    return ([p for p, found in matched.items() if not found],
            [p for p, found in matched.items() if found and p not in decided])


def render(table: pd.DataFrame, *, everything: bool = False, alpha: float | None = None) -> str:
    """The table as GitHub markdown; without ``everything``, each variant's overall row and only the
    class rows where some image changed sides or the verdict is not ok. p adj is written on the side of ``alpha``
    it is on (:func:`winnow.paired.p_text`)."""
    moved = (table["changed"] > 0) | (table["verdict"] != "ok") | (table["class"] == OVERALL)
    shown = table if everything else table[moved]

    def signed(x: float) -> str:
        return f"{x:+.4f}"

    rows = [[markdown.cell(r.variant), markdown.cell(str(r.klass)), str(r.images), str(r.changed),
             f"{r.base:.4f}", f"{r.head:.4f}", signed(r.change), f"{signed(r.ci_low)} … {signed(r.ci_high)}",
             p_text(r.p, digits=4), p_text(r.p_adj, digits=4, alpha=alpha), f"{r.tolerance:g}",
             f"**{r.verdict}**" if r.verdict == "REGRESSED" else r.verdict]
            for r in shown.rename(columns={"class": "klass"}).itertuples(index=False)]
    header = ["variant", "class (recall)", "images", "changed", "base", "head", "change", f"{CONFIDENCE:.0%} CI", "p",
              "p adj", "tolerance", "verdict"]
    return markdown.table(header, rows)


def report(table: pd.DataFrame, notes: list[str], *, base: str | list[str], target: str | list[str],
           settings: GateSettings, everything: bool = False) -> tuple[str, bool]:
    """The markdown a person reads (stdout, a pull-request comment) and whether the gate passed."""
    regressed = table[table["verdict"] == "REGRESSED"]
    passed = regressed.empty
    base, target = revision_list(base), revision_list(target)
    pooled = (f" ({len(base)} run(s) at base, {len(target)} at head, pooled image by image: each image counts by "
              "its share of runs right)") if len(base) + len(target) > 2 else ""
    lines = [f"{REPORT_HEADING}{' + '.join(base)} → {' + '.join(target)}", "",
             f"Paired on the same test images{pooled}. p: one-sided "
             f"{POOLED_TEST if pooled else 'exact McNemar test'} of a drop; p adj: "
             f"{settings.correction} over each variant's classes; a metric regresses when p adj < "
             f"{settings.alpha:g} and the drop exceeds its tolerance.", "",
             render(table, everything=everything, alpha=settings.alpha), ""]
    notes = notes + _blind_spots(table, alpha=settings.alpha)
    lines += [f"- {note}" for note in notes] + ([""] if notes else [])
    if passed:
        lines.append(f"gate: PASS — {table['variant'].nunique()} variant(s), {len(table)} paired tests, "
                     "no significant drop beyond its tolerance")
    else:
        worst = "; ".join(f"{markdown.cell(r.variant)} {markdown.cell(str(r.klass))} {r.change:+.4f} "
                          f"(p adj {p_text(r.p_adj, digits=4, alpha=settings.alpha)})"
                          for r in regressed.rename(columns={"class": "klass"}).itertuples(index=False))
        lines.append(f"gate: FAIL — {len(regressed)} regression(s): {worst}")
    return "\n".join(lines) + "\n", passed


def _blind_spots(table: pd.DataFrame, *, alpha: float) -> list[str]:
    """Notes for the classes that collapsed (regressed whatever their p) and for those too small to test: even
    losing every image right at base would not be significant, so the gate cannot see them fall."""
    notes = []
    for r in table[table["collapsed"]].rename(columns={"class": "klass"}).itertuples(index=False):
        notes.append(f"{markdown.cell(r.variant)} {markdown.cell(str(r.klass))}: recall {r.base:.4f} → {r.head:.4f} on "
                     f"its {r.images} test images: a class whose recall halves regresses whatever its p (p adj "
                     f"{p_text(r.p_adj, digits=4, alpha=alpha)})")
    blind = table[(table["class"] != OVERALL) & (table["floor_p"] >= alpha) & (table["base"] > 0) & ~table["collapsed"]]
    for variant, rows in blind.groupby("variant", sort=False):
        names = ", ".join(f"{markdown.cell(str(c))} ({n})" for c, n in zip(rows["class"], rows["images"]))
        notes.append(f"warning: {markdown.cell(variant)}: class(es) {names} hold too few test images for any drop to "
                     f"be significant (losing every one tests at p adj ≥ {alpha:g}): the gate cannot see them fall "
                     "unless they collapse; give the test split more of their images")
    return notes
