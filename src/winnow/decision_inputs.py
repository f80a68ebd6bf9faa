"""What the budget's decisions were chosen from, recorded with them (:func:`winnow.decision_files.stamped`) and held
to the files now by :func:`winnow.decision_files.read_decisions`: the bytes of each cleaner file it chose among, and
the held-out images (data/degrade's val and trusted splits) it judged its cleanings by."""

from __future__ import annotations

import os

import pandas as pd

from winnow.file_ops import file_digests
from winnow.stage_reads import rerun_error
from winnow.variants import DECISION_FILES, DEGRADE

# the records' keys in the decisions' attrs: the sha256 of each cleaner file the budget chose among
# (:func:`cleaner_files`), absent from an earlier budget's file
READ_FROM = "cleaner_files"
# and the held-out images it judged and chose its ridge on (data/degrade's val and trusted splits): per split, their
# number and a digest of their ids, labels and pixels (:func:`judge_splits`); absent from an earlier budget's file
JUDGED_ON = "judge_splits"
JUDGE_SPLITS = ("val", "trusted")


def cleaner_files(cleaners) -> dict[str, str | None]:
    """The sha256 of each file the budget reads the decisions of ``cleaners`` (pruned.cleaners) from, and of dedup's
    groups, whose leak drops it ships whatever they list, by path (None: missing): what its decisions record
    (:func:`winnow.decision_files.stamped`), taken before it reads them, and :func:`check_cleaner_files` compares
    with the files now."""
    return file_digests(dict.fromkeys([DECISION_FILES["dedup"][0], *(DECISION_FILES[c][0] for c in cleaners)]))


def check_cleaner_files(path: str | os.PathLike, attrs: dict, *, cleaners, written_by: str) -> None:
    """Refuse decisions whose record (:data:`READ_FROM`) of the files of ``cleaners`` lacks one or holds other bytes
    than the file now; a file without the record (an earlier budget's) is not checked. Before: run after a cleaner
    alone reran (threshold.cuts edited, then dvc repro -s threshold, and -s variants), pruned still dropped the images
    threshold flagged no more, and kept those it flagged now, exit 0. The files of the cleaners read now, not those
    the record names: a record naming another file hashed it whatever its size ("before the its stage wrote it
    anew"), and one naming none of them (a foreign record) passed."""
    read_from = attrs.get(READ_FROM)
    now = {} if read_from is None else cleaner_files(cleaners)
    changed = next((file for file, digest in now.items() if read_from.get(file) != digest), None)
    if changed is not None:
        stage = next(stage for file, stage, _, _ in DECISION_FILES.values() if file == changed)
        raise rerun_error(path, f"records no bytes of {changed}, whose decisions it chose among" if changed not in
                          read_from else f"chosen among the decisions of {changed} as it was before the {stage} stage "
                          "wrote it anew (its bytes differ now)", written_by=written_by)


def judge_splits(manifest: pd.DataFrame) -> dict[str, dict]:
    """Of ``manifest`` (data/degrade's ``id``, ``split``, ``label``, ``digest``), per split of :data:`JUDGE_SPLITS` it
    holds: ``{"images": n, "sha256": hex}``, a digest of its images' ids, labels and pixel digests in id order: what
    the budget judged its cleanings by (and :func:`check_judge_splits` compares with data/degrade's now)."""
    import hashlib

    out = {}
    for split in JUDGE_SPLITS:
        rows = manifest[manifest["split"] == split].sort_values("id", kind="stable")
        if len(rows):
            text = "".join(f"{i}\t{int(y)}\t{d}\n" for i, y, d in zip(rows["id"], rows["label"], rows["digest"]))
            out[split] = {"images": len(rows), "sha256": hashlib.sha256(text.encode()).hexdigest()}
    return out


def check_judge_splits(path, attrs: dict, *, manifest: pd.DataFrame, budget_off: bool, written_by: str) -> None:
    """Refuse decisions chosen on other val or trusted images (ids, labels or pixels) than data/degrade holds now
    (:data:`JUDGED_ON`), unless the budget was off (it judged nothing then) or the file records none (an earlier
    budget's). Before: the trusted set's labels corrected (ingest.trusted_path edited, ingest and degrade rerun with
    the train split unchanged) and variants run alone applied the cut chosen on the old labels, exit 0."""
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
