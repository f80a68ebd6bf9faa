"""What ``winnow study queue`` (:mod:`winnow.study_sweeps`) counts as queued, running or done already: an experiment of
the whole params an experiment of the study would run, and, for one that ran to the end, under the code and inputs
the workspace holds now (a queued experiment runs the workspace as it was when queued, which ``dvc exp show`` does not
list). And the experiments of the sweeps queued earlier under other params, which a new queue leaves queued."""

from __future__ import annotations

import hashlib
from pathlib import Path

from winnow.errors import listed
from winnow.params_compared import comparable, differing


def counted_as_done(runs: list[dict], planned: list[dict]) -> tuple[set[str], str]:
    """The settings (:func:`winnow.params_compared.comparable`) of ``runs`` (:func:`winnow.experiments.planned_params`) that a
    study experiment of one of them need not run again, and a note naming the runs of a setting of ``planned`` (the
    params each study experiment runs now) that ended under other code or inputs than the workspace's, where no run
    counts for that setting ("" for none). Before, a run counted by its params alone: after a change to the code,
    `study queue` skipped the experiments that had run under the old code as done, and the study drew their old
    results as the new code's. The runs of other settings (the user's own experiments, degrade off) are neither hashed
    nor named (before: each one of old code was named as counted not run, where the study never counts it)."""
    wanted = {comparable(params) for params in planned}
    done, other = set(), []
    hashes: dict[str, str | None] = {}
    for run in runs:
        setting = comparable(run["params"])
        if setting not in wanted:
            continue
        differ = [] if run["state"] is not None else _other_inputs(run["inputs"], hashes)
        if differ:
            other.append((run["name"], differ, setting))
        else:
            done.add(setting)
    # a setting another run of the workspace's code covers is done: its older runs are no reason to queue it
    other = [(name, differ) for name, differ, setting in other if setting not in done]
    if not other:
        return done, ""
    paths = sorted({path for _, differ in other for path in differ})
    return done, (f"{len(other)} experiment(s) of these params ran under other code or inputs than the workspace's "
                  f"({listed(paths, at_most=3)}), so they count as not run: "
                  + listed([name for name, _ in other], at_most=6))


def _other_inputs(inputs: dict, hashes: dict[str, str | None]) -> list[str]:
    """The paths of ``inputs`` (path -> the md5 DVC recorded) whose file here holds other bytes. A path the workspace
    lacks (an output of the raw data's listing not pulled) or a record without hashes is no difference: the queue
    cannot tell, and queued the experiments again as it did before."""
    differ = []
    for path, recorded in inputs.items():
        if not recorded:
            continue
        if path not in hashes:
            hashes[path] = _md5(Path(path))
        if hashes[path] is not None and hashes[path] != recorded:
            differ.append(path)
    return differ


def _md5(path: Path) -> str | None:
    """The md5 of the file ``path`` as DVC 3 records a file's (its bytes), None when it is no file here."""
    if not path.is_file():
        return None
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def queued_under_other_params(runs: list[dict], planned: list[dict]) -> str:
    """A note naming the experiments of ``runs`` still queued whose perturbations are those of an experiment in
    ``planned`` (the params each study experiment runs now) but whose other params differ ("" for none): a study
    queued, params.yaml edited, then queued again. Before, the queue added the new experiments without a word, and
    `dvc exp run --run-all` ran the old ones too, each a full `dvc repro` of a setting no longer asked for. One that
    differs in ``seed`` alone is a replicate, which `study collect` averages with the new one (a study queued again
    after ``seed`` was edited, to run each setting at a second seed), and goes unnamed: before, it was told to be
    dropped, and the point drawn from one run."""
    wanted = {comparable(_perturbations(params)): params for params in planned}
    stale, keys = [], set()
    for run in runs:
        mine = _perturbations(run["params"])
        now = None if mine is None else wanted.get(comparable(mine))
        if run["state"] != "queued" or now is None or comparable(run["params"]) == comparable(now):
            continue
        differ = differing(run["params"], now)
        if not differ - {"seed"}:
            continue
        stale.append(run["name"])
        keys |= differ
    if not stale:
        return ""
    return (f"{len(stale)} experiment(s) of these sweeps queued earlier under other params ({listed(sorted(keys), at_most=3)}"
            f") stay queued and run with `dvc exp run --run-all`: drop them with `dvc queue remove {' '.join(stale)}`")


def _perturbations(params: dict):
    """The perturbations a study experiment of ``params`` runs (degrade enabled), None for one that is no study's."""
    degrade = params.get("degrade")
    return degrade.get("perturbations") if isinstance(degrade, dict) and degrade.get("enabled") is True else None
