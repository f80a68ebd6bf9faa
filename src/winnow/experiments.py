"""The runs of a DVC project as ``compare`` and ``study collect`` read them: ``dvc exp show`` through DVC's Python
API (or a saved ``dvc exp show --json``), one record per commit or experiment, and the rules that say which runs
count together (the same inputs, outputs that are what their own dvc.lock says, runs that have ended).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable, Collection
from pathlib import Path

from winnow import lock_entries, staleness
from winnow.errors import WinnowError, first_line, listed
from winnow.progress_env import check_progress_variables
from winnow.revisions import OUTSIDE_QUEUE, check_committed, not_owned, run_git

# what an entry of ``unreadable`` says of a metrics file a record lacks (exp show's FileNotFoundError)
NOT_THERE = "not there"
UNFINISHED_STATES = ("running", "queued")  # a dvc queue executor's state while its experiment has not run to the end
# an entry of ``unfinished`` run outside the queue ends with `` (<OUTSIDE_QUEUE's words>)``, by its executor's name in
# `dvc exp show --json` (the queue's "dvc-task"): `dvc queue status` lists neither. In the workspace it writes the
# workspace's outputs as it goes; with --temp (executor "tempdir") in a folder under .dvc/tmp/exps/standalone


def experiments_from_show(show: list[dict], *, include_workspace: bool = False,
                          unfinished: list[str] | None = None, failed: list[str] | None = None,
                          unreadable: list[str] | None = None, reads: Collection[str] = ()) -> list[dict]:
    """Flatten ``dvc exp show --json`` (or ``[s.dumpd() for s in repo.experiments.show()]``).

    Args:
        show: baseline records, each with ``rev``, ``name``, ``data`` (``params`` and ``metrics`` by file,
            each ``{"data": {...}}``) and ``experiments`` (ranges whose ``revs`` are records alike).

    Returns:
        One dict per commit or experiment that has data, each commit once: ``experiment`` (name, or rev when unnamed;
        a name two records share followed by the record's rev: ``seed1 (1a2b3c4)``),
        ``rev``, ``params`` (params.yaml as a dict), ``metrics`` (file -> dict), ``inputs`` (what the
        stages read that no stage writes, as DVC lists their hashes: path -> hash; {} where the record has none)
        and ``outputs`` (the stages' outputs but metrics and plots, as its dvc.lock hashes them: path -> hash).
        An experiment its executor still runs (or has queued) is left out, its name added to ``unfinished``: exp
        show lists a running one with its new params beside what its folder holds so far, the baseline's metrics
        until its evaluate ends, which would read as the new setting's results. An experiment whose run failed (or
        an experiment's record DVC could not read) is left out too, its name added to ``failed`` (a commit DVC could
        not read, ``"<name>: the whole commit, <DVC's reason>"`` to ``unreadable``): before, it dropped out of a
        study's curve or a comparison's seeds without a word. So is one where DVC could not read a metrics file
        of ``reads`` (the files the command reads; a damaged JSON), ``"<name>: <file>, <DVC's reason>"`` added to
        ``unreadable``; an error in another file (one a variant not compared never wrote) leaves it in.
    """
    found, seen = [], set()
    # a `dvc exp run` in the workspace writes its outputs there as it goes: before, the workspace was read as a run of
    # its own, its half-written metrics "a commit that holds no metrics file ...: the pipeline has not run there"
    busy = any(state in UNFINISHED_STATES and _executor(exp_range) == "workspace" for baseline in show
               for exp_range, state in _ranges(baseline))
    include_workspace = include_workspace and not busy

    def add(record: dict, *, baseline: bool = False) -> None:
        data, rev = record.get("data"), record["rev"]
        if not (isinstance(rev, str) and rev):  # before: two records of a null rev were one run listed twice, one dropped
            raise TypeError(f"rev {json.dumps(rev, default=str)[:40]} is not a commit")
        # a run listed twice is one run: `--rev HEAD --rev noise30` lists noise30 under HEAD and as a baseline of its
        # own (before: two rows of one run, named noise30 and by its commit)
        if rev == "workspace" and not include_workspace or rev in seen:
            return
        seen.add(rev)
        if not isinstance(record.get("name"), (str, type(None))):  # a mapping as a name broke pandas' sort later
            raise TypeError(f"name {str(record['name'])[:40]!r} is not text")
        if record.get("error"):
            if rev == "workspace":  # no run failed: DVC cannot read the workspace's dvc.lock or params.yaml
                raise WinnowError(f"dvc exp show cannot read the workspace ({_said(record['error'])}); fix "
                                  "its dvc.lock or params.yaml (`git diff` shows what changed: a merge's conflict "
                                  "markers?), then again")
            if baseline:  # no run failed either: DVC cannot read a commit (before: "whose run failed", and `dvc queue
                # logs <commit>`, which names no experiment, as where to read why)
                if unreadable is not None:
                    unreadable.append(f"{record.get('name') or rev[:7]}: the whole commit, {_said(record['error'])}")
            elif failed is not None:
                failed.append(record.get("name") or str(rev)[:7])
            return
        if not data:
            return
        name = record.get("name") or (rev if rev == "workspace" else rev[:7])
        broken = [(path, result["error"]) for path, result in (data.get("metrics") or {}).items()
                  if path in reads and isinstance(result, dict) and result.get("error")]
        if broken:  # before: read as a file of no metrics, and the experiment dropped out of a study's curve unnamed
            path, error = broken[0]
            if unreadable is not None:  # one missing at a commit is no damage: the pipeline has not run there
                # (DVC's Python API gives the exception itself, a saved `dvc exp show --json` its type by name)
                missing = isinstance(error, FileNotFoundError) or isinstance(error, dict) and error.get(
                    "type") == "FileNotFoundError"
                unreadable.append(f"{name}: {path}, {NOT_THERE if missing else _said(error)}")
            return
        found.append({
            "experiment": name, "rev": rev,
            "params": (data.get("params") or {}).get("params.yaml", {}).get("data") or {},
            "metrics": {path: result.get("data") or {} for path, result in (data.get("metrics") or {}).items()},
            "inputs": _inputs(data),
            "outputs": {path: result.get("hash") for path, result in (data.get("outs") or {}).items()
                        if isinstance(result, dict)},
        })

    for baseline in show:
        add(baseline, baseline=True)
        for exp_range, state in _ranges(baseline):
            if state in (*UNFINISHED_STATES, "failed"):
                names = unfinished if state in UNFINISHED_STATES else failed
                if names is not None:
                    first = (exp_range.get("revs") or [{}])[0]
                    names.append(str(exp_range.get("name") or first.get("name") or str(first.get("rev"))[:7])
                                 + (f" ({OUTSIDE_QUEUE[_executor(exp_range)]})"
                                    if _executor(exp_range) in OUTSIDE_QUEUE else ""))
                continue
            for record in exp_range.get("revs") or []:
                add(record)
    # experiment names are unique per commit only: `dvc exp run -n seed1` on two commits, both under --num 2. Before,
    # both were "seed1" in compare's table and its --out JSON, study.csv and the notes, so no reader could tell which
    # run was which; each is named by its commit too, as `dvc exp apply` and `dvc exp show` take it
    # (as git shortens a commit: 7 characters, more where two of one name share them; before, two revs alike in their
    # first 7 were both "seed1 (ccccccc)" again)
    shared: dict[str, list[str]] = {}  # name -> the revs of the records that bear it
    for record in found:
        shared.setdefault(record["experiment"], []).append(record["rev"])
    for record in found:
        revs = shared[record["experiment"]]
        if len(revs) > 1 and record["rev"] != "workspace":
            longest = max(map(len, revs))
            size = next((n for n in range(7, longest) if len({rev[:n] for rev in revs}) == len(revs)), longest)
            record["experiment"] = f"{record['experiment']} ({record['rev'][:size]})"
    return found


def _said(error) -> str:
    """The first line of an error exp show records (``{"type": ..., "msg": ...}`` or a bare message)."""
    return (str(error.get("msg") if isinstance(error, dict) else error).strip().splitlines() or ["?"])[0]


def left_out_note(unfinished: list[str], failed: list[str], unreadable: list[str] = ()) -> str:
    """What a command says of the experiments :func:`experiments_from_show` left out as not yet run, as
    failed, and as holding metrics DVC could not read ("" for none)."""
    notes = []
    for run in OUTSIDE_QUEUE.values():
        here = [name.removesuffix(f" ({run})") for name in unfinished if name.endswith(f" ({run})")]
        unfinished = [name for name in unfinished if not name.endswith(f" ({run})")]
        if here:  # before: "when `dvc queue status` shows them done", which never lists a run outside the queue
            notes.append(f"left out {len(here)} experiment(s) that {run} is still running ({listed(here)}); run this "
                         "again once that dvc exp run ends")
    if unfinished:
        # before: only the wait, which never ends for a queue nobody started (the README's `dvc exp run --run-all`)
        notes.append(f"left out {len(unfinished)} experiment(s) still running or queued ({listed(unfinished)}); run "
                     "this again when `dvc queue status` shows them done (queued ones run once `dvc exp run --run-all` "
                     "starts them)")
    if failed:
        notes.append(f"left out {len(failed)} experiment(s) whose run failed ({listed(failed)}); `dvc queue logs "
                     f"{failed[0]}` says why")
    absent = [entry for entry in unreadable if entry.endswith(NOT_THERE)]
    if absent:  # before: "whose metrics DVC could not read (...[Errno 2] No such file...); check those files at their
        # commits", of a commit on which the pipeline never ran
        notes.append(f"left out {len(absent)} commit(s) or experiment(s) that hold no metrics file this reads "
                     f"({'; '.join(entry.removesuffix(', ' + NOT_THERE) for entry in absent)}): the pipeline has not "
                     "run there, or its metrics were not committed; run it (dvc exp run), or commit what dvc repro "
                     "wrote")
    damaged = [entry for entry in unreadable if not entry.endswith(NOT_THERE)]
    if damaged:
        notes.append(f"left out {len(damaged)} experiment(s) whose metrics DVC could not read ({'; '.join(damaged)})"
                     "; check those files at their commits")
    return "; ".join(notes)


def _inputs(data: dict) -> dict[str, str | None]:
    """``path -> hash`` of what a record's stages read that no stage writes (code, suites), and the raw data's
    listings: its ``deps`` less its ``outs`` and ``metrics`` (:func:`winnow.lock_entries.unwritten_inputs`, the
    gate's rule too); files only (see below)."""
    files = {path: (result or {}).get("hash") for path, result in (data.get("deps") or {}).items()
             if (isinstance(result, dict) or result is None)
             # files only: a folder a stage reads (plots/evaluate) may be one the stages write, as plots, which exp
             # show does not list
             and not str((result or {}).get("hash") or "").endswith(".dir") and (result or {}).get("nfiles") is None}
    return lock_entries.unwritten_inputs(files, written=[path for key in ("outs", "metrics")
                                                         for path in (data.get(key) or {})])


def current_runs(records: list[dict], *, repo: str, targets: list[str]) -> tuple[list[dict], str]:
    """The records whose commit's outputs of the DVC stages ``targets`` are what its own dvc.lock and params.yaml say
    (:func:`winnow.staleness.check_commit_current`), and a note naming the rest: a commit that changed code or
    params without `dvc repro` holds the last run's metrics under its own settings."""
    kept, stale = [], []
    check_progress_variables()  # here, not as a stale run below: the staleness checks import DVC, and with it tqdm
    for record in records:
        # a variant the run's params.yaml does not list has no stage there, though its dvc.lock may keep the entry of
        # an earlier run's (DVC never removes one): before, `dvc exp run -S 'variants=[baseline,pruned]'` was left out
        # as a run "whose metrics their own dvc.lock contradicts (... since dvc.lock's evaluate@balanced ran; rerun
        # `dvc repro` there)", which no rerun mends; its metrics lack that variant's, which the caller says
        variants = (record.get("params") or {}).get("variants")
        mine = [target for target in targets if not isinstance(variants, list) or "@" not in target
                or target.split("@", 1)[1] in variants]
        try:
            staleness.check_commit_current(repo, record["rev"], name=record["experiment"],
                                           targets=mine)
        except WinnowError as err:
            stale.append((record["experiment"], str(err)))
            continue
        kept.append(record)
    if not stale:
        return kept, ""
    first = stale[0][1].split("first: ", 1)[-1].rstrip(")").split("); ")[0]
    return kept, (f"left out {len(stale)} run(s) whose metrics their own dvc.lock contradicts ({first}; rerun "
                  f"`dvc repro` there): " + listed([name for name, _ in stale]))


def same_inputs(records: list[dict], *, size: Callable[[list[dict]], int] = len) -> tuple[list[dict], str]:
    """The records of the largest group that read the same code and inputs (``inputs``, as DVC hashed them),
    the first on a tie, and a note naming the rest: runs of one params.yaml made by other code are not seeds
    of one setting. ``size``: how large a group is (default: its records)."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(json.dumps(record.get("inputs") or {}, sort_keys=True), []).append(record)
    if len(groups) < 2:
        return records, ""
    chosen = max(groups.values(), key=size)
    others = [record for group in groups.values() if group is not chosen for record in group]
    mine = chosen[0].get("inputs") or {}
    differ = sorted({path for r in others for path, value in (r.get("inputs") or {}).items() if mine.get(path) != value}
                    | {path for r in others for path in mine if path not in (r.get("inputs") or {})})
    return chosen, (f"left out {len(others)} run(s) of other code or inputs ({listed(differ, at_most=3)}): "
                    + listed([record["experiment"] for record in others]))


def load_experiments(*, repo: str, revs: list[str] | None, num: int, from_json: str | None,
                     where: str = "study collect", include_workspace: bool = False,
                     unfinished: list[str] | None = None, failed: list[str] | None = None,
                     unreadable: list[str] | None = None, reads: Collection[str] = ()) -> list[dict]:
    """The experiments of ``repo`` through DVC's Python API, or of a saved ``dvc exp show --json`` (records
    as :func:`experiments_from_show` makes them, the workspace's with ``include_workspace``).

    ``repo.experiments.show`` rather than ``dvc.api.exp_show``: the latter flattens the table for
    display, turning the perturbation list into a repr string and prefixing ambiguous metric names.
    ``where`` names the command in an error line.
    """
    if from_json is not None:
        path = Path(from_json)
        if from_json != "-" and not path.is_file():
            what = ("is a folder, not a file" if path.is_dir() else "is not a regular file (to read a pipe, give "
                    "--from-json -)" if path.exists() else "not found")
            raise WinnowError(f"--from-json: {path} {what} (write it with `dvc exp show --json > {path}`)")
        # "-": standard input, as `dvc exp show --json | winnow compare --from-json -`; its hint is the pipe, never
        # a file named "-" (before: "write it with `dvc exp show --json > -`")
        stdin = from_json == "-"
        named, fix = (("standard input", "pipe `dvc exp show --json` into it") if stdin else
                      (str(path), f"write it with `dvc exp show --json > {path}`"))
        if stdin and sys.stdin is None:  # closed at the start (`<&-`): Python sets it to None
            raise WinnowError("--from-json: there is no standard input (it was closed); pipe `dvc exp show --json` "
                              "into it, or give a saved file")
        if stdin and sys.stdin.isatty():  # before: the command waited on the terminal without a word until Ctrl-D
            raise WinnowError("--from-json: standard input is the terminal, not a pipe; pipe `dvc exp show --json` "
                              "into it, or give a saved file")
        try:
            text = sys.stdin.buffer.read().decode() if stdin else path.read_text()
            if stdin and not text.strip():  # the command before the pipe failed (its error is above) or wrote nothing
                raise WinnowError(f"--from-json: standard input is empty ({_why_empty()}); pipe `dvc exp show --json` "
                                  "into it, or give a saved file")
            if not text.strip():  # as standard input's: before, "is not JSON (Expecting value: line 1 column 1 ...)"
                raise WinnowError(f"--from-json: {path} is empty (did `dvc exp show --json` fail as it was written?); "
                                  f"{fix}")
            shown = json.loads(text)
        except WinnowError:
            raise
        except (ValueError, RecursionError) as err:  # also a number past 4,300 digits, or nesting past the parser's
            raise WinnowError(f"--from-json: {named} is not JSON ({first_line(err)}); {fix}") from err
        if not isinstance(shown, list):
            raise WinnowError(f"--from-json: {named} is not a `dvc exp show --json` list of revisions; {fix}")
        if not shown:  # exp show lists the workspace at least; before: "no experiment is a study run; queue some"
            raise WinnowError(f"--from-json: {named} lists no revisions (an empty list); {fix}")
        try:
            return experiments_from_show(shown, include_workspace=include_workspace, unfinished=unfinished,
                                         failed=failed, unreadable=unreadable, reads=reads)
        except (KeyError, TypeError, AttributeError) as err:
            raise WinnowError(f"--from-json: {named}: a record is not what `dvc exp show --json` writes "
                              f"({type(err).__name__}: {first_line(err)})") from err
    return experiments_from_show(shown_experiments(repo=repo, revs=revs, num=num, where=where),
                                 include_workspace=include_workspace, unfinished=unfinished, failed=failed,
                                 unreadable=unreadable, reads=reads)



def _why_empty() -> str:
    """Why standard input read nothing, for :func:`load_experiments`' line: a pipe's command before it failed or wrote
    nothing; /dev/null or an empty file is no pipe at all (before: "did `dvc exp show --json` before the pipe fail?"
    there too, for a command run from cron, a CI step or ``< /dev/null``, where no command came before it)."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (AttributeError, OSError, ValueError):  # no descriptor behind it: said as a pipe
        mode = stat.S_IFIFO
    if stat.S_ISCHR(mode):
        return "it reads /dev/null, no pipe"
    if stat.S_ISREG(mode):
        return "it reads an empty file, no pipe"
    return "did `dvc exp show --json` before the pipe fail?"


def shown_experiments(*, repo: str, revs: list[str] | None, num: int, where: str) -> list[dict]:
    """``dvc exp show --json``'s records of ``repo`` through DVC's Python API, queued and failed experiments too."""
    check_progress_variables()  # DVC imports tqdm, which reads them
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    check_history(repo, revs=revs, num=num, where=where)
    check_committed(repo, where=f"{where} --repo {repo}", needs="it holds no experiment to read")
    try:
        with Repo(repo) as dvc_repo:
            # queued ones too, so that they are named as not yet run (before: "no experiment is a study run; queue
            # some", to a user whose study waited in the queue)
            states = dvc_repo.experiments.show(revs=revs, num=num, hide_queued=False, hide_failed=False)
    except DvcException as err:  # not a DVC project, unknown revision, ...: one line, as every stage error
        raise WinnowError(f"{where} --repo {repo}: {err}") from err
    except Exception as err:  # libgit2's GitError (scmrepo's pygit2) for a checkout another user owns
        if "not owned by current user" not in str(err):
            raise
        raise WinnowError(f"{where} --repo {repo}: {not_owned(repo, str(err))}") from err
    return [state.dumpd() for state in states]


def check_history(repo: str, *, revs: list[str] | None = None, num: int, where: str) -> None:
    """One line when ``num`` commits back from HEAD (or from each of ``revs``; -1: all) reach past the history of a
    shallow clone (CI's actions/checkout fetches one commit): dvc exp show reads the commits that are there and no
    more. Before, `winnow compare --num 3` in a clone of depth 1 compared HEAD's runs alone, as if the two commits
    before it held none. Cut off means the last commit there records a parent the clone lacks: a clone made shallow by
    another branch's shallow fetch holds HEAD's whole history (before: --num 5 of its 4 commits was refused), and a
    --rev of a branch fetched shallow is cut off whatever HEAD holds (before: HEAD was counted, and it passed)."""
    if num == 1 or run_git(repo, "rev-parse", "--is-shallow-repository").stdout.strip() != "true":
        return
    for rev in revs or ["HEAD"]:
        limit = [f"--max-count={num}"] if num > 0 else []
        held = run_git(repo, "rev-list", "--first-parent", *limit, "--end-of-options", rev, "--").stdout.split()
        if not held or len(held) == num:  # a revision git cannot read is DVC's to name; or deep enough
            continue
        header = run_git(repo, "cat-file", "commit", held[-1]).stdout.split("\n\n")[0].splitlines()
        if any(line.startswith("parent ") for line in header):
            raise WinnowError(f"{where} --num {num}: this clone is shallow, its history cut off {len(held)} commit(s) "
                              f"back from {rev}, so the runs of the commits before cannot be read; fetch the whole "
                              "history (git fetch --unshallow; in CI, actions/checkout with fetch-depth: 0), or give "
                              f"--num {len(held)}")


def earlier_experiments(repo: str) -> list[int]:
    """How many commits back from HEAD (first parents, as ``--num`` counts them; 1 is HEAD's parent) lies each earlier
    commit that holds dvc experiments (``refs/exps/<xx>/<rest of its hash>/<name>``), nearest first; [] when none
    or git cannot tell."""
    refs = run_git(repo, "for-each-ref", "--format=%(refname)", "refs/exps/").stdout.split()
    baselines = {"".join(ref.split("/")[2:4]) for ref in refs if len(ref.split("/")) == 5}
    history = run_git(repo, "rev-list", "--first-parent", "HEAD").stdout.split()
    return [back for back, commit in enumerate(history) if back and commit in baselines]


def planned_params(show: list[dict]) -> list[dict]:
    """The experiments in ``show`` (:func:`experiments_from_show`'s records) that a DVC queue executor has queued,
    still runs, or ran to the end: what is on its way or done (before: only the first two, so a finished study run was
    queued again). A failed run, or one DVC cannot read, is not done. Each as ``name``, ``params`` (its params.yaml),
    ``state`` (its executor's: ``queued``, ``running``, or None for a run that ended) and ``inputs`` (what its stages
    read that no stage writes, as its dvc.lock hashed them: :func:`_inputs`; {} where the record has none). A run the
    queue ran to the end keeps its executor, in state ``success``: None too (before: read as still on its way, so
    `study queue` counted the study's runs as done whatever code they ran under)."""
    return [{"name": str(exp_range.get("name") or record.get("name") or str(record.get("rev"))[:7]),
             "params": (((record.get("data") or {}).get("params") or {}).get("params.yaml") or {}).get("data") or {},
             "state": state if state in UNFINISHED_STATES else None, "inputs": _inputs(record.get("data") or {})}
            for baseline in show for exp_range, state in _ranges(baseline) if state != "failed"
            for record in exp_range.get("revs") or [] if not record.get("error")]


def _executor(exp_range: dict) -> str | None:
    """The name of the executor running an experiment range of ``dvc exp show --json``: ``workspace`` for a plain
    ``dvc exp run``, ``tempdir`` for ``dvc exp run --temp``, ``dvc-task`` for the queue's (so since DVC 3.0), or
    None."""
    executor = exp_range.get("executor")
    return executor.get("name") if isinstance(executor, dict) else None


def _ranges(baseline: dict):
    """Yield ``(experiment range, its executor's state or None)`` for each experiment of a baseline record of
    ``dvc exp show --json``."""
    for exp_range in baseline.get("experiments") or []:
        executor = exp_range.get("executor")
        yield exp_range, executor.get("state") if isinstance(executor, dict) else None
