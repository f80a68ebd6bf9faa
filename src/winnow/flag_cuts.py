"""What cut threshold's flags, recorded with them by the threshold stage (in the table's attrs, the parquet file's
metadata) and held to params.yaml by every reader of the flags (:func:`check_cut`): the label cleaners, dedup, the
budget, the variants stage, `winnow review export`, the report and the variants' contracts.

Four settings move the cuts: ``threshold.issues`` (:data:`CUT_BY`), ``threshold.bins`` and
``threshold.max_flagged_fraction``, and the score settings the scores were made at (:data:`CUT_AT`). Before, only the
issues were recorded, and checked by the contracts alone: after an edit of any of them, a stage run by itself (``dvc
repro -s budget``, ``python stages/variants.py``) read the flags cut under the old settings as current, and they
decided which images were cleaned. Flags that record none (an earlier winnow's) are read as before.

dedup's groups record likewise the flags they kept copies by (:data:`FLAGGED_BY`) and the dedup settings they were
made with (:data:`GROUPED_AT`), held to threshold's flags and params.yaml by their readers (:func:`check_flagged_by`,
:func:`check_grouped_at`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from winnow.configs import SCORE_SETTINGS, score_changes, scored_at
from winnow.cosine_index import backend_of
from winnow.errors import WinnowError
from winnow.file_ops import file_digests
from winnow.issue_settings import as_cut
from winnow.model_reads import EMBEDDING_FILES, check_embedding_record

FLAGS = "data/threshold/flags.parquet"
# the key of the flags' attrs recording the threshold.issues they were cut by
CUT_BY = "threshold_issues"
# and the one recording the other settings that moved the cuts (cut_at): the first file that records it
CUT_AT = "threshold_cut_at"
CUT_SETTINGS = ("bins", "max_flagged_fraction")  # of params.yaml's threshold section, besides its issues


def cut_at(params: Mapping[str, Any]) -> dict[str, Any]:
    """What the flags record under :data:`CUT_AT`, of params.yaml (``params``): its threshold section's
    :data:`CUT_SETTINGS` and, under ``score``, the score settings the scores are made at
    (:func:`winnow.configs.scored_at`)."""
    threshold = params.get("threshold") or {}
    return {**{key: threshold.get(key) for key in CUT_SETTINGS}, "score": scored_at(params.get("score") or {})}


def cut_record(params: Mapping[str, Any]) -> dict[str, Any]:
    """The attrs the threshold stage writes its flags with, cut under params.yaml (``params``)."""
    return {CUT_BY: (params.get("threshold") or {}).get("issues"), CUT_AT: cut_at(params)}


def check_cut(flags, *, params: Mapping[str, Any], path: str = FLAGS) -> None:
    """Refuse (one line naming the setting, then and now, and the stage to rerun) threshold's ``flags`` (a table read
    with its attrs) cut under other settings than params.yaml's (``params``) now: :func:`check_cut_by` of its
    issues, then its bins and max_flagged_fraction, then the score settings the scores were made at (the scores
    are made again first: ``dvc repro threshold`` reruns the score stage too). A record of another kind (rewritten
    by another tool) is refused; flags without :data:`CUT_AT` (an earlier winnow's) are checked by their issues
    alone, as before."""
    from winnow.stage_reads import rerun_error

    then = flags.attrs.get(CUT_AT)
    if then is not None and flags.attrs.get(CUT_BY) is None:  # the threshold stage writes both: half a record
        raise rerun_error(path, "records the settings it was cut at but not the threshold.issues it was cut by",
                          written_by="threshold")
    check_cut_by(flags, issues=(params.get("threshold") or {}).get("issues"), path=path)
    if then is None:
        return
    if not isinstance(then, dict):
        raise rerun_error(path, f"records the settings it was cut at as {json.dumps(then)[:40]}, not a section of "
                                "settings", written_by="threshold")
    now = json.loads(json.dumps(cut_at(params)))  # as the file's metadata holds it
    for key in CUT_SETTINGS:
        if not _same(then.get(key), now[key]):
            raise rerun_error(path, f"cut with threshold.{key} "
                                    f"{'unrecorded' if key not in then else json.dumps(then[key])}, but params.yaml "
                                    f"gives {json.dumps(now[key])} now", written_by="threshold")
    changed = score_changes(then.get("score"), params.get("score") or {})
    if changed:
        raise WinnowError(f"{path}: cut from scores made at other settings than params.yaml's score section "
                          f"({'; '.join(changed)}): made before that section changed; rerun the score and threshold "
                          "stages (dvc repro threshold)")


def _same(then: Any, now: Any) -> bool:
    """Whether a recorded setting ``then`` is params.yaml's ``now``: numbers by value (256 is 256.0), a boolean or
    text never a number."""
    def number(value):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(then) == float(now) if number(then) and number(now) else (type(then) is type(now) and then == now)


def check_cut_by(flags, *, issues: dict | None, path: str) -> None:
    """Refuse (:func:`winnow.stage_reads.rerun_error`) threshold's ``flags`` cut by other ``threshold.issues`` than
    ``issues`` (params.yaml's now), where they record theirs (:data:`CUT_BY`): a reader of the section took them for
    flags of the issues it lists. Before: flags of a run with every issue left out (all false) read after issues were
    listed (`dvc repro -s contracts`), and the variants' flagged-image rate passed at 0.0 on images nobody examined."""
    from winnow.stage_reads import rerun_error

    then = flags.attrs.get(CUT_BY)
    if then is None:
        return
    if not isinstance(then, dict):  # before: a record of another kind (rewritten by another tool) read as none
        raise rerun_error(path, f"records threshold.issues {json.dumps(then)[:40]}, not a section of issues",
                          written_by="threshold")
    now = json.loads(json.dumps(issues or {}))  # as the file's metadata holds it
    changed = next((issue for issue in sorted({*now, *then}) if as_cut(then.get(issue)) != as_cut(now.get(issue))),
                   None)
    if changed is not None:
        was, given = then.get(changed), now.get(changed)
        raise rerun_error(path, f"cut with threshold.issues.{changed} "
                                f"{'left out' if was is None else json.dumps(was)}, but params.yaml "
                                f"{'leaves it out' if given is None else 'gives ' + json.dumps(given)} now",
                          written_by="threshold")


# the key of dedup's groups' attrs recording the flags it chose the copy each group keeps by (flagged_by): a group
# keeps an unflagged copy where it has one, as pruned drops a flagged image
FLAGGED_BY = "flagged_by"
# and the one recording the dedup settings the groups were made with (grouped_at): every one of them moves a link, a
# kept copy or a leak drop
GROUPED_AT = "dedup_settings"
# params.yaml's dedup section as the dedup stage reads it: each setting and what a left-out one means
DEDUP_SETTINGS = {"radius": None, "min_correlation": None, "flip": False, "crop": None, "embedding_radius": None,
                  "embedding_confirm": True, "keep": "best_quality", "drop_leaks": True, "orientations": "upright"}


# and beside them how the embedding's neighbours are searched (embedding_radius's pairs): faiss_ivf's approximate
# search misses some the exact one finds
KNN = "compute.knn"
# and, under keep best_quality, the score settings the quality scores each group's kept copy was chosen by were made at
# (the scores' own record, winnow.quality.SCORED_AT; scored_by): the percentiles move the dark and light scores, and
# with them the mean that picks the copy
SCORED_BY = "kept_by_scores"
# the score settings that move the odd_size and odd_aspect_ratio scores alone (the fences of the original sizes): train
# images of one original size score alike under any of them, so none of them moves a choice among such images
FENCE_SETTINGS = ("iqr_factor", "min_relative_spread")
# and, where embedding_radius is set, the sha256 of the represent stage's files its search read (embedded_by): represent
# rerun on other features (its params edited) moves every embedding link
EMBEDDED_BY = "embedding_files"


def grouped_at(params: Mapping[str, Any]) -> dict[str, Any]:
    """The dedup settings of params.yaml (``params``) the dedup stage groups by: its ``dedup`` section's
    :data:`DEDUP_SETTINGS`, a left-out one as the stage reads it."""
    section = params.get("dedup") or {}
    return {key: section.get(key, default) for key, default in DEDUP_SETTINGS.items()}


def grouped_record(params: Mapping[str, Any]) -> dict[str, Any]:
    """What dedup's groups record under :data:`GROUPED_AT`: :func:`grouped_at` and, where embedding_radius is set (the
    one search it moves), :data:`KNN` as the stage reads it (:func:`winnow.cosine_index.backend_of`: numpy where left
    out)."""
    settings = grouped_at(params)
    return settings if settings["embedding_radius"] is None else {**settings, KNN: backend_of(params)}


def scored_by(params: Mapping[str, Any], recorded: Any, *, chosen: bool, sizes=None) -> dict[str, Any]:
    """What dedup's groups record under :data:`SCORED_BY`, empty where nothing is: under params.yaml's (``params``)
    dedup.keep best_quality, where a group held two or more train images to choose among (``chosen``), the settings
    the scores it read record they were made at (``recorded``, their :data:`winnow.quality.SCORED_AT`; None: they
    record none, as an earlier winnow's). Groups that chose nothing by the scores are read after any score edit, and
    where the train images are all of one original size (``sizes``: their ``orig_h`` and ``orig_w``; None: not
    known), after an edit of :data:`FENCE_SETTINGS`, left out of the record."""
    keep = grouped_at(params)["keep"]
    if recorded is None or not chosen or keep != "best_quality":
        return {}
    # before: score.iqr_factor edited in a data set of one original size (MNIST, CIFAR), score rerun, then a reader of
    # the groups run alone refused them, where dedup rerun kept every copy it had kept
    if sizes is not None and isinstance(recorded, dict) and len(sizes.drop_duplicates()) <= 1:
        recorded = {key: value for key, value in recorded.items() if key not in FENCE_SETTINGS}
    return {SCORED_BY: recorded}


def embedded_by(params: Mapping[str, Any]) -> dict[str, Any]:
    """What dedup's groups record under :data:`EMBEDDED_BY`, taken before the embedding is read: where params.yaml's
    (``params``) dedup.embedding_radius is set, the sha256 of each of :data:`EMBEDDING_FILES` by path; else nothing."""
    if grouped_at(params)["embedding_radius"] is None:
        return {}
    return {EMBEDDED_BY: file_digests(EMBEDDING_FILES, kept=True)}


def as_read(key: str, value: Any) -> Any:
    """``value``, params.yaml's at the dotted ``key`` (as dvc.lock names a stage's params: ``threshold``,
    ``threshold.issues``, ``threshold.issues.dark``, ``dedup``), as the stages read it: each threshold.issues setting
    as it cuts (:func:`as_cut`), each dedup setting left out at what it means (:data:`DEDUP_SETTINGS`), for
    :func:`winnow.lock_entries.params_differences`. Before, a run under ``dark: {method: auto}`` was refused by the
    compare and report stages as another run once params.yaml wrote ``dark: {}``, which cuts alike (the flags' own
    check, :func:`check_cut`, passed them), and likewise ``dedup.keep: best_quality`` written out."""
    parts = key.split(".")
    if parts[:2] == ["threshold", "issues"] and len(parts) == 3:
        return as_cut(value)
    if parts == ["threshold", "issues"] and isinstance(value, dict):
        return {issue: as_cut(setting) for issue, setting in value.items()}
    if parts == ["threshold"] and isinstance(value, dict) and isinstance(value.get("issues"), dict):
        return {**value, "issues": as_read("threshold.issues", value["issues"])}
    if parts == ["dedup"] and isinstance(value, dict):
        return {**DEDUP_SETTINGS, **value}
    return value


def check_grouped_at(groups, *, params: Mapping[str, Any], path: str = "data/dedup/groups.parquet") -> None:
    """Refuse (one line naming the setting, then and now, and dedup as the stage to rerun) dedup's ``groups`` made with
    other dedup settings than params.yaml's (``params``) now, where they record theirs (:data:`GROUPED_AT`; groups of
    an earlier winnow are read as before). Before: dedup.drop_leaks, keep or a radius edited and a reader run alone
    (``dvc repro -s budget``, ``python stages/variants.py``) read the groups of the old settings as current: with
    drop_leaks edited to true, pruned kept the train copies of test images the old groups had kept, exit 0."""
    from winnow.stage_reads import rerun_error

    then = groups.attrs.get(GROUPED_AT)
    if then is None:
        return
    if not isinstance(then, dict):
        raise rerun_error(path, f"records the dedup settings it was made with as {json.dumps(then)[:40]}, not a "
                                "section of settings", written_by="dedup")
    now = json.loads(json.dumps(grouped_record(params)))  # as the file's metadata holds it
    # groups written before dedup.orientations was recorded searched upright only: read as upright, not refused
    then = {"orientations": "upright", **then}
    # compute.knn searches embedding_radius's pairs (before: unrecorded, so after an edit to faiss_ivf, which misses
    # some neighbours, every reader run alone read the groups of the exact search as current); groups written before
    # it was recorded are read as before, as those written before any record
    idle = _idle(then) & _idle(now) | ({KNN} if KNN not in then else set())
    for key in [*DEDUP_SETTINGS, KNN]:
        if key not in idle and (key not in then or not _same(then[key], now[key])):
            raise rerun_error(path, f"grouped with {key if key == KNN else f'dedup.{key}'} "
                                    f"{'unrecorded' if key not in then else json.dumps(then[key])}, but params.yaml "
                                    f"gives {json.dumps(now[key])} now", written_by="dedup")
    # before: score's percentiles edited, score and threshold rerun, and a reader run alone read the copies kept by the
    # old quality scores as dedup's choice now (a group kept the copy the new scores rank second), exit 0. Groups
    # that record no scores (an earlier winnow's, keep first, scores recording nothing) are read as before
    # (the fences' settings where the record holds them: left out, the train images were of one size)
    record = groups.attrs.get(SCORED_BY)
    keys = [key for key in SCORE_SETTINGS if key not in FENCE_SETTINGS or not isinstance(record, dict) or key in record]
    changed = score_changes(record, params.get("score") or {}, keys=keys) if SCORED_BY in groups.attrs else []
    if changed:
        raise rerun_error(path, f"kept each group's copy by quality scores made at other settings than params.yaml's "
                                f"score section ({'; '.join(changed)})", written_by="dedup")
    _check_embedded_by(groups.attrs.get(EMBEDDED_BY), searched=now["embedding_radius"] is not None, path=path,
                       params=params)


def _check_embedded_by(record: Any, *, searched: bool, path: str, params: Mapping[str, Any]) -> None:
    """Refuse dedup's groups whose ``record`` (:data:`EMBEDDED_BY`; None: none, as groups of an earlier winnow's) holds
    other bytes of a represent file than the file now, where the embedding's search is on (``searched``): one missing
    or damaged since is refused naming represent (:func:`winnow.stage_reads.read_embedding`). Before: represent rerun on
    other features (represent.source edited, dvc repro -s represent) and a reader of the groups run alone read the
    copies the old embedding linked as dedup's now, exit 0. An embedding of the same bytes made under other represent
    settings than params.yaml's (``params``) now is refused naming represent
    (:func:`winnow.model_reads.check_made_under`): before, represent.source edited and a reader of the groups run alone
    read the old source's links, exit 0."""
    if searched:
        check_embedding_record(record, used="grouped by the embedding's search on", read="it was grouped by",
                               params=params, path=path, written_by="dedup")


def _idle(settings: Mapping[str, Any]) -> set[str]:
    """The dedup ``settings`` that move no link under the others: embedding_confirm and compute.knn without the
    embedding's search (embedding_radius null), and min_correlation without it and without the pHash searches (radius
    null: exact copies alone). :func:`check_grouped_at` passes one idle under both the record and params.yaml (an edit
    of the search that reads it is refused by that search's setting). Before, embedding_confirm edited in the default run (no embedding
    search) refused the groups, which it leaves as they are, in every reader run alone."""
    idle = set()
    if settings.get("embedding_radius") is None:
        idle |= {"embedding_confirm", KNN}
        if settings.get("radius") is None:
            idle.add("min_correlation")
    return idle


def flagged_by(flags, *, manifest) -> dict[str, Any]:
    """What dedup's groups record under :data:`FLAGGED_BY`: of threshold's ``flags`` (None: none written), the train
    images of ``manifest`` (data/degrade's) they flag, as ``{"flagged": n, "sha256": hex}`` of their sorted ids (
    ``{"flagged": None, "sha256": None}`` without flags); only a train copy is kept by them."""
    import hashlib

    if flags is None:
        return {"flagged": None, "sha256": None}
    train = set(manifest.loc[manifest["split"] == "train", "id"])
    ids = sorted(str(i) for i in flags.loc[flags["any"].to_numpy(bool), "id"] if i in train)
    return {"flagged": len(ids), "sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest()}


def check_flagged_by(groups, flags, *, manifest, path: str = "data/dedup/groups.parquet") -> None:
    """Refuse (one line naming dedup as the stage to rerun) dedup's ``groups`` that chose the copies they keep by other
    flags of train images than threshold's ``flags`` now (``manifest``: data/degrade's), where they record theirs
    (:data:`FLAGGED_BY`; groups of an earlier winnow are read as before). Before: threshold cut anew (an edit of its
    settings, then threshold and the budget run alone) left the groups keeping a copy threshold flags now, whose sound
    copy they had removed as its duplicate: pruned held no copy of the picture."""
    from winnow.stage_reads import rerun_error

    then = groups.attrs.get(FLAGGED_BY)
    if then is None:
        return
    if flags is not None and "any" not in flags:  # read without it where nothing else needs it (the report)
        raise rerun_error(FLAGS, "lacks column(s) any", written_by="threshold")
    now = flagged_by(flags, manifest=manifest)
    if then == now:
        return
    if not isinstance(then, dict) or not isinstance(then.get("flagged"), (int, type(None))):
        raise rerun_error(path, f"records the flags it kept copies by as {json.dumps(then)[:40]}, not a count and "
                                "digest of flagged images", written_by="dedup")
    if not then["flagged"] and not now["flagged"]:  # no flags keep the copies flags of no train image keep: before,
        return  # dedup run by hand before threshold, which then flagged no train image, was refused

    def said(record):
        return "no flags" if record["flagged"] is None else f"{record['flagged']} flagged train image(s)"
    other = ", other images" if then["flagged"] == now["flagged"] else ""
    raise rerun_error(path, f"chose the copies it keeps by threshold's flags as they were ({said(then)} then, "
                            f"{said(now)} now{other}): made before threshold flagged anew", written_by="dedup")
