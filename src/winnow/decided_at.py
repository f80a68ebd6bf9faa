"""The settings confident-learn, embedding-clean and data-valuation decided under, recorded with their decisions (in
the table's attrs, the parquet file's metadata: :func:`decided_at`) and held to params.yaml by every reader of the
decisions (:func:`check_decided_at`): through :func:`winnow.decision_files.read_cleaner_tables` the budget and `winnow
review`, through :func:`winnow.decision_files.read_decisions` the variants stage (the budget's decisions chose among
them), and the report, which shows them.

Before, an edit of one of these settings (``data_valuation.bound`` 1 to 50, ``embedding_clean.agree``), then a reader
run alone (``dvc repro -s budget``, ``winnow review export``), read the decisions of the old settings as current: drops
the new bound would never make were weighed and applied. Decisions that record none (an earlier winnow's) are read as
before. A setting that moves no decision (data-valuation's ``batch_size`` and ``device``: values move by about 5e-6,
no decision; a judge's training where the represent embedding is judged, or where a probe judges; a judge's device or
threads) is not recorded, and embedding_clean.outliers is compared in any order (:data:`UNORDERED`).

A cleaner that decided on the represent stage's embedding (confident-learn's probe, embedding-clean in the represent
embedding, data-valuation) records beside them the sha256 of its files (:func:`decided_on`), which the same readers hold
to the files now (:func:`check_decided_on`). Before, represent rerun alone (its settings edited) and a reader run alone
read the decisions made on the old embedding as current, exit 0. Decisions that record none (an earlier winnow's, or a
cleaner that read no embedding: confident-learn's CNN folds, embedding-clean's judge) are read whatever represent writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from winnow.configs import Policy, model_check_training
from winnow.cosine_index import backend_of
from winnow.file_ops import file_digests
from winnow.model_reads import EMBEDDING_FILES, check_embedding_record

# the confident_learn, embedding_clean and data_valuation sections as their stages read them: what a left-out key means
EMBEDDING_CLEAN_DEFAULTS = {
    "embedding": "represent", "mode": "single", "folds": 4, "rounds": 1, "train": {}, "k": 10, "agree": 0.8,
    "margin": 0.1, "isolation": "auto", "max_isolated_fraction": 0.1, "outliers": ["isolation_forest", "lof", "knn"],
    "outlier_threshold": "auto", "max_outlier_fraction": 0.1, "drop_outliers": False, "bins": 256,
    "augment_between_rounds": True, "relabel_min_precision": 0.8, "relabel_judged_on": "all_val_relabels"}
CONFIDENT_LEARN_DEFAULTS = {
    "judge": "probe", "folds": 4, "repeats": 1, "train": {}, "filter_by": "both", "rank_by": "self_confidence",
    "frac_noise": 1.0, "action": "prune", "relabel_threshold": 0.9, "relabel_min_precision": 0.8,
    "relabel_judged_on": "all_val_relabels"}
VALUATION_DEFAULTS = {"knn_k": 10, "bound": 1.0, "combine": "both", "batch_size": 256, "device": "auto",
                      "tracin": {"epochs": 10, "lr": 0.1, "batch_size": 64, "weight_decay": 1e-4}}
# the key of the decisions' attrs that records the settings, and the cleaners whose decisions record them
DECIDED_AT = "decided_at"
DECIDING = ("confident_learn", "embedding_clean", "data_valuation")
# and the key recording the sha256 of the represent files (:data:`EMBEDDING_FILES`) they were decided on, by path
DECIDED_ON = "embedding_files"
# the settings whose order moves no decision: an outlier is an image any of the methods flags (before, the methods in
# another order refused the decisions the rerun wrote again)
UNORDERED = ("embedding_clean.outliers",)
# the settings that move confident-learn's decisions but not the images it finds at issue (is_issue), which the variant
# contracts measure: an edit of one leaves their label-issue rate as it was
ISSUES_KEPT = ("confident_learn.action", "confident_learn.relabel_threshold", "confident_learn.relabel_min_precision",
               "confident_learn.relabel_judged_on")


def decided_at(cleaner: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``{dotted setting of params.yaml: value}``: what moves the decisions of ``cleaner`` (one of :data:`DECIDING`)
    under params.yaml (``params``), a left-out key at its stage's default."""
    if cleaner == "data_valuation":
        section = {**VALUATION_DEFAULTS, **(params.get("data_valuation") or {})}
        tracin = {**VALUATION_DEFAULTS["tracin"], **(section.pop("tracin") or {})}
        settings = {f"data_valuation.{key}": value for key, value in section.items()
                    if key not in ("batch_size", "device")}
        settings |= {f"data_valuation.tracin.{key}": value for key, value in tracin.items()}
    elif cleaner == "confident_learn":
        section = {**CONFIDENT_LEARN_DEFAULTS, **(params.get("confident_learn") or {})}
        # the probe is a ridge on the represent embedding: the train section trains no judge of it. Pruning, it
        # relabels nothing, so the relabels' bar and where it is measured move no decision
        idle = {"train", *(("relabel_threshold", "relabel_min_precision", "relabel_judged_on")
                           if section["action"] == "prune" else ())}
        settings = {f"confident_learn.{key}": value for key, value in section.items() if key not in idle}
        if section["judge"] == "cnn":
            settings |= _judge_training("confident_learn", params)
    else:
        section = {**EMBEDDING_CLEAN_DEFAULTS, **(params.get("embedding_clean") or {})}
        idle = {"train", "augment_between_rounds", "mode", "folds"}  # nothing is trained in the represent embedding
        if section["embedding"] == "judge":
            # balanced copies are made between rounds only: with one round, augment_between_rounds moves nothing
            augmented = section["augment_between_rounds"] and section["rounds"] > 1
            idle = {"train", *(("folds",) if section["mode"] == "single" else ()),
                    *(() if section["rounds"] > 1 else ("augment_between_rounds",))}
        settings = {f"embedding_clean.{key}": value for key, value in section.items() if key not in idle}
        # how its neighbours are searched: faiss_ivf's approximate search misses some (before: unrecorded, so an edit
        # to it and the budget run alone weighed the decisions of the exact search as current)
        settings["compute.knn"] = backend_of(params)
        if section["embedding"] == "judge":
            settings |= _judge_training("embedding_clean", params, between_rounds=augmented)
    return json.loads(json.dumps({"seed": params.get("seed"), **settings}))  # as the file's metadata holds it


def reads_embedding(cleaner: str, params: Mapping[str, Any]) -> bool:
    """Whether ``cleaner`` (one of :data:`DECIDING`) decides on the represent stage's embedding under params.yaml
    (``params``): confident-learn with its probe judge, embedding-clean in the represent embedding, data-valuation
    always."""
    if cleaner == "confident_learn":
        return {**CONFIDENT_LEARN_DEFAULTS, **(params.get("confident_learn") or {})}["judge"] == "probe"
    if cleaner == "embedding_clean":
        return {**EMBEDDING_CLEAN_DEFAULTS, **(params.get("embedding_clean") or {})}["embedding"] == "represent"
    return True


def decided_on(cleaner: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """What the decisions of ``cleaner`` record under :data:`DECIDED_ON` beside :func:`decided_at`, taken before it
    reads the embedding: where it decides on it under params.yaml (``params``, :func:`reads_embedding`), the sha256 of
    each of :data:`EMBEDDING_FILES` by path; else nothing."""
    return {DECIDED_ON: file_digests(EMBEDDING_FILES, kept=True)} if reads_embedding(cleaner, params) else {}


def _judge_training(cleaner: str, params: Mapping[str, Any], *, between_rounds: bool = False) -> dict[str, Any]:
    """What the judge of ``cleaner`` trains with (the train section, ``<cleaner>.train`` overriding it), as the budget's
    model check records its training (:func:`winnow.configs.model_check_training`: a left-out option at its default,
    not device, threads, stream or eval_batch_size, which move no decision), by ``<cleaner>.train.<option>``, less
    train.augment: a judge trains with no policy whatever it says (winnow.training.TrainConfig.augment); with
    ``balance.policy`` (as :meth:`winnow.configs.Policy.to_params` writes it) only where its rounds are augmented
    between (``between_rounds``). Before, the train section was recorded as written: an edit of train.threads refused
    the decisions, and so did balance.policy written out at its defaults; and under train.augment fixed balance.policy
    was recorded for confident-learn's CNN folds, which never read it (nor does dvc.yaml rerun confident-learn for it),
    so an edit of balance.policy refused its decisions after every `dvc repro`."""
    overrides = (params.get(cleaner) or {}).get("train") or {}
    training = model_check_training({**params, "train": {**(params.get("train") or {}), **overrides}})
    settings = {f"{cleaner}.{key}": value for key, value in training.items()
                if key.startswith("train.") and key != "train.augment"}
    if between_rounds:
        settings["balance.policy"] = Policy.from_params((params.get("balance") or {}).get("policy") or {}).to_params()
    return settings


def check_decided_at(table, *, cleaner: str, params: Mapping[str, Any], path: str, written_by: str,
                     ignoring: tuple[str, ...] = ()) -> None:
    """Refuse (one line naming the first setting, then and now, and the stage to rerun) ``cleaner``'s decisions
    ``table`` (read with its attrs) decided under other settings than params.yaml's (``params``) now, where they record
    theirs (:data:`DECIDED_AT`); settings ``ignoring`` move nothing the reader reads (:data:`ISSUES_KEPT`). Then those
    decided on the represent embedding, where they record its files, are held to them (:func:`check_decided_on`)."""
    then = table.attrs.get(DECIDED_AT)
    if then is not None:
        _check_settings(then, cleaner=cleaner, params=params, path=path, written_by=written_by, ignoring=ignoring)
    check_decided_on(table.attrs.get(DECIDED_ON), params=params, path=path, written_by=written_by)


def _check_settings(then: Any, *, cleaner: str, params: Mapping[str, Any], path: str, written_by: str,
                    ignoring: tuple[str, ...]) -> None:
    """:func:`check_decided_at` of the settings ``then`` that ``cleaner``'s decisions record."""
    from winnow.stage_reads import rerun_error

    if not isinstance(then, dict):
        raise rerun_error(path, f"records the settings it decided under as {json.dumps(then)[:40]}, not a section of "
                                "settings", written_by=written_by)
    now = {key: value for key, value in decided_at(cleaner, params).items() if key not in ignoring}
    then = {key: value for key, value in then.items() if key not in ignoring}
    # a setting edited first: one idle under one of the two (the judge's training) is named only where none differs
    both = sorted(key for key in then.keys() & now.keys())
    for key in [*both, *sorted(then.keys() ^ now.keys())]:
        if key not in then or key not in now or _as_read(then[key], key) != _as_read(now[key], key):
            was = "unrecorded" if key not in then else json.dumps(then[key])
            given = "leaves it idle" if key not in now else f"gives {json.dumps(now[key])}"
            raise rerun_error(path, f"decided with {key} {was}, but params.yaml {given} now", written_by=written_by)


def check_decided_on(record: Any, *, params: Mapping[str, Any], path: str, written_by: str) -> None:
    """Refuse decisions whose ``record`` (:data:`DECIDED_ON`; None: none, as decisions of an earlier winnow or of a
    cleaner that read no embedding) holds other bytes of a represent file than the file now: one missing or damaged
    since is refused naming represent (:func:`winnow.model_reads.read_embedding`), as is an embedding of the same bytes
    made under other represent settings than params.yaml's (``params``) now (:func:`winnow.model_reads.check_made_under`:
    represent's rerun comes before the cleaner's). Before: represent rerun on other features (its settings edited, dvc
    repro -s represent) and the budget, the variants stage or `winnow review export` run alone read the decisions made
    on the old embedding as current, exit 0."""
    check_embedding_record(record, used="decided on", read="it decided on", params=params, path=path,
                           written_by=written_by)


def _as_read(value: Any, key: str = "") -> Any:
    """A setting (``key``) as its stage reads it: a number by value (10 is 10.0), never a boolean; sections and lists
    alike; a list of :data:`UNORDERED` in any order."""
    if isinstance(value, dict):
        return {name: _as_read(item) for name, item in value.items()}
    if isinstance(value, list):
        items = [_as_read(item) for item in value]
        return sorted(items, key=json.dumps) if key in UNORDERED else items
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ("number", float(value))
    return value


def check_decided_table(table, *, path: str, params: Mapping[str, Any], files: Mapping[str, tuple]) -> None:
    """:func:`check_decided_at` of the decisions ``table`` read from ``path``, where that is the decision file of a
    cleaner of :data:`DECIDING` (``files``: :data:`winnow.variants.DECISION_FILES`); another table passes."""
    cleaner = next((c for c in DECIDING if files[c][0] == str(path)), None)
    if cleaner is not None:
        check_decided_at(table, cleaner=cleaner, params=params, path=str(path), written_by=files[cleaner][1])


def check_decided_files(cleaners, *, params: Mapping[str, Any], files: Mapping[str, tuple]) -> None:
    """:func:`check_decided_at` of the decision files (``files``: :data:`winnow.variants.DECISION_FILES`) of
    ``cleaners`` (pruned.cleaners) of :data:`DECIDING` as they are now (a missing one passes: the budget's record of the
    files refuses it), for a reader of the budget's decisions chosen among them: before, an edit of
    ``data_valuation.bound`` and the variants stage run alone applied the drops the budget chose among decisions of the
    old bound."""
    from winnow.stage_reads import read_table

    for cleaner in (c for c in DECIDING if c in cleaners):
        path, stage, _, _ = files[cleaner]
        table = read_table(path, written_by=stage, columns=("id",), missing_ok=True)
        if table is not None:
            check_decided_at(table, cleaner=cleaner, params=params, path=path, written_by=stage)
