"""What a dvc.lock records, read as :mod:`winnow.staleness`, the gate and ``compare`` read it: each stage's entry
(:func:`locked_stages`), the outputs and the md5s recorded for them (:func:`locked_outputs`), the stages a target
depends on (:func:`upstream`), the inputs that tell two runs apart (:func:`locked_inputs`,
:func:`unwritten_inputs`), and the params.yaml values a stage ran with that params.yaml no longer holds
(:func:`params_differences`). Nothing here refuses: a lock that cannot be read is read as empty, for the checks in
winnow.staleness to name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from winnow.errors import WinnowError
from winnow.params_compared import differing, lookup
from winnow.revisions import read_text
from winnow.yaml_text import load_yaml


def locked_inputs(repo: str | Path, rev: str) -> dict[str, str]:
    """``{path: md5}`` of what the stages of ``rev``'s dvc.lock read that no stage writes (code, suites, the
    raw data's listing, params files aside; :func:`unwritten_inputs`): two runs with equal inputs ran the same code
    (empty without a lock)."""
    try:
        stages = (load_yaml(read_text(repo, rev, "dvc.lock") or "", name="dvc.lock") or {}).get("stages") or {}
    except (WinnowError, AttributeError):  # check_commit_current has refused a broken lock
        return {}
    entries = {stage: entry for stage, entry in stages.items() if isinstance(entry, dict)}
    # before: a dependency was left out only where its path was an output's, so the folders the compare and report
    # stages read (metrics/evaluate, data/variants) counted as inputs, and two seeds of one commit never pooled
    return unwritten_inputs({str(dep["path"]): str(dep.get("md5", "")) for entry in entries.values()
                             for dep in entry.get("deps") or [] if isinstance(dep, dict) and "path" in dep},
                            written=locked_outputs(entries))


# the source stage's listings of the raw files: outputs, but of no seed; they tell one data set from another
SOURCE_LISTINGS = ("data/source.json", "data/represent-source.json")


def unwritten_inputs(deps: dict[str, Any], *, written: Collection[str]) -> dict[str, Any]:
    """``deps`` (a dependency's path -> its hash) less the outputs of ``written`` (paths the stages write), what
    lies below one and the folders holding one (metrics/evaluate, which compare reads): they change with the seed,
    so two seeds of one commit would never read alike. The raw data's listings (:data:`SOURCE_LISTINGS`) are kept:
    without them, runs on other images (images added to ingest.path, then `dvc exp run -S seed=1`) were pooled as
    seeds of one setting. The gate and ``compare`` both tell runs apart by it."""
    outs = [str(path).rstrip("/") for path in written if str(path).rstrip("/") not in SOURCE_LISTINGS]
    return {path: value for path, value in deps.items()
            if not any(_overlaps(path.rstrip("/"), out) for out in outs)}


def locked_outputs(entries: dict[str, dict]) -> dict[str, set[str]]:
    """Each output path of dvc.lock's ``entries`` with the md5s recorded for it: a stage renamed and back leaves
    its old entry in the lock (DVC never removes one), so a path may have two, and either is the stage's."""
    outputs: dict[str, set[str]] = {}
    for entry in entries.values():
        for out in entry.get("outs") or []:
            if isinstance(out, dict) and "path" in out:
                outputs.setdefault(str(out["path"]), set()).add(str(out.get("md5", "")))
    return outputs


def dvc_yaml_stages(text: str | None) -> tuple[set[str] | None, set[str]]:
    """(every stage name of dvc.yaml ``text``, None where it cannot be read; those whose dependencies and params
    the commit check leaves alone: with a ``wdir``, their paths being relative to it, not to the project). A frozen
    stage is checked as any other (:func:`frozen_stages`)."""
    stages = _definitions(text)
    if stages is None:
        return None, set()
    return set(stages), {name for name, body in stages.items() if body.get("wdir") not in (None, ".")}


def frozen_stages(text: str | None) -> set[str]:
    """The stages dvc.yaml ``text`` freezes (``frozen: true``): DVC neither checks their inputs (dvc status) nor
    reruns them (dvc repro), so their outputs may predate the code and params beside them."""
    return {name for name, body in (_definitions(text) or {}).items() if body.get("frozen")}


def _definitions(text: str | None) -> dict[str, dict] | None:
    """Each stage of dvc.yaml ``text`` by name, its definition (a matrix or foreach stage's ``do``; {} when it is
    not a mapping), or None where the file cannot be read."""
    try:
        stages = (load_yaml(text or "", name="dvc.yaml") or {}).get("stages") or {}
    except (WinnowError, AttributeError):  # a dvc.yaml DVC refuses has been refused before
        return None
    if not isinstance(stages, dict):
        return None
    bodies = {str(name): definition.get("do", definition) if isinstance(definition, dict) else {}
              for name, definition in stages.items()}
    return {name: body if isinstance(body, dict) else {} for name, body in bodies.items()}


def unhashed(entry: Any) -> bool:
    """Whether a dvc.lock dependency or output ``entry`` names a project file but records no hash of it (DVC
    records a URL's etag or checksum instead, so those are left alone)."""
    if not isinstance(entry, dict) or "path" not in entry:
        return False
    path = str(entry["path"])
    return "://" not in path and not Path(path).is_absolute() and not any(
        entry.get(key) for key in ("md5", "etag", "checksum"))


def upstream(entries: dict[str, dict], targets: list[str], *, defined: Collection[str] | None = None) -> list[str]:
    """``targets`` and every stage of dvc.lock's ``entries`` whose outputs they depend on, at any depth. An output
    that two entries record (a stage renamed and back: DVC keeps the other name's entry) is the one's of the stages
    dvc.yaml ``defined`` (names without ``@``; None: any, the later entry). Before, the entry left behind, whose params
    were the old ones, was checked in its place, and report refused a run dvc status called up to date."""
    current = sorted(entries.items(), key=lambda item: defined is not None and item[0].split("@")[0] in defined)
    producers = {out["path"]: stage for stage, entry in current for out in entry.get("outs") or []
                 if isinstance(out, dict) and "path" in out}
    seen, todo = [], list(targets)
    while todo:
        stage = todo.pop()
        if stage in seen or stage not in entries:
            continue
        seen.append(stage)
        for dep in entries[stage].get("deps") or []:
            path = str(dep.get("path", "")) if isinstance(dep, dict) else ""
            todo += [producer for out, producer in producers.items()
                     if path and _overlaps(path, out)]
    return seen


def _overlaps(path: str, out: str) -> bool:
    """Whether ``path`` is the output ``out``, lies below it, or is a folder holding it."""
    return path == out or path.startswith(out + "/") or out.startswith(path + "/")


def locked_stages(repo: Path) -> dict[str, dict]:
    """dvc.lock's entries by stage (empty when there is none: dvc status has refused the project then)."""
    try:
        stages = (load_yaml((repo / "dvc.lock").read_text(), name="dvc.lock") or {}).get("stages") or {}
    except (OSError, ValueError, WinnowError, AttributeError):
        return {}
    return {name: entry for name, entry in stages.items() if isinstance(entry, dict)}


def lock_disagrees(entry: dict, *, outputs: dict[str, set[str]]) -> str:
    """The dependencies of a stage's dvc.lock ``entry`` whose hash is none the stage that writes them recorded
    (``outputs``, :func:`locked_outputs`): a run interrupted between the two stages, or `dvc repro -s` of the
    first, committed as it was (in a clone without the data, dvc status says only "not in cache")."""
    differ = [dep["path"] for dep in entry.get("deps") or [] if isinstance(dep, dict)
              and dep.get("path") in outputs and str(dep.get("md5", "")) not in outputs[dep["path"]]]
    return f"dvc.lock: {', '.join(differ)} not what the stage writing them made" if differ else ""


# what lookup gives for a key params.yaml or dvc.lock does not hold
_ABSENT_KEY = object()


def first_difference(key: str, value: Any, locked: Any) -> tuple[str, str, str]:
    """The dotted path of the first value below ``key`` (a list's item by its index) that differs between
    params.yaml (``value``) and dvc.lock (``locked``), and the two as JSON ("absent" where one has none): a whole
    section shown would hide the one value that differs."""
    if isinstance(value, dict) and isinstance(locked, dict):
        sub = sorted(differing(value, locked))[0]
        return first_difference(f"{key}.{sub}", lookup(value, sub, missing=_ABSENT_KEY),
                                lookup(locked, sub, missing=_ABSENT_KEY))
    if isinstance(value, list) and isinstance(locked, list):  # as lookup reads it: degrade.perturbations.1
        # before: the whole list shown, a 1,231-character line quoting every perturbation
        index = next(i for i in range(max(len(value), len(locked)))
                     if i >= min(len(value), len(locked)) or value[i] != locked[i])
        return first_difference(f"{key}.{index}", lookup(value, str(index), missing=_ABSENT_KEY),
                                lookup(locked, str(index), missing=_ABSENT_KEY))

    def shown(v: Any) -> str:
        return "absent" if v is _ABSENT_KEY else json.dumps(v, default=str)
    return key, shown(value), shown(locked)


def params_differences(entry: dict, params: dict, *,
                       read_as: Callable[[str, Any], Any] | None = None) -> list[tuple[str, str, str, str]]:
    """``(key, where, now, then)`` for each params.yaml value a dvc.lock ``entry`` recorded that ``params`` no
    longer holds (:func:`first_difference` says where within it), in the entry's order. ``read_as(key, value)``:
    the value at dotted ``key`` as the stages read it, so that two spellings of one setting are compared as one."""
    differences = []
    for key, locked in ((entry.get("params") or {}).get("params.yaml") or {}).items():
        key, value = str(key), lookup(params, str(key), missing=_ABSENT_KEY)
        if value == locked:
            continue
        where = first_difference(key, value, locked)
        if read_as is not None and value is not _ABSENT_KEY:
            value, locked = read_as(key, value), read_as(key, locked)
            if value == locked:
                continue

            def at(v: Any, path: str) -> Any:
                return v if path == key else lookup(v, path[len(key) + 1:], missing=_ABSENT_KEY)
            # the first value written otherwise, shown as the stages read it (method "auto", not absent); where it
            # reads alike, the first that reads otherwise
            path = where[0]
            where = (first_difference(path, at(value, path), at(locked, path))
                     if at(value, path) != at(locked, path) else first_difference(key, value, locked))
        differences.append((key, *where))
    return differences
