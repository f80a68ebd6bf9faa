"""A variant contract's verdict as train@<variant> reads it: ``metrics/contracts/<variant>.json``, written by
:mod:`winnow.variant_contract` in the stage that checks the variant. Kept apart from the checking code so
that a change to how contracts are checked does not retrain every variant."""

from __future__ import annotations

import json
from pathlib import Path

from winnow.errors import WinnowError
from winnow.variants import WRITTEN_BY

DOCS, METRICS = Path("reports/contracts"), Path("metrics/contracts")
# the stage that checks each variant's contract: the one that writes it, or contracts for the variants stage's
CHECKED_BY = {"oracle": "contracts", "baseline": "contracts", "pruned": "contracts", **WRITTEN_BY}


def refuse_failed(name: str, *, params: dict) -> None:
    """Raise when ``name``'s contract was enforced and failed, as ``metrics/contracts/<name>.json`` says (its
    ``enforced`` flag follows ``contracts.mode`` and ``contracts.enforce_variants``). Without a readable
    verdict (a stage run by hand), an enforced contract counts as not passed.

    Raises:
        WinnowError: one line naming the failures' count and where they are described.
    """
    path = METRICS / f"{name}.json"
    try:
        verdict = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        verdict = None
    if not (isinstance(verdict, dict) and isinstance(verdict.get("failed"), int)):
        section = params.get("contracts") or {}  # params.yaml's schema has checked it
        if section.get("mode") == "enforce" and name in (section.get("enforce_variants") or []):
            raise WinnowError(f"{path} holds no verdict of {name}'s contract, enforced by contracts.mode: run "
                              f"the {CHECKED_BY[name]} stage first (dvc repro {CHECKED_BY[name]})")
        return
    if verdict.get("enforced") and verdict["failed"]:
        raise WinnowError(f"{name}'s contract failed under contracts.mode enforce ({verdict['failed']} "
                          f"failure(s), listed in {path}; Data Docs in {DOCS / name}/index.html): not trained")
