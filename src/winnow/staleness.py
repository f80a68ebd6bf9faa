"""Whether a revision's outputs are what its code, params and data make: the checks the gate, ``compare`` and
``study`` run before they read a run's metrics. The workspace is asked of DVC (``dvc status``); a commit is
checked against its own dvc.lock, params.yaml and dvc.yaml, read from git (:mod:`winnow.revisions`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
from pathlib import Path

from winnow import lock_entries
from winnow.errors import WinnowError, first_line
from winnow.progress_env import check_progress_variables
from winnow.revisions import read_bytes, read_text, run_git, shallow_ends
from winnow.yaml_text import load_yaml

# said of a frozen stage found stale: `dvc repro` alone would skip it again
FROZEN = "; dvc.yaml freezes it, so dvc status and dvc repro skip it: take its frozen: true out (dvc unfreeze) first"


def check_workspace_current(repo: str | Path, targets: list[str]) -> None:
    """Refuse to read the workspace's outputs of the DVC stages ``targets`` (``evaluate@baseline``) when DVC
    says they are not what the workspace's code, params and data make (``dvc status`` of the targets and
    every stage before them): after ``dvc repro -s train@baseline``, a changed param or an interrupted run, old
    predictions and their metrics still agree with each other, so nothing else shows they are stale. A
    folder without dvc.yaml is read as it is."""
    if not (Path(repo) / "dvc.yaml").is_file():
        return
    check_progress_variables()  # DVC imports tqdm, which reads them
    from dvc.exceptions import DvcException, NoOutputOrStageError, StageNotFoundError
    from dvc.lock import LockError
    from dvc.utils.serialize import ParseError

    from dvc.repo import Repo, lock_repo

    # before: "WARNING: stage: 'train@baseline' is frozen. Its dependencies are not going to be shown in the status
    # output", one line per frozen stage or import, came before the gate's one error line, untrue of what it checks
    logging.getLogger("dvc.repo.status").addFilter(_no_frozen_notice)  # added once, however often called
    try:  # from the project's root: DVC resolves a stage name against the working directory (gate --repo DIR)
        # one lock for both reads: DVC's index is read once, and no dvc command changes the files between them
        with contextlib.chdir(repo), Repo(".") as dvc_repo, lock_repo(dvc_repo):
            # an import (`dvc import`, `dvc import-url --version-aware`) whose source moved on holds what it held until
            # `dvc update`, which dvc repro never runs: before, "update available" refused the workspace (dvc status
            # --no-updates; the source, a repository or a bucket, is not asked either)
            status = dvc_repo.status(targets=targets, with_deps=True, check_updates=False)
            # dvc status skips a frozen stage's inputs: before, code or params edited after `dvc freeze represent` left
            # the old embeddings and every prediction after them current, and the gate passed them as the head's
            frozen = {stage.addressing: {path: state for dep in stage.deps for path, state in dep.status().items()}
                      for stage in _frozen_upstream(dvc_repo, targets)}
            order = _pipeline_order(dvc_repo)
    except DvcException as err:
        # the advice follows the cause: a variant the pipeline does not evaluate, a dvc command running, a file broken
        fix = ("name the variants the pipeline evaluates (--variants), or a commit as --target"
               if isinstance(err, (NoOutputOrStageError, StageNotFoundError)) else
               "wait for the running dvc command to end, then again" if isinstance(err, LockError) else
               "fix that file (git diff shows what changed), or name a commit as --target" if isinstance(err, ParseError)
               else "name a commit as --target")
        raise WinnowError(f"cannot tell whether the workspace's {', '.join(targets)} are up to date (dvc status: "
                          f"{first_line(err)}); {fix}") from err
    locked = lock_entries.locked_stages(Path(repo))
    outputs = lock_entries.locked_outputs(locked)
    for stage, deps in frozen.items():
        status[stage] = [*status.get(stage, []), *([{"changed deps": deps}] if deps else [])]
    stale = {stage: said + (FROZEN if stage in frozen else "") for stage, changes in status.items()
             if (said := "; ".join(filter(None, [
                 _changes(changes, outputs=outputs),
                 lock_entries.lock_disagrees(locked.get(stage) or {}, outputs=outputs)])))}
    if stale:
        # the stage the pipeline runs first: dvc status gathers the stages in a set, so its order changed from run to
        # run (before: "first threshold" and, asked again, "first source", the stage whose outputs threshold reads)
        stage, said = min(stale.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
        raise WinnowError(f"the workspace's outputs of {', '.join(targets)} are stale: dvc status lists "
                          f"{len(stale)} stage(s) up to them, first {stage} ({said}); run `dvc repro` "
                          "(or `dvc pull`), then again, or name a commit whose outputs count (e.g. --target HEAD)")
    _check_source_listing(Path(repo), locked)


def _no_frozen_notice(record: logging.LogRecord) -> bool:
    """False for dvc status's notice that a frozen stage's inputs go unshown: the workspace check asks them itself
    (:func:`_frozen_upstream`), and an import's are left to `dvc update`."""
    return "is frozen" not in record.getMessage()


def _pipeline_order(dvc_repo) -> dict[str, int]:
    """Each stage's place in the order the pipeline runs them (a stage after every stage whose outputs it reads; ties
    by name), by its DVC address (``evaluate@baseline``)."""
    import networkx as nx

    # DVC's graph leads from a stage to the stages whose outputs it reads: reversed, from the first to run
    ordered = nx.lexicographical_topological_sort(dvc_repo.index.graph.reverse(copy=False), key=lambda s: s.addressing)
    return {stage.addressing: place for place, stage in enumerate(ordered)}


def _frozen_upstream(dvc_repo, targets: list[str]) -> list:
    """The stages up to ``targets`` (their DVC stage objects, each once) that dvc.yaml freezes; not an import, which
    DVC freezes by design. Looked for only where the project freezes one: each target's stages cost a reading of
    dvc.yaml, 40% on dvc status's time with the project's four variants."""
    if not any(stage.frozen and not stage.is_import for stage in dvc_repo.index.stages):
        return []
    return list(dict.fromkeys(stage for target in targets for stage in dvc_repo.stage.collect(target, with_deps=True)
                              if stage.frozen and not stage.is_import))


def _check_source_listing(repo: Path, locked: dict[str, dict]) -> None:
    """Refuse when what ingest or represent reads outside the project has changed since the source stage listed it
    (data/source.json, data/represent-source.json): that stage runs only under `dvc repro`, so dvc status alone
    never sees an image edited in ingest.path or an embedding file replaced. A path not readable here (a clone
    without the raw data) cannot be checked and is left as pulled."""
    if "source" not in locked:
        return
    from winnow.source_listing import listing, represent_listing

    try:
        params = load_yaml((repo / "params.yaml").read_text(), name="params.yaml") or {}
    except (OSError, ValueError, WinnowError):
        return  # dvc status has judged this file already
    for path, section, lists in (("data/source.json", "ingest", listing),
                                 ("data/represent-source.json", "represent", represent_listing)):
        try:
            recorded = json.loads((repo / path).read_text())
            now_listed = lists(params.get(section) or {}, root=repo)
        except (OSError, ValueError, AttributeError):
            continue  # not written yet (a lock from before it), or dvc status has judged it
        if not isinstance(recorded, dict):
            continue
        for key, now in now_listed.items():
            if "unreadable" not in now and now != recorded.get(key):
                then, listed = recorded.get(key, {}).get("files", 0), now.get("files", 0)
                raise WinnowError(f"the workspace's {key} has changed since the source stage listed it (files "
                                  f"{then} then, {listed} now, or edited): "
                                  f"{section} and everything after it are stale; run `dvc repro`, then again")


def check_commit_current(repo: str | Path, rev: str, *, name: str, targets: list[str]) -> None:
    """Refuse a commit's outputs of the DVC stages ``targets`` that the commit's own dvc.lock and params.yaml
    contradict (the workspace has :func:`check_workspace_current`): an output whose md5 is not the one the lock
    records (a hand edit, or files copied from another run and committed), a stage whose lock says it used
    another output than the stage before it made (`dvc repro -s`, an interrupted run), or a params.yaml value
    that differs from the one the lock says a stage up to them ran with (a params change committed without
    `dvc repro`), or a file git holds that a stage up to them read whose md5 is not the one the lock records (code
    edited without `dvc repro`, even when a later commit rewrote the lock for another stage), or a stage whose
    dvc.yaml definition asks for what its locked run did not have (another command, a new dependency, params key or
    output: dvc.yaml edited without `dvc repro`), or a target dvc.yaml defines that the lock has no entry for (the
    outputs committed without the lock, or from a run DVC never recorded). A commit with neither dvc.yaml nor
    dvc.lock is read as it is (a project whose outputs DVC does not make)."""
    text = read_text(repo, rev, "dvc.lock")
    pipeline = read_text(repo, rev, "dvc.yaml")
    if text is None and pipeline is None:
        return
    # both read as DVC reads them (YAML 1.2): PyYAML reads the lock's 1e-06 as text, params.yaml's 0.000001 as a
    # number, and every commit made with the default params was refused
    try:
        stages = (load_yaml(text or "", name="dvc.lock") or {}).get("stages") or {}
        params = load_yaml(read_text(repo, rev, "params.yaml") or "", name="params.yaml") or {}
    except (WinnowError, AttributeError) as err:
        raise WinnowError(f"dvc.lock or params.yaml at {name}: not what DVC writes ({first_line(err)}); the gate "
                          "checks a commit's outputs against them: fix the file and commit it") from err
    entries = {stage: entry for stage, entry in stages.items() if isinstance(entry, dict)}
    outputs = lock_entries.locked_outputs(entries)
    checked: dict[tuple, bool] = {}  # a file read by many stages is hashed once

    def same_file(path: str, md5: str, kind) -> bool:
        if (path, md5) not in checked:
            checked[path, md5] = _same_file(repo, rev, {"path": path, "md5": md5, "hash": kind})
        return checked[path, md5]

    defined, unchecked = lock_entries.dvc_yaml_stages(pipeline)
    frozen = lock_entries.frozen_stages(pipeline)  # checked too: dvc status skips their inputs, not this check
    # before: a commit whose dvc.lock had no entry for a target (or no dvc.lock at all) was read as it was, so
    # predictions committed by hand, or without the lock of the run that made them, were gated as if DVC made them
    problems = [f"dvc.lock has no entry for {stage}, which dvc.yaml defines (its outputs were committed without "
                "the lock of the run that made them)" for stage in targets
                if stage not in entries and defined is not None and stage.split("@")[0] in defined]
    # a stage renamed in dvc.yaml (evaluate -> eval) left nothing to check, and the commit's outputs were read as they
    # were: the workspace's check refuses the same (dvc status: stage not found)
    problems += [f"dvc.yaml defines no stage {stage.split('@')[0]}, so nothing shows that the outputs of {stage} read "
                 "here are what the commit makes (a stage renamed: keep its name)" for stage in targets
                 if defined is not None and stage.split("@")[0] not in defined]
    upstream = lock_entries.upstream(entries, [t for t in targets if t in entries], defined=defined)
    # an entry without its hash cannot be compared with anything, and `dvc repro` never writes one: a forged lock
    problems += [f"dvc.lock's {stage} records no md5 for {file['path']} (not a lock `dvc repro` wrote)"
                 for stage in upstream for file in (entries[stage].get("outs") or []) + (entries[stage].get("deps") or [])
                 if lock_entries.unhashed(file)]
    for stage in (t for t in targets if t in entries):
        for out in entries[stage].get("outs") or []:
            if isinstance(out, dict) and not _same_file(repo, rev, out):
                problems.append(f"{out['path']} is not the file dvc.lock says {stage} wrote")
    changed = _changed_since_lock(repo, rev, name=name, paths=[
        str(dep["path"]) for stage in upstream if stage.split("@")[0] not in unchecked
        for dep in entries[stage].get("deps") or [] if isinstance(dep, dict) and dep.get("path") not in outputs])
    for stage in upstream:
        said = lock_entries.lock_disagrees(entries[stage], outputs=outputs)
        if said:
            problems.append(f"{stage}: {said}")
        if stage.split("@")[0] in unchecked:
            continue
        # the files git holds that the stage read (its code, a suite, the review's verdicts): edited since it ran
        inputs = [dep for dep in entries[stage].get("deps") or [] if isinstance(dep, dict)
                  and dep.get("path") not in outputs]
        # git's diff since the lock was written sees a folder's files; the md5 the lock recorded sees a file edited
        # before a later commit rewrote the lock for another stage (dvc repro -s report)
        # a stage renamed and back leaves its old entry in the lock, recording the inputs of its last run then
        current = defined is None or stage.split("@")[0] in defined
        edited = [str(dep["path"]) for dep in inputs
                  if _touched(str(dep.get("path", "")), changed) and not _added_to_dvc(repo, rev, dep)
                  or current and not same_file(str(dep.get("path", "")), str(dep.get("md5", "")), dep.get("hash"))]
        hint = FROZEN if stage.split("@")[0] in frozen else ""
        if edited:
            problems.append(f"{edited[0]} changed since dvc.lock's {stage} ran{hint}")
        problems += [f"params.yaml's {where} is {now} where dvc.lock's {stage} ran with {then}{hint}"
                     for _, where, now, then in lock_entries.params_differences(entries[stage], params)]
    if pipeline is not None and not problems:
        problems += _definition_changes(repo, rev, [stage for stage in upstream if stage.split("@")[0] not in unchecked],
                                        name=name)
    if problems:
        raise WinnowError(f"{name}: its outputs of {', '.join(targets)} are not what its dvc.lock and params.yaml "
                          f"say ({len(problems)} problem(s), first: {problems[0]}); rerun `dvc repro` there and "
                          "commit dvc.lock and metrics/ together")


def _definition_changes(repo: str | Path, rev: str, stages: list[str], *, name: str) -> list[str]:
    """What dvc.yaml at ``rev`` asks of each of ``stages`` (``train@baseline``) that its dvc.lock entry does not
    record, one line each: another command, a dependency, a params key or an output its run never had (dvc.yaml
    edited and committed without `dvc repro`; dvc status says "changed command", "new"). DVC itself reads the
    file at that revision, so a templated stage (``matrix``, ``${item.variant}``) is compared as DVC resolves it."""
    check_progress_variables()  # DVC imports tqdm, which reads them
    from dvc.dependency.param import ParamsDependency
    from dvc.exceptions import DvcException
    from dvc.fs import GitFileSystem
    from dvc.repo import Repo
    from dvc.scm import SCM

    problems = []
    # the project may be a folder of its git repository (dvc init --subdir): Repo(rev=...) would look at the root
    folder = "/" + run_git(repo, "rev-parse", "--show-prefix").stdout.strip().rstrip("/")
    try:
        scm = SCM(str(repo))
        with Repo(folder, fs=GitFileSystem(scm=scm, rev=rev), scm=scm) as dvc_repo:
            defined = {stage.name: stage for stage in dvc_repo.index.stages if stage.path_in_repo == "dvc.yaml"}
            for stage in (defined[s] for s in stages if s in defined):
                if stage.cmd_changed:
                    problems.append(f"dvc.yaml's command of {stage.name} is not the one dvc.lock says it ran")
                for dep in stage.deps:
                    if isinstance(dep, ParamsDependency):
                        locked = dep.hash_info.value if isinstance(dep.hash_info.value, dict) else {}
                        problems += [f"dvc.yaml's {stage.name} reads {dep.def_path}'s {key}, which dvc.lock says its "
                                     "run did not" for key in dep.params if key not in locked]
                    elif not dep.hash_info:
                        problems.append(f"dvc.yaml's {stage.name} reads {dep.def_path}, which dvc.lock says its run "
                                        "did not")
                problems += [f"dvc.yaml's {stage.name} writes {out.def_path}, which dvc.lock says its run did not"
                             for out in stage.outs if not out.hash_info]
    except DvcException as err:
        raise WinnowError(f"dvc.yaml at {name}: DVC cannot read it ({first_line(err)}); the gate checks a commit's "
                          "outputs against it: fix the file and commit it") from err
    return problems


def _changed_since_lock(repo: str | Path, rev: str, *, name: str, paths: list[str]) -> set[str]:
    """Which of ``paths`` (files or folders git holds) differ between ``rev`` (``name`` as given) and the last commit
    before it that wrote dvc.lock: git's own comparison, so line ends, LFS pointers, symlinks and other filters read
    alike on both sides. A change made in the commit that wrote the lock itself is not seen.

    One line where that commit is where a shallow clone's history ends (CI's checkout of one commit) and a path is
    no file (a folder, or gone) and no data `dvc add` tracks: git shows such a commit as writing every file, dvc.lock
    too. Before: a folder input edited without `dvc repro` was refused in a full clone and passed in CI's."""
    written = run_git(repo, "log", "-1", "--format=%H", rev, "--", "dvc.lock").stdout.strip()
    local = [p for p in dict.fromkeys(paths) if p and not Path(p).is_absolute() and "://" not in p]
    if not written or not local:
        return set()
    if written in shallow_ends(repo):
        files = set(run_git(repo, "ls-tree", "--name-only", rev, "--", *local).stdout.splitlines()) - set(
            run_git(repo, "ls-tree", "-d", "--name-only", rev, "--", *local).stdout.splitlines())
        # a path `dvc add` tracks (<path>.dvc) is DVC's, never git's, so git's diff sees nothing of it with the history
        # too (dvc status judges it). Before: refused, a false alarm on every current commit of such a pipeline
        unseen = [p for p in local
                  if p.rstrip("/") not in files and read_text(repo, rev, f"{p.rstrip('/')}.dvc") is None]
        if unseen:
            raise WinnowError(f"{name}: this clone's history ends at {written[:12]} (a shallow clone), so the gate "
                              f"cannot tell whether {unseen[0]} changed since the run its dvc.lock records; fetch the "
                              "history first: git fetch --unshallow (in CI, actions/checkout with fetch-depth: 0)")
    done = run_git(repo, "diff", "--name-only", "--relative", "--no-renames", written, rev, "--", *local)
    return set(done.stdout.splitlines())


def _added_to_dvc(repo: str | Path, rev: str, dep: dict) -> bool:
    """Whether the dvc.lock input ``dep``, gone from git, is the file (or folder) that `dvc add` tracks at ``rev``
    (``<path>.dvc``) with the md5 the lock records: moved from git to DVC as it was, which dvc status and dvc repro
    see as no change. before: git's diff saw a deletion, and the commit was refused with advice (`dvc repro`) that
    changed nothing."""
    path = str(dep.get("path", "")).rstrip("/")
    try:
        outs = (load_yaml(read_text(repo, rev, f"{path}.dvc") or "", name=f"{path}.dvc") or {}).get("outs") or []
    except (WinnowError, AttributeError):  # not a file DVC wrote: the input stays changed
        return False
    return any(isinstance(out, dict) and out.get("path") == Path(path).name and out.get("md5") == dep.get("md5")
               for out in outs)


def _touched(path: str, changed: set[str]) -> bool:
    """Whether ``path`` (a file, or a folder) is among or holds one of the ``changed`` files."""
    folder = path.rstrip("/") + "/"
    return path in changed or any(c.startswith(folder) for c in changed)


def _same_file(repo: str | Path, rev: str, entry: dict) -> bool:
    """Whether the file a dvc.lock ``entry`` names (``path``, ``md5``) holds those bytes at ``rev``; True where
    it cannot tell: a folder (``.dir``), a file git does not hold there (DVC's data), another hash. A checkout
    with CRLF line ends (git's autocrlf) hashes the working file DVC saw, so the blob counts with either. An entry
    without ``hash`` is DVC 2's (kept by DVC 3 until the stage reruns), whose md5 reads a text file's CRLF as LF."""
    md5 = str(entry.get("md5", ""))
    if entry.get("hash") not in ("md5", None) or not md5 or md5.endswith(".dir") or "path" not in entry:
        return True
    data = read_bytes(repo, rev, str(entry["path"]))
    if data is None or data.startswith(b"version https://git-lfs"):  # an LFS pointer: DVC hashed the file itself
        return True
    if entry.get("hash") is None:  # before: never hashed, so predictions edited by hand under a DVC 2 lock passed
        check_progress_variables()  # dvc_data imports DVC's tqdm too
        from dvc_data.hashfile.hash import fobj_md5

        if md5 == fobj_md5(io.BytesIO(data), name="md5-dos2unix"):
            return True
    elif md5 in (hashlib.md5(data).hexdigest(), hashlib.md5(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")).hexdigest()):
        return True
    mode = run_git(repo, "ls-tree", rev, "--", str(entry["path"])).stdout.split()[:1]
    return mode == ["120000"]  # a symbolic link: git holds its target's name, DVC hashed the target


# what dvc status says of a stage's output, or of a dependency that is one, that does not make the outputs
# after it stale: data not pulled (a fresh clone holds the committed predictions, not every stage's data), or
# no copy in the cache; the lock file says whether what was not pulled is what they were computed from
_ABSENT = ("deleted", "not in cache")


def _changes(changes: list, *, outputs: dict[str, set[str]]) -> str:
    """What one stage's entry of ``dvc status`` says made it stale, on one line (``changed deps:
    models/baseline.pt modified``), or "" when nothing did: an output of a stage (``outputs``: path -> its
    hash in dvc.lock) not pulled or not cached, and an always_changed stage, leave what was computed from the
    committed data as it is; a deleted file of the project's own (code) counts."""
    said = []
    for change in changes:
        if not isinstance(change, dict):
            if change != "always changed":
                said.append(str(change))  # "changed checksum": the stage's definition changed
            continue
        for kind, paths in change.items():
            items = [f"{path} {' '.join(f'{k} {v}' for k, v in state.items())}" if isinstance(state, dict)
                     else f"{path} {state}"
                     for path, state in (paths.items() if isinstance(paths, dict) else [])
                     if isinstance(state, dict) or state not in _ABSENT or path not in outputs]
            if items:
                said.append(f"{kind}: " + ", ".join(items))
    return "; ".join(said)
