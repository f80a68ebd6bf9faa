"""The merge gate's table (:mod:`winnow.gate`): the paired tests of each variant and class, their verdicts.

:func:`paired_rows` pairs the predictions of one variant at two revisions (several runs a side pooled) and
tests each metric (:mod:`winnow.paired`): accuracy, each class's recall, and each class's false positives
(:func:`_false_positive_rows`); :func:`winnow.gate_pvalues.verdict` decides each row against its tolerance
(:class:`GateSettings`); :mod:`winnow.gate_report` writes the table, its notes and the PASS or FAIL line.
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from winnow.errors import WinnowError
from winnow.evaluated import natural_order
from winnow.gate_pvalues import (alone_pairs, drop_tests, family_tests, floor_p, regressed_in_every_run, taken_phi,
                                 verdict)
from winnow.imageset import alike
from winnow.paired import PairedCounts, change_interval, seed_overdispersion
from winnow.paired_predictions import check_same_images

CONFIDENCE = 0.95  # of the interval shown; the verdict uses the test
OVERALL = "all (accuracy)"  # the class cell of a variant's overall row
FALSE_POSITIVES = "false_positives"  # the metric of a class's false-positive rows (per_class.<class>.false_positives)
# the tolerance of a key a base's gate.tolerances match with no entry: a base written before the gate tested false
# positives (stop 61) names none, and refusing it would stop every gate of such a project; the report notes it
DEFAULT_TOLERANCES = {f"per_class.*.{FALSE_POSITIVES}": 0.02}
COLUMNS = ["variant", "class", "metric", "images", "changed", "base", "head", "change", "ci_low", "ci_high", "p",
           "p_adj", "tolerance", "verdict", "floor_p", "collapsed"]  # metric: accuracy, recall or false_positives;
# changed: images right at one revision only (the test looks at these); floor_p: the smallest p adj the class could
# reach, every image right at base lost; collapsed: the head recognises half or less of what the base recognised of a
# class (see COLLAPSE_MIN_LOST)
# a class whose recall falls to half or less from 0.5 or more, losing at least this many images, regresses whatever
# its p: a class of 8 test images that lost all 8 tested at p adj 0.18 (phi 1.57, Holm over 4 classes), one of 13
# that kept 1 at p adj 0.055, and a test set's rare classes are often that small; seed noise does not halve what a
# model recognises of a class
COLLAPSE_MIN_LOST = 3
# images lost (or newly taken) pooled over runs are sums or means of the runs' shares of an image: 6 - 3 over three runs
# came out 2.9999999999999996, short of COLLAPSE_MIN_LOST, so each comparison with it allows this much float slack, far
# below one run's share of one image
IMAGE_SLACK = 1e-9


def revision_list(runs: str | list[str]) -> list[str]:
    """One revision or several, as a list (``--base`` and ``--target`` take several)."""
    return [runs] if isinstance(runs, str) else list(runs)


@dataclass(frozen=True)
class GateSettings:
    """The ``gate`` section of params.yaml, validated."""

    files: tuple[str, ...]
    tolerances: dict[str, float]
    alpha: float = 0.05
    correction: str = "holm"
    overdispersion: float = 1.0
    accuracy_overdispersion: float = 1.0
    # the revision whose params.yaml these come from (:func:`winnow.gate_settings.base_settings`), or None
    source: str | None = None
    # the entries read from an earlier release's per-class F1 entry (winnow.gate_settings._earlier_tolerances): today's
    # key -> the base's, left out with a note where they decide nothing (winnow.gate_settings.passed_over)
    earlier: dict[str, str] = field(default_factory=dict)

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
        # its entry typed as a person reads it (of two read alike the other decides nothing: refused so), else patterns
        own = next((entry for entry in self.tolerances if key_as_read(entry) == key_as_read(key)), None)
        matching = [pattern for pattern in self.tolerances if entry_matches(key, pattern)]
        return own or min(matching, key=self.tolerances.__getitem__, default=None)

    def tolerance(self, key: str) -> float | None:
        """The tolerance of ``key`` (:meth:`deciding`), else its :data:`DEFAULT_TOLERANCES` entry (:meth:`defaulted`),
        or None."""
        entry = self.deciding(key)
        if entry is not None:
            return self.tolerances[entry]
        return next((v for pattern, v in DEFAULT_TOLERANCES.items() if fnmatch.fnmatchcase(key, pattern)), None)

    def defaulted(self, key: str) -> bool:
        """Whether ``key``'s tolerance is the default, no entry of these settings matching it."""
        return self.deciding(key) is None and self.tolerance(key) is not None


def metric_key(klass: str, metric: str) -> str:
    """The ``gate.tolerances`` key of a table row: ``accuracy`` or ``per_class.<class>.<metric>``."""
    return "accuracy" if metric == "accuracy" else f"per_class.{klass}.{metric}"


def is_pattern(entry: str) -> bool:
    """Whether a tolerance ``entry`` is an fnmatch pattern rather than one key."""
    return any(c in entry for c in "*?[")


@functools.cache  # each key is read against every entry, for every decision (4,002 keys: 0.36 s uncached)
def key_as_read(key: str) -> str:
    """A tested key or a ``gate.tolerances`` entry with its class as a person reads it (winnow.imageset.alike, as
    degrade options read a class typed). Before, per_class.café.recall typed NFC matched no key of a class named NFD
    (macOS): refused beside a class printed alike, or (an earlier release's .f1 entry) left out, a looser one gating."""
    head, _, rest = key.partition(".")
    if head != "per_class" or "." not in rest:
        return key
    klass, metric = rest.rsplit(".", 1)
    return f"per_class.{alike(klass)}.{metric}"


def entry_matches(key: str, entry: str) -> bool:
    """Whether the ``gate.tolerances`` ``entry`` matches ``key`` as :meth:`GateSettings.deciding` reads it: the key's
    own entry (:func:`key_as_read`), or a pattern (holding ``*?[`` as typed: NFKC makes a fullwidth "＊" "*")."""
    read, entry_read = key_as_read(key), key_as_read(entry)
    return read == entry_read or is_pattern(entry) and fnmatch.fnmatchcase(read, entry_read)


def metric_keys(table: pd.DataFrame) -> list[str]:
    """The ``gate.tolerances`` key of each row of ``table`` (:func:`metric_key`), in its order."""
    return [metric_key(c, m) for c, m in zip(table["class"], table["metric"])]


def paired_rows(base, head, *, variant: str, settings: GateSettings) -> pd.DataFrame:
    """The paired tests of one variant: its overall row, then one row per class (:data:`COLUMNS`).

    Args:
        base, head: :func:`winnow.evaluated.read_predictions` frames of the same test images, a list of them for several
            runs a side (seeds of one setting, pooled by :meth:`PairedCounts.from_runs`), or one frame.
    """
    base, head = ([frames] if isinstance(frames, pd.DataFrame) else list(frames) for frames in (base, head))
    reference = base[0]
    for side, frame in [("base", f) for f in base[1:]] + [("head", f) for f in head]:
        check_same_images(reference, frame, variant=variant, side=side, runs=len(base) + len(head))
    order = reference["id"]
    labels = reference["label"].to_numpy()
    predicted = [np.array([frame.set_index("id").loc[order, "predicted"].to_numpy() for frame in frames])
                 for frames in (base, head)]  # (runs, n) a side, in the first base run's order
    base_right, head_right = (side == labels for side in predicted)
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
    p, p_adj = drop_tests(counts, phis, correction=settings.correction)
    intervals = [change_interval(c, confidence=CONFIDENCE, overdispersion=phi) for c, phi in zip(counts, phis)]
    keys = ["accuracy"] + [metric_key(c, "recall") for c in classes]
    tolerances = [settings.tolerance(key) for key in keys]
    if len(base) + len(head) > 2:
        # the measured phi is one figure for every class, so runs unstable on other classes could pool away a
        # drop every head run shows: each run is also tested alone (the settings' phi, as with one run a side),
        # and a drop that regresses in every one of them regresses, its p the largest of theirs; one head run against
        # each base run alone (alone_pairs)
        alone = []
        for b, h in alone_pairs(len(base), len(head)):
            run_counts = [PairedCounts.from_runs(base_right[b][:, m], head_right[h][:, m]) for m in masks]
            run_p, run_adj = drop_tests(run_counts, [settings.accuracy_overdispersion]
                                         + [settings.overdispersion] * len(classes), correction=settings.correction)
            alone.append([(c.change, raw, adjusted) for c, raw, adjusted in zip(run_counts, run_p, run_adj)])
        regressed_in_every_run(alone, tolerances, p, p_adj, alpha=settings.alpha)
    rows = []
    for k, (name, key, mask, count, raw, adjusted, (low, high), tolerance) in enumerate(zip(
            [OVERALL, *classes], keys, masks, counts, p, p_adj, intervals, tolerances)):
        if tolerance is None:  # before: "add e.g. 'per_class.*.recall: 0.02'" for accuracy too, which it does not match
            example = "accuracy: 0.005" if key == "accuracy" else "per_class.*.recall: 0.02"
            raise settings.refusal(f"no pattern matches {key} (the gate tests accuracy and "
                                   f"per_class.<class>.recall); add e.g. '{example}'")
        floor = floor_p(count, phi=phis[k], factor=1 if k == 0 or settings.correction == "none" else len(classes))
        # from the images themselves: pooled counts are rescaled, and a head of 0 came out as -9e-17
        base_right_images = base_right[:, mask].mean(axis=0).sum()
        base_recall = base_right[:, mask].mean()
        # pooled, or any head run alone: seed noise does not halve a class either way (IMAGE_SLACK: a class of 11
        # that went from 6 to 3 over three runs a side, recall 0.55 -> 0.27, lost 2.9999999999999996 and passed)
        collapsed = bool(k and count.change < -tolerance - 1e-12 and base_recall >= 0.5 and any(
            head_recall <= base_recall / 2 and base_right_images - head_right_images >= COLLAPSE_MIN_LOST - IMAGE_SLACK
            for head_recall, head_right_images in [(head_right[:, mask].mean(), head_right[:, mask].mean(axis=0).sum())]
            + [(run[mask].mean(), run[mask].sum()) for run in head_right]))
        said = verdict(count.change, adjusted, tolerance=tolerance, alpha=settings.alpha)
        rows.append({"variant": variant, "class": name, "metric": "recall" if k else "accuracy",
                     "images": int(mask.sum()), "changed": int(changed[mask].sum()),
                     "base": count.base, "head": count.head,
                     "change": count.change, "ci_low": low, "ci_high": high, "p": raw, "p_adj": adjusted,
                     "tolerance": tolerance, "verdict": "REGRESSED" if collapsed else said, "floor_p": floor,
                     "collapsed": collapsed})
    # a class a model predicts that the test split holds no image of (evaluate knew it): every image taken into it is
    # wrong. Before: it had no row, and a head that sent 27 test images into such a class while it mended 27 others
    # passed, accuracy and every recall unchanged
    untested = sorted(set(np.unique(np.concatenate([side.ravel() for side in predicted]))) - set(classes),
                      key=natural_order)
    taken = _false_positive_rows(*predicted, labels=labels, classes=classes, untested=untested, variant=variant,
                                 settings=settings)
    own, extra = taken[:len(taken) - len(untested)], taken[len(taken) - len(untested):]
    # each class's false-positive row right after its recall row, those of the untested classes last
    rows = rows[:1] + [row for pair in zip(rows[1:], own) for row in pair] + rows[1 + len(own):] + extra
    return pd.DataFrame(rows, columns=COLUMNS)


def _false_positive_rows(base_predicted: np.ndarray, head_predicted: np.ndarray, *, labels: np.ndarray,
                         classes: list[str], untested: list[str], variant: str, settings: GateSettings) -> list[dict]:
    """One row per class testing the test images of the other classes it takes (``per_class.<class>.false_positives``).

    Before: the gate tested recall alone, and a head that sent 3 images of each of 9 classes to class 0 while it
    mended 27 others passed with every recall and accuracy unchanged: 27 of class 0's 127 predictions wrong. A class's
    false positives are a proportion over a fixed set of images too, the other classes' test images: "right" is
    *not predicted as the class* (its specificity), and McNemar's exact one-sided test runs on the images that changed
    sides (newly taken: lost; no longer taken: gained), with phi as for recall (the settings' ``overdispersion``, or
    what the runs of a side measure on the other classes' tables, :func:`winnow.gate_pvalues.taken_phi`, the larger)
    and the class p-values corrected over the classes by ``gate.correction`` as a family of their own: recall's p adj
    stay what they were.

    The change is counted in the class's own test images: (newly taken - no longer taken) / the class's test images,
    a rise being worse (``base`` and ``head``: false positives per test image of the class). A specificity change is
    diluted by the other images (27 of 900 = 0.03 with 10 classes, 27 of 9,900 with 100), so one tolerance would mean
    ever more images as classes are added; per image of the class it means what recall's does (0.02: 2 images per 100
    of the class), whatever the number of classes. The test is the same either way: the scale is fixed.

    A class of ``untested`` (predicted at either side, no test image of its own) is tested as one of a single test
    image: its row counts images (all of them its false positives), so any rise is beyond a tolerance (at most
    0.25) and the test alone decides; its row comes after the others'.

    Args:
        base_predicted, head_predicted: ``(runs, n)`` the predicted class of each test image in each run.
        classes: the test labels, in order; untested: the other classes predicted, in order.
    """
    every = (classes if len(classes) >= 2 else []) + untested
    rights = [[side[:, labels != c] != c for side in (base_predicted, head_predicted)] for c in every]
    phis = [max(settings.overdispersion, taken_phi([base_predicted, head_predicted], labels=labels, classes=classes,
                                                    klass=c)) for c in every]
    counts = [PairedCounts.from_runs(b, h) for b, h in rights]
    p, p_adj = family_tests(counts, phis, correction=settings.correction)
    # others per own image; an untested class's per image (a count), as if it held one
    scales = [b.shape[1] / max(int(np.sum(labels == c)), 1) for c, (b, _) in zip(every, rights)]
    tolerances = [settings.tolerance(metric_key(c, FALSE_POSITIVES)) for c in every]
    if len(base_predicted) + len(head_predicted) > 2:  # as for recall: a rise every head run regresses on alone does
        alone = []
        for b_runs, h_runs in alone_pairs(len(base_predicted), len(head_predicted)):
            run_counts = [PairedCounts.from_runs(b[b_runs], h[h_runs]) for b, h in rights]
            run_p, run_adj = family_tests(run_counts, [settings.overdispersion] * len(every),
                                           correction=settings.correction)
            alone.append(list(zip([c.change * s for c, s in zip(run_counts, scales)], run_p, run_adj)))
        regressed_in_every_run(alone, tolerances, p, p_adj, alpha=settings.alpha)
    rows = []
    for c, (b, h), count, phi, raw, adjusted, scale, tolerance in zip(every, rights, counts, phis, p, p_adj,
                                                                     scales, tolerances):
        low, high = change_interval(count, confidence=CONFIDENCE, overdispersion=phi)
        said = verdict(count.change * scale, adjusted, tolerance=tolerance, alpha=settings.alpha)
        collapsed = bool(count.change * scale < -tolerance - 1e-12 and _precision_halved(
            base_predicted, head_predicted, labels=labels, klass=c))
        # lost - gained, not -change: before, a class that took and gave back nothing showed a change of -0.0000
        # (0.0 negated), beside its recall row's +0.0000
        rows.append({"variant": variant, "class": c, "metric": FALSE_POSITIVES, "images": b.shape[1],
                     "changed": int(np.sum(b.mean(axis=0) != h.mean(axis=0))),
                     "base": (1 - count.base) * scale, "head": (1 - count.head) * scale,
                     "change": (count.lost - count.gained) / count.n * scale, "ci_low": -high * scale, "ci_high": -low * scale,
                     "p": raw, "p_adj": adjusted, "tolerance": tolerance,
                     "verdict": "REGRESSED" if collapsed else said.replace("drop", "rise"),
                     "floor_p": floor_p(count, phi=phi, factor=1 if settings.correction == "none" else len(every)),
                     "collapsed": collapsed})
    return rows


def _precision_halved(base_predicted: np.ndarray, head_predicted: np.ndarray, *, labels: np.ndarray,
                      klass: str) -> bool:
    """Whether the head's precision of ``klass`` is half its base's or less, from 0.5 or more, with more other classes'
    images predicted as it by at least half the class's test images and :data:`COLLAPSE_MIN_LOST`, pooled or in any
    head run alone (as recall's collapse). Before: the false-positive test needs 13 images newly taken over 10 classes
    (phi 1.57), whatever the class's size, and a head that sent 10 into a class of 10 (precision 1.00 -> 0.50) passed
    at p adj 0.12. Half its test images: a class of 100 needs 50, which its test sees; without that bound, one the
    base named 4 times, all right, that took 4 more (precision 0.50, p adj 1, within seed noise) regressed.

    Args:
        base_predicted, head_predicted: ``(runs, n)`` the predicted class of each test image in each run.
    """
    def tallies(side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # per run: predicted as klass, right among them
        taken = side == klass
        return taken.sum(axis=1), (taken & (labels == klass)).sum(axis=1)

    (base_taken, base_right), (head_taken, head_right) = tallies(base_predicted), tallies(head_predicted)
    if not base_taken.sum() or base_right.sum() / base_taken.sum() < 0.5:
        return False
    wrong = (base_taken - base_right).mean()
    # newly taken; IMAGE_SLACK: three head runs that took 16 with 7 right, 3 more than none, came out 2.9999999999999996
    least = max(COLLAPSE_MIN_LOST, np.sum(labels == klass) / 2) - IMAGE_SLACK
    # halved in whole numbers, right / taken <= half the base's precision: pooled as the mean right over the mean taken
    # in floats, three runs' 7 of 21 came out 0.33333333333333337, above half of a base's 2 of 3, 0.3333333333333333
    pooled = (head_right.sum(), head_taken.sum(), len(head_right))
    return any(taken and 2 * right * base_taken.sum() <= taken * base_right.sum()
               and (taken - right) / runs - wrong >= least
               for right, taken, runs in [pooled, *((right, taken, 1) for right, taken in zip(head_right, head_taken))])


def unused_tolerances(table: pd.DataFrame, settings: GateSettings) -> tuple[list[str], list[str]]:
    """``(unmatched, overridden)`` tolerance entries: those that match no key the gate tested (e.g. a leftover
    ``per_class.*.f1``; the keys: :func:`metric_keys`), and those that match some but decide none (:meth:`GateSettings.deciding`: each key
    they match takes its own entry or a stricter pattern's)."""
    keys = metric_keys(table)
    # a key's own entry matches it as deciding() reads it: before, per_class.a[1].recall, the entry of a class named
    # a[1], was read only as a pattern ([1] matches "1") and refused as matching no metric
    matched = {p: [k for k in keys if entry_matches(k, p)] for p in settings.tolerances}
    decided = {settings.deciding(k) for k in keys}
    return ([p for p, found in matched.items() if not found],
            [p for p, found in matched.items() if found and p not in decided])
