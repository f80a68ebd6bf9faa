"""Guarding a person's verdicts before an export overwrites the queue: :func:`refuse_unimported_verdicts` refuses a
queue that holds verdicts never imported, read as :mod:`winnow.review_words` reads any reviewed file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from winnow.errors import WinnowError, first_line
from winnow.review_verdicts import as_class, resolve, same_word, unnamed_class
from winnow.review_words import UTF8_FIX, read_reviewed_csv, reviewed_words
from winnow.verdicts import CONFLICT_FIX, VERDICTS_FILE, holding_something, merge_conflict, separator_hint


def refuse_unimported_verdicts(queue_file: Path, classes: list[str]) -> None:
    """One line when the queue a new export would overwrite holds verdicts a person wrote and never imported
    (an id reviews/verdicts.csv lacks, or a verdict other than the one imported for it): reviews/ is not under
    version control, so that work would be lost. A queue the import cannot read (a spreadsheet saved it in
    another encoding) is refused too, unless it holds no row; one saved with semicolons or tabs is read as import reads
    it."""
    if not queue_file.is_file():
        return
    # before: such a queue counted as none this export could have written, and its verdicts were overwritten, exit 0
    try:
        reviewed_words(queue_file)
    except WinnowError as err:
        # a line of separators, quotes or UTF-16's NULs alone is no row: a spreadsheet writes ;;;; for an emptied row,
        # and Excel's Unicode text ends on a NUL. Before, such a queue of no verdict was refused
        if sum(1 for line in queue_file.read_bytes().splitlines() if line.strip(b' \t\r\n\x00,;"')) > 1:
            why = str(err).removeprefix(f"{queue_file}: ").removesuffix(UTF8_FIX)
            raise WinnowError(f"{queue_file}: not readable as the exported queue ({why}), so whether it holds verdicts "
                              "not imported cannot be told, and a new export would overwrite it; save it as "
                              f"comma-separated UTF-8 CSV and import it (winnow review import {queue_file}), or delete "
                              "it to discard its verdicts") from err
        return
    queue = read_reviewed_csv(queue_file)  # as import reads it: a spreadsheet's semicolons too
    if not {"id", "verdict"} <= set(queue.columns):  # Label Studio's CSV (winnow_id): no queue this export wrote
        return
    saved = queue["saved"] if "saved" in queue.columns else pd.Series("", index=queue.index)
    # bools even of a queue of no row, whose combine is of text dtype: & with it is deprecated (pandas 4 raises)
    written = queue[(queue["verdict"].str.strip() != "") & ~queue["verdict"].combine(saved, same_word).astype(bool)]
    if not len(written):
        return
    lacking = sorted({"given", "action", "suggested", "digest"} - set(queue.columns))
    if lacking:  # a person's cut-down copy: which verdicts were imported cannot be told, and export once wiped them
        raise WinnowError(f"{queue_file}: holds {len(written)} verdict(s) but lacks column(s) {', '.join(lacking)}, so "
                          "whether they were imported cannot be told, and a new export would overwrite them; restore "
                          f"the columns and import it (winnow review import {queue_file}), or delete the file to "
                          "discard them")
    # before: counted as not imported (a verdict imported as well), with the advice to import the queue, whose import
    # refuses the class; the cause, a class renamed or removed since the export, was named nowhere
    unnamed = [(row, column, cause) for _, row in written.iterrows() for column in ("given", "suggested")
               if (cause := unnamed_class(row[column], classes=classes)) is not None]
    if unnamed:
        row, column, cause = unnamed[0]
        aside = queue_file.with_name("queue-reviewed.csv")
        raise WinnowError(f"{queue_file}: id {row['id']!r}: {column} {row[column]!r} names no class ({cause}), so its "
                          f"verdict {row['verdict'].strip()!r} ({len({r['id'] for r, _, _ in unnamed})} such "
                          "verdict(s)) can be neither imported nor told imported, and a new export would overwrite it; "
                          f"restore the cells as exported and import the queue (winnow review import {queue_file}), or, "
                          f"where the classes changed since, move the file aside to keep its verdicts (mv {queue_file} "
                          f"{aside}), export, and review those images anew; or delete the file to discard them")
    conflict = merge_conflict(VERDICTS_FILE)
    if conflict is not None:  # before: "not readable (invalid literal for int() ...)", and to restore it from git
        raise WinnowError(f"{VERDICTS_FILE}: {conflict}, so whether the {len(written)} verdict(s) in {queue_file} were "
                          f"imported is unknown, and a new export would overwrite them; {CONFLICT_FIX}, then export; or "
                          f"import the queue anew with `winnow review import --replace {queue_file}`, which keeps its "
                          "verdicts alone")
    try:
        # its rows holding nothing left out, as the variants stage leaves them: before, a spreadsheet's ",,,,,," for an
        # emptied row was "not readable (invalid literal for int() with base 10: '')" here alone
        imported = (holding_something(pd.read_csv(VERDICTS_FILE, dtype=str, keep_default_na=False))
                    if Path(VERDICTS_FILE).is_file() else pd.DataFrame(columns=["id", "verdict", "label"]))
        # a spreadsheet's "1.0" (or "1.00") is 1, as the variants stage reads it (winnow.verdicts.read_verdicts): before,
        # int() refused "1.00" as not readable, where the variants stage applied the file
        imported = {i: (v, _whole(label)) for i, v, label in zip(imported["id"], imported["verdict"], imported["label"])}
    except (OSError, ValueError, KeyError) as err:  # a merge conflict in the git-tracked file, a hand edit
        # which of the queue's verdicts were imported is unknown: overwriting them could lose a person's work
        hint = separator_hint(VERDICTS_FILE)
        raise WinnowError(f"{VERDICTS_FILE}: not readable ({first_line(err)[:160]}){hint}, so whether the "
                          f"{len(written)} verdict(s) in {queue_file} were imported is unknown, and a new export would "
                          f"overwrite them; mend it (restore it from git), or import the queue anew with `winnow "
                          f"review import --replace {queue_file}`") from err
    index = {name: i for i, name in enumerate(classes)}
    # a verdict that resolves to nothing (a typo, a spreadsheet's TRUE for class true) was never imported either
    outcomes = [_word_outcome(row, classes, index) for _, row in written.iterrows()]
    # an imported verdict for the same image that differs may be the later one (a page's download imported after
    # the queue): before, the advice to import the queue reverted it without a word
    # by outcome (the label): a saved accept of a suggestion changed since is exported as its class, the same outcome
    differing = written[[outcome is not None and i in imported and outcome[1] != imported[i][1]
                         for outcome, i in zip(outcomes, written["id"])]]
    if len(differing):
        first = differing.iloc[0]
        said, held = first["verdict"].strip(), imported[first["id"]][0]
        # before, without the way aside: where that import is refused (the pipeline ran again), the two lines went
        # round in a circle and only clearing the cell, which kept the older verdict, got out
        raise WinnowError(f"{queue_file}: id {first['id']!r} says {said!r} and {VERDICTS_FILE} holds {held!r} for "
                          f"it ({len(differing)} such verdict(s)), which a new export would overwrite in the queue; to "
                          f"keep {held!r}, clear the queue's verdict cell (or delete {queue_file}), to keep {said!r}, "
                          f"import the queue (winnow review import {queue_file}), then export, or, "
                          f"{_aside(queue_file)}")
    waiting = written[[outcome is None or i not in imported for outcome, i in zip(outcomes, written["id"])]]
    if len(waiting):
        first = waiting.iloc[0]
        # before, only "import them first ... or delete the file": where that import is refused since the data or the
        # cleaners changed after the export (it says "export again"), neither way kept the person's verdicts
        raise WinnowError(f"{queue_file}: holds {len(waiting)} verdict(s) not imported (first: id {first['id']!r}, "
                          f"{first['verdict'].strip()!r}), which a new export would overwrite; import them first "
                          f"(winnow review import {queue_file}), or, {_aside(queue_file)}; or delete the file to "
                          "discard them")


def _whole(text: str) -> int:
    """A label of verdicts.csv as the variants stage reads it (:func:`winnow.verdicts.read_verdicts`: a whole number,
    a spreadsheet's "1.0" or "1.00" too); int()'s ValueError where it is none."""
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if number % 1 == 0:
            return int(number)
        raise


def _aside(queue_file: Path) -> str:
    """The way to keep a queue's verdicts whose import is refused because the data or the cleaners changed since
    the export (that refusal says to export again, which would overwrite them): the file moved aside, imported
    after a new export, its verdicts checked against what the person saw as any file's are."""
    aside = queue_file.with_name("queue-reviewed.csv")
    return (f"where that import is refused because the data or the cleaners changed since, move the file aside (mv "
            f"{queue_file} {aside}), export, and import {aside}")


def _word_outcome(row: pd.Series, classes: list[str], index: dict[str, int]) -> tuple[str, int] | None:
    """``(verdict, label)`` a queue row's verdict word resolves to (``index``: class name -> index), None where
    it does not resolve."""
    try:
        suggested = index[as_class(row["suggested"], classes=classes)] if row["action"] == "relabel" else -1
        return resolve(row["verdict"].strip(), where="", given=index[as_class(row["given"], classes=classes)],
                       action=row["action"], suggested=suggested, classes=classes)
    except (KeyError, WinnowError):
        return None
