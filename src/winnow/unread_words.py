"""What a reviewed file holds that ``winnow review import`` does not read as a new verdict, so that the import can
say so (:mod:`winnow.review`): a Label Studio export's drafts never submitted and saved verdicts whose annotation a
person deleted (:func:`left_unread`), a CSV file's emptied verdict cells (:func:`cleared_ids`) and the rows whose
verdict cell still says their ``saved`` cell (:func:`shown_saved`), which import skips as no new word.

Before, an export whose annotators had left drafts only was "0 verdict(s) (none) written", exit 0, and a saved
verdict whose pre-filled annotation a person deleted in Label Studio (the way to withdraw it there) was kept without a
word, where the same cell emptied in the queue is warned of."""

from __future__ import annotations

import json
from pathlib import Path

from winnow.review_verdicts import same_word
from winnow.review_words import VERDICT_CONTROL, read_reviewed_csv


def _chosen(entries) -> set[str]:
    """The verdict words ``entries`` (a task's ``annotations`` or ``drafts``, as Label Studio exports them) choose,
    those of cancelled (skipped) annotations left out; entries of another shape choose nothing (the import, which read
    the annotations first, refuses those)."""
    words = set()
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("was_cancelled") is True:
            continue
        for result in entry.get("result") if isinstance(entry.get("result"), list) else []:
            # a draft is never read by the import, whose checks of shape it escapes: before, a draft's result of
            # another shape ("cat", not a mapping) was a traceback here, after reviews/verdicts.csv was written
            value = result.get("value") if isinstance(result, dict) else None
            choices = value.get("choices") if isinstance(value, dict) else None
            if isinstance(choices, list) and result.get("from_name", VERDICT_CONTROL) == VERDICT_CONTROL:
                words.update(w for w in choices if isinstance(w, str))
    return words


def left_unread(path: Path) -> tuple[list[str], list[str]]:
    """``(drafted, withdrawn)``: the ``winnow_id`` of each task of the Label Studio JSON export at ``path`` (a file
    :func:`winnow.review_words.reviewed_words` read) whose drafts choose other than its submitted annotations do
    (a draft never submitted: no verdict, and Label Studio's drafts may be anyone's unfinished work), and of each task
    carrying a saved verdict (``data.saved``) that no annotation chooses any longer (its pre-filled annotation
    deleted or skipped), in task order. ([], []) for any other file."""
    if path.suffix.lower() != ".json":
        return [], []
    drafted, withdrawn, chosen = [], [], set()
    for task in json.loads(path.read_text(encoding="utf-8-sig")):
        data = task["data"]
        submitted = _chosen(task.get("annotations") if "annotations" in task else task.get("completions"))
        drafts = _chosen(task.get("drafts"))
        if drafts and drafts != submitted:
            drafted.append(data["winnow_id"])
        if data.get("saved") and not submitted:
            withdrawn.append(data["winnow_id"])
        if submitted:
            chosen.add(data["winnow_id"])
    # the tasks file imported twice into one project: another task of the image may still choose
    return drafted, [image for image in withdrawn if image not in chosen]


def cleared_ids(path: Path) -> list[str]:
    """The ids of a reviewed CSV file whose verdict cell is empty (a file :func:`reviewed_words` read) where the
    export had filled it in (its ``saved`` cell, where the file has that column, is not empty); none for a Label
    Studio JSON export, whose tasks without an annotation are no choice a person made. Before, a second reviewer's
    copy of a queue exported before the first's import, its cells empty from the start, was said to hold as many
    emptied cells as the first had verdicts."""
    if path.suffix.lower() == ".json":
        return []
    frame = read_reviewed_csv(path)
    emptied = frame["verdict"].str.strip() == ""
    if "saved" in frame.columns:
        emptied &= frame["saved"].str.strip() != ""
    return list(frame.loc[emptied, "winnow_id" if "winnow_id" in frame else "id"])


def shown_saved(path: Path) -> list[str]:
    """The ids of a reviewed CSV file (a file :func:`~winnow.review_words.reviewed_words` read) whose ``saved`` cell
    is not empty and whose verdict cell is empty or still says it (:func:`~winnow.review_verdicts.same_word`): rows the
    import reads as no new word, on the word of the saved cell that the export filled in from reviews/verdicts.csv.
    None for a Label Studio JSON export (a task's data, ``saved`` too, is not edited in Label Studio) or a file without
    a ``saved`` column."""
    if path.suffix.lower() == ".json":
        return []
    frame = read_reviewed_csv(path)
    if "saved" not in frame.columns:
        return []
    saved = frame["saved"].str.strip() != ""
    # bools even of a file of no row (combine gives text dtype there, which | will refuse in pandas 4)
    still = (frame["verdict"].str.strip() == "") | frame["verdict"].combine(frame["saved"], same_word).astype(bool)
    return list(frame.loc[saved & still, "winnow_id" if "winnow_id" in frame else "id"])
