"""Files of a git project at a revision, or in its workspace: what the gate and ``compare`` read (their params
compared as settings: :mod:`winnow.params_compared`).

Metrics, summaries and predictions are DVC outputs with ``cache: false``, so git holds them and any
commit or experiment (a commit under ``refs/exps``) can be read with ``git show`` alone.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from winnow.errors import WinnowError

WORKSPACE = "workspace"
LFS_POINTER = b"version https://git-lfs.github.com/spec/"  # how a Git LFS pointer file begins


# the variables that point git at another repository than the one -C finds (a GIT_DIR exported for a dotfiles repo, a
# hook's relative GIT_INDEX_FILE): DVC reads the project's own, and before, the gate resolved --base main in the repo
# GIT_DIR named and read its metrics beside DVC's of this one
_ELSEWHERE = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
              "GIT_COMMON_DIR")


def run_git(repo: str | Path, *args: str, text: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    # LC_ALL=C: git's own words, which resolve() reads, in any locale (before: under LANG=de_DE.UTF-8 git warned
    # "Warnung: refname 'origin/main' is ambiguous.", the warning went unrecognised, and the gate passed a drop)
    env = {name: value for name, value in os.environ.items() if name not in _ELSEWHERE}
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=text, check=False,
                              input=stdin, env={**env, "LC_ALL": "C"})
    except FileNotFoundError as err:
        raise WinnowError("git not found on PATH: the gate reads the base revision with git") from err


def check_committed(repo: str | Path, *, where: str, needs: str, rev: str = "HEAD") -> None:
    """One line, ``where`` first, when HEAD of the git repository ``repo`` names no commit and ``rev`` (a revision
    git could not read) is HEAD or one counted from it: a repository with no commit yet (``git init``, nothing
    committed), or a branch made with ``git checkout --orphan`` before its first commit. ``needs`` says what the
    command wanted of the commit. Before: the gate's ``--base HEAD`` was an "unknown revision" to fetch in CI, ``study
    collect`` sent the user to ``study queue``, and that one ran ``dvc exp run --queue``, which failed on DVC's
    "unexpected error - Empty git repo"."""
    if (not run_git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}").returncode
            or run_git(repo, "rev-parse", "--git-dir").returncode):
        return  # HEAD is a commit, or no git repository (said by what reads it)
    fix = "commit the project first (git add -A && git commit)"
    if not run_git(repo, "rev-list", "-n", "1", "--all").stdout.strip():
        raise WinnowError(f"{where}: {repo} is a git repository without a commit yet, so {needs}; {fix}")
    if re.match(r"(HEAD|@)(?![^~^@])", rev):
        branch = run_git(repo, "symbolic-ref", "--short", "--quiet", "HEAD").stdout.strip() or "HEAD"
        raise WinnowError(f"{where}: {repo}'s branch {branch} has no commit yet (made with git checkout --orphan?), "
                          f"so {needs}; {fix}, or check out a branch that has one")


def check_unambiguous(repo: str | Path, rev: str, *, option: str) -> None:
    """One line naming ``option`` when ``rev``, as typed, is :data:`WORKSPACE` and git has a branch or tag (or
    another ref) of that name too: :func:`resolve` reads the working tree for it (before: the branch was
    silently not read). Only a name the user typed is checked: the gate's default --target is the working tree
    whatever the branches are called."""
    if rev != WORKSPACE or run_git(repo, "rev-parse", "--verify", "--quiet", f"{WORKSPACE}^{{commit}}").returncode:
        return
    refs = run_git(repo, "for-each-ref", "--format=%(refname)", f"refs/heads/{WORKSPACE}",
                   f"refs/tags/{WORKSPACE}").stdout.split() or [
        run_git(repo, "rev-parse", "--symbolic-full-name", WORKSPACE).stdout.strip() or WORKSPACE]
    tree = ("leave --target out: the working tree is its default" if option == "--target" else
            "rename that branch or tag to gate the working tree")
    raise WinnowError(f"{option} {WORKSPACE}: names both the working tree and git's {' and '.join(refs)}; "
                      f"name that commit as {refs[0]}, or {tree}")


def resolve(repo: str | Path, rev: str, *, option: str) -> str:
    """The commit a revision (a branch, tag, commit or ``dvc exp`` name) names, or :data:`WORKSPACE` (the working
    tree, whatever git's refs are called: :func:`check_unambiguous` refuses it typed); one line naming ``option``
    when git knows no such commit."""
    if rev == WORKSPACE:
        return WORKSPACE
    # not --quiet: it silences git's warning that a short name is ambiguous (_check_one_ref reads it), as does
    # core.warnAmbiguousRefs=false in the user's git config (before: set there, the gate read git's first silently)
    done = run_git(repo, "-c", "core.warnAmbiguousRefs=true", "rev-parse", "--verify", "--end-of-options",
                   f"{rev}^{{commit}}")
    if done.returncode != 0:
        shown = rev if rev.isprintable() else repr(rev)  # a newline in the name would break the one line
        experiments = _experiments(repo, rev)
        if len(experiments) == 1:
            return experiments[0]
        if experiments:  # before: "unknown revision", though dvc exp show lists it (a name reused on two branches)
            raise WinnowError(f"{option} {shown}: names {len(experiments)} dvc experiments (commits "
                              f"{', '.join(commit[:12] for commit in experiments)}: `dvc exp run -n` reused on "
                              "another baseline); name the one you mean by its commit")
        inside = run_git(repo, "rev-parse", "--git-dir")
        if "dubious ownership" in inside.stderr:
            raise WinnowError(f"{option} {shown}: {not_owned(repo, inside.stderr)}")
        if inside.returncode != 0:
            raise WinnowError(f"{option} {shown}: {repo} is not a git repository (the gate compares git revisions)")
        # a name refs at other commits share, and one of them lacks the commit asked for (before: git's "refname
        # 'origin/main' is ambiguous" was taken for a short id's, "give more of the commit's digits")
        _check_one_ref(repo, rev, said=done.stderr, option=option)
        if re.search(r"^error: short (?:object ID|SHA1) \S+ is ambiguous", done.stderr, flags=re.MULTILINE):
            # before: "unknown revision; name a ... commit ... that exists here"
            raise WinnowError(f"{option} {shown}: several commits or tags here have ids that begin with it; give more "
                              "of the commit's digits")
        waiting = _queued(repo, rev)
        if waiting:  # before: "unknown revision ... dvc exp pull origin <name>", of an experiment queued here
            state, advice = waiting
            raise WinnowError(f"{option} {shown}: a dvc experiment {state}, so it has no results to gate; "
                              + advice.format(shown))
        tracking = _remote_branch(repo, rev)
        if tracking:
            remote, branch = tracking
            raise WinnowError(f"{option} {shown}: unknown revision: {remote}'s branch {branch} is not fetched here (a "
                              "shallow or single-branch clone, as CI checks out, holds its own branch alone); fetch it "
                              f"first: git fetch {remote} {branch}:refs/remotes/{remote}/{branch} (in CI "
                              "actions/checkout with fetch-depth: 0 fetches every branch)")
        check_committed(repo, where=f"{option} {shown}", needs="it holds no revision to gate against", rev=rev)
        fetched = _fetched_as(repo, rev)
        if fetched:  # before: "fetch it first: ... git fetch origin <branch>", done already: the same line came back
            raise WinnowError(f"{option} {shown}: unknown revision: no branch {shown} here, but {fetched} is its "
                              f"copy fetched from {fetched.split('/')[0]}; give {option} {fetched}")
        remote = next(iter(sorted(run_git(repo, "remote").stdout.split(), key=lambda r: r != "origin")), None)
        if remote and not re.fullmatch(r"[0-9a-f]{4,40}", rev) and not run_git(
                repo, "check-ref-format", f"refs/heads/{rev}").returncode:
            # before: "git fetch origin <branch>", which in a single-branch clone (CI's --depth 1) fetches into
            # FETCH_HEAD alone, no branch: the same line came back
            raise WinnowError(f"{option} {shown}: unknown revision: no branch or tag {shown} here (a shallow or "
                              f"single-branch clone, as CI checks out, holds its own branch alone, and `git fetch "
                              f"{remote} {shown}` there makes no ref); fetch it as a ref: git fetch {remote} "
                              f"{shown}:refs/remotes/{remote}/{shown}, then give {option} {remote}/{shown} (an "
                              f"experiment: dvc exp pull {remote} {shown})")
        raise WinnowError(f"{option} {shown}: unknown revision; name a branch, tag, commit or dvc experiment that "
                          "exists here (in CI fetch it first: actions/checkout with fetch-depth: 0, or git fetch "
                          "origin <branch>; an experiment: dvc exp pull origin <name>)")
    _check_one_ref(repo, rev, said=done.stderr, option=option)
    commit = done.stdout.strip()
    # before: a branch (or tag) and a dvc experiment of one name, git read the branch without a word
    other = [c for c in _experiments(repo, rev) if c != commit]
    if other:
        # no --end-of-options: this git prints it back; a name git resolved to a ref cannot begin with "-"
        ref = run_git(repo, "rev-parse", "--symbolic-full-name", rev).stdout.strip() or rev
        raise WinnowError(f"{option} {rev}: names git's {ref} (commit {commit[:12]}) and a dvc experiment (commit "
                          f"{other[0][:12]}), and git reads the first; name the one you mean: {option} {ref}, or the "
                          f"experiment by its commit")
    return commit


def _remote_branch(repo: str | Path, rev: str) -> tuple[str, str] | None:
    """``(remote, branch)`` when ``rev`` is ``<remote>/<branch>`` or ``refs/remotes/<remote>/<branch>`` of a remote
    configured here, else None. Before: such a name unknown here was told "git fetch origin <branch>", which in a clone
    made with --depth (single-branch: its fetch refspec names its own branch alone) writes FETCH_HEAD and no
    refs/remotes/origin/<branch>, so the same line came back; a refspec naming the ref fetches it in any clone."""
    name = rev.removeprefix("refs/remotes/")
    remotes = run_git(repo, "remote").stdout.split()
    remote = next((r for r in sorted(remotes, key=len, reverse=True) if name.startswith(f"{r}/")), None)
    branch = name[len(remote) + 1:] if remote else ""
    if not branch or run_git(repo, "check-ref-format", f"refs/heads/{branch}").returncode:
        return None
    return remote, branch


def _fetched_as(repo: str | Path, rev: str) -> str | None:
    """``<remote>/<rev>`` when a remote's branch ``rev`` is fetched here (``refs/remotes/<remote>/<rev>``) and no
    branch of that name is (a CI checkout: ``git rev-parse main`` looks in refs/heads, not in refs/remotes/origin),
    else None."""
    for remote in run_git(repo, "remote").stdout.split():
        ref = f"refs/remotes/{remote}/{rev}"
        if run_git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}").returncode == 0:
            return f"{remote}/{rev}"
    return None


# where git looks for a short name, in its order (git help revisions): the first of them that exists wins
_REF_RULES = ("refs/{}", "refs/tags/{}", "refs/heads/{}", "refs/remotes/{}", "refs/remotes/{}/HEAD")


def _check_one_ref(repo: str | Path, rev: str, *, said: str, option: str) -> None:
    """One line naming ``option`` when git read ``rev`` through a short name that refs at other commits share
    (``said``: git's stderr in the C locale, "warning: refname 'origin/main' is ambiguous."): git takes the first in
    its order, which may not be the one meant. before: the warning went unread, and with a stray local branch called
    origin/main, --base origin/main gated against it rather than the fetched refs/remotes/origin/main, and passed a
    drop."""
    named = re.search(r"^warning: refname '(.+)' is ambiguous\.$", said, flags=re.MULTILINE)
    if named is None:
        return
    commits = {}
    for rule in _REF_RULES:
        ref = rule.format(named.group(1))
        found = run_git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
        if found.returncode == 0:
            commits[ref] = found.stdout.strip()
    if len(set(commits.values())) > 1:  # refs of one name at one commit read alike
        refs = list(commits)
        shown = rev if rev.isprintable() else repr(rev)
        raise WinnowError(f"{option} {shown}: {named.group(1)} names {' and '.join(refs)}, at other commits (git "
                          f"reads the first); name the one you mean in full, e.g. {option} "
                          f"{rev.replace(named.group(1), refs[-1], 1)}")


def not_owned(repo: str | Path, said: str) -> str:
    """What to say when git refuses ``repo`` as owned by another user (a CI container's checkout): ``said`` is git's
    or libgit2's message, which names the repository's top folder, the one safe.directory must name (a project in a
    folder of its repository, ``dvc init --subdir``, is not it)."""
    named = re.search(r"(?:in repository at|repository path) '([^']+)'", said)
    where = named.group(1) if named else Path(repo).resolve()
    return (f"git refuses {where}: it is owned by another user (git's \"dubious ownership\"); if you trust it, "
            f"run `git config --global --add safe.directory {where}`, then again")


def _experiments(repo: str | Path, name: str) -> list[str]:
    """The commits of the DVC experiments called ``name`` (``dvc exp`` keeps them as
    refs/exps/<xx>/<baseline commit>/<name>): one, none, or several where the name was reused on another
    baseline."""
    listed = run_git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps/")
    # an experiment's ref only: before, --target stash read refs/exps/celery/stash, the queue's own commit
    return sorted({line.split()[1] for line in listed.stdout.splitlines()
                   if line.split()[0].endswith(f"/{name}") and len(line.split()[0].split("/")) == 5})


# the stashes dvc's queue keeps an experiment in before it runs and after it failed (dvc.repo.experiments.refs), each
# entry's message "dvc-exp:<rev>:<baseline rev>:<name>" (dvc.repo.experiments.stash.ExpStash.MESSAGE_FORMAT)
_QUEUED = ("queued here but not run yet", "run the queue (dvc exp run --run-all), then again")
_QUEUE_STASHES = (("refs/exps/celery/stash", _QUEUED), ("refs/exps/stash", _QUEUED),
                  ("refs/exps/celery/failed", ("whose run failed here",
                                               "`dvc queue logs {}` says why; run it again, then again")))
# a run the queue started leaves its stash entry, and dvc tracks it by an info file of its executor until collected
# (dvc.repo.experiments.executor.base.ExecutorInfo: "name", and "status" PENDING 0, PREPARING 1 or RUNNING 2)
# dvc exp run --temp writes one there too (location "tempdir"), left at PREPARING for good, and keeps its own, which
# ends at SUCCESS or FAILED, under exps/standalone (dvc.repo.experiments.queue.tempdir): that one, read last, says
_RUN_INFO = (".dvc/tmp/exps/run/*/*.run", ".dvc/tmp/exps/standalone/run/*/*.run")
_RUNNING = ("running here, not finished", "wait for it (dvc queue status), then again")
# a run outside the queue by where it runs (its info file's location): `dvc queue status` never lists it (before: told
# to wait for it there)
OUTSIDE_QUEUE = {"workspace": "a `dvc exp run` in the workspace", "tempdir": "a `dvc exp run --temp`"}


def _queued(repo: str | Path, name: str) -> tuple[str, str] | None:
    """How the dvc experiment ``name`` waits in (or failed from, or runs from) dvc's queue, in words, and what to
    do, or None where it is not there."""
    for ref, state in _QUEUE_STASHES:
        said = run_git(repo, "log", "-g", "--format=%gs", ref).stdout.splitlines()
        if any(re.fullmatch(rf"(?:\S+: )?dvc-exp:[0-9a-f]+:[0-9a-f]+:{re.escape(name)}", line) for line in said):
            return state
    # before: a run in progress was "unknown revision ... dvc exp pull origin <name>"
    runs = {}  # the info file's name (the run's stash commit) -> what it holds, the standalone one last
    for info in (path for pattern in _RUN_INFO for path in Path(repo).glob(pattern)):
        try:
            runs[info.name] = json.loads(info.read_text())
        except (OSError, ValueError):  # dvc's own file, half written: not what names the revision
            continue
    for run in runs.values():
        if isinstance(run, dict) and run.get("name") == name and run.get("status") in (0, 1, 2):
            where = OUTSIDE_QUEUE.get(run.get("location"))
            if where is None:  # the queue's (location dvc-task)
                return _RUNNING
            return f"that {where} is still running", "wait for that dvc exp run to end, then again"
    return None


def shallow_ends(repo: str | Path) -> set[str]:
    """The commits where this clone's history is cut off (git's shallow file), or none in a full clone."""
    path = Path(repo) / run_git(repo, "rev-parse", "--git-path", "shallow").stdout.strip()
    return set(path.read_text().split()) if path.is_file() else set()


def read_bytes(repo: str | Path, rev: str, path: str) -> bytes | None:
    """The bytes of ``path`` (relative to the project root) at ``rev``, or None when it is not there."""
    if rev == WORKSPACE:
        file = Path(repo) / path
        return file.read_bytes() if file.is_file() else None
    # ./: relative to the project, which may be a folder of its git repository (dvc init --subdir)
    done = run_git(repo, "show", f"{rev}:./{path}", text=False)
    return done.stdout if done.returncode == 0 else None


def read_text(repo: str | Path, rev: str, path: str) -> str | None:
    """The text of ``path`` (relative to the project root) at ``rev``, or None when it is not there.

    Raises:
        WinnowError: the file is not UTF-8 text, or is a Git LFS pointer."""
    data = read_bytes(repo, rev, path)
    where = "the workspace" if rev == WORKSPACE else rev[:12]
    if data is not None and data.startswith(LFS_POINTER):
        # git show gives a commit's blob, never what LFS smudges it into: before, a project whose .gitattributes sent
        # *.csv or *.json to LFS had every revision's predictions refused as "no column id, label, predicted; rerun
        # evaluate" (or its metrics as "not valid JSON ... rerun the stage"), and a rerun changed nothing
        # in the workspace the pointer is a file LFS never fetched (git-lfs missing, GIT_LFS_SKIP_SMUDGE): renormalised
        # at once, the pointer text itself went into git as the "plain file"
        why = (", and its content was never fetched here); fetch it first (`git lfs pull`, or rerun the stage that "
               "writes it), then" if rev == WORKSPACE else
               "), and winnow reads each revision's files from git itself;")
        raise WinnowError(f"{path} at {where}: a Git LFS pointer, not the file (.gitattributes sends it to Git LFS"
                          f"{why} keep it in git as a plain file: `git lfs untrack` the pattern that matches it, "
                          f"`git add --renormalize {path}` and commit, at the base too")
    try:
        return None if data is None else data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise WinnowError(f"{path} at {where}: not UTF-8 text (byte {err.start}); rerun the stage that writes it "
                          "and commit its outputs") from err


def matching(repo: str | Path, rev: str, patterns: list[str]) -> list[str]:
    """Project-relative paths at ``rev`` matching any of ``patterns`` (:func:`matches`), sorted: at a commit the files
    it holds, in the workspace the files git tracks or would track (:func:`workspace_files`), so both sides read one
    set of files."""
    if rev == WORKSPACE:
        # before: pathlib's glob of the working tree, where a "**/*.json" matched files under .venv/, .dvc/tmp/ and
        # git-ignored outputs no commit holds: the gate refused (or passed) for a file of neither version
        paths = workspace_files(repo)
    else:
        # -z: names as they are (before: git quoted "metrics/qualit\303\251/x.json", which no pattern matched, so a NaN
        # committed there at the base passed the gate while the workspace's copy was checked)
        paths = run_git(repo, "ls-tree", "-r", "-z", "--name-only", rev).stdout.split("\0")
    return sorted({p for p in paths if p and any(matches(p, pattern) for pattern in patterns)})


def workspace_files(repo: str | Path, *, ignored: bool = False) -> list[str]:
    """The project-relative paths of the working tree's files that git tracks or would track on ``git add -A`` (not
    ignored: what a commit of it holds), or with ``ignored`` those git ignores and does not track instead. Metrics
    are DVC outputs with ``cache: false``, which git tracks; a cached DVC output is git-ignored and no commit holds
    it, so neither side of the gate reads it."""
    listed = run_git(repo, "ls-files", "-z", "--others", "--exclude-standard",
                     *(("--ignored",) if ignored else ("--cached",)))
    if listed.returncode != 0:
        said = listed.stderr.strip().splitlines()
        if "dubious ownership" in listed.stderr:
            raise WinnowError(f"the workspace: {not_owned(repo, listed.stderr)}")
        raise WinnowError(f"the workspace: git cannot list its files ({said[0] if said else 'no reason given'}); the "
                          "gate reads the workspace as a git working tree")
    root = Path(repo)
    # a tracked file deleted from the working tree is listed (--cached) but is no file there
    return [p for p in listed.stdout.split("\0") if p and (root / p).is_file()]


def matching_ignored(repo: str | Path, patterns: list[str]) -> list[tuple[str, str]]:
    """``(path, why)`` of each working-tree file git ignores (and does not track) that matches any of ``patterns``,
    sorted by path; ``why`` is the rule that ignores it, as ``git check-ignore -v`` says it
    (``.gitignore:3:/data/``)."""
    paths = sorted(p for p in workspace_files(repo, ignored=True) if any(matches(p, pattern) for pattern in patterns))
    rules = _ignore_rules(repo, paths) if paths else {}
    return [(path, rules.get(path, "git's exclude rules")) for path in paths]


def ignored_rules(repo: str | Path) -> Callable[[str], str | None]:
    """For one gate run, the rule git ignores the working tree's file ``path`` by (``.gitignore:3:/data/``), or None
    where no such file is there, git tracks it (a tracked file is never ignored) or no rule ignores it. Git lists
    the files it would commit once (:func:`workspace_files`): none of those is ignored, so ``git check-ignore`` runs
    only for a file outside that list (an ignored one, which the gate refuses). Before, one ``git check-ignore`` ran
    per workspace file read: 54 of a gate's 121 git processes with gate.files matching 50 files."""
    kept: set[str] = set()
    listed = False

    def rule(path: str) -> str | None:
        nonlocal listed
        if not (Path(repo) / path).is_file():
            return None
        if not listed:
            try:
                kept.update(workspace_files(repo))
            except WinnowError:  # git cannot list them: each file is asked alone, as before, and a later step says why
                pass
            listed = True
        return None if path in kept else _ignore_rules(repo, [path]).get(path)

    return rule


def _ignore_rules(repo: str | Path, paths: list[str]) -> dict[str, str]:
    """``{path: rule}`` for each of ``paths`` a rule ignores (``.gitignore:3:/data/``), as ``git check-ignore -v``
    names it; a path no rule matches, or whose last matching rule is a negation, is left out."""
    said = run_git(repo, "check-ignore", "-v", "-z", "--stdin", stdin="\0".join(paths))  # -z: with --stdin alone
    parts = said.stdout.split("\0")  # source, line, pattern and path, each ended by NUL
    # -v names the last rule matching, a negation ("!predictions.csv") too, and exits 0 for it: such a file is not
    # ignored (before: an untracked predictions.csv that "*.csv" then "!predictions.csv" keeps was refused as ignored)
    return {parts[i + 3]: f"{parts[i]}:{parts[i + 1]}:{parts[i + 2]}" for i in range(0, len(parts) - 3, 4)
            if not parts[i + 2].startswith("!")}


def matches(path: str, pattern: str) -> bool:
    """Whether the project-relative ``path`` matches ``pattern``, part by part as a shell glob: ``*`` stays within
    one folder, as in ``ls``, and a part ``**`` stands for any number of folders, none included (as in pathlib's
    glob and git's); ``.`` and empty parts are left out (``./metrics/x.json`` is ``metrics/x.json``)."""
    return _parts_match(path.split("/"), PurePosixPath(pattern).parts)


def _parts_match(parts: list[str], wanted: tuple[str, ...]) -> bool:
    if not wanted:
        return not parts
    if wanted[0] == "**":  # folders only: the last part names the file
        return any(_parts_match(parts[skip:], wanted[1:]) for skip in range(len(parts)))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], wanted[0]) and _parts_match(parts[1:], wanted[1:])
