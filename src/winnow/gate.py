"""The merge gate: fail only when a variant got worse by more than noise and more than a tolerance.

``winnow gate --base main`` pairs the same test images at two revisions. evaluate writes every test
image's prediction (``metrics/evaluate/<variant>/predictions.csv``, in git), so for each variant the
gate knows which images each revision got right, and tests (:mod:`winnow.paired`):

- ``accuracy`` over all test images,
- ``per_class.<class>.recall``, the share of that class's own test images classified right, and
- ``per_class.<class>.false_positives``, the other classes' test images predicted as the class, counted per test
  image of the class (:func:`winnow.gate_table._false_positive_rows`); for a class the model predicts that the
  test split holds no image of, counted in images,

each with McNemar's exact one-sided test on the images that changed sides and Newcombe's interval of
the change. Recall rather than F1 per class: it is a proportion over a fixed set of images, so the
paired test is exact (no resampling, no seed). So are a class's false positives, over the other classes' images
("right": not predicted as the class). Before they were tested, a class that starts absorbing other classes' images
showed only as recall drops of the classes they came from, each within noise when spread over many classes or
offset by images mended elsewhere: a head that sent 3 images of each of 9 classes to class 0 and mended 27 others
passed with every recall unchanged, 27 of class 0's 127 predictions wrong. The p-values of one variant's classes
are corrected for their number (``gate.correction``: Holm or Bonferroni), recall's and false positives' as two
families: one family of both doubled recall's p adj and, on benchmarks/gate.py's runs, lost a planted drop the gate
catches (p adj 0.025 -> 0.050). A metric *regresses* only when its drop (for false positives, its rise) is
significant at ``gate.alpha`` after that correction **and** larger than its ``gate.tolerances`` entry (fnmatch
patterns over the keys above; the key's own entry, else the strictest matching pattern, whatever their order; a
base whose tolerances match no false-positive key, written before the test, gets
:data:`~winnow.gate_table.DEFAULT_TOLERANCES`' 0.02, and the report says so): a tolerance alone flags
noise (one image is 0.001 of accuracy on 1,000 images; a retrained model moves several), and
significance alone flags drops too small to matter. Two exceptions for small classes: a class whose
recall falls to half or less from 0.5 or more, losing at least
:data:`~winnow.gate_table.COLLAPSE_MIN_LOST` images, regresses whatever its p (the head recognises half of what
the base did at most), as does one whose precision halves from 0.5 or more as it takes that many more of the other
classes' images, and at least as many as half its own test images; and a class too small for any drop to be
significant (losing every image right at base would test at p adj >= alpha) is named in a ``warning:`` note, as
the gate cannot see it fall short of a collapse.

Several runs a side (``--base A B C``: seeds of one setting, e.g. ``dvc exp run -S seed=N``) are pooled
image by image (:meth:`winnow.paired.PairedCounts.from_runs`), and the runs of a side measure the seed
noise themselves (:func:`winnow.paired.seed_overdispersion`): the gate uses the larger of that phi and
``gate.overdispersion`` / ``gate.accuracy_overdispersion``, so one unlucky seed cannot fail it alone. A
class's phi comes from the other classes' tables: a head seed that lost the class would otherwise widen the
phi that judges the loss (a second head seed once turned a failing gate into a pass). Runs unstable on
other classes still widen it, so each head run is also tested alone: a drop that regresses in every one of
them regresses; and a class that any one head run halves is collapsed. A run on both sides is refused: pooled
against itself, it halves every change the others make.

It never passes on broken input: a gated metrics file (``gate.files``) holding NaN, an infinity or a string at
either revision, or missing at one (:mod:`winnow.gate_files`), predictions missing at either revision, a
blank prediction or one naming no test class, an evaluate metrics file missing beside its predictions or disagreeing
with them (:func:`winnow.evaluated.check_headline`), a commit whose own dvc.lock or params.yaml contradicts its
predictions (:func:`winnow.staleness.check_commit_current`), a target without the dvc.yaml its base holds
(:func:`check_still_a_pipeline`), test sets that differ (but for a class renamed or added:
:mod:`winnow.gate_classes`), a model at either revision no
better than naming one class for every test image (:func:`check_learnt`), an unknown revision or bad ``gate`` params
each end in one ``error:`` line (exit status 1).

Its settings (tolerances, alpha, correction, overdispersion, the files it checks) are the base's
``gate`` section (:func:`winnow.gate_settings.base_settings`): a change cannot loosen the gate that judges it. A
change to that section judges the changes after it, once merged; the report says when the two differ.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

from winnow import lock_entries, revisions, staleness
from winnow.cli_args import a_name, output_file, project_folder
from winnow.errors import WinnowError, first_repeated
from winnow.output_paths import check_output
from winnow.params_compared import differing, seed_of
from winnow.evaluated import check_headline, headline_classes, natural_order, read_headline, read_predictions
from winnow.gate_classes import unrename, without_new_classes
from winnow.gate_files import check_gated_files, check_gated_files_everywhere, committable_text
from winnow.gate_report import REPORT_HEADING, report, tolerance_notes
from winnow.gate_settings import base_settings, passed_over
from winnow.gate_table import GateSettings, paired_rows, revision_list, unused_tolerances
from winnow.metrics import (
    METRICS_FILE, PREDICTIONS_FILE, metrics_path, no_better_than_one_class, predictions_path, recall_total, variant_of,
)
from winnow.yaml_text import load_yaml


def gate(repo: str | Path, *, base: str | list[str], target: str | list[str], settings: GateSettings,
         variants: list[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Every paired test of every variant evaluated at both revisions.

    Args:
        base, target: a revision each, or several: runs that are seeds of one setting (``dvc exp run -S
            seed=N`` experiments, by name or commit), pooled image by image.

    Returns:
        ``(table, notes)``: :data:`COLUMNS` rows and ``new_at`` (the first run a class without test images at the
        base has test images at, or ""); ``notes`` names variants new at ``target`` (nothing to compare them with, so
        not gated).

    Raises:
        WinnowError: one line for everything that makes the comparison impossible or untrustworthy.
    """
    names = {"base": revision_list(base), "target": revision_list(target)}
    revs = {side: [revisions.resolve(repo, name, option=f"--{side}") for name in runs] for side, runs in names.items()}
    shared = [(name, rev) for name, rev in zip(names["target"], revs["target"]) if rev in revs["base"]]
    if shared and len(revs["base"]) + len(revs["target"]) > 2:  # one run a side, the same: truly no change
        name, rev = shared[0]
        raise WinnowError(f"--target {name}: is a --base run too ({names['base'][revs['base'].index(rev)]}, the same "
                          "run), and pooled, a run tested against itself hides part of every change the others make; "
                          "give each side its own runs (dvc exp run -S seed=N on each revision)")
    read: dict[tuple[str, str], str | None] = {}  # (rev, path) -> text: a gated metrics file is checked twice
    ignored = revisions.ignored_rules(repo)  # git lists the workspace once a run, not once a file

    def text_at(rev: str, path: str) -> str | None:
        if (rev, path) not in read:
            read[rev, path] = committable_text(repo, rev, path, ignored=ignored)
        return read[rev, path]

    held = check_gated_files(repo, names=names, revs=revs, settings=settings, text_at=text_at)
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
    pairable = [v for v in sorted(found["base"] & found["target"], key=natural_order)
                if all(v in at_rev[rev] for rev in at_rev)]  # evaluated at every revision gated
    problems, notes, compared, texts = [], [], [], {}  # texts: (variant, side) -> each run's predictions CSV, read once
    for variant in wanted:
        at = [side for side in revs if variant in found[side]]
        # a variant the base's params.yaml lists is not new there: its evaluate never ran or was not committed, and
        # before, the target's predictions of it passed ungated as "new at workspace", however bad
        unmeasured = at == ["target"] and any(variant in (listed_at[rev] or ()) for rev in revs["base"])
        if at == ["target"] and not variants and not unmeasured:
            notes.append(f"{variant}: new at {label['target']}, nothing at {label['base']} to compare with (not gated)")
            continue
        for side in revs:
            texts[variant, side] = [text_at(rev, predictions_path(variant)) for rev in revs[side]]
        missing = [(side, name, rev, text) for side in revs
                   for name, rev, text in zip(names[side], revs[side], texts[variant, side])
                   if text is None or variant not in at_rev[rev]]
        if missing:
            side, name, rev, text = missing[0]
            others = _instead(variant, variants=variants, pairable=pairable)
            if text is not None:
                problems.append(f"{variant} is not in params.yaml's variants at {name}, so its evaluate files there "
                                f"are left over from a run before it was dropped ({others})")
            else:  # "gone" only where params.yaml leaves it out (or lists nothing and no file of it is left)
                gone = variant not in listed_at[rev] if listed_at[rev] is not None else variant not in found[side]
                new = at == ["target"] and not unmeasured
                problems.append(f"{predictions_path(variant)} missing at {name}"
                                + (f" ({variant} is new at {label['target']}, nothing at {name} to compare it with: "
                                   f"{others})" if new else f" (the variant is gone there: {others})" if gone else
                                   " (its params.yaml there lists the variant, so it is not new: its evaluate did not "
                                   f"run or its outputs were not committed; {others})" if unmeasured else ""))
        else:
            compared.append(variant)
    if problems:
        raise WinnowError("; ".join(problems) + "; the gate pairs every variant's test predictions at both "
                          "revisions: run `dvc repro evaluate` and commit metrics/evaluate/ at each")
    if not compared:
        raise WinnowError(f"no variant has test predictions at both {label['base']} and {label['target']} "
                          f"({PREDICTIONS_FILE}); run `dvc repro evaluate` and commit metrics/evaluate/ at both")
    evaluated = [f"evaluate@{variant}" for variant in compared]
    check_still_a_pipeline(repo, names=names, revs=revs)
    if revisions.WORKSPACE in revs["base"] + revs["target"]:
        staleness.check_workspace_current(repo, evaluated)
    for side in revs:
        for name, rev in zip(names[side], revs[side]):
            if rev != revisions.WORKSPACE:
                staleness.check_commit_current(repo, rev, name=name, targets=evaluated)
    tables, new_at = [], {}  # new_at: (variant, class) -> the run a class first has test images at (gate_classes)
    for variant in compared:
        frames, known = [], None  # known: the classes the first base run's metrics score, test images or none
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
                check_learnt(frame, where=f"{predictions_path(variant)} at {name}", variant=variant)
                frames[-1].append(frame)
                known = headline_classes(written) if known is None else known
        every = [name for side in revs for name in names[side]]
        notes += unrename(frames, names=every, variant=variant)
        said, added = without_new_classes(frames, names=every, variant=variant, known=known)
        notes += said + _undigested(frames, names=every, variant=variant)
        new_at |= {(variant, c): name for c, name in added.items()}
        tables.append(paired_rows(*frames, variant=variant, settings=settings))
    notes += check_gated_files_everywhere(held, names=names, revs=revs, gated=compared,
                                          variants=found["base"] | found["target"], settings=settings)
    table = pd.concat(tables, ignore_index=True)
    table["new_at"] = [new_at.get(key, "") for key in zip(table["variant"], table["class"])]
    unmatched, overridden = unused_tolerances(table, settings)
    unmatched, overridden, passed = passed_over(settings, unmatched, overridden)
    notes += passed
    if unmatched:
        raise settings.refusal(f"{', '.join(unmatched)} match no metric the gate tests (accuracy, "
                               "per_class.<class>.recall, per_class.<class>.false_positives); remove them or give the "
                               "pattern of a tested metric")
    if overridden:  # a user who wrote it meant it to apply somewhere: say that it never does
        shown = ", ".join(f"{p}: {settings.tolerances[p]:g}" for p in overridden)
        raise settings.refusal(f"{shown} decide no metric: each metric a pattern matches takes its own key's entry, "
                               "else the strictest pattern that matches it, whatever the order; remove them or make "
                               "them stricter than what overrides them")
    return table, tolerance_notes(table, settings) + notes


def _instead(variant: str, *, variants: list[str] | None, pairable: list[str]) -> str:
    """What to gate instead of a ``variant`` the gate cannot pair (``variants``: those --variants named, if any;
    ``pairable``: those evaluated at every revision gated). Before: "pass --variants to gate the others" to a user who
    had passed --variants, then "leave it out of --variants" also of the one variant --variants named, which leaves it
    naming none."""
    others = [v for v in pairable if v != variant]
    if not others:
        return "no other variant is evaluated at every revision gated"
    if not variants:
        return "pass --variants to gate the others"
    if any(v in others for v in variants):
        return "leave it out of --variants"
    return f"name the others in --variants instead: {', '.join(others)}"


def _undigested(frames: list[list[pd.DataFrame]], *, names: list[str], variant: str) -> list[str]:
    """A ``warning:`` note naming the first run whose predictions hold no pixel ``digest`` where another run's do
    (``frames``: the base runs' and the target runs' predictions, ``names`` theirs in the same order): written by an
    evaluate from before the digests, its test images are paired by id and label alone. Before: the pixel check was
    skipped without a word, and a first pull request after the upgrade that re-exported the test images under the
    same names passed as if they had been checked."""
    held = ["digest" in frame.columns for frame in frames[0] + frames[1]]
    if all(held) or not any(held):
        return []
    return [f"warning: {variant}: the predictions at {names[held.index(False)]} name no pixel digest (evaluate wrote "
            "none before they were added), so the gate cannot tell whether a test image's pixels changed under the "
            "same id and pairs them by id and label alone; rerun evaluate there to have the pixels checked"]


def check_learnt(frame: pd.DataFrame, *, where: str, variant: str) -> None:
    """One line when the model behind ``frame`` (:func:`winnow.evaluated.read_predictions`'s) does no better on the
    test classes than naming one class for every image (its recalls add up to at most 1,
    :func:`winnow.metrics.recall_total`), missing some. before: a base whose model never learnt let any head pass
    (nothing can regress below naming one class), and a head whose model never learnt passed beside such a base;
    then accuracy alone was weighed against the largest class's share, and a model right on 89% of a test split 90%
    one class (recall 0.88 there, 1.0 on each other class) was refused as never learnt."""
    hits = frame["label"] == frame["predicted"]
    recalls = hits.groupby(frame["label"]).mean()
    total = recall_total(recalls)
    if no_better_than_one_class(hits.mean(), recalls):
        raise WinnowError(f"{where}: the model's recalls of the {frame['label'].nunique()} test classes add up to "
                          f"{total:.4f} (right on {int(hits.sum())} of {len(frame)} test images), no more than naming "
                          f"one class for every image scores (1): it did not learn, so the gate cannot judge {variant} "
                          f"by it; rerun train@{variant} and evaluate@{variant} there (check train.lr, "
                          "train.weight_decay and train.epochs), or pass revisions whose models learnt")


def check_still_a_pipeline(repo: str | Path, *, names: dict[str, list[str]], revs: dict[str, list[str]]) -> None:
    """One line when a target run holds no dvc.yaml where a base run holds one (``names``, ``revs``: the revisions of
    each side as given and as resolved). The staleness checks read a folder without dvc.yaml as it is (a project whose
    outputs DVC does not make), and `dvc status` of such a checkout is clean: before, a change that deleted dvc.yaml
    and committed predictions by hand was gated on them, CI's remote path included, and passed."""
    piped = next((name for name, rev in zip(names["base"], revs["base"])
                  if revisions.read_bytes(repo, rev, "dvc.yaml") is not None), None)
    if piped is None:  # a base from before the pipeline (or a plain folder): nothing to keep
        return
    for name, rev in zip(names["target"], revs["target"]):
        if revisions.read_bytes(repo, rev, "dvc.yaml") is None:
            raise WinnowError(f"--target {name}: no dvc.yaml there, where {piped} has one, so nothing shows that its "
                              "predictions are what the pipeline makes (dvc status and the commit check read "
                              "dvc.yaml); restore dvc.yaml and dvc.lock, run dvc repro, then again")


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
        params.append(load_yaml(text, name=f"params.yaml at {name}") or {})
    for name, other in zip(names[1:], params[1:]):
        differ = sorted(differing(params[0], other) - {"seed"})
        if differ:
            raise WinnowError(f"{option} {names[0]} {name}: the runs differ in {', '.join(differ[:5])}, not only "
                              "in seed; pool only seeds of one setting (dvc exp run -S seed=N)")
    # the same params run by other code (a seed run from before the change under test) is another setting too
    inputs = [lock_entries.locked_inputs(repo, rev) for rev in revs]
    for name, other in zip(names[1:], inputs[1:]):
        differ = sorted(path for path in set(inputs[0]) | set(other) if inputs[0].get(path) != other.get(path))
        if differ:
            raise WinnowError(f"{option} {names[0]} {name}: the runs ran other code or inputs ({', '.join(differ[:3])}"
                              f"{' …' if len(differ) > 3 else ''} differ in their dvc.lock), not only another seed; "
                              "pool only seeds of one commit (dvc exp run -S seed=N)")
    seen: dict[int, str] = {}
    for name, values in zip(names, params):
        try:  # as compare tells seeds apart: before, a seed missing or at -1 (no stage runs) pooled as one of its own
            seed = seed_of(values)
        except ValueError as err:
            raise WinnowError(f"{option} {name}: params.yaml {err}; pool only runs of winnow's stages") from None
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
        text = revisions.read_text(repo, rev, "params.yaml") or ""
        listed = (load_yaml(text, name="params.yaml") or {}).get("variants")
    except (WinnowError, AttributeError):
        return None
    return set(listed) if isinstance(listed, list) and all(isinstance(v, str) for v in listed) else None


REPORT_PATH = "reports/gate.md"  # where the README's and CI's gate write the report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # each list option given twice takes both lists (action extend): before, the last one alone was gated
    parser.add_argument("--base", required=True, nargs="+", action="extend", type=a_name("revision"),
                        help="the revision to compare against, e.g. main or origin/main; several (dvc exp names or "
                             "commits of one setting at other seeds) are pooled")
    parser.add_argument("--target", nargs="+", action="extend", type=a_name("revision"),
                        help="the revision under test (default: the workspace); several are pooled, as for --base")
    parser.add_argument("--repo", default=".", type=project_folder,
                        help="the DVC project, a git repository (default: here)")
    parser.add_argument("--variants", nargs="+", action="extend", type=a_name("variant"),
                        help="gate only these variants (default: every one evaluated)")
    parser.add_argument("--markdown", type=output_file(REPORT_PATH),
                        help=f"also write the report here, e.g. {REPORT_PATH}")
    parser.add_argument("--all", action="store_true", help="list every class, unchanged ones too")


def _remove_earlier_report(path: str) -> None:
    """Remove an earlier gate's report at ``path``; refuse a file there that is no gate report. Before: outside a
    DVC project (where no pipeline file is known) ``--markdown params.yaml`` deleted the params before the gate
    refused to run without them."""
    try:
        with open(path, "rb") as earlier:
            start = earlier.read(len(REPORT_HEADING.encode()))
    except FileNotFoundError:
        return
    if start and start != REPORT_HEADING.encode():  # an empty file holds nothing to lose
        # the path the example names: before, "give another path, e.g. --markdown reports/gate.md", the same path
        same = os.path.normpath(path) == os.path.normpath(REPORT_PATH)
        other = "move that file away, or give another path" if same else \
            f"give another path, e.g. --markdown {REPORT_PATH}"
        raise WinnowError(f"--markdown {path}: holds a file that is no gate report, which this would overwrite; "
                          f"{other}")
    Path(path).unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    from winnow.stage import load_params, write_text

    check_output(args.markdown, option="--markdown", example=REPORT_PATH)
    if args.markdown:  # before: an earlier gate's "gate: PASS" stayed there beside this gate's error
        _remove_earlier_report(args.markdown)
    repeated = first_repeated(args.variants or [])
    if repeated is not None:  # before: its rows were tested twice and each regression counted twice
        raise WinnowError(f"gate --variants: {repeated} given twice; name each variant once")
    # the workspace's params, valid as a whole, as for every command
    load_params(Path(args.repo) / "params.yaml", repo=args.repo)
    # the names typed only: before, the default --target was refused too when a branch was called workspace, naming
    # a --target the user never gave, and no name was left to gate the working tree by
    for option, names in (("--base", args.base), ("--target", args.target or [])):
        for name in names:
            revisions.check_unambiguous(args.repo, name, option=option)
    args.target = args.target or [revisions.WORKSPACE]
    settings, setting_notes = base_settings(args.repo, base=args.base, target=args.target)
    table, notes = gate(args.repo, base=args.base, target=args.target, settings=settings, variants=args.variants)
    text, passed = report(table, setting_notes + notes, base=args.base, target=args.target, settings=settings,
                          everything=args.all)
    if args.markdown:  # first: before, a write that failed (a full disk) came after "gate: PASS" on stdout
        write_text(args.markdown, text)
    print(text, end="")
    return 0 if passed else 1
