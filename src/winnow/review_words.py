"""What a person wrote back: the verdict words of a reviewed file (:mod:`winnow.review`'s import).

The file is the exported ``reviews/queue.csv`` with its ``verdict`` column filled in, the review page's
download (``id, verdict, given, digest``), or a Label Studio JSON export of the tasks ``winnow review
export`` wrote. :func:`reviewed_words` reads any of them into one list; what one word means (its verdict
and label, and whether an import's row names a class) is :mod:`winnow.review_verdicts`.
:func:`winnow.unimported_verdicts.refuse_unimported_verdicts` guards the words a person wrote into the queue from
an export that would overwrite them.
"""

from __future__ import annotations

import csv
import io
import json
from errno import EACCES, ENAMETOOLONG, EPERM
from pathlib import Path

import pandas as pd

from winnow.errors import WinnowError, first_line
from winnow.review_verdicts import class_verdict, same_word
from winnow.verdicts import (
    CONFLICT_FIX, VERDICT_COLUMNS, VERDICTS_FILE, class_list_key, conflict_marker, holding_something, merge_conflict,
    not_as_written, separator_hint,
)

VERDICT_CONTROL = "verdict"  # the name of label_studio_config.xml's Choices, which results carry as from_name
# what to do with a person's file in another encoding (export's refusal of such a queue says it in its own words)
UTF8_FIX = "; save it as UTF-8 (a spreadsheet's \"CSV UTF-8\") and import it again"


def csv_separator(text: str) -> str:
    """The field separator of a reviewed CSV file's ``text``: "," unless its header (first line) holds no comma but
    semicolons or tabs, as a spreadsheet of a locale whose decimal mark is a comma saves "CSV" (Excel's "CSV UTF-8
    (Comma delimited)" too: it takes the system's list separator), or as tab-separated text. Before, such a file was
    refused with the advice to save it comma-separated, which Excel in those locales cannot do."""
    header = text.partition("\n")[0]
    if "," in header:
        return ","
    return next((mark for mark in (";", "\t") if mark in header), ",")


def read_reviewed_csv(path: Path) -> pd.DataFrame:
    """A reviewed CSV file (one :func:`reviewed_words` read: UTF-8, a byte-order mark allowed) as text cells, split at
    its :func:`csv_separator`: how export and import's checks and warnings read it (import's own reading,
    :func:`reviewed_words`, splits at the same separator and keeps blank lines for its row numbers)."""
    text = path.read_text(encoding="utf-8-sig")
    return pd.read_csv(io.StringIO(text), sep=csv_separator(text), dtype=str, keep_default_na=False)


def saved_words(queue: pd.DataFrame, *, train: pd.DataFrame, classes: list[str]) -> list[str]:
    """The verdicts a person already saved (``reviews/verdicts.csv``) as words of a new export's queue.

    Before, a second export listed every image again with an empty verdict column: the reviewer redid the work,
    and could not see what they had decided.

    Args:
        queue: the queue about to be exported (``id, action, suggested``; class names).
        train: the train images now, ``id``, ``label`` (class index) and ``digest``.
        classes: the class names now.

    Returns:
        One word per queue row, "" where none is saved or it no longer holds: the word
        :func:`winnow.review_verdicts.resolve` reads back as the saved outcome, so a re-import changes nothing.
        One warning line counts the saved verdicts that no longer hold (made on a label, pixels or class list the
        image no longer has, or on an image no longer in train: the variants stage refuses those lines), one those
        that hold for images the queue does not list (which pruned applies).
    """
    path = Path(VERDICTS_FILE)
    none = [""] * len(queue)
    if not path.is_file():
        return none
    conflict = merge_conflict(path)
    if conflict is not None:  # before: its markers were warned of as verdicts made on another class list
        print(f"warning: review export: {path} holds no verdicts as it stands ({conflict}), so the queue shows no "
              f"saved verdict; {CONFLICT_FIX}, then export again")
        return none
    try:
        # its rows holding nothing left out, as the variants stage leaves them: before, a spreadsheet's ",,,,,," was
        # counted as a verdict of id '' made on another class list
        saved = holding_something(pd.read_csv(path, dtype=str, keep_default_na=False))
    except (OSError, ValueError) as err:  # a hand edit: the variants stage names it
        hint = separator_hint(path)
        print(f"warning: review export: {path} is not readable ({first_line(err)[:160]}){hint}, so the queue shows "
              "no saved verdict; mend it or restore it from git")
        return none
    # before: "is not readable ("['digest', 'classes'] not in index")", pandas' words, of a file an older winnow wrote
    missing = [c for c in VERDICT_COLUMNS if c not in saved.columns]
    if missing:
        print(f"warning: review export: {path} lacks column(s) {', '.join(missing)}{separator_hint(path)}, so the "
              "queue shows no saved verdict, and `dvc repro variants` refuses the file, saying what to do")
        return none
    repeated = set(saved.loc[saved["id"].duplicated(), "id"])  # two lines of one image: import writes one
    saved = saved.drop_duplicates("id", keep="last").set_index("id")
    now = train.set_index("id").reindex(saved.index)  # NaN: no longer a train image
    # numbers read as the variants stage reads them (winnow.verdicts.read_verdicts: a spreadsheet's "2.0" is 2)
    label, given = (pd.to_numeric(saved[column], errors="coerce") for column in ("label", "given"))
    # a line import never writes so (a hand edit: "train-04, reject, 1, ..." with spaces, a cell emptied, "drop" over
    # label 1; both sides of a merge conflict kept), which the variants stage refuses naming what is wrong: before,
    # counted as made on another class list or on another label, of an image's two lines the last shown as its saved
    # verdict, and an emptied suggestion or a word its label contradicts shown as saved (the label's outcome)
    current = (given == now["label"]) & (saved["digest"] == now["digest"])
    malformed = not_as_written(saved, classes=classes, current=current) | saved.index.isin(repeated)
    holds = (current & ~malformed
             & (saved["classes"] == class_list_key(classes)) & (label % 1 == 0) & label.between(-1, len(classes) - 1))
    index = {name: i for i, name in enumerate(classes)}
    words = []
    for image, action, suggested in zip(queue["id"], queue["action"], queue["suggested"]):
        if not holds.get(image, False):
            words.append("")
            continue
        outcome = -1 if action == "drop" else index[suggested]
        chosen, given = int(label[image]), int(now["label"][image])
        words.append("accept" if chosen == outcome else "reject" if chosen == given else
                     "drop" if chosen == -1 else class_verdict(classes[chosen]))
    # each set built once: inside the condition it was built anew for each verdict, and a set of a pandas column of
    # 20,000 ids takes 47 ms (pandas' str dtype), so 20,000 saved verdicts took 15 minutes of review export
    queued = set(queue["id"])
    unlisted = [i for i in holds.index[holds] if i not in queued]
    stale = list(holds.index[~holds & ~malformed])
    # before: counted among those made on a label or pixels the image no longer has, the class list unnamed
    renamed = [i for i in stale if saved["classes"][i] != class_list_key(classes)]
    renamed_ids = set(renamed)
    stale = [i for i in stale if i not in renamed_ids]
    if malformed.any():
        print(f"warning: review export: the lines of {int(malformed.sum())} image(s) in {path} are not as `winnow review "
              f"import` writes them (first: id {malformed.idxmax()!r}), and `dvc repro variants` refuses them, naming what is "
              "wrong: mend them, or remove them and judge those images anew (their verdict cells are empty)")
    if renamed:
        print(f"warning: review export: {len(renamed)} verdict(s) of {path} were made on another class list than the "
              f"data set's now (a class renamed, removed or added since; first: id {renamed[0]!r}), and `dvc repro "
              "variants` refuses them: judge anew those the queue lists (their verdict cells are empty), and remove "
              "the others' lines")
    if stale:  # their cells left empty: the variants stage refuses those lines until the image is judged anew
        print(f"warning: review export: {len(stale)} verdict(s) of {path} no longer hold, made on a label or pixels "
              f"the image no longer has or on an image no longer in train (first: id {stale[0]!r}), and `dvc repro "
              "variants` refuses them: judge anew those the queue lists (their verdict cells are empty), and remove "
              "the others' lines")
    if unlisted:  # out of the queue (import takes only what the cleaners raise), but still applied
        print(f"warning: review export: {len(unlisted)} verdict(s) of {path} are for images no cleaner raises now "
              f"(first: id {unlisted[0]!r}), which the queue leaves out and pruned still takes as the person said; "
              f"remove their lines from {path} to leave those images to the cleaners")
    return words


def check_review_file(path: Path) -> None:
    """Raise one line unless ``path`` is a regular file (or a link to one): a folder, a FIFO, a path not found or
    one that cannot be looked at."""
    try:
        is_file = path.is_file()
    except OSError as err:  # a name too long, a folder on the way not searchable: before, "review: <name>: File name
        # too long [ENAMETOOLONG]; free space, or fix the path or its permissions" (is_file passes over ENOENT alone)
        fix = "give it a shorter name" if err.errno == ENAMETOOLONG else "fix the path or its permissions"
        raise WinnowError(f"{path}: cannot be read ({err.strerror}); {fix}") from None
    if not is_file:
        what = "a folder, not a file" if path.is_dir() else "not a regular file" if path.exists() else "not found"
        raise WinnowError(f"{path}: {what}; give the edited reviews/queue.csv, the review page's download or a "
                          "Label Studio JSON export")


def reviewed_words(path: Path, *, with_saved: bool = False) -> list[tuple[str, str, str, str, str, str, str]]:
    """``(where, id, word, given, digest, action, suggested)`` per verdict in a person's file, in file order; rows
    without a verdict are left out, and so are those still saying the saved verdict the export filled in
    (:func:`winnow.review_verdicts.same_word`) unless ``with_saved``: an import with ``--replace`` writes the
    verdicts anew from the file alone, and before, those verdicts, shown in the queue as the person's, were removed
    without a word. ``given`` and ``digest``: the class and the pixels the person saw; ``action`` and ``suggested``:
    the suggestion they saw, which their ``accept`` means (the file's columns of those names or a task's ``data``
    entries, as exported), "" where the file does not say.

    A ``.json`` file is a Label Studio export (JSON, a list of tasks; each task's ``data.winnow_id`` and the
    choice of its annotations that were not cancelled); anything else a CSV with ``id`` and ``verdict`` (or
    ``winnow_id``, which then names the image: Label Studio's CSV export, whose ``id`` is its task number).
    """
    check_review_file(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's CSV may start with a byte-order mark
    except OSError as err:  # before: a file it may not read (permission denied) was told to be saved as UTF-8
        fix = "; fix its permissions, or give a copy this user may read" if err.errno in (EACCES, EPERM) else ""
        raise WinnowError(f"{path}: cannot be read ({err.strerror}){fix}") from err
    except ValueError as err:
        # before: no way out named (a spreadsheet's plain "CSV" is saved in the Windows code page)
        # a Label Studio export is no spreadsheet's: before, a JSON file saved as UTF-16 was told of "CSV UTF-8"
        fix = "; save it as UTF-8 and import it again" if path.suffix.lower() == ".json" else UTF8_FIX
        raise WinnowError(f"{path}: not readable as UTF-8 text ({first_line(err)[:160]}){fix}") from err
    # before: "not a readable CSV file (No columns to parse from file)", or "not valid JSON (Expecting value: ...)",
    # naming no way out, of a file saved empty (a download cut off, a spreadsheet's save that failed)
    if not text.strip():
        raise WinnowError(f"{path}: is empty (no header, no verdict); give the edited reviews/queue.csv, the review "
                          "page's download or a Label Studio JSON export, as saved with the verdicts in it")
    if path.suffix.lower() == ".json":
        return _label_studio_words(path, text, with_saved=with_saved)
    separator = csv_separator(text)
    try:  # blank lines kept as rows, so that a row's number is its line's
        frame = pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except ValueError as err:  # pandas' parser errors are ValueErrors
        raise WinnowError(f"{path}: not a readable CSV file ({first_line(err)[:160]})") from err
    if not isinstance(frame.index, pd.RangeIndex):  # pandas took the first field for an index: one field too many
        raise WinnowError(f"{path}: its lines hold more fields than the header ({', '.join(frame.columns)})")
    header, lines = _short_row_check(path, text, separator=separator)
    # before: reviews/verdicts.csv (or a reviewer's copy of it) given to import was refused as "given '0' names no
    # class ... edit only the verdict column": its class numbers are what import writes, no edit of a person's
    # id, verdict, label: the columns every verdicts.csv starts with, of an older winnow's too (no digest or classes
    # column: before, still refused as "given '0' names no class"); no reviewed file has a label column
    # `dvc repro`, as import's own line says (f610f55f): `dvc repro variants` rewrote pruned's rows alone
    if set(VERDICT_COLUMNS[:3]) <= set(header):
        raise WinnowError(f"{path}: holds verdicts as `winnow review import` writes them into {VERDICTS_FILE} (class "
                          "numbers, not the class names a person saw), not a reviewed file; import the file they were "
                          "read from (the edited reviews/queue.csv, the review page's download or a Label Studio JSON "
                          f"export); `dvc repro` applies {VERDICTS_FILE} as it is")
    # Label Studio's CSV export: the task's data (winnow_id, given, digest, ...) as columns, and its own task
    # number as id, which would name another image of the queue (or none)
    key = "winnow_id" if "winnow_id" in header else "id"
    twice = [c for c in (key, "verdict") if header.count(c) > 1]  # pandas would rename the second one
    if twice:
        raise WinnowError(f"{path}: the header names {', '.join(twice)} twice; keep one column of each")
    missing = [c for c in ("id", "verdict") if c not in frame.columns and not (c == "id" and key == "winnow_id")]
    if missing:
        # a file split at semicolons or tabs lacks the column all the same (before: "... save it as comma-separated
        # CSV", which would not give it): the separator's hint is of a file read at commas
        hint = separator_hint(path) if separator == "," else ""
        raise WinnowError(f"{path}: lacks column(s) {', '.join(missing)}{hint}; the queue's columns id and verdict "
                          "are needed")
    said = [frame[c] if c in frame.columns else pd.Series("", index=frame.index)
            for c in ("given", "digest", "action", "suggested")]
    # a verdict cell still as the export filled it in (the queue's saved column) is no new word of the person's
    unchanged = (frame["verdict"].combine(frame["saved"], same_word) if "saved" in frame.columns and not with_saved
                 else pd.Series(False, index=frame.index))
    # a quoted field may hold a line break: before, rows after one were numbered a line short
    words = [(f"{path}: line {lines[row] if len(lines) == len(frame) else row + 2}", image, word.strip(), *facts)
             for row, (image, word, same, *facts) in enumerate(zip(frame[key], frame["verdict"], unchanged, *said))
             if word.strip() and not same]
    # a space after a comma (a hand edit): before, the class ' dog' told renamed, or pixels ' 58f0…' changed, since
    padded = next(((where, image, column, text) for where, image, _, *facts in words for column, text in
                   zip(("given", "digest", "action", "suggested"), facts) if text != text.strip()), None)
    if padded:
        raise WinnowError("{}: id {!r}: {} {!r} has spaces around it (a space after a comma, or the cell edited); "
                          "write the cells as exported, without spaces beside the commas".format(*padded))
    return words


def _short_row_check(path: Path, text: str, *, separator: str) -> tuple[list[str], list[int]]:
    """The header's fields and the line each row starts on, once no line holds fewer fields than the header:
    pandas reads a short row's missing fields as empty, so a file cut off mid-row, or a row that lost its
    comma, lost its verdict without a word. A git merge conflict's marker line is named so."""
    rows = csv.reader(io.StringIO(text), delimiter=separator)
    header = next(rows, [])
    starts, end = [], rows.line_num  # end: the line the last record read ends on
    for fields in rows:
        starts.append(end + 1)
        end = rows.line_num
        if len(fields) == 1 and conflict_marker(fields[0]):  # before: "a file cut short, or a row that lost a comma"
            raise WinnowError(f"{path}: {merge_conflict(path)}; {CONFLICT_FIX}, then import it again")
        if fields and len(fields) < len(header):
            raise WinnowError(f"{path}: line {rows.line_num} holds {len(fields)} of the header's {len(header)} "
                              "fields (a file cut short, or a row that lost a comma); fix or remove that line")
    return header, starts


def _label_studio_words(path: Path, text: str, *, with_saved: bool) -> list[tuple[str, str, str, str, str, str, str]]:
    fix = "export the project from Label Studio as JSON, with tasks imported from reviews/label_studio_tasks.json"
    try:
        tasks = json.loads(text)
    except ValueError as err:
        raise WinnowError(f"{path}: not valid JSON ({first_line(err)}); {fix}") from err
    except RecursionError as err:  # before: a traceback on '[' nested 1,500 deep
        raise WinnowError(f"{path}: not a Label Studio export (JSON nested deeper than the parser reads); "
                          f"{fix}") from err
    if not isinstance(tasks, list):
        raise WinnowError(f"{path}: holds a JSON {type(tasks).__name__}, not a list of tasks; {fix}")
    words = []
    for number, task in enumerate(tasks, start=1):
        where = f"{path}: task {number}"
        data = task.get("data") if isinstance(task, dict) else None
        if data is None and isinstance(task, dict) and "winnow_id" in task:
            # before: "no data.winnow_id; export the project from Label Studio as JSON", of a file holding the id, which
            # a person had exported as JSON (JSON-MIN is JSON too) from tasks imported from that file
            raise WinnowError(f"{where}: holds winnow_id at its top level, as Label Studio's JSON-MIN export writes a "
                              "task, not a task with its data and annotations, which import reads; export the project "
                              "as JSON (not JSON-MIN), and import that file")
        if not isinstance(data, dict) or not isinstance(data.get("winnow_id"), str):
            raise WinnowError(f"{where}: no data.winnow_id; {fix}")
        # Label Studio before 1.0 named a task's annotations "completions"
        annotations = task.get("annotations") if "annotations" in task else task.get("completions")
        choices, others = _choices(annotations, where=where, fix=fix)
        if others and not choices:  # another labelling interface: its words are no verdicts, and none would be read
            raise WinnowError(f"{where} (id {data['winnow_id']!r}): its choices come from control(s) "
                              f"{', '.join(map(repr, others))}, not {VERDICT_CONTROL!r}; label with "
                              "reviews/label_studio_config.xml as the project's labelling interface")
        if len(set(choices)) > 1:
            raise WinnowError(f"{where} (id {data['winnow_id']!r}): its annotations disagree "
                              f"({', '.join(map(repr, dict.fromkeys(choices)))}); settle them in Label Studio")
        # the saved verdict's annotation left as exported: no new word
        if choices and (with_saved or not same_word(choices[0], data.get("saved"))):
            words.append((where, data["winnow_id"], str(choices[0]).strip(),
                          *(str(data.get(key) or "") for key in ("given", "digest", "action", "suggested"))))
    return words


def _choices(annotations, *, where: str, fix: str) -> tuple[list[str], list[str]]:
    """(the choices of a task's annotations that were not cancelled: Label Studio's
    ``[{"was_cancelled": .., "result": [{"type": "choices", "from_name": "verdict", "value": {"choices":
    ["<word>"]}}]}]``, the other controls (``from_name``) whose choices are no verdicts)."""
    shape = "annotations: [{result: [{type: choices, value: {choices: [a word]}}]}]"
    if annotations is None:
        return [], []
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise WinnowError(f"{where}: annotations are not Label Studio's {shape}; {fix}")
    choices, others = [], []
    for annotation in annotations:
        cancelled = annotation.get("was_cancelled", False)
        if not isinstance(cancelled, bool):  # before: the text "false" counted as cancelled, the verdict lost
            raise WinnowError(f"{where}: an annotation's was_cancelled is {json.dumps(cancelled)[:40]}, not true or "
                              f"false; {fix}")
        if cancelled:
            continue
        results = annotation.get("result") or []
        # before: a result that was no list, or held no mappings, was skipped and the verdict lost, exit 0
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise WinnowError(f"{where}: an annotation's result is {json.dumps(results)[:80]}, not Label Studio's "
                              f"{shape}; {fix}")
        for result in results:
            control = result.get("from_name", VERDICT_CONTROL)
            if control != VERDICT_CONTROL:  # a labelling interface may hold other controls (a comment, a tag)
                if result.get("type") == "choices" and str(control) not in others:
                    others.append(str(control))
                continue
            if result.get("type") != "choices":  # the verdict's control is a Choices: anything else is not its word
                raise WinnowError(f"{where}: a result of the {VERDICT_CONTROL!r} control has type "
                                  f"{json.dumps(result.get('type'))}, not choices; label with "
                                  "reviews/label_studio_config.xml as the project's labelling interface")
            value = result.get("value")
            words = value.get("choices") if isinstance(value, dict) else None
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                raise WinnowError(f"{where}: a choices result whose value is {json.dumps(value)[:80]}, not Label "
                                  f"Studio's {{choices: [a word]}}; {fix}")
            if len(set(words)) > 1:  # before: "its annotations disagree", of one annotator's one annotation
                raise WinnowError(f"{where}: one annotation chose {len(set(words))} verdicts "
                                  f"({', '.join(map(repr, dict.fromkeys(words)))}), of which one is meant; label with "
                                  "reviews/label_studio_config.xml (a single choice) as the project's labelling "
                                  "interface, and choose one")
            choices += words
    return choices, others
