"""``winnow study``: collect degrade-study experiments and plot test accuracy and per-class F1 against damage.

Two actions:

- ``winnow study queue [--sweeps ...] [--dry-run]`` queues the standard sweeps
  (:mod:`winnow.study_sweeps`) with ``dvc exp run --queue -S degrade.perturbations=[...]``; run them
  with ``dvc exp run --run-all`` (which waits for them; ``dvc queue start`` returns at once).
- ``winnow study collect`` reads the experiments through DVC's Python API (or a saved
  ``dvc exp show --json``; :mod:`winnow.experiments`), names each one's damage and level from its params, and writes a tidy
  ``plots/study/study.csv`` plus PNGs.

How the damage level is read (:func:`winnow.study_damage.describe`): a study experiment has one perturbation in
``degrade.perturbations`` (or none: the clean run). Its ``sweep`` and curve (``damage``) follow from the
kind, and ``level`` is the x value:

=====================  ===========================================  ================================
sweep                  damage (one curve)                           level
=====================  ===========================================  ================================
label_noise            the kind (symmetric_noise, pair_flip)        ``fraction``
size                   subsample                                    ``keep`` (share of train kept)
class_deletion         class_removal and the classes                number of classes removed
imbalance              class_subsample and its classes / long_tail  ``keep`` / ``imbalance_ratio``
proportion             contamination kind and its options           ``fraction``
strength               contamination kind, options and fraction     its strength option (kernel, ...)
=====================  ===========================================  ================================

A contamination experiment is a point of both its ``proportion`` and its ``strength`` curve; the clean
run is the origin of every curve that has one (level 0, or 1 for size and imbalance). ``--axis PATH``
overrides all this for sweeps of anything else: ``level`` is the params value at PATH (dots, list
indices as numbers, e.g. ``degrade.perturbations.1.fraction``) and ``damage`` the rest of the list.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

from winnow.cli_args import a_name, metrics_file_named, named_from_root, output_path, project_folder, saved_exp_show
from winnow.errors import WinnowError, first_line, listed
from winnow.output_paths import check_output
from winnow.project_outputs import project_root
from winnow.experiments import current_runs, earlier_experiments, left_out_note, load_experiments, same_inputs
from winnow.metrics import METRICS_FILE, is_rate, variant_of
from winnow.outputs import together
from winnow.params_compared import as_values, lookup, same_setting, seed_of
from winnow.stage import check_journal_folder, write_table
from winnow.study_damage import describe
from winnow.study_plots import plot, runs_drawn
from winnow.study_runs import (
    DEGRADE_METRICS, class_names, one_run_each, own_outputs, points, points_of_one_code, ran_as_listed,
    scored_runs, study_runs, untested_classes,
)
from winnow.study_ingested import DEFAULT_DELETIONS, INGESTED_CLASSES
from winnow.study_sweeps import SWEEPS, queue

DEFAULT_METRICS = "metrics/evaluate/baseline.json"
DEFAULT_OUT = "plots/study"  # in the project: dvc.yaml declares the study's PNGs there
UNDAMAGED_LEVEL = {"label_noise": 0.0, "proportion": 0.0, "class_deletion": 0.0, "size": 1.0, "imbalance": 1.0}
# "commit", the experiment's: a column "rev" was hidden in `dvc plots show`'s tooltips, where DVC writes its own
# "rev" (the revision it plotted, "workspace") over each row's
LEADING_COLUMNS = ["sweep", "damage", "level", "experiment", "commit", "accuracy", "macro_f1"]
# after the f1_<class> columns: the metrics file the scores come from and --axis (empty without), so that the report,
# which reads study.csv alone, names them (before: its figure read "level" and said nothing of which variant it drew)
SOURCE_COLUMNS = ["metrics", "axis"]


def tidy(experiments: list[dict], *, metrics_file: str = DEFAULT_METRICS, axis: str | None = None,
         unplaced: list[str] | None = None, untested: dict[tuple[str, str], set[str]] | None = None) -> pd.DataFrame:
    """One row per (experiment, curve point): the columns of :data:`LEADING_COLUMNS`, ``f1_<class>``, then
    :data:`SOURCE_COLUMNS`. ``f1_<class>`` is NaN (no point: unmeasured) for a class of ``untested``'s
    ``(experiment, rev)`` entry (:func:`winnow.study_runs.untested_classes`), whose F1 0 said nothing of the model.

    Experiments without ``metrics_file`` (queued, failed, or another pipeline) or whose params are not a
    study run are left out; those of one damage are named in ``unplaced`` (``"<name> (<kind>)"``), where a legal
    damage with no level this module reads (symmetric_noise by ``rates``) dropped out of a curve without a word;
    with ``axis``, every one without a finite number there (``"<name> (<value>)"``). The clean run is repeated as
    the origin of every curve that has one.

    Raises:
        WinnowError: a record no winnow run writes, or two experiments scored on different classes (runs of
            two data sets: their curves and per-class columns would mix).
    """
    check_metrics_held(experiments, metrics_file)
    rows, classes_of = [], []  # (experiment, its classes): names can repeat across revisions
    for exp in experiments:
        metrics = exp["metrics"].get(metrics_file)
        if metrics is not None and not isinstance(metrics, dict):
            raise WinnowError(f"study: experiment {exp['experiment']}: {metrics_file} holds a "
                              f"{type(metrics).__name__}, not the mapping evaluate writes")
        if metrics is None:
            continue
        if "accuracy" not in metrics:  # before: left out without a word
            raise WinnowError(f"study: experiment {exp['experiment']}: {metrics_file} holds no accuracy (evaluate "
                              "writes one); rerun its evaluate stage, or leave it out of the collection")
        try:
            scores = {"experiment": exp["experiment"], "commit": exp["rev"], "accuracy": _score(metrics["accuracy"]),
                      "macro_f1": _score((metrics.get("macro") or {}).get("f1")), "metrics": metrics_file,
                      "axis": axis or ""}
            unmeasured = (untested or {}).get((exp["experiment"], exp["rev"]), set())
            scores.update({f"f1_{name}": float("nan") if name in unmeasured else _score(values.get("f1"))
                           for name, values in (metrics.get("per_class") or {}).items()})
            points = describe(exp["params"], axis=axis)
            seed_of(exp["params"])  # every stage refuses another: before, seed "0" beside 0 drew two seeds
        except WinnowError as err:  # degrade_options names the parameter
            raise WinnowError(f"study: experiment {exp['experiment']}: {err}") from err
        except (KeyError, TypeError, ValueError, AttributeError) as err:  # a hand-edited or foreign record
            raise WinnowError(f"study: experiment {exp['experiment']}: its params or {metrics_file} are not what a "
                              f"winnow run writes ({type(err).__name__}: {first_line(err)})") from err
        damage = (exp["params"].get("degrade") or {}).get("perturbations") or []
        if not points and unplaced is not None and axis is not None:  # before: dropped without a word
            unplaced.append(f"{exp['experiment']} ({str(lookup(exp['params'], axis, missing='nothing'))[:20]})")
        elif not points and unplaced is not None and len(damage) == 1:  # several: the base run's mix
            unplaced.append(f"{exp['experiment']} ({damage[0].get('kind') if isinstance(damage[0], dict) else '?'})")
        classes_of.append((exp["experiment"], tuple(metrics.get("per_class") or {})))
        rows += [{"sweep": sweep, "damage": damage, "level": level, **scores} for sweep, damage, level in points]
    _one_class_set(classes_of)
    table = pd.DataFrame(rows) if rows else pd.DataFrame(columns=LEADING_COLUMNS + SOURCE_COLUMNS)
    clean = table[table["sweep"] == "clean"]
    origins = [clean.assign(sweep=sweep, damage=damage, level=UNDAMAGED_LEVEL[sweep])
               for sweep, damage in table[["sweep", "damage"]].drop_duplicates().itertuples(index=False)
               if sweep in UNDAMAGED_LEVEL]
    table = pd.concat([table, *origins], ignore_index=True)
    f1_columns = [c for c in table.columns if c.startswith("f1_")]
    return table[LEADING_COLUMNS + f1_columns + SOURCE_COLUMNS].sort_values(
        ["sweep", "damage", "level", "experiment"], ignore_index=True)


def check_metrics_held(experiments: list[dict], metrics_file: str) -> None:
    """Refuse a ``metrics_file`` no experiment holds, or one that holds no accuracy anywhere (not an evaluate
    metrics file): before, both ended in "no experiment is a study run", which sent the user to queue runs."""
    held = [exp["metrics"][metrics_file] for exp in experiments if metrics_file in exp["metrics"]]
    fix = "give --metrics the evaluate metrics file of a variant they ran"
    if experiments and not held:
        raise WinnowError(f"study: no experiment holds {metrics_file} (files they hold: "
                          f"{', '.join(sorted({f for exp in experiments for f in exp['metrics']})[:6]) or 'none'}); "
                          f"{fix}")
    if held and all(isinstance(metrics, dict) for metrics in held) and not any("accuracy" in m for m in held):
        raise WinnowError(f"study: {metrics_file} holds no accuracy in any experiment (not an evaluate metrics "
                          f"file); {fix}")


def _one_class_set(classes_of: list[tuple[str, tuple]]) -> None:
    """Refuse experiments scored on different classes: every study run evaluates on the ingested test split,
    class_removal included (a removed class scores 0 there), so another class set is another data set."""
    for name, classes in classes_of[1:]:
        first, expected = classes_of[0]
        if set(classes) != set(expected):
            raise WinnowError(f"study: experiments {first} and {name} were scored on different classes "
                              f"({listed(expected)} against {listed(classes)}): collect the runs of one "
                              "data set (--rev, or a --from-json of those runs)")


def _score(value) -> float:
    """A metric as a float in [0, 1]: evaluate writes every F1, so an absent one (a gap in a curve) is refused."""
    if not is_rate(value):
        raise ValueError(f"{value!r} is not a number in [0, 1]")
    return float(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="action")
    # description too: before, `winnow study collect --help` showed the options alone, never what the action does
    said = "experiments -> plots/study/study.csv and PNGs"
    collect = actions.add_parser("collect", help=said, description=said)
    collect.add_argument("--repo", default=".", type=project_folder, help="the DVC project (default: here)")
    collect.add_argument("--rev", action="append", dest="revs", metavar="REV",
                         help="a baseline revision, once per revision; default HEAD")
    collect.add_argument("--num", type=int, default=1, help="experiments of the last N commits (default 1; -1: all)")
    collect.add_argument("--from-json", type=saved_exp_show,
                         help="a saved `dvc exp show --json` instead of the repository (- reads "
                              "standard input)")
    collect.add_argument("--metrics", default=DEFAULT_METRICS, type=metrics_file_named,
                         help=f"metrics file (default {DEFAULT_METRICS})")
    collect.add_argument("--axis", help="params path of the level, e.g. degrade.perturbations.0.fraction")
    collect.add_argument("--out", type=output_path, help=f"folder for study.csv and the PNGs (default: {DEFAULT_OUT} "
                                                         "of the project --repo names)")
    said = "queue the standard sweeps with dvc exp run --queue"
    queue = actions.add_parser("queue", help=said, description=said)
    # a list option given twice takes both lists (action extend): before, the last one alone was queued
    queue.add_argument("--sweeps", nargs="+", action="extend", choices=SWEEPS, help="default: every sweep")
    queue.add_argument("--classes", nargs="+", action="extend", type=a_name("class name"),
                       help="class names deleted one at a time by class_deletion (default: every class of "
                            f"{INGESTED_CLASSES}, which `dvc repro ingest` writes; refused past "
                            f"{DEFAULT_DELETIONS} classes, each a full dvc repro: name them here)")
    queue.add_argument("--grayscale", action="store_true", help="colour data: also queue grayscale conversion")
    queue.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")


def run(args: argparse.Namespace) -> int:
    if args.action == "queue":
        return queue(args)
    if args.out is None:
        args.out = _default_out(args.repo)
    args.metrics = named_from_root(args.metrics, args.repo)  # DVC names it from the root of the project --repo names
    if Path(args.out).suffix.lower() in (".csv", ".png") and not Path(args.out).is_dir():
        # before: --out results/study.csv wrote results/study.csv/study.csv and the PNGs beside it, exit 0
        raise WinnowError(f"study collect --out {args.out}: names a file, but --out is the folder study.csv and the "
                          f"PNGs are written into; give a folder, e.g. --out {Path(args.out).parent}")
    # its files are written into it, one by one: the folder itself may be a mount point
    check_output(args.out, option="--out", folder=True, example=DEFAULT_OUT, replaced=False)
    for name in ("study.csv", "accuracy.png"):
        check_output(Path(args.out) / name, option="--out")
    check_journal_folder("study collect", command=True)  # the table and its plots move in together
    if args.axis is not None and not args.axis.strip():  # before: read as no axis, with advice to name one
        raise WinnowError("study collect --axis: empty; give the dotted params path of the level, e.g. "
                          "degrade.perturbations.0.fraction")
    if any(not rev.strip() for rev in args.revs or []):  # before: DVC read an empty revision as HEAD, exit 0
        raise WinnowError("study collect --rev: an empty revision; give a commit, branch or tag (default HEAD)")
    if args.num == 0 or args.num < -1:  # before: 0 collected nothing silently, -2 scanned every commit
        raise WinnowError(f"study collect --num {args.num}: give the number of commits back from HEAD whose "
                          "experiments count (at least 1), or -1 for all")
    if args.from_json is not None and (args.revs or args.num != 1):  # before: ignored, and every run of the file read
        given = "--rev" if args.revs else f"--num {args.num}"
        raise WinnowError(f"study collect {given}: chooses the repository's commits, which --from-json replaces; drop "
                          "one of the two")
    unfinished: list[str] = []
    failed: list[str] = []
    unreadable: list[str] = []
    experiments = load_experiments(repo=args.repo, revs=args.revs, num=args.num, from_json=args.from_json,
                                   unfinished=unfinished, failed=failed, unreadable=unreadable,
                                   reads=[args.metrics, DEGRADE_METRICS])
    check_metrics_held(experiments, args.metrics)  # before the staleness check, which would blame the lock
    experiments = class_names(experiments, [args.metrics])  # a class by its index or its name: one damage
    kept, no_points = study_runs(experiments, axis=args.axis)  # the filters choose among the runs that draw points
    if no_points and not kept and args.axis:
        # before: "no experiment is a study run ... or name the x axis with --axis", to a user who had named it
        raise WinnowError(f"study collect --axis {args.axis}: no experiment holds a number there (a mistyped key, or a "
                          "list index past the end); give the dotted params path of the value the runs vary, e.g. "
                          "degrade.perturbations.0.fraction")
    study, stale = len(kept), ""
    kept, unscored = scored_runs(kept, args.metrics)  # the setting is chosen among the runs that hold the file
    # read: the summary's total, before any is left out; the runs load_experiments left out as queued, failed or unread
    # too, which the notes above it name as left out (before: "2 of 3 experiments" below "left out 1 experiment(s)
    # whose run failed", of 4 listed)
    read = len(experiments) + len(unfinished) + len(failed) + len(unreadable)
    if args.from_json is None:  # a commit whose params changed without dvc repro holds the last run's metrics
        variant = variant_of(args.metrics, METRICS_FILE)
        if variant is not None:
            experiments, stale = current_runs(experiments, repo=args.repo, targets=[f"evaluate@{variant}"])
            current = {id(exp) for exp in experiments}
            kept = [exp for exp in kept if id(exp) in current]
    kept, unlike = ran_as_listed(kept)  # the lock can agree with params its outputs were not made with
    kept, shared = own_outputs(kept)
    # a run with other training settings, or made by other code, on a damage curve would read as the damage's
    varied = ("seed", "degrade.perturbations", *([args.axis] if args.axis else []))  # effect
    kept, note = same_setting(kept, varied=varied, where="study", size=points_of_one_code)  # points, not runs
    kept, other_code = same_inputs(kept, size=points)
    left_out = study - len(kept)
    kept, repeated = one_run_each(kept)
    for said in (left_out_note(unfinished, failed, unreadable), unscored, stale, unlike, shared, note, other_code,
                 repeated):
        if said:
            print(f"study: {said}")
    unplaced: list[str] = []
    # the runs that draw no point too, in the order read: tidy checks their records and names them with --axis
    chosen = {id(exp) for exp in kept + no_points}
    drawn = [exp for exp in experiments if id(exp) in chosen]
    unread: list[str] = []
    untested = untested_classes(drawn, metrics_file=args.metrics, repo=args.repo, unread=unread)
    table = tidy(drawn, metrics_file=args.metrics, axis=args.axis, unplaced=unplaced, untested=untested)
    for said in (_untested_note(untested), unread and (
            f"read {len(unread)} summary file(s) as missing, being broken ({'; '.join(dict.fromkeys(unread))}): a class "
            "of no test images there is drawn at F1 0; rerun evaluate there")):
        if said:
            print(f"study: {said}")
    if unplaced and args.axis:
        print(f"study: left out {len(unplaced)} experiment(s) with no finite number at {args.axis} "
              f"({listed(unplaced)})")
    elif unplaced:
        print(f"study: left out {len(unplaced)} experiment(s) that are not one damage at a level study collect reads "
              f"({listed(unplaced)}); name the level with --axis <params path> to draw them")
    for said in (_uneven_replicates(table), _other_test_splits(table, args.axis)):
        if said:
            print(f"study: {said}")
    no_curve = table[table["sweep"] != "clean"].empty
    not_read = len(unfinished) + len(failed) + len(unreadable)
    # before: "no experiment is a study run ...; queue some", below the lines that said why runs were left out
    if no_curve and (left_out or not_read):
        which = (f"{left_out} study run(s)" if left_out else
                 f"{not_read} experiment(s) still running or queued, failed or unreadable")
        raise WinnowError(f"study: no run is left that draws a curve: {which} were left out above (each line says why "
                          "and what to do)")
    if no_curve and args.from_json is None and not args.revs and args.num == 1:
        _check_earlier_commits(args.repo)
    csv = Path(args.out) / "study.csv"
    with together() as outputs:  # the table and its plots as one: never new plots beside an old table
        written = plot(table, out_dir=args.out, axis=args.axis, source=args.metrics)
        # the scores to 4 digits, the level as read: rounded too, weight decays 1e-6 and 1e-5 (--axis) were one level 0
        scores = [c for c in table.columns if c in ("accuracy", "macro_f1") or c.startswith("f1_")]
        write_table(csv, table.round(dict.fromkeys(scores, 4)))
        # a sweep this collection lacks: removed as the rest lands (before: after it, and a kill between left it)
        for old in sorted(set(Path(args.out).glob("per_class_f1_*.png")) - set(written)):
            outputs.removal(old)
    curves = table[table["sweep"] != "clean"]
    # of every experiment read, the stale ones current_runs left out too
    print(f"study: {runs_drawn(table)} of {read} experiments on "
          f"{curves['sweep'].nunique()} sweeps -> "
          + ", ".join(str(p) for p in [csv, *written]))
    return 0


def _untested_note(untested: dict[tuple[str, str], set[str]]) -> str:
    """A note naming the runs whose test split held no image of a class (:func:`winnow.study_runs.untested_classes`),
    "" for none: their F1 of the class is left out of the per-class figures and study.csv (blank), not drawn as 0."""
    runs = [f"{name}: class(es) {listed(sorted(classes))}" for (name, _), classes in untested.items() if classes]
    if not runs:
        return ""
    return (f"{len(runs)} run(s) had no test image of some class ({'; '.join(runs[:3])}"
            f"{f'; and {len(runs) - 3} more' if len(runs) > 3 else ''}): its F1 there is left out of the per-class "
            "figures and study.csv, not drawn as 0")


def _uneven_replicates(table: pd.DataFrame) -> str:
    """A note naming the curves of ``table`` (:func:`tidy`'s rows) whose points average different numbers of runs, ""
    for none. Each drawn point is the mean of its runs (seeds): before, a level run at one seed beside levels run at
    three drew alike, and nothing said that one point was a single run."""
    runs = table[table["sweep"] != "clean"].groupby(["sweep", "damage", "level"]).size()
    uneven = [f"{sweep} {damage} ({', '.join(f'{n} at {as_values(level)}' for (_, _, level), n in counts.items())})"
              for (sweep, damage), counts in runs.groupby(level=[0, 1]) if counts.nunique() > 1]
    if not uneven:
        return ""
    more = f"; and {len(uneven) - 3} more" if len(uneven) > 3 else ""
    return (f"the points of {len(uneven)} curve(s) average different numbers of runs (seeds): {'; '.join(uneven[:3])}"
            f"{more}; run the missing seeds to draw each point over as many runs")


def _other_test_splits(table: pd.DataFrame, axis: str | None) -> str:
    """A note saying that the points of ``table`` (:func:`tidy`'s rows) along an ``axis`` of ingest's settings were
    scored on different test splits, "" otherwise. Ingest carves and reads the test split: runs of other
    ingest.test_fraction (or split_seed, size, ...) test other images, so a change along the curve is also the test
    set's. Before: drawn as one experiment's curve, and nothing said so."""
    if axis is None or not axis.startswith("ingest.") or table["level"].nunique() < 2:
        return ""
    return (f"--axis {axis} is an ingest setting: each of its {table['level'].nunique()} levels is scored on the "
            "test split its own ingest made, not on one test set, so the curve mixes the setting's effect with other "
            "test images'")


def _default_out(repo: str) -> Path:
    """:data:`DEFAULT_OUT` of the DVC project ``repo`` lies in, as a path from here; here's outside any project. Before:
    always here's, so from a subfolder of the project (or with --repo another one) the study went to a plots/study
    of its own there, beside no dvc.yaml, and the line naming it read as the project's."""
    root = project_root(os.path.realpath(repo))
    return Path(os.path.relpath(os.path.join(root, DEFAULT_OUT))) if root else Path(DEFAULT_OUT)


def _check_earlier_commits(repo: str) -> None:
    """Refuse HEAD alone when its parents hold experiments: before, a commit made after the runs (study.csv itself)
    sent the user to queue the whole study again, while `--num 2` found it."""
    back = earlier_experiments(repo)
    if back:
        raise WinnowError(f"study: no experiment of HEAD is a study run, but {len(back)} earlier commit(s) hold "
                          f"experiments (the nearest {back[0]} commit(s) back); collect them with "
                          f"--num {back[-1] + 1}, or name their commit with --rev")
