"""A variant contract's verdict as train@<variant> reads it: ``metrics/contracts/<variant>.json``, written by
:mod:`winnow.variant_contract` in the stage that checks the variant, and ``metrics/contracts.json`` (the
ingest and scores contracts). Kept apart from the checking code so that a change to that code alone
retrains nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from winnow.errors import WinnowError, refuse_unreadable
from winnow.file_ops import file_digest
from winnow.issue_settings import issues_as_cut
from winnow.variants import ROW_COLUMNS, VARIANTS_DIR, WRITTEN_BY

DOCS, METRICS, INPUTS = Path("reports/contracts"), Path("metrics/contracts"), Path("metrics/contracts.json")
# the stage that checks each variant's contract: the one that writes it, or contracts for the variants stage's
CHECKED_BY = {"oracle": "contracts", "baseline": "contracts", "pruned": "contracts", **WRITTEN_BY}
# what a variant trains on, of rows.parquet, and its stage: a person's verdict there makes a doubted label no issue
FINGERPRINTED = ("id", "origin", "label", "action", "stage")
# the suites metrics/contracts.json holds a verdict of, the contracts stage checks and train@<variant> needs each
INPUT_SUITES = ("ingest", "scores")
assert set(FINGERPRINTED) <= set(ROW_COLUMNS)
# the params.yaml settings besides contracts that a verdict's rules depend on, which dvc.yaml declares for the stages
# that check them: ingest.size is the ingest suite's image_size; threshold.issues naming none leaves the flagged-image
# rate unmeasured (it then fails), and flags cut under other issues are refused. Before, a pass checked under
# ingest.size 28 trained by hand under 32, where the ingest contract then fails ("image height is ingest.size"), and
# one measured under the default issues trained under none ({})
INPUT_SETTINGS, VARIANT_SETTINGS = ("ingest.size",), ("threshold.issues",)


def bounds_of(section) -> dict:
    """params.yaml ``contracts``'s bounds that bound something (a null or missing one bounds nothing): what a
    verdict records, and what :func:`refuse_failed` finds in params.yaml when it reads one."""
    bounds = (section or {}).get("bounds") if isinstance(section, dict) else None
    return {key: value for key, value in sorted((bounds or {}).items()) if value is not None}


def settings_of(params: dict, keys: tuple[str, ...]) -> dict:
    """Each of ``keys`` (``section.key``, :data:`INPUT_SETTINGS`, :data:`VARIANT_SETTINGS`) -> its value in ``params``
    (null where its section is): what a verdict records, and what :func:`refuse_failed` finds in params.yaml."""
    found = {}
    for key in keys:
        section, name = key.split(".")
        found[key] = (params.get(section) or {}).get(name)
    return found


def rows_fingerprint(rows) -> str:
    """sha256 of a variant's rows (a DataFrame with :data:`FINGERPRINTED`, in order): the rows a verdict was
    checked on, so that train@<variant> can tell them from rows written since."""
    text = rows.loc[:, list(FINGERPRINTED)].astype(str)
    return hashlib.sha256(pd.util.hash_pandas_object(text, index=False).to_numpy().tobytes()).hexdigest()


def _suites_changed(verdict: dict) -> bool:
    recorded = verdict.get("suite_files")
    return not (isinstance(recorded, dict) and recorded
                and all(isinstance(d, str) and file_digest(p) == d for p, d in recorded.items()))


def _settings_changed(verdict: dict, *, params: dict, keys: tuple[str, ...], path: Path, rerun: str) -> None:
    """Raise unless ``verdict`` (read from ``path``) records the settings ``keys`` of params.yaml as ``params`` holds
    them now (:func:`settings_of`)."""
    recorded, now = verdict.get("settings"), settings_of(params, keys)
    if not isinstance(recorded, dict) or set(recorded) != set(keys):
        raise WinnowError(f"{path} holds a verdict that does not record the params.yaml settings it was checked under "
                          f"({', '.join(keys)}): {rerun}")
    changed = next((key for key in keys if _as_checked(key, recorded[key]) != _as_checked(key, now[key])), None)
    if changed is not None:
        raise WinnowError(f"{path} holds a verdict checked under another {changed} than params.yaml's: {rerun}")


def _as_checked(key: str, value):
    """A setting ``key`` of a verdict's record, or of params.yaml, as the stage that checks reads it: threshold.issues
    as the threshold stage cuts by them (:func:`winnow.issue_settings.issues_as_cut`), any other as written. Before,
    a pass checked under ``dark: {}`` refused a hand-run train once params.yaml wrote ``dark: {method: auto}``, the
    same cut ("checked under another threshold.issues")."""
    return issues_as_cut(json.loads(json.dumps(value))) if key == "threshold.issues" else value


def _data_changed(verdict: dict, *, path: Path, rerun: str) -> None:
    """Raise unless each data file ``verdict`` (read from ``path``) records is as it was then (its ``data_files``: path
    -> sha256, null for a file then missing, such as a cleaner's output that counted as not measured). Before, a pass
    trained by hand after threshold, dedup or confident-learn rewrote their outputs (every image flagged): the rows,
    and so the fingerprint, stay the same where pruned applies none."""
    recorded = verdict.get("data_files")
    if not isinstance(recorded, dict) or not recorded:
        raise WinnowError(f"{path} holds a verdict that does not record the data files it was computed from: {rerun}")
    changed = changed_data_file(recorded)
    if changed is not None:
        raise WinnowError(f"{path} holds a verdict computed from another {changed} than the one there now (written "
                          f"after the check): {rerun}")


def changed_data_file(recorded: dict) -> str | None:
    """The first data file of a verdict's ``data_files`` (``recorded``: path -> sha256, null for a file then missing)
    that is not as it was then, or whose record is no digest; None when each is: what train@<variant>
    (:func:`refuse_failed`) and the report read a verdict against. Each file is hashed once per version in a process
    (before: the report hashed data/degrade/manifest.parquet and every cleaner output again for each verdict it read,
    the contracts' and each variant's)."""
    return next((p for p, d in recorded.items()
                 if not (d is None or isinstance(d, str)) or file_digest(p, kept=True) != d), None)


def refuse_failed(name: str, *, params: dict) -> None:
    """Raise when params.yaml enforces a contract ``name``'s training needs and its verdict is not a pass.

    Under ``contracts.mode: enforce`` the ingest and scores contracts (``metrics/contracts.json``) must have
    passed, and so must ``name``'s own when ``contracts.enforce_variants`` names it
    (``metrics/contracts/<name>.json``). A verdict counts only when it is this variant's and was checked
    under enforce; a missing, damaged, foreign or stale one (checked under warn) is no pass. Under warn
    nothing is refused. The stage that checks is rerun by DVC before train whenever the verdict would change;
    this guards the training run by hand, so a verdict checked under other ``contracts.bounds`` (or
    :data:`INPUT_SETTINGS`, :data:`VARIANT_SETTINGS`) than params.yaml now holds, against suite files edited since,
    on data files (an imageset's manifest, a cleaner's output) rewritten since, or on rows other than
    ``data/variants/<name>/rows.parquet`` now holds, is no pass either.

    Raises:
        WinnowError: one line naming what failed or is missing, and where it is described.
    """
    section = params.get("contracts") or {}  # params.yaml's schema has checked it
    if section.get("mode") != "enforce":
        return
    inputs = _read(INPUTS)
    bounds = bounds_of(section)
    suites = inputs.get("suites") if isinstance(inputs, dict) and inputs.get("mode") == "enforce" else None
    # each suite by name: before, a hand-edited "suites": {} counted no failure, and the empty verdict was a pass
    counted = [_failed(suites.get(s)) for s in INPUT_SUITES] if isinstance(suites, dict) else [None]
    if None in counted:
        raise WinnowError(f"{INPUTS} holds no verdict of the ingest and scores contracts checked under "
                          "contracts.mode enforce: run the contracts stage first (dvc repro contracts)")
    failed = sum(counted)
    if failed:
        raise WinnowError(f"the ingest and scores contracts failed under contracts.mode enforce ({failed} "
                          f"failure(s), listed in {INPUTS}; Data Docs in {DOCS / 'inputs'}/index.html): not trained")
    if inputs.get("bounds") != bounds:  # a pass under looser bounds is no pass under today's
        raise WinnowError(f"{INPUTS} holds a verdict checked under other contracts.bounds than params.yaml's: "
                          "run the contracts stage first (dvc repro contracts)")
    _settings_changed(inputs, params=params, keys=INPUT_SETTINGS, path=INPUTS,
                      rerun="run the contracts stage first (dvc repro contracts)")
    if _suites_changed(inputs):
        raise WinnowError(f"{INPUTS} holds a verdict checked against suite files edited since: run the contracts "
                          "stage first (dvc repro contracts)")
    _data_changed(inputs, path=INPUTS, rerun="run the contracts stage first (dvc repro contracts)")
    if name not in (section.get("enforce_variants") or []):
        return
    path = METRICS / f"{name}.json"
    verdict = _read(path)
    mine = isinstance(verdict, dict) and verdict.get("variant") == name and verdict.get("enforced") is True
    failed = _failed(verdict) if mine else None
    rerun = f"run the {CHECKED_BY[name]} stage first (dvc repro {CHECKED_BY[name]})"
    if failed is None:
        raise WinnowError(f"{path} holds no verdict of {name}'s contract checked under contracts.mode enforce: {rerun}")
    if failed:
        raise WinnowError(f"{name}'s contract failed under contracts.mode enforce ({failed} "
                          f"failure(s), listed in {path}; Data Docs in {DOCS / name}/index.html): not trained")
    if verdict.get("bounds") != bounds:
        raise WinnowError(f"{path} holds a verdict checked under other contracts.bounds than params.yaml's: {rerun}")
    _settings_changed(verdict, params=params, keys=VARIANT_SETTINGS, path=path, rerun=rerun)
    if _suites_changed(verdict):
        raise WinnowError(f"{path} holds a verdict checked against a suite file edited since: {rerun}")
    _data_changed(verdict, path=path, rerun=rerun)
    now = _fingerprint_of(name)
    if now is not None and verdict.get("rows") != now:
        raise WinnowError(f"{path} holds a verdict of other rows than {VARIANTS_DIR}/{name}/rows.parquet holds now "
                          f"(written after the check): {rerun}")


def _fingerprint_of(name: str) -> str | None:
    """:func:`rows_fingerprint` of ``data/variants/<name>/rows.parquet``, or None when it cannot be read (the
    training then stops on it with its own line)."""
    try:
        rows = pd.read_parquet(Path(VARIANTS_DIR) / name / "rows.parquet", columns=list(FINGERPRINTED))
    except Exception:  # noqa: BLE001 - missing, damaged or without the columns: no rows to match the verdict
        return None
    return rows_fingerprint(rows)


def _read(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:  # ValueError: not JSON, not UTF-8, a number past 4,300 digits
        refuse_unreadable(err, path)  # before: read as no verdict, "run the contracts stage", which DVC skipped
        return None


def _failed(counts) -> int | None:
    """A verdict's ``failed`` count; None unless it is a whole number of at least 0 (not a bool)."""
    value = counts.get("failed") if isinstance(counts, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
