"""What the budget's decisions were chosen from, recorded with them (:func:`winnow.decision_files.stamped`) and held
to the files now by :func:`winnow.decision_files.read_decisions`: the bytes of each cleaner file it chose among, the
held-out images (data/degrade's val and trusted splits) it judged its cleanings by, and the bytes of the represent
stage's files its probes and model check read."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from winnow.file_ops import file_digests
from winnow.model_reads import EMBEDDING_FILES  # the files of the embedding, as dedup records them
from winnow.origin_checks import DEGRADE
from winnow.stage_reads import rerun_error
from winnow.variants import DECISION_FILES

# the records' keys in the decisions' attrs: the sha256 of each cleaner file the budget chose among
# (:func:`cleaner_files`), absent from an earlier budget's file
READ_FROM = "cleaner_files"
# and the held-out images it judged and chose its ridge on (data/degrade's val and trusted splits): per split, their
# number and a digest of their ids, labels and pixels (:func:`judge_splits`); absent from an earlier budget's file
JUDGED_ON = "judge_splits"
JUDGE_SPLITS = ("val", "trusted")
# and the train images its probes and model check learnt from: their number and a digest of their ids, labels and pixels
# (:func:`train_split`), absent from an earlier budget's file
TRAINED_ON = "train_split"
# and the represent stage's files it judged by (:func:`represent_files`): the embedding its probes were fitted on, the
# judge that stood in for none's training; empty where it read none (budget off, or too few judge images); absent from
# an earlier budget's file
REPRESENTED = "represent_files"
JUDGE_MODEL = "models/represent.pt"


def cleaner_files(cleaners) -> dict[str, str | None]:
    """The sha256 of each file the budget reads the decisions of ``cleaners`` (pruned.cleaners) from, and of dedup's
    groups, whose leak drops it ships whatever they list, by path (None: missing): what its decisions record
    (:func:`winnow.decision_files.stamped`), taken before it reads them, and :func:`check_cleaner_files` compares
    with the files now."""
    return file_digests(dict.fromkeys([DECISION_FILES["dedup"][0], *(DECISION_FILES[c][0] for c in cleaners)]))


def check_cleaner_files(path: str | os.PathLike, attrs: dict, *, cleaners, written_by: str) -> None:
    """Refuse decisions whose record (:data:`READ_FROM`) of the files of ``cleaners`` lacks one or holds other bytes
    than the file now (a file without the record, an earlier budget's, is refused first: :func:`check_recorded`).
    Before: run after a cleaner alone reran (threshold.cuts edited, then dvc repro -s threshold, and -s variants),
    pruned still dropped the images threshold flagged no more, and kept those it flagged now, exit 0. The files of the
    cleaners read now, not those the record names: a record naming another file hashed it whatever its size ("before the
    its stage wrote it anew"), and one naming none of them (a foreign record) passed."""
    read_from = attrs.get(READ_FROM)
    now = {} if read_from is None else cleaner_files(cleaners)
    changed = next((file for file, digest in now.items() if read_from.get(file) != digest), None)
    if changed is not None:
        stage = next(stage for file, stage, _, _ in DECISION_FILES.values() if file == changed)
        _refuse_damaged(changed)
        raise rerun_error(path, f"records no bytes of {changed}, whose decisions it chose among" if changed not in
                          read_from else f"chosen among the decisions of {changed} as it was before the {stage} stage "
                          "wrote it anew (its bytes differ now)", written_by=written_by)


def _refuse_damaged(file: str) -> None:
    """Read cleaner file ``file`` (a path of :data:`winnow.variants.DECISION_FILES`) as the budget reads it, so one
    damaged since (a null group, a missing column) is refused naming its own stage, which writes it again. Before: a
    null group written into dedup's groups by another tool was blamed on the budget ("as it was before the dedup stage
    wrote it anew; rerun the budget stage"), which then refused the groups."""
    from winnow.stage_reads import read_table

    _, stage, argument, columns = next(entry for entry in DECISION_FILES.values() if entry[0] == file)
    if argument == "groups":
        read_table(file, written_by=stage, columns=(*columns, "group"), booleans=("kept",), complete=("group",))
    elif argument == "flags":
        read_table(file, written_by=stage, columns=columns, flags=True)
    else:
        read_table(file, written_by=stage, columns=(*columns, "given_label"), unique="id")


def represent_files(*, embedding: bool = True, judge: bool = False) -> dict[str, str | None]:
    """The sha256 of the represent stage's files the budget judged by, by path: :data:`EMBEDDING_FILES` where its
    probes read the ``embedding``, :data:`JUDGE_MODEL` where the represent ``judge`` stood in for none's training in
    the model check. Taken before they are read, as :func:`cleaner_files`: :func:`check_represent_files` compares them
    with the files now."""
    return file_digests([*(EMBEDDING_FILES if embedding else ()), *((JUDGE_MODEL,) if judge else ())], kept=True)


def check_represent_files(path: str | os.PathLike, attrs: dict, *, written_by: str,
                          params: Mapping[str, Any] | None = None) -> None:
    """Refuse decisions whose record (:data:`REPRESENTED`) holds other bytes of a represent file than the file now: the
    represent stage rerun since (its params edited), and the variants stage or `winnow review` run alone. Only the
    files of :func:`represent_files` are compared, those the record names (a foreign name is hashed by no one); one
    changed is read first (:func:`_refuse_damaged_represent`), so a damaged or missing one names represent. Before:
    represent rerun on other features and ``dvc repro -s variants`` applied the cut chosen by probes on the old
    embedding, exit 0. With ``params`` (params.yaml), an embedding the decisions were judged by that was made under
    other represent settings than params.yaml's now is refused naming represent
    (:func:`winnow.model_reads.check_made_under`), first: its rerun comes before the budget's. Before: represent.source
    edited and variants run alone applied the cut chosen on the old source's embedding, its bytes unchanged, exit 0."""
    record = attrs.get(REPRESENTED) or {}
    if params is not None and EMBEDDING_FILES[0] in record:
        from winnow.model_reads import check_made_under

        check_made_under(os.path.dirname(EMBEDDING_FILES[0]), params=params)
    changed = next((file for file in (*EMBEDDING_FILES, JUDGE_MODEL)
                    if file in record and record[file] != file_digests([file], kept=True)[file]), None)
    if changed is not None:
        _refuse_damaged_represent(changed)
        what = "the model check's none" if changed == JUDGE_MODEL else "its probes"
        raise rerun_error(path, f"judged by {what} on {changed} as it was before the represent stage wrote it anew "
                                "(its bytes differ now)", written_by=written_by)


def _refuse_damaged_represent(file: str) -> None:
    """Read represent file ``file`` (of :func:`represent_files`) as far as the represent stage's files are read
    whatever params.yaml says (:func:`winnow.model_reads.read_embedding`, :func:`winnow.model_reads.read_checkpoint`),
    so one missing or damaged since (embeddings.npy cut short, ids.json not a list, a model's bit flipped) is refused
    naming the represent stage, which writes it again, as :func:`_refuse_damaged` does a cleaner file's. Before: "as it
    was before the represent stage wrote it anew; rerun the budget stage", whose rerun then refused the file naming
    represent."""
    from winnow.model_reads import read_checkpoint, read_embedding

    if file == JUDGE_MODEL:
        read_checkpoint(file, written_by="represent")
    else:
        read_embedding(os.path.dirname(EMBEDDING_FILES[0]))


# the records a decisions file of this winnow holds, where one of an earlier winnow's lacks them: the words for each
UNRECORDED = {READ_FROM: "cleaner files it chose among", REPRESENTED: "represent files it judged by",
              JUDGED_ON: "judge splits it judged on", TRAINED_ON: "train split it judged by"}


# those a budget that was off depends on none of: it judged nothing and read no represent file
UNJUDGED = (JUDGED_ON, TRAINED_ON, REPRESENTED)


def check_recorded(path: str | os.PathLike, attrs: dict, *, budget_off: bool, written_by: str) -> None:
    """Refuse decisions lacking a record of :data:`UNRECORDED` (but those of :data:`UNJUDGED` where the budget was off,
    which judged nothing): an earlier winnow's file, whose cleaner files, embedding or judge may have changed since,
    which cannot be told. Before: such a file was read unchecked, and pruned applied decisions chosen among cleaner
    files rewritten since, exit 0; and the previous winnow's file of a budget that was off (its cleaner files and judge
    splits recorded) was refused for lacking the represent files it never read."""
    lacking = next((key for key in UNRECORDED
                    if attrs.get(key) is None and not (key in UNJUDGED and budget_off)), None)
    if lacking is not None:
        raise rerun_error(path, f"records no {UNRECORDED[lacking]} (an earlier winnow's file)", written_by=written_by)


def judge_splits(manifest: pd.DataFrame) -> dict[str, dict]:
    """Of ``manifest`` (data/degrade's ``id``, ``split``, ``label``, ``digest``), per split of :data:`JUDGE_SPLITS` it
    holds: ``{"images": n, "sha256": hex}``, a digest of its images' ids, labels and pixel digests in id order: what
    the budget judged its cleanings by (and :func:`check_judge_splits` compares with data/degrade's now)."""
    return {split: _split_record(manifest, split) for split in JUDGE_SPLITS if (manifest["split"] == split).any()}


def train_split(manifest: pd.DataFrame) -> dict:
    """Of ``manifest`` (as :func:`judge_splits`), its train split's ``{"images": n, "sha256": hex}``: the labels and
    pixels the budget's probes and model check learnt from, those of the images no decision names too."""
    return _split_record(manifest, "train")


def _split_record(manifest: pd.DataFrame, split: str) -> dict:
    import hashlib

    rows = manifest[manifest["split"] == split].sort_values("id", kind="stable")
    text = "".join(f"{i}\t{int(y)}\t{d}\n" for i, y, d in zip(rows["id"], rows["label"], rows["digest"]))
    return {"images": len(rows), "sha256": hashlib.sha256(text.encode()).hexdigest()}


def check_train_split(path, attrs: dict, *, manifest: pd.DataFrame, budget_off: bool, written_by: str) -> None:
    """Refuse decisions judged by other train images (ids, labels or pixels) than data/degrade holds now
    (:data:`TRAINED_ON`), unless the budget was off (it judged nothing) or the file records none. Before: degrade rerun
    with other label noise (50 train images no decision names relabelled) and variants run alone applied the cut the
    probes chose on the old labels, exit 0: only the images the decisions name were compared."""
    then = attrs.get(TRAINED_ON)
    if then is None or budget_off or then == train_split(manifest):
        return
    raise rerun_error(path, f"judged by other train images than {DEGRADE}'s now (their ids, labels or pixels changed): "
                            "made before degrade changed the data", written_by=written_by)


def check_judge_splits(path, attrs: dict, *, manifest: pd.DataFrame, budget_off: bool, written_by: str) -> None:
    """Refuse decisions chosen on other val or trusted images (ids, labels or pixels) than data/degrade holds now
    (:data:`JUDGED_ON`), unless the budget was off (it judged nothing then; a budget that was on and records none, an
    earlier budget's, is refused first: :func:`check_recorded`). Before: the trusted set's labels corrected
    (ingest.trusted_path edited, ingest and degrade rerun with the train split unchanged) and variants run alone applied
    the cut chosen on the old labels, exit 0."""
    then = attrs.get(JUDGED_ON)
    if then is None or budget_off:
        return
    now = judge_splits(manifest)
    changed = next((split for split in JUDGE_SPLITS if then.get(split) != now.get(split)), None)
    if changed is None:
        return

    def images(record) -> int:
        return record.get("images", 0) if isinstance(record, dict) else 0
    raise rerun_error(path, f"judged on other {changed} images than {DEGRADE}'s now ({images(then.get(changed))} "
                            f"then, {images(now.get(changed))} now: their ids, labels or pixels changed): made before "
                            "ingest read them anew", written_by=written_by)
