"""The runs `winnow compare` reads from ``dvc exp show``: which variants they evaluated, the workspace left out
when it holds a run no commit holds, the runs that are seeds of one setting (:func:`select_runs`: everything but
``seed`` in params.yaml the same, and the same classes evaluated), and each run's evaluate metrics of a metric
(:func:`run_metrics`, from git at the run's revision where DVC does not show it).
"""

from __future__ import annotations

import json
from pathlib import Path

from winnow import markdown, revisions
from winnow.errors import WinnowError, first_line, listed
from winnow.experiments import same_inputs
from winnow.metrics import METRICS_FILE, metrics_path, summary_path, variant_of
from winnow.param_rules import finite_number
from winnow.params_compared import same_setting, seed_of


def other_than_runs_json(path: Path) -> str | None:
    """What ``path`` is when it holds a file other than the runs' JSON ``compare --out`` writes beside its markdown
    (``{"runs": [...], "variants": [...]}``), which a new comparison would overwrite; None when there is no such file,
    it is empty, or an earlier comparison wrote it. Before: ``--out labels.md`` replaced the user's labels.json, a
    file they never named, exit 0."""
    try:
        text = path.read_bytes()
    except OSError:  # none there (or unreadable: the write says why)
        return None
    try:
        shown = json.loads(text) if text.strip() else {"runs": [], "variants": []}
    except (ValueError, RecursionError):  # also nesting past the parser's (before: a RecursionError traceback)
        shown = None
    return None if isinstance(shown, dict) and set(shown) == {"runs", "variants"} else \
        "a file other than the list of runs compare writes there"


def evaluated_variants(records: list[dict]) -> list[str]:
    """Every variant with an evaluate metrics file in any of ``records`` (see :func:`select_runs`)."""
    return sorted({v for record in records for path in record["metrics"]
                   if (v := variant_of(path, METRICS_FILE)) is not None})


def without_workspace(records: list[dict], *, variants: list[str]) -> tuple[list[dict], str]:
    """``records`` without the workspace's, and a note when the workspace holds evaluate metrics of
    ``variants`` that no commit or experiment holds: a run not yet committed, which compare cannot pair with
    its revision's files ("" otherwise; a clean workspace repeats its commit's metrics)."""
    kept = [r for r in records if r["rev"] != revisions.WORKSPACE]
    paths = [metrics_path(v) for v in variants]
    for record in records:
        if record["rev"] != revisions.WORKSPACE:
            continue
        shown = [record["metrics"].get(p) for p in paths]
        if any(shown) and all([r["metrics"].get(p) for p in paths] != shown for r in kept):
            return kept, ("left out the workspace: its metrics of " + ", ".join(variants) + " are in no commit or "
                          "experiment; commit them (or run them with dvc exp run) to count them")
    return kept, ""


def select_runs(records: list[dict], *, variants: list[str]) -> tuple[list[dict], str]:
    """The runs that are seeds of one setting.

    Args:
        records: one dict per commit or experiment, as :func:`winnow.experiments.experiments_from_show` makes
            them: ``experiment``, ``rev``, ``params`` (params.yaml) and ``metrics`` (file → dict).
        variants: every run must have evaluated these.

    Returns:
        ``(runs, note)``: ``runs`` are the records of the group with the most seeds that agree on every param but
        ``seed``, on the classes evaluated and on the code and inputs read, one per seed (the first of a repeated
        seed: an experiment that repeats a commit's run is not a second seed), each with ``variants``: variant → its
        evaluate metrics; ``note`` says what was left out and why ("" when nothing).
    """
    complete, incomplete = [], []
    for record in records:
        evaluated = {v: _evaluated(record, v) for v in variants}
        if all(m.get("per_class") for m in evaluated.values()):
            complete.append({**record, "variants": evaluated})
        else:
            incomplete.append(record["experiment"])
    if not complete:
        return [], ""
    # the first of the groups with the most seeds: exp show lists the commit first
    chosen, other_settings = same_setting(
        complete, varied=("seed",), where="compare",
        # as a set: the tables pair classes by name (class_table), and a run listing them in another order is a seed
        # of the same setting (before: left out as "other settings (the classes evaluated)")
        also=("the classes evaluated", lambda r: {v: sorted(m["per_class"]) for v, m in r["variants"].items()}),
        # the most seeds, not the most runs: before, 4 runs of one setting at seed 0 (one seed, repeated) outweighed 3
        # seeds of the commit's setting, and compare showed 1 run of the other setting; likewise runs of other code
        size=_seeds_of_one_code)
    chosen, other_code = same_inputs(chosen, size=_seeds)
    runs, seeds, repeating = [], set(), []
    for record in chosen:
        try:  # "0" and 0: two seeds? a run without one, or at -1: a seed no winnow run has
            seed = seed_of(record["params"])
        except ValueError as err:
            raise WinnowError(f"experiment {record['experiment']}: params {err}; compare reads the runs' params as "
                              "`dvc exp show --json` writes them") from err
        if seed not in seeds:
            seeds.add(seed)
            runs.append(record)
        else:
            repeating.append(record["experiment"])
    notes = [n for n in (other_settings, other_code) if n]
    # each named, as the notes before them name theirs (before: a count alone, so a user could not tell which of
    # their experiments the table left out)
    if repeating:
        notes.append(f"left out {len(repeating)} run(s) repeating a seed: {listed(repeating)}")
    if incomplete:
        notes.append(f"left out {len(incomplete)} run(s) without metrics for all of {', '.join(variants)}: "
                     f"{listed(incomplete)}")
    return runs, "; ".join(notes)


def _seeds(records: list[dict]) -> int:
    """How many seeds ``records`` ran (params ``seed``, compared as JSON)."""
    return len({json.dumps(r["params"].get("seed")) for r in records})


def _seeds_of_one_code(records: list[dict]) -> int:
    """The most :func:`_seeds` of the ``records`` that read one code and inputs: what compare keeps of a setting
    (:func:`winnow.experiments.same_inputs`). Before: a setting was sized by its seeds of every code, and 4 seeds, 2
    of each of two codes, outweighed another setting's 3 seeds of one code; compare then showed 2."""
    return _seeds(same_inputs(records, size=_seeds)[0])


def _evaluated(record: dict, variant: str) -> dict:
    """The evaluate metrics of ``variant`` in one record ({} when it has none), refused in one line when they are
    not a mapping whose ``per_class`` maps each class to its metrics (a hand edit, a file of another kind)."""
    shown = record["metrics"].get(metrics_path(variant))
    if shown is None:
        return {}
    per_class = shown.get("per_class") if isinstance(shown, dict) else None
    if not isinstance(shown, dict) or (per_class is not None and not (
            isinstance(per_class, dict) and all(isinstance(v, dict) for v in per_class.values()))):
        raise WinnowError(f"experiment {record['experiment']}: {metrics_path(variant)} is not evaluate's metrics "
                          f"(a mapping whose per_class maps each class to its metrics): {str(shown)[:60]!r}; rerun "
                          f"evaluate@{variant} there, or leave the run out")
    return shown


def run_metrics(run: dict, *, metric: str, repo: str, unread: list[str] | None = None) -> dict[str, dict]:
    """variant → a summary holding ``metric`` for every class, for one run of :func:`select_runs`.

    The metrics DVC shows hold per-class F1 only, without each class's ``support``; any other metric comes from the
    run's ``metrics/evaluate/<variant>/summary.json``, read from git at the run's revision, and so does F1's support
    where that file is there: with it, :func:`winnow.compare.class_table` leaves a class without test images out of
    the average and std rows, as evaluate's macro figures do (before, compare's F1 rows averaged its 0 in while its
    precision rows, read from the summary, left it out). Without it (a saved exp show of commits this clone lacks,
    a run from before summaries), F1 is what DVC shows, every class averaged; so it is where the file is there but
    broken (not UTF-8, not JSON, no per-class table), each such file then added to ``unread`` as ``"<run>: <file>,
    <why>"`` for a note (before: read as missing without a word, and a class without test images averaged in)."""
    out = {}
    for variant, shown in run["variants"].items():
        # DVC shows every class's F1 (metrics.headline): one it lacks is a broken file, which class_table names;
        # before, it sent compare to the summary, and a clone without that commit read "compare f1" comparing f1
        if metric == "f1" or all(metric in values for values in shown["per_class"].values()):
            summary = _summary_at(run, variant, metric=metric, repo=repo, needed=False, unread=unread,
                                  classes=list(shown["per_class"]))
            if summary is not None:
                _check_shown(run, variant, shown=shown, summary=summary)
            out[variant] = shown if summary is None else {**shown, "per_class": {
                name: {**values, **_support(summary["per_class"].get(name))}
                for name, values in shown["per_class"].items()}}
        else:
            out[variant] = _summary_at(run, variant, metric=metric, repo=repo, needed=True)  # class_table checks each
    return out


def _check_shown(run: dict, variant: str, *, shown: dict, summary: dict) -> None:
    """One line when a class's F1 that DVC shows (``metrics/evaluate/<variant>.json``) is not its summary's at the same
    run (within 1e-6, where the summary gives it as a number): evaluate writes both, so one was edited or is another
    run's. Before: compare showed the metrics file's F1 (pruned's class a 0.95 beside its summary's 0.8) and, with
    --metrics f1 precision, its precision from the summary beside it, exit 0, where the gate refuses the same pair."""
    supports = [values.get("support") for values in summary["per_class"].values()]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in supports):
        return  # a summary broken in itself is named so first (winnow.metrics.check_support), not as disagreeing
    for name, values in shown["per_class"].items():
        said, written = values.get("f1"), summary["per_class"][name].get("f1")
        if not (finite_number(said) and finite_number(written)) or abs(said - written) <= 1e-6:
            continue  # a value of another kind is class_table's to refuse
        raise WinnowError(f"experiment {run['experiment']}: {metrics_path(variant)} shows per_class.{name}.f1 "
                          f"{json.dumps(said)}, its {summary_path(variant)} {json.dumps(written)}: evaluate writes "
                          f"both, so one was edited or is another run's; rerun evaluate@{variant} there, or leave the "
                          "run out")


def unread_note(unread: list[str]) -> str:
    """What ``winnow compare`` says of the summaries :func:`run_metrics` found broken and read as missing, or ""."""
    if not unread:
        return ""
    unread = list(dict.fromkeys(unread))  # one file read for two metrics is named once
    return (f"read {len(unread)} summary file(s) as missing, being broken ({'; '.join(unread)}): F1 there is as DVC "
            "shows it, without each class's count of test images, so a class of none is averaged in unless another "
            "variant's summary of the run says so; rerun evaluate there")


def unsized_zeros_note(runs: list[dict[str, dict]], *, names: list[str], noted: set[str] = frozenset()) -> str:
    """A sentence naming the classes whose F1 reads 0 in a run of ``runs`` (each variant → what :func:`run_metrics`
    gave: DVC's metrics, ``names`` the runs' experiments) where no variant's entry holds its ``support`` (no
    summary.json there: a saved exp show of commits this clone lacks, a run from before summaries; the runs of
    ``noted``, whose summaries are there but broken, :func:`unread_note` names) while the run's own ``macro.f1`` is not
    the mean of every class's F1: evaluate left some class out of it, one of no test image, and the average and std
    rows here count its unmeasured 0. "" otherwise. Before: counted without a word (a class the test split lacked
    lowered the average row from evaluate's 0.5050 to 0.3788 in every run)."""
    zeros: dict[str, None] = {}
    runs_named: dict[str, None] = {}
    for name, run in zip(names, runs):
        if name in noted:
            continue
        for variant in run.values():
            per_class = variant["per_class"]
            if any("support" in e for e in per_class.values()) or not per_class:
                continue
            f1 = [e.get("f1") for e in per_class.values()]
            macro = (variant.get("macro") or {}).get("f1") if isinstance(variant.get("macro"), dict) else None
            if not all(finite_number(x) for x in [*f1, macro]) or abs(sum(f1) / len(f1) - macro) <= 1e-6:
                continue
            found = [c for c, x in zip(per_class, f1) if x == 0]
            if found:
                zeros |= dict.fromkeys(found)
                runs_named[name] = None
    if not zeros:
        return ""
    return (f"F1 of class(es) {listed([markdown.cell(str(c)) for c in zeros])} reads 0 in run(s) "
            f"{listed([markdown.cell(str(r)) for r in runs_named])}, whose summary.json (each class's count of test "
            "images) is not there, and their macro F1 is not the mean of every class's: evaluate left out a class of no "
            "test image, whose unmeasured 0 the average and std rows and the tests here count; run compare in the "
            "repository that holds those runs' commits")


def _support(values) -> dict:
    """``{"support": n}`` of one class's summary entry when it holds the key, whatever its value (a text or negative
    one is refused by :func:`winnow.compare.check_support`; before, it was dropped here, and the class, 0 at every
    variant, averaged in as tested), else {}."""
    return {"support": values["support"]} if isinstance(values, dict) and "support" in values else {}


def _summary_at(run: dict, variant: str, *, metric: str, repo: str, needed: bool,
                unread: list[str] | None = None, classes: list[str] = ()) -> dict | None:
    """``variant``'s summary.json at ``run``'s revision; refused in one line when ``needed`` and it is missing or
    holds no per-class table, else None then, a file there but broken added to ``unread`` (:func:`run_metrics`): so
    is one whose table lacks any of ``classes`` (those DVC shows; before, an empty table or one cut short was read
    for each class's support without a word, and a class without test images averaged in where it had no entry)."""
    path = summary_path(variant)

    def broken(why: str) -> None:
        if unread is not None:
            unread.append(f"{run['experiment']}: {path}, {why}")

    try:
        text = revisions.read_text(repo, run["rev"], path)
    except WinnowError:  # not UTF-8, or a Git LFS pointer (revisions.read_text)
        if needed:
            raise
        pointer = (revisions.read_bytes(repo, run["rev"], path) or b"").startswith(revisions.LFS_POINTER)
        return broken("a Git LFS pointer, not the file" if pointer else "not UTF-8 text")
    if text is None:
        if not needed:
            return None
        try:  # a saved exp show names commits of the clone it came from, which this one may lack
            revisions.resolve(repo, run["rev"], option="--repo")
        except WinnowError as err:
            raise WinnowError(f"compare --metrics {metric}: run {run['experiment']}'s commit {run['rev'][:12]} is "
                              f"not in the repository at {repo}, so its {path} cannot be read; compare f1 (the "
                              "metrics DVC shows hold it), or run compare where that commit is") from err
        raise WinnowError(f"compare --metrics {metric}: {path} is not in run {run['experiment']} "
                          "(evaluated before summaries were written); compare f1, or rerun that experiment")
    where = f"compare --metrics {metric}: {path} in run {run['experiment']}"
    try:
        summary = json.loads(text)
    except (ValueError, RecursionError) as err:  # also a number past 4,300 digits, or nesting past the parser's
        if not needed:
            return broken(f"not valid JSON ({first_line(err)})")
        raise WinnowError(f"{where}: not valid JSON ({first_line(err)}); rerun evaluate@{variant} there") from err
    per_class = summary.get("per_class") if isinstance(summary, dict) else None
    if not isinstance(per_class, dict) or not all(isinstance(v, dict) for v in per_class.values()):
        if not needed:
            return broken("no per-class table")
        raise WinnowError(f"{where}: holds no per_class.<class>.{metric} table; rerun evaluate@{variant} there")
    lacking = [name for name in classes if name not in per_class]
    if lacking:
        return broken(f"no per-class entry for {listed(lacking)}")
    # evaluate writes every class's support: before, an entry without it was read as a class of test images, and one
    # of none was averaged in without a word, as where the entry itself was missing
    unsized = [name for name in (classes or per_class) if "support" not in per_class[name]]
    if unsized and not needed:
        return broken(f"no support for {listed(unsized)}")
    if unsized:
        raise WinnowError(f"{where}: per_class.{unsized[0]} holds no support (its count of test images); rerun "
                          f"evaluate@{variant} there")
    return summary
