"""The merge gate: fail only when a variant got worse by more than noise and more than a tolerance.

``winnow gate --base main`` pairs the same test images at two revisions. evaluate writes every test
image's prediction (``metrics/evaluate/<variant>/predictions.csv``, in git), so for each variant the
gate knows which images each revision got right, and tests (:mod:`winnow.paired`):

- ``accuracy`` over all test images, and
- ``per_class.<class>.recall``, the share of that class's own test images classified right,

each with McNemar's exact one-sided test on the images that changed sides and Newcombe's interval of
the change. Recall rather than F1 per class: it is a proportion over a fixed set of images, so the
paired test is exact (no resampling, no seed), and a class that starts absorbing other classes' images
(its precision falls) shows as a recall drop of the classes those images came from. The class p-values
of one variant are corrected for their number (``gate.correction``: Holm or Bonferroni). A metric
*regresses* only when its drop is significant at ``gate.alpha`` after that correction **and** larger
than its ``gate.tolerances`` entry (fnmatch patterns over the keys above; the key's own entry, else the
strictest matching pattern, whatever their order): a tolerance alone flags
noise (one image is 0.001 of accuracy on 1,000 images; a retrained model moves several), and
significance alone flags drops too small to matter. Two exceptions for small classes: a class whose
recall falls to half or less from 0.5 or more, losing at least :data:`COLLAPSE_MIN_LOST` images, regresses
whatever its p (the head recognises half of what the base did at most); and a class too small for any drop
to be significant (losing every image right at base would test at p adj >= alpha) is named in a ``warning:``
note, as the gate cannot see it fall short of a collapse.

Several runs a side (``--base A B C``: seeds of one setting, e.g. ``dvc exp run -S seed=N``) are pooled
image by image (:meth:`winnow.paired.PairedCounts.from_runs`), and the runs of a side measure the seed
noise themselves (:func:`winnow.paired.seed_overdispersion`): the gate uses the larger of that phi and
``gate.overdispersion`` / ``gate.accuracy_overdispersion``, so one unlucky seed cannot fail it alone. That
phi is one figure for every class, so each head run is also tested alone: a drop that regresses in every
one of them regresses, however unstable the runs are on other classes.

It never passes on broken input: a gated metrics file (``gate.files``) holding NaN, an infinity or a
string at either revision, predictions missing at either revision, a blank prediction or one naming no
test class, an evaluate metrics file missing beside its predictions or disagreeing with them
(:func:`winnow.evaluated.check_headline`), a commit whose own dvc.lock or params.yaml contradicts its predictions
(:func:`winnow.revisions.check_commit_current`), test sets that differ, an unknown revision or bad ``gate`` params
each end in one ``error:`` line (exit status 1).

Its settings (tolerances, alpha, correction, overdispersion, the files it checks) are the base's
``gate`` section (:func:`base_settings`): a change cannot loosen the gate that judges it. A change to that
section judges the changes after it, once merged; the report says when the two differ.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from winnow import markdown, revisions
from winnow.errors import WinnowError, check_output, first_line, first_repeated, output_path
from winnow.evaluated import check_headline, headline_classes, metric_problems, natural_order, read_headline, \
    read_predictions
from winnow.metrics import METRICS_FILE, PREDICTIONS_FILE, metrics_path, predictions_path, variant_of
from winnow.paired import PairedCounts, adjust, change_interval, drop_p_value, seed_overdispersion

CONFIDENCE = 0.95  # of the interval shown; the verdict uses the test
POOLED_TEST = ("McNemar test on the pooled counts, phi at least what the runs of a side measure (a drop every head "
               "run shows alone: the largest p of their own tests),")
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


@dataclass(frozen=True)
class GateSettings:
    """The ``gate`` section of params.yaml, validated."""

    files: tuple[str, ...]
    tolerances: dict[str, float]
    alpha: float = 0.05
    correction: str = "holm"
    overdispersion: float = 1.0
    accuracy_overdispersion: float = 1.0

    @classmethod
    def from_params(cls, section) -> "GateSettings":
        """From the section as params.yaml holds it (winnow.params has checked every value)."""
        if not isinstance(section, dict):
            raise WinnowError("params.yaml gate: missing; winnow gate needs files, tolerances, alpha and correction")
        return cls(files=tuple(section["files"]), tolerances={str(k): float(v) for k, v in section["tolerances"].items()},
                   alpha=float(section.get("alpha", cls.alpha)), correction=section.get("correction", cls.correction),
                   overdispersion=float(section.get("overdispersion", cls.overdispersion)),
                   accuracy_overdispersion=float(section.get("accuracy_overdispersion", cls.accuracy_overdispersion)))

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


def base_settings(repo: str | Path, *, base: str | list[str],
                  target: str | list[str]) -> tuple[GateSettings, list[str]]:
    """``(settings, notes)``: the ``gate`` section of params.yaml at the (first) base revision, checked by
    params.yaml's own rules, and a note when the (first) target's section differs. A base without a ``gate``
    section (from before the gate) lends the target's, and the note says so. A key the base holds that is no
    parameter now (renamed since) is left out with a note: the change that renamed it could never pass."""
    names = {"base": _revisions(base)[0], "target": _revisions(target)[0]}
    section = {side: _gate_section(repo, name, option=f"--{side}") for side, name in names.items()}
    used = "base" if section["base"] is not None else "target"
    if section[used] is None:
        GateSettings.from_params(None)  # says the section is missing
    settings, dropped = _checked_section(section[used], name=names[used])
    notes = [f"gate settings: {names[used]}'s gate.{key} is no parameter now; left out" for key in dropped]
    if used == "target":
        return settings, [f"gate settings: {names['target']}'s (params.yaml at {names['base']} has no gate "
                          "section)", *notes]
    differ = sorted(revisions.differing({"gate": section["base"]}, {"gate": section["target"] or {}}))
    if differ:
        notes.append(f"gate settings: {names['base']}'s; {names['target']}'s differ in {', '.join(differ)} and "
                     "judge the changes after it is merged (a change cannot loosen its own gate)")
    return settings, notes


def _gate_section(repo: str | Path, name: str, *, option: str):
    """The ``gate`` section of params.yaml at revision ``name`` as written, or None when there is none."""
    text = revisions.read_text(repo, revisions.resolve(repo, name, option=option), "params.yaml")
    try:
        params = yaml.safe_load(text or "") or {}
    except yaml.YAMLError as err:
        raise WinnowError(f"params.yaml at {name}: not valid YAML ({first_line(err)}); the gate reads its "
                          "settings there") from err
    return params.get("gate") if isinstance(params, dict) else None


def _checked_section(section, *, name: str) -> tuple[GateSettings, list[str]]:
    """(the settings of ``section``, params.yaml's ``gate`` at revision ``name``, checked by
    :data:`winnow.params.SCHEMA`'s rules, the keys left out as no parameter now)."""
    from winnow.params import SCHEMA

    rule = SCHEMA.fields["gate"]
    dropped = sorted(k for k in section if k not in rule.fields) if isinstance(section, dict) else []
    if dropped:
        section = {k: v for k, v in section.items() if k not in dropped}
    try:
        rule.check(section, "gate")
    except WinnowError as err:
        raise WinnowError(str(err).replace("params.yaml:", f"params.yaml at {name}:", 1)
                          + f"; the gate takes its settings from {name}: correct them there") from err
    return GateSettings.from_params(section), dropped


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
    # runs of one side differ only in their seed, so they measure both spreads too (1.0 with one run a side)
    measured = seed_overdispersion([base_right, head_right], masks=masks[1:])
    phis = [max(settings.accuracy_overdispersion, measured[0])] + [max(settings.overdispersion, measured[1])] * len(
        classes)
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
            raise WinnowError(f"gate.tolerances: no pattern matches {key} (the gate tests accuracy and "
                              "per_class.<class>.recall); add e.g. 'per_class.*.recall: 0.02'")
        # every image right at base lost, none gained: the least p the test can give; Holm's (and Bonferroni's)
        # adjustment of the least p of a variant multiplies it by the number of classes
        worst = PairedCounts(both=0.0, lost=count.base * count.n, gained=0.0, neither=count.n - count.base * count.n)
        factor = 1 if k == 0 or settings.correction == "none" else len(classes)
        floor = min(1.0, drop_p_value(worst, overdispersion=phis[k]) * factor)
        # from the images themselves: pooled counts are rescaled, and a head of 0 came out as -9e-17
        net_lost = float(base_right[:, mask].mean(axis=0).sum() - head_right[:, mask].mean(axis=0).sum())
        base_recall, head_recall = base_right[:, mask].mean(), head_right[:, mask].mean()
        collapsed = bool(k and head_recall <= base_recall / 2 and base_recall >= 0.5
                         and net_lost >= COLLAPSE_MIN_LOST and count.change < -tolerance - 1e-12)
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
    matched = {p: [k for k in keys if fnmatch.fnmatchcase(k, p)] for p in settings.tolerances}
    decided = {settings.deciding(k) for k in keys}
    return ([p for p, found in matched.items() if not found],
            [p for p, found in matched.items() if found and p not in decided])


def gate(repo: str | Path, *, base: str | list[str], target: str | list[str], settings: GateSettings,
         variants: list[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Every paired test of every variant evaluated at both revisions.

    Args:
        base, target: a revision each, or several: runs that are seeds of one setting (``dvc exp run -S
            seed=N`` experiments, by name or commit), pooled image by image.

    Returns:
        ``(table, notes)``: :data:`COLUMNS` rows; ``notes`` names variants new at ``target`` (nothing to
        compare them with, so not gated).

    Raises:
        WinnowError: one line for everything that makes the comparison impossible or untrustworthy.
    """
    names = {"base": _revisions(base), "target": _revisions(target)}
    revs = {side: [revisions.resolve(repo, name, option=f"--{side}") for name in runs] for side, runs in names.items()}
    read: dict[tuple[str, str], str | None] = {}  # (rev, path) -> text: a gated metrics file is checked twice

    def text_at(rev: str, path: str) -> str | None:
        if (rev, path) not in read:
            read[rev, path] = revisions.read_text(repo, rev, path)
        return read[rev, path]

    problems, matched = [], set()
    for side in revs:
        for name, rev in zip(names[side], revs[side]):
            for path in revisions.matching(repo, rev, list(settings.files)):
                matched.add(path)
                problems += metric_problems(text_at(rev, path) or "", where=f"{path} at {name}")
    unmatched = [p for p in settings.files if not any(revisions.matches(path, p) for path in matched)]
    if unmatched:  # a typo would check nothing and pass
        raise WinnowError(f"params.yaml gate.files: {', '.join(unmatched)} matches no file at "
                          f"{' or '.join(dict.fromkeys(n for runs in names.values() for n in runs))}; "
                          "correct the pattern (gated files are metrics JSON, e.g. metrics/evaluate/*.json)")
    if problems:
        raise WinnowError("gated metrics are not all finite numbers: " + "; ".join(problems)
                          + " (rerun the stage that writes them and commit its outputs)")
    for side in revs:
        check_seed_runs(repo, revs[side], names=names[side], option=f"--{side}")

    label = {side: " + ".join(runs) for side, runs in names.items()}
    listed_at = {rev: _listed_variants(repo, rev) for side in revs for rev in revs[side]}
    at_rev = {rev: _variants(repo, rev, listed=listed_at[rev]) for rev in listed_at}
    found = {side: set().union(*(at_rev[rev] for rev in revs[side])) for side in revs}
    wanted = variants or sorted(found["base"] | found["target"], key=natural_order)
    unknown = [v for v in wanted if v not in found["base"] | found["target"]]
    if unknown:
        raise WinnowError(f"--variants {' '.join(unknown)}: not evaluated at {label['base']} or {label['target']}; "
                          "evaluated: " + (", ".join(sorted(found["base"] | found["target"], key=natural_order)) or "none"))
    notes, compared, texts = [], [], {}  # texts: (variant, side) -> each run's predictions CSV, read once
    for variant in wanted:
        at = [side for side in revs if variant in found[side]]
        if at == ["target"] and not variants:
            notes.append(f"{variant}: new at {label['target']}, nothing at {label['base']} to compare with (not gated)")
            continue
        for side in revs:
            texts[variant, side] = [revisions.read_text(repo, rev, predictions_path(variant)) for rev in revs[side]]
        missing = [(side, name, rev, text) for side in revs
                   for name, rev, text in zip(names[side], revs[side], texts[variant, side])
                   if text is None or variant not in at_rev[rev]]
        if missing:
            side, name, rev, text = missing[0]
            if text is not None:
                problems.append(f"{variant} is not in params.yaml's variants at {name}, so its evaluate files there "
                                "are left over from a run before it was dropped (pass --variants to gate the others)")
            else:  # "gone" only where params.yaml leaves it out (or lists nothing and no file of it is left)
                gone = variant not in listed_at[rev] if listed_at[rev] is not None else variant not in found[side]
                problems.append(f"{predictions_path(variant)} missing at {name}"
                                + (" (the variant is gone there: pass --variants to gate the others)" if gone else ""))
        else:
            compared.append(variant)
    if problems:
        raise WinnowError("; ".join(problems) + "; the gate pairs every variant's test predictions at both "
                          "revisions: run `dvc repro evaluate` and commit metrics/evaluate/ at each")
    if not compared:
        raise WinnowError(f"no variant has test predictions at both {label['base']} and {label['target']} "
                          f"({PREDICTIONS_FILE}); run `dvc repro evaluate` and commit metrics/evaluate/ at both")
    evaluated = [f"evaluate@{variant}" for variant in compared]
    if revisions.WORKSPACE in revs["base"] + revs["target"]:
        revisions.check_workspace_current(repo, evaluated)
    for side in revs:
        for name, rev in zip(names[side], revs[side]):
            if rev != revisions.WORKSPACE:
                revisions.check_commit_current(repo, rev, name=name, targets=evaluated)
    tables = []
    for variant in compared:
        frames = []
        for side in revs:
            frames.append([])
            for name, rev, text in zip(names[side], revs[side], texts[variant, side]):
                where = f"{metrics_path(variant)} at {name}"
                written = read_headline(text_at(rev, metrics_path(variant)), where=where)
                if written is None:  # DVC would show no metrics for it while the gate tested its predictions
                    raise WinnowError(f"{where}: missing beside its predictions; evaluate writes both, so one alone "
                                      f"is a deletion or a stale file: rerun evaluate@{variant} there")
                frame = read_predictions(text, where=f"{predictions_path(variant)} at {name}",
                                         classes=headline_classes(written))
                check_headline(written, frame, where=where)
                frames[-1].append(frame)
        tables.append(paired_rows(*frames, variant=variant, settings=settings))
    table = pd.concat(tables, ignore_index=True)
    unmatched, overridden = unused_tolerances(table, settings)
    if unmatched:
        raise WinnowError(f"gate.tolerances: {', '.join(unmatched)} match no metric the gate tests (accuracy, "
                          "per_class.<class>.recall); remove them or give the pattern of a tested metric")
    if overridden:  # a user who wrote it meant it to apply somewhere: say that it never does
        shown = ", ".join(f"{p}: {settings.tolerances[p]:g}" for p in overridden)
        raise WinnowError(f"gate.tolerances: {shown} decide no metric: each metric a pattern matches takes its own "
                          "key's entry, else the strictest pattern that matches it, whatever the order; remove them "
                          "or make them stricter than what overrides them")
    return table, notes


def _revisions(runs: str | list[str]) -> list[str]:
    """One revision or several, as a list (``--base`` and ``--target`` take several)."""
    return [runs] if isinstance(runs, str) else list(runs)


def check_seed_runs(repo: str | Path, revs: list[str], *, names: list[str], option: str) -> None:
    """Several runs on one side are pooled only as seeds of one setting: their params.yaml alike but for
    ``seed``, and each seed once (the same seed, thread count and machine repeat a run bit for bit)."""
    if len(revs) < 2:
        return
    params = []
    for name, rev in zip(names, revs):
        text = revisions.read_text(repo, rev, "params.yaml")
        if text is None:
            raise WinnowError(f"{option} {name}: no params.yaml there; the gate pools several runs only as seeds "
                              "of one setting, which it reads from params.yaml")
        params.append(yaml.safe_load(text) or {})
    for name, other in zip(names[1:], params[1:]):
        differ = sorted(revisions.differing(params[0], other) - {"seed"})
        if differ:
            raise WinnowError(f"{option} {names[0]} {name}: the runs differ in {', '.join(differ[:5])}, not only "
                              "in seed; pool only seeds of one setting (dvc exp run -S seed=N)")
    # the same params run by other code (a seed run from before the change under test) is another setting too
    inputs = [revisions.locked_inputs(repo, rev) for rev in revs]
    for name, other in zip(names[1:], inputs[1:]):
        differ = sorted(path for path in set(inputs[0]) | set(other) if inputs[0].get(path) != other.get(path))
        if differ:
            raise WinnowError(f"{option} {names[0]} {name}: the runs ran other code or inputs ({', '.join(differ[:3])}"
                              f"{' …' if len(differ) > 3 else ''} differ in their dvc.lock), not only another seed; "
                              "pool only seeds of one commit (dvc exp run -S seed=N)")
    seen: dict[str, str] = {}
    for name, values in zip(names, params):
        seed = json.dumps(values.get("seed"))
        if seed in seen:
            raise WinnowError(f"{option} {seen[seed]} {name}: both ran seed {seed}, so the second adds nothing; "
                              "give each run of a side its own seed (dvc exp run -S seed=N)")
        seen[seed] = name


def _variants(repo, rev, *, listed: set[str] | None) -> set[str]:
    """Variants with an evaluate metrics file or predictions at ``rev``, less those its params.yaml ``variants``
    (``listed``) leaves out: DVC never deletes a dropped variant's outputs, and gating them tested stale files."""
    paths = revisions.matching(repo, rev, [p.format(variant="*") for p in (METRICS_FILE, PREDICTIONS_FILE)])
    found = {v for path in paths for pattern in (METRICS_FILE, PREDICTIONS_FILE)
             if (v := variant_of(path, pattern)) is not None}
    return found if listed is None else found & listed


def _listed_variants(repo, rev) -> set[str] | None:
    """params.yaml's ``variants`` at ``rev``, or None where it lists none readably (a project before the list)."""
    try:
        listed = (yaml.safe_load(revisions.read_text(repo, rev, "params.yaml") or "") or {}).get("variants")
    except (yaml.YAMLError, AttributeError):
        return None
    return set(listed) if isinstance(listed, list) and all(isinstance(v, str) for v in listed) else None


def render(table: pd.DataFrame, *, everything: bool = False) -> str:
    """The table as GitHub markdown; without ``everything``, each variant's overall row and only the
    class rows where some image changed sides or the verdict is not ok."""
    moved = (table["changed"] > 0) | (table["verdict"] != "ok") | (table["class"] == OVERALL)
    shown = table if everything else table[moved]

    def signed(x: float) -> str:
        return f"{x:+.4f}"

    rows = [[markdown.cell(r.variant), markdown.cell(str(r.klass)), str(r.images), str(r.changed),
             f"{r.base:.4f}", f"{r.head:.4f}", signed(r.change), f"{signed(r.ci_low)} … {signed(r.ci_high)}",
             _p(r.p), _p(r.p_adj), f"{r.tolerance:g}", f"**{r.verdict}**" if r.verdict == "REGRESSED" else r.verdict]
            for r in shown.rename(columns={"class": "klass"}).itertuples(index=False)]
    header = ["variant", "class (recall)", "images", "changed", "base", "head", "change", f"{CONFIDENCE:.0%} CI", "p",
              "p adj", "tolerance", "verdict"]
    return markdown.table(header, rows)


def _p(p: float) -> str:
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def report(table: pd.DataFrame, notes: list[str], *, base: str | list[str], target: str | list[str],
           settings: GateSettings, everything: bool = False) -> tuple[str, bool]:
    """The markdown a person reads (stdout, a pull-request comment) and whether the gate passed."""
    regressed = table[table["verdict"] == "REGRESSED"]
    passed = regressed.empty
    base, target = _revisions(base), _revisions(target)
    pooled = (f" ({len(base)} run(s) at base, {len(target)} at head, pooled image by image: each image counts by "
              "its share of runs right)") if len(base) + len(target) > 2 else ""
    lines = [f"## Merge gate: {' + '.join(base)} → {' + '.join(target)}", "",
             f"Paired on the same test images{pooled}. p: one-sided "
             f"{POOLED_TEST if pooled else 'exact McNemar test'} of a drop; p adj: "
             f"{settings.correction} over each variant's classes; a metric regresses when p adj < "
             f"{settings.alpha:g} and the drop exceeds its tolerance.", "", render(table, everything=everything), ""]
    notes = notes + _blind_spots(table, alpha=settings.alpha)
    lines += [f"- {note}" for note in notes] + ([""] if notes else [])
    if passed:
        lines.append(f"gate: PASS — {table['variant'].nunique()} variant(s), {len(table)} paired tests, "
                     "no significant drop beyond its tolerance")
    else:
        worst = "; ".join(f"{markdown.cell(r.variant)} {markdown.cell(str(r.klass))} {r.change:+.4f} "
                          f"(p adj {_p(r.p_adj)})"
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
                     f"{_p(r.p_adj)})")
    blind = table[(table["class"] != OVERALL) & (table["floor_p"] >= alpha) & (table["base"] > 0) & ~table["collapsed"]]
    for variant, rows in blind.groupby("variant", sort=False):
        names = ", ".join(f"{markdown.cell(str(c))} ({n})" for c, n in zip(rows["class"], rows["images"]))
        notes.append(f"warning: {markdown.cell(variant)}: class(es) {names} hold too few test images for any drop to "
                     f"be significant (losing every one tests at p adj ≥ {alpha:g}): the gate cannot see them fall "
                     "unless they collapse; give the test split more of their images")
    return notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, nargs="+",
                        help="the revision to compare against, e.g. main or origin/main; several (dvc exp names or "
                             "commits of one setting at other seeds) are pooled")
    parser.add_argument("--target", default=[revisions.WORKSPACE], nargs="+",
                        help="the revision under test (default: the workspace); several are pooled, as for --base")
    parser.add_argument("--repo", default=".", help="the DVC project (a git repository)")
    parser.add_argument("--variants", nargs="+", help="gate only these variants (default: every one evaluated)")
    parser.add_argument("--markdown", type=output_path, help="also write the report here, e.g. reports/gate.md")
    parser.add_argument("--all", action="store_true", help="list every class, unchanged ones too")


def run(args: argparse.Namespace) -> int:
    from winnow.stage import load_params, write_text

    check_output(args.markdown, option="--markdown", example="reports/gate.md")
    repeated = first_repeated(args.variants or [])
    if repeated is not None:  # before: its rows were tested twice and each regression counted twice
        raise WinnowError(f"gate --variants: {repeated} given twice; name each variant once")
    load_params(Path(args.repo) / "params.yaml")  # the workspace's params, valid as a whole, as for every command
    settings, setting_notes = base_settings(args.repo, base=args.base, target=args.target)
    table, notes = gate(args.repo, base=args.base, target=args.target, settings=settings, variants=args.variants)
    text, passed = report(table, setting_notes + notes, base=args.base, target=args.target, settings=settings,
                          everything=args.all)
    print(text, end="")
    if args.markdown:
        write_text(args.markdown, text)
    return 0 if passed else 1
