"""A variant contract's verdict as train@<variant> reads it: ``metrics/contracts/<variant>.json``, written by
:mod:`winnow.variant_contract` in the stage that checks the variant, and ``metrics/contracts.json`` (the
ingest and scores contracts). Kept apart from the checking code so that a change to that code alone
retrains nothing."""

from __future__ import annotations

import json
from pathlib import Path

from winnow.errors import WinnowError
from winnow.variants import WRITTEN_BY

DOCS, METRICS, INPUTS = Path("reports/contracts"), Path("metrics/contracts"), Path("metrics/contracts.json")
# the stage that checks each variant's contract: the one that writes it, or contracts for the variants stage's
CHECKED_BY = {"oracle": "contracts", "baseline": "contracts", "pruned": "contracts", **WRITTEN_BY}


def refuse_failed(name: str, *, params: dict) -> None:
    """Raise when params.yaml enforces a contract ``name``'s training needs and its verdict is not a pass.

    Under ``contracts.mode: enforce`` the ingest and scores contracts (``metrics/contracts.json``) must have
    passed, and so must ``name``'s own when ``contracts.enforce_variants`` names it
    (``metrics/contracts/<name>.json``). A verdict counts only when it is this variant's and was checked
    under enforce; a missing, damaged, foreign or stale one (checked under warn) is no pass. Under warn
    nothing is refused. The stage that checks is rerun by DVC before train whenever the verdict would change;
    this guards the training run by hand.

    Raises:
        WinnowError: one line naming what failed or is missing, and where it is described.
    """
    section = params.get("contracts") or {}  # params.yaml's schema has checked it
    if section.get("mode") != "enforce":
        return
    inputs = _read(INPUTS)
    suites = inputs.get("suites") if isinstance(inputs, dict) and inputs.get("mode") == "enforce" else None
    counted = [_failed(s) for s in suites.values()] if isinstance(suites, dict) else [None]
    if None in counted:
        raise WinnowError(f"{INPUTS} holds no verdict of the ingest and scores contracts checked under "
                          "contracts.mode enforce: run the contracts stage first (dvc repro contracts)")
    failed = sum(counted)
    if failed:
        raise WinnowError(f"the ingest and scores contracts failed under contracts.mode enforce ({failed} "
                          f"failure(s), listed in {INPUTS}; Data Docs in {DOCS / 'inputs'}/index.html): not trained")
    if name not in (section.get("enforce_variants") or []):
        return
    path = METRICS / f"{name}.json"
    verdict = _read(path)
    mine = isinstance(verdict, dict) and verdict.get("variant") == name and verdict.get("enforced") is True
    failed = _failed(verdict) if mine else None
    if failed is None:
        raise WinnowError(f"{path} holds no verdict of {name}'s contract checked under contracts.mode enforce: "
                          f"run the {CHECKED_BY[name]} stage first (dvc repro {CHECKED_BY[name]})")
    if failed:
        raise WinnowError(f"{name}'s contract failed under contracts.mode enforce ({failed} "
                          f"failure(s), listed in {path}; Data Docs in {DOCS / name}/index.html): not trained")


def _read(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _failed(counts) -> int | None:
    """A verdict's ``failed`` count; None unless it is a whole number of at least 0 (not a bool)."""
    value = counts.get("failed") if isinstance(counts, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
