"""The settings embedding-clean and data-valuation decided under, recorded with their decisions (in the table's attrs,
the parquet file's metadata: :func:`decided_at`) and held to params.yaml by every reader of the decisions through
:func:`winnow.decision_files.read_cleaner_tables` (:func:`check_decided_at`): the budget, `winnow review` and the
verdicts.

Before, an edit of one of these settings (``data_valuation.bound`` 1 to 50, ``embedding_clean.agree``), then a reader
run alone (``dvc repro -s budget``, ``winnow review export``), read the decisions of the old settings as current: drops
the new bound would never make were weighed and applied. Decisions that record none (an earlier winnow's) are read as
before. A setting that moves no decision (data-valuation's ``batch_size`` and ``device``: values move by about 5e-6,
no decision; embedding-clean's judge training where the represent embedding is judged) is not recorded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# the embedding_clean and data_valuation sections as their stages read them: what a left-out key means
EMBEDDING_CLEAN_DEFAULTS = {
    "embedding": "represent", "mode": "single", "folds": 4, "rounds": 1, "train": {}, "k": 10, "agree": 0.8,
    "margin": 0.1, "isolation": "auto", "max_isolated_fraction": 0.1, "outliers": ["isolation_forest", "lof", "knn"],
    "outlier_threshold": "auto", "max_outlier_fraction": 0.1, "drop_outliers": False, "bins": 256,
    "augment_between_rounds": True, "relabel_min_precision": 0.8, "relabel_judged_on": "all_val_relabels"}
VALUATION_DEFAULTS = {"knn_k": 10, "bound": 1.0, "combine": "both", "batch_size": 256, "device": "auto",
                      "tracin": {"epochs": 10, "lr": 0.1, "batch_size": 64, "weight_decay": 1e-4}}
# the key of the decisions' attrs that records the settings, and the cleaners whose decisions record them
DECIDED_AT = "decided_at"
DECIDING = ("embedding_clean", "data_valuation")


def decided_at(cleaner: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``{dotted setting of params.yaml: value}``: what moves the decisions of ``cleaner`` (``embedding_clean`` or
    ``data_valuation``) under params.yaml (``params``), a left-out key at its stage's default."""
    if cleaner == "data_valuation":
        section = {**VALUATION_DEFAULTS, **(params.get("data_valuation") or {})}
        tracin = {**VALUATION_DEFAULTS["tracin"], **(section.pop("tracin") or {})}
        settings = {f"data_valuation.{key}": value for key, value in section.items()
                    if key not in ("batch_size", "device")}
        settings |= {f"data_valuation.tracin.{key}": value for key, value in tracin.items()}
    else:
        section = {**EMBEDDING_CLEAN_DEFAULTS, **(params.get("embedding_clean") or {})}
        idle = {"train", "augment_between_rounds", "mode", "folds"}  # nothing is trained in the represent embedding
        if section["embedding"] == "judge":
            idle = {"folds"} if section["mode"] == "single" else set()
            section["train"] = {**(params.get("train") or {}), **(section["train"] or {})}  # the judge's training
            if section["augment_between_rounds"] and section["rounds"] > 1:
                section["balance.policy"] = (params.get("balance") or {}).get("policy")
        settings = {f"embedding_clean.{key}": value for key, value in section.items() if key not in idle}
    return json.loads(json.dumps({"seed": params.get("seed"), **settings}))  # as the file's metadata holds it


def check_decided_at(table, *, cleaner: str, params: Mapping[str, Any], path: str, written_by: str) -> None:
    """Refuse (one line naming the first setting, then and now, and the stage to rerun) ``cleaner``'s decisions
    ``table`` (read with its attrs) decided under other settings than params.yaml's (``params``) now, where they record
    theirs (:data:`DECIDED_AT`)."""
    from winnow.stage_reads import rerun_error

    then = table.attrs.get(DECIDED_AT)
    if then is None:
        return
    if not isinstance(then, dict):
        raise rerun_error(path, f"records the settings it decided under as {json.dumps(then)[:40]}, not a section of "
                                "settings", written_by=written_by)
    now = decided_at(cleaner, params)
    # a setting edited first: one idle under one of the two (the judge's training) is named only where none differs
    both = sorted(key for key in then.keys() & now.keys())
    for key in [*both, *sorted(then.keys() ^ now.keys())]:
        if key not in then or key not in now or _as_read(then[key]) != _as_read(now[key]):
            was = "unrecorded" if key not in then else json.dumps(then[key])
            given = "leaves it idle" if key not in now else f"gives {json.dumps(now[key])}"
            raise rerun_error(path, f"decided with {key} {was}, but params.yaml {given} now", written_by=written_by)


def _as_read(value: Any) -> Any:
    """A setting as its stage reads it: a number by value (10 is 10.0), never a boolean; sections and lists alike."""
    if isinstance(value, dict):
        return {key: _as_read(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_read(item) for item in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ("number", float(value))
    return value
