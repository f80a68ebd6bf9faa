"""The cleaners' decision files and the budget's, read and checked before any of their decisions is weighed or
applied (:data:`winnow.variants.DECISION_FILES` names the cleaners' files): a damaged or stale file is refused in
one line naming it and the stage that writes it again, never read as other decisions. Read by the budget
(:mod:`winnow.budget`), the variants stage and `winnow review` (:mod:`winnow.review`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from winnow.configs import CLEANERS
from winnow.decided_at import DECIDING, check_decided_at, check_decided_files
from winnow.errors import WinnowError
from winnow.decision_inputs import (
    JUDGED_ON, READ_FROM, REPRESENTED, TRAINED_ON, check_cleaner_files, check_judge_splits, check_recorded,
    check_represent_files, check_train_split, judge_splits, train_split,
)
from winnow.flag_cuts import FLAGS, check_cut, check_flagged_by, check_grouped_at
from winnow.judged_rows import check_given_labels, check_grouped, check_pixels, given_labels, read_filters
from winnow.left_to_judge import check_left_to_judge
from winnow.origin_checks import DEGRADE
from winnow.stage_reads import (
    check_class_indices, check_flags, check_sizes, missing_cell, read_table, rerun_error,
)
from winnow.variants import DECISION_FILES, PER_IMAGE

# what the budget's decisions record of each image they decide (:func:`stamped`): its label and pixel digest then
MADE_ON = ("given_label", "digest")
# and of the data they were decided on, in the table's attrs (the parquet file's metadata): data/degrade's train ids
JUDGED = "train_ids"
# and pruned.cleaners then, in the attrs too (absent from a file of an earlier budget: its stages are checked alone)
CHOSEN_AMONG = "cleaners"
# and the budget section it chose by (winnow.configs.budget_settings), absent from an earlier budget's file as above
CHOSEN_BY = "budget"
# and what its model check trained with (winnow.configs.model_check_training), where the check ran: absent otherwise
CHECKED_WITH = "model_check"
# the label cleaners' columns of numbers that rank their decisions (the budget's confidence, the review queue's order)
SCORE_COLUMNS = ("label_quality", "agreement", "centroid_margin", "harm")


def read_cleaner_tables(cleaners, *, classes: list[str], manifest: pd.DataFrame,
                        extra_columns: dict[str, tuple[str, ...]] | None = None,
                        params: Mapping[str, Any] | None = None) -> dict[str, pd.DataFrame]:
    """The decision files of ``cleaners`` (names in :data:`winnow.variants.DECISION_FILES`), read and checked, as
    :func:`winnow.decision_rows.cleaner_decisions` keyword arguments; ``classes``: data/degrade's class names;
    ``manifest``: data/degrade's (``id``, ``split``, ``label``); ``extra_columns``: per cleaner, columns needed
    besides those it reads; ``params``: params.yaml, whose threshold and score settings threshold's flags must have
    been cut under (:func:`winnow.flag_cuts.check_cut`; None: not compared).

    threshold's flags and dedup's groups must hold one row per image of data/degrade
    (:func:`winnow.stage_reads.read_table` ``rows_of``), a label cleaner's decisions one row per image it judged,
    each a train image of data/degrade with its ``given_label`` there, every table's images of the pixel ``digest``
    there where it records one (:func:`winnow.judged_rows.check_pixels`): a repeated row would count one image's
    decision twice (or two different ones), a missing one would pass it unexamined, an unknown one, a val or test
    image, another given label or other pixels are another data version's. A label cleaner's ``decision`` must be keep, drop or relabel and a relabel's ``suggested_label`` a
    class index; its images those ``cleaners`` leave it (:func:`winnow.left_to_judge.check_left_to_judge`): a table
    judged under other pruned.cleaners is another choice of filters'.

    Raises:
        WinnowError: one line naming the file and the stage that writes it again.
    """
    num_classes = len(classes)
    unknown = sorted(set(cleaners) - set(CLEANERS))
    if unknown:
        raise WinnowError(f"pruned.cleaners: unknown {unknown}; choose from {', '.join(CLEANERS)}")
    tables = {}
    for cleaner in cleaners:
        path, stage, argument, columns = DECISION_FILES[cleaner]
        columns = (*columns, *(extra_columns or {}).get(cleaner, ()))
        if argument in PER_IMAGE:
            # a group read (the verdicts' check of copies) holds one in each row: before, a null group of a copy made
            # its picture seem kept, and a verdict dropping the other copy left pruned without either, exit 0
            tables[argument] = read_table(path, written_by=stage, columns=columns, rows_of=(DEGRADE, manifest["id"]),
                                          flags=argument == "flags", booleans=("kept",) if argument == "groups" else (),
                                          complete=("group",) if argument == "groups" and "group" in columns else ())
            if argument == "groups":  # the splits and labels it chose leaks and kept copies by, too
                check_grouped(tables[argument], manifest=manifest, path=path)
                if params is not None:  # and the dedup settings (before: groups of the old ones weighed)
                    check_grouped_at(tables[argument], params=params, path=path)
            else:
                check_pixels(tables[argument], manifest=manifest, path=path, written_by=stage)
                if params is not None:  # before: flags cut under other settings than params.yaml's were weighed
                    check_cut(tables[argument], params=params, path=path)
        else:
            tables[argument] = read_table(path, written_by=stage, columns=(*columns, "given_label"), unique="id",
                                          ids_of=(DEGRADE, manifest["id"]),
                                          numbers=[c for c in columns if c in SCORE_COLUMNS])
            # before: a decision 'Relabel' (or null) was read as keep, and a relabel to 12 of 10 classes
            # crashed the budget in numpy (or, hidden by another cleaner's drop, reached variants, which
            # told the user to rerun the budget, which wrote it again)
            _check_actions(path, tables[argument], action="decision", label="suggested_label",
                           known=("keep", "drop", "relabel"), num_classes=num_classes, written_by=stage)
            _check_judged(path, tables[argument], manifest=manifest, written_by=stage)
            # before: embedding-clean's outlier flags as text put every kept image in `winnow review export`'s queue as
            # an outlier to drop ("False" is true to astype(bool)), and turned two relabels there into drops
            check_flags(tables[argument], [c for c in tables[argument].columns
                                           if c == "is_issue" or c.endswith("_outlier")], path=path, written_by=stage)
            if params is not None and cleaner in DECIDING:  # before: decisions of settings since edited were weighed
                check_decided_at(tables[argument], cleaner=cleaner, params=params, path=path, written_by=stage)
    if "groups" in tables and "flags" in tables:  # the copies dedup keeps chosen by threshold's flags now
        check_flagged_by(tables["groups"], tables["flags"], manifest=manifest)
    elif "groups" in tables and params is not None and all(DECISION_FILES[c][2] in PER_IMAGE for c in cleaners):
        # threshold no cleaner (nor a label cleaner, whose check below reads the filters): its flags chose the copies
        # dedup keeps all the same. Before, the budget of dedup alone weighed groups kept by flags since cut anew
        read_filters(manifest, params=params, cleaners=cleaners)
    check_left_to_judge(cleaners, tables, manifest=manifest, classes=classes, params=params)
    return tables


def _check_judged(path: str | os.PathLike, table: pd.DataFrame, *, manifest: pd.DataFrame, written_by: str) -> None:
    """Refuse (:func:`winnow.stage_reads.rerun_error`) a label cleaner's ``table`` naming an image outside the train split
    of ``manifest`` (data/degrade's), or with a ``given_label`` that is not its label there: another data version's.
    Before, the budget ranked both (a val image's relabel took a place in each cut and changed nothing) and shipped
    relabels judged against labels that had changed since; `winnow review export` refused only the second, whose
    "relabel owl -> owl" it had offered (and imported a reject of it as accept). A ``given_label`` that is no
    class index (text, null, a fraction) is refused first, naming its row; other pixels last
    (:func:`winnow.judged_rows.check_pixels`)."""
    known = manifest.set_index("id")
    split = table["id"].map(known["split"])
    held_out = np.flatnonzero(split != "train")
    if len(held_out):
        first = held_out[0]
        raise rerun_error(path, f"{len(held_out)} image(s) outside the train split (first {table['id'].iloc[first]!r}, "
                                f"a {split.iloc[first]} image); a label cleaner judges train images only",
                          written_by=written_by)
    check_given_labels(table, manifest=manifest, path=path, written_by=written_by)
    check_pixels(table, manifest=manifest, path=path, written_by=written_by)


def _check_actions(path: str | os.PathLike, table: pd.DataFrame, *, action: str, label: str,
                   known: tuple[str, ...], num_classes: int, written_by: str) -> None:
    """Refuse (:func:`winnow.stage_reads.rerun_error`, naming the first bad row) a row of ``table`` whose ``action``
    column is not one of ``known`` (null included), or a relabel whose ``label`` column is not a class index in
    ``[0, num_classes)``."""
    bad = ~table[action].isin(known)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value, choices = table[action].astype(object).iloc[row], " or ".join([", ".join(known[:-1]), known[-1]])
        raise rerun_error(path, f"row {row} has no {action} (one of {choices})" if missing_cell(value) else
                          f"row {row} has {action} {value!r}, not {choices}", written_by=written_by)
    relabel = (table[action] == "relabel").to_numpy()
    # before: a label column of text was compared as text, so the budget's relabel of a dog to "1" (dog) was no relabel
    # to its own label and pruned held "1->1", which train then refused naming the variants stage, and a cleaner's
    # "2.0" was a traceback in the budget (an empty file holds no label of any kind: the budget's of no decision)
    check_class_indices(table, label, path=path, written_by=written_by)
    labels = pd.to_numeric(table[label], errors="coerce")
    bad = relabel & (labels.isna() | (labels < 0) | (labels >= num_classes) | (labels % 1 != 0)).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise rerun_error(path, f"row {row} relabels to {table[label].astype(object).iloc[row]!r}, not a class "
                                f"index in [0, {num_classes - 1}]", written_by=written_by)


def stamped(decisions: pd.DataFrame, *, manifest: pd.DataFrame, cleaners: list[str],
            settings: dict | None = None, checked_with: dict | None = None,
            read_from: dict | None = None, represented: dict | None = None) -> pd.DataFrame:
    """``decisions`` (rows of :func:`winnow.decision_rows.cleaner_decisions`) with :data:`MADE_ON`: each image's label
    and pixel digest in ``manifest`` (data/degrade's ``id``, ``split``, ``label``, ``digest``), what the budget decided
    on, in ``attrs[JUDGED]`` the ids of its train images, every one the budget judged, in
    ``attrs[CHOSEN_AMONG]`` the ``cleaners`` (pruned.cleaners) whose decisions it chose among, and in
    ``attrs[CHOSEN_BY]`` the budget ``settings`` (:func:`winnow.configs.budget_settings`) it chose by, unless None, and
    in ``attrs[CHECKED_WITH]`` what its model check trained with (:func:`winnow.configs.model_check_training`), unless
    None (no check ran), in ``attrs[READ_FROM]`` the cleaner files it chose among
    (:func:`winnow.decision_inputs.cleaner_files`), unless None, and in ``attrs[JUDGED_ON]`` the val and trusted images
    it judged by (:func:`winnow.decision_inputs.judge_splits`) and in ``attrs[TRAINED_ON]`` the train images
    (:func:`winnow.decision_inputs.train_split`), and in ``attrs[REPRESENTED]`` the represent files it
    judged by (:func:`winnow.decision_inputs.represent_files`; empty: none), unless None."""
    known = manifest.set_index("id")
    out = decisions.assign(given_label=decisions["id"].map(known["label"]).astype(np.int64),
                           digest=decisions["id"].map(known["digest"]).astype(object))
    out.attrs = {JUDGED: sorted(manifest.loc[manifest["split"] == "train", "id"].astype(str)),
                 CHOSEN_AMONG: sorted(cleaners), **({} if settings is None else {CHOSEN_BY: dict(settings)}),
                 **({} if checked_with is None else {CHECKED_WITH: dict(checked_with)}),
                 **({} if read_from is None else {READ_FROM: dict(read_from)}),
                 **({} if represented is None else {REPRESENTED: dict(represented)}),
                 JUDGED_ON: judge_splits(manifest), TRAINED_ON: train_split(manifest)}
    return out


def _deciding(settings: dict) -> dict:
    """Of budget ``settings``, those its decisions depend on: with ``enabled`` false, that alone (every decision,
    unjudged, whatever the others say). Before, fractions edited while the budget was off refused its decisions, and
    the budget rerun wrote the same ones again."""
    return {"enabled": False} if settings.get("enabled") is False else settings


# what each record of stamped() holds: the words for it, and the kind it is (list: of text)
RECORDS = {CHOSEN_AMONG: ("cleaners", list, "a list of cleaners"), JUDGED: ("train images", list, "a list of ids"),
           CHOSEN_BY: ("budget settings", dict, "a section of settings"),
           CHECKED_WITH: ("model check settings", dict, "a section of settings"),
           READ_FROM: ("cleaner files", dict, "a section of files"),
           JUDGED_ON: ("judge splits", dict, "a section of splits"),
           REPRESENTED: ("represent files", dict, "a section of files"),
           TRAINED_ON: ("train split", dict, "a section of images")}


def _check_records(path, attrs: dict, *, written_by: str) -> None:
    """Refuse a decisions file whose records (:func:`stamped`'s ``attrs``) are not of their kind (:data:`RECORDS`),
    each compared below as that kind. Before: budget settings that were no section were an AttributeError, and so
    were the model check's; train images or cleaners recorded as a number a TypeError, as text its letters (cleaners
    "threshold" read as "t, h, r, e, s, h, o, l, d")."""
    for key, (what, kind, meant) in RECORDS.items():
        value = attrs.get(key)
        if value is not None and not (isinstance(value, kind)
                                      and (kind is dict or all(isinstance(item, str) for item in value))):
            raise rerun_error(path, f"records {what} {json.dumps(value)[:40]}, not {meant}", written_by=written_by)


def read_decisions(path: str | os.PathLike, *, written_by: str, num_classes: int,
                   manifest: pd.DataFrame, cleaners: list[str], settings: dict | None = None,
                   training: dict | None = None, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """A file of :func:`winnow.decision_rows.cleaner_decisions` rows (``id, action, label, reason, stage``), checked:
    every id an image of data/degrade (``manifest``: its ``id``, ``split``, ``label``, ``digest``; another id means
    decisions of another data version), every action drop or relabel, every relabel a class index in
    ``[0, num_classes)``, every reason and stage text, (:data:`CHOSEN_AMONG`) chosen among the decisions of
    ``cleaners`` (params.yaml pruned.cleaners now), every stage one of them but for dedup's leak drops, which pruned
    applies whatever they list, (:data:`MADE_ON`, :func:`stamped`)
    each image a train image of data/degrade now of the label and pixels it was decided on, (:data:`JUDGED`)
    every train image of data/degrade now one the budget judged, (:data:`CHOSEN_BY`) chosen by the budget
    ``settings`` params.yaml gives now (:func:`winnow.configs.budget_settings`; None: not compared) and
    (:data:`CHECKED_WITH`), where a model check ran, by one that trained as params.yaml's ``training`` says now
    (:func:`winnow.configs.model_check_training`; None: not compared), chosen among the cleaner files, on the judge
    splits and by the represent files as they are now (:mod:`winnow.decision_inputs`; a file lacking one of those
    records, an earlier winnow's, is refused), and, with threshold among ``cleaners``, of threshold's flags cut under
    the threshold and score settings of ``params`` (params.yaml; :func:`winnow.flag_cuts.check_cut`; None: not
    compared)."""
    # before: a file without MADE_ON (written before the budget stamped its decisions) was read unchecked
    decisions = read_table(path, written_by=written_by, columns=("id", "action", "label", "reason", "stage", *MADE_ON),
                           ids_of=(DEGRADE, manifest["id"]))
    _check_actions(path, decisions, action="action", label="label", known=("drop", "relabel"),
                   num_classes=num_classes, written_by=written_by)
    # before: a null reason or stage crashed apply_decisions ("sequence item 0: expected str instance")
    for column in ("reason", "stage"):
        bad = ~decisions[column].map(lambda value: isinstance(value, str)).to_numpy(bool)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = decisions[column].astype(object).iloc[row]
            raise rerun_error(path, f"row {row} has no {column}" if missing_cell(value) else
                              f"row {row} has {column} {value!r}, not text", written_by=written_by)
    # before: run after pruned.cleaners gained a cleaner (dvc repro -s variants, or by hand), pruned went without its
    # decisions and nothing said so
    _check_records(path, decisions.attrs, written_by=written_by)
    among = decisions.attrs.get(CHOSEN_AMONG)
    if among is not None and sorted(among) != sorted(cleaners):
        raise rerun_error(path, f"chosen among the decisions of pruned.cleaners {', '.join(among) or 'none'}, but "
                                f"params.yaml lists {', '.join(cleaners) or 'none'} now", written_by=written_by)
    # before: run after an edit of the budget section (budget.enabled false: every decision, unjudged), the decisions
    # chosen by the old one were applied, exit 0
    chosen_by = decisions.attrs.get(CHOSEN_BY)
    if settings is not None and chosen_by is not None:
        chosen_by, settings = _deciding(chosen_by), _deciding(settings)
        # enabled first: turned on or off, the side that was off decided by nothing else
        changed = next((k for k in sorted(set(chosen_by) | set(settings), key=lambda k: (k != "enabled", k))
                        if chosen_by.get(k) != settings.get(k)), None)
        if changed is not None:
            raise rerun_error(path, f"chosen by budget.{changed} {json.dumps(chosen_by.get(changed))}, but params.yaml "
                                    f"gives {json.dumps(settings.get(changed))} now", written_by=written_by)
    # before: run after an edit of the train section or seed (dvc repro -s variants), the decisions its model check
    # chose training as the old ones said were applied, exit 0: a label cleaning the new model would not have shipped
    checked_with = decisions.attrs.get(CHECKED_WITH)
    if training is not None and checked_with is not None:
        now = json.loads(json.dumps(training))  # as the file's metadata holds it: a tuple is a list there
        changed = next((k for k in [*now, *(k for k in checked_with if k not in now)]
                        if checked_with.get(k) != now.get(k)), None)
        if changed is not None:
            raise rerun_error(path, f"chosen by a model check that trained with {changed} "
                                    f"{json.dumps(checked_with.get(changed))}, but params.yaml gives "
                                    f"{json.dumps(now.get(changed))} now", written_by=written_by)
    # and after it lost one (a file without CHOSEN_AMONG too), its decisions were applied: [threshold] alone still
    # dropped dedup's copy and took confident-learn's relabels, exit 0
    dropped = ~decisions["stage"].isin(list(cleaners)) & ~((decisions["stage"] == "dedup")
                                                            & (decisions["reason"] == "leak"))
    if dropped.any():
        first = decisions[dropped].iloc[0]
        raise rerun_error(path, f"{int(dropped.sum())} decision(s) of a cleaner params.yaml pruned.cleaners does not "
                                f"list ({', '.join(cleaners) or 'none'}) (first: id {first['id']!r}, by "
                                f"{first['stage']}): made before pruned.cleaners changed", written_by=written_by)
    # before: run after degrade alone reran (dvc repro -s variants, or by hand), decisions of the old labels and pixels
    # landed on the same ids: confident-learn's relabel of a dog to owl relabelled the cat now there, "0->2", exit 0
    known = manifest.set_index("id")
    # the budget decides train images only: one of val or test now means the splits were drawn anew since, its
    # decision silently ignored, and images new to train left unjudged (their labels and pixels are unchanged)
    split = decisions["id"].map(known["split"])
    moved = np.flatnonzero((split != "train").to_numpy())
    if len(moved):
        raise rerun_error(path, f"{len(moved)} decision(s) name images outside {DEGRADE}'s train split now "
                                f"(first: id {decisions['id'].iloc[moved[0]]!r}, a {split.iloc[moved[0]]} image): "
                                "made before ingest split the images anew", written_by=written_by)
    # before: images a redraw moved into train (a smaller ingest.val_fraction) went into pruned judged by no cleaner
    judged = decisions.attrs.get(JUDGED)
    if judged is None:
        raise rerun_error(path, "records no train images it judged (an earlier winnow's file)", written_by=written_by)
    new = manifest["id"][(manifest["split"] == "train").to_numpy() & ~manifest["id"].isin(set(judged)).to_numpy()]
    if len(new):
        raise rerun_error(path, f"{len(new)} train image(s) of {DEGRADE} now were no train image(s) when the budget "
                                f"judged (first: id {new.iloc[0]!r}), judged by no cleaner: made before ingest split "
                                "the images anew", written_by=written_by)
    budget_off = (decisions.attrs.get(CHOSEN_BY) or {}).get("enabled") is False
    check_recorded(path, decisions.attrs, budget_off=budget_off, written_by=written_by)
    check_judge_splits(path, decisions.attrs, manifest=manifest, budget_off=budget_off, written_by=written_by)
    label, digest = decisions["id"].map(known["label"]), decisions["id"].map(known["digest"])
    # read as the label cleaners' given_label is: before, a null was "label nan then": made before degrade changed the
    # data, and booleans were read as classes 0 and 1
    relabelled = given_labels(path, decisions, written_by=written_by) != label.to_numpy(np.float64)
    stale = relabelled | (decisions["digest"].astype(object) != digest).to_numpy()
    if stale.any():
        at = int(np.flatnonzero(stale)[0])
        then = (f"label {decisions['given_label'].astype(object).iloc[at]} then, {label.iloc[at]} now"
                if relabelled[at] else f"pixels {decisions['digest'].iloc[at]!r} then, {digest.iloc[at]!r} now")
        raise rerun_error(path, f"{int(stale.sum())} decision(s) were made on other labels or pixels than "
                                f"{DEGRADE}'s now (first: id {decisions['id'].iloc[at]!r}, {then}): made before "
                                "degrade changed the data", written_by=written_by)
    check_train_split(path, decisions.attrs, manifest=manifest, budget_off=budget_off, written_by=written_by)
    if params is not None and "threshold" in cleaners:
        # before: threshold.issues, bins, max_flagged_fraction or a score setting edited and the variants stage run
        # alone applied the drops of flags cut under the old ones (the budget had chosen among them, bytes unchanged)
        flags = read_table(FLAGS, written_by="threshold", columns=("id",), missing_ok=True)
        if flags is not None:
            check_cut(flags, params=params)
            # and judged data/degrade's original sizes now: before, after degrade's odd_size changed them alone (the
            # digests hold no sizes), the drops chosen among the old sizes' flags were applied, exit 0
            check_sizes(flags, manifest=manifest, path=FLAGS, written_by="threshold")
    if params is not None:  # dedup's leak drops are applied whatever pruned.cleaners lists
        # before: dedup.drop_leaks edited to true and the variants stage run alone kept the train copies of test images
        # that the groups of drop_leaks false had kept (the budget had chosen among them, bytes unchanged)
        groups = read_table(DECISION_FILES["dedup"][0], written_by="dedup", columns=("id",), missing_ok=True)
        if groups is not None:
            check_grouped_at(groups, params=params)
        # and the label cleaners' decisions it chose among decided under params.yaml's settings now (decided_at)
        check_decided_files(cleaners, params=params, files=DECISION_FILES)
    check_cleaner_files(path, decisions.attrs, cleaners=cleaners, written_by=written_by)
    check_represent_files(path, decisions.attrs, written_by=written_by, params=params)
    return decisions
