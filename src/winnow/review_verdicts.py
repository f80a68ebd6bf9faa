"""What one word of a person's review means: the verdict and label it resolves to (:func:`resolve`), whether a cell
still says the saved verdict (:func:`same_word`), how a class is written so that it cannot read as a verdict word
(:func:`class_verdict`), and whether a class column's cell names a class (:func:`refuse_unnamed_class`). The files
the words come from are read by :mod:`winnow.review_words`.
"""

from __future__ import annotations

import re

from winnow.errors import WinnowError, listed
from winnow.imageset import as_class
from winnow.ingest import VERDICT_CLASS_PREFIX, alike

KEYWORDS = ("accept", "reject", "drop")  # verdict words, in any case; they win over a class of the same name


def keyword(word: str) -> str | None:
    """The verdict word of :data:`KEYWORDS` that ``word`` is, read as a class name is (:func:`~winnow.ingest.alike`:
    Unicode NFKC, runs of spaces) and in any case, or None. Before, "ＤＲＯＰ" typed with an East Asian input method
    was refused as "neither accept, reject, drop nor a class", though "ｃａｔ" was the class cat and :func:`same_word`
    read "ＤＲＯＰ" as the saved "drop"."""
    folded = alike(word).lower()
    return folded if folded in KEYWORDS else None


def _plain(text: str) -> str:
    """``text`` lower-cased, its runs of spaces as one and none around it: a verdict word as it was read before
    Unicode NFKC folding (:func:`keyword`) took in full-width letters."""
    return " ".join(text.split()).lower()


def class_verdict(name: str) -> str:
    """How the review page and Label Studio write "relabel to the class ``name``": the name itself, or
    ``class:<name>`` when it reads as a verdict word (a class ``Reject`` chosen on the page was imported as
    reject, and a class ``drop`` stood twice among Label Studio's choices)."""
    return f"{VERDICT_CLASS_PREFIX}{name}" if keyword(name) else name


def same_word(written: str, saved) -> bool:
    """Whether a verdict cell ``written`` still says its ``saved`` word (the queue's ``saved`` column, a Label Studio
    task's ``data.saved``; None: absent): the same as :func:`resolve` reads a class name (:func:`~winnow.ingest.alike`:
    up to Unicode NFKC and runs of spaces, surrounding ones too), and up to case for a verdict word (:data:`KEYWORDS`,
    read in any case; a class name's case may name another class). Before, a spreadsheet's "Reject " beside the
    saved "reject" was a new word: counted as imported again, and checked anew against data that may have changed
    since, where the untouched cell beside it was not; then a full-width "ｃａｔ" beside the saved "cat", which
    resolve reads as the same class."""
    if not isinstance(saved, str):
        return False
    written, saved = alike(written), alike(saved)
    return written == saved or (keyword(written) is not None and keyword(written) == keyword(saved))


def resolve(word: str, *, where: str, given: int, action: str, suggested: int, classes: list[str]) -> tuple[str, int]:
    """A person's word for one image as ``(verdict, label)`` (:data:`winnow.verdicts.VERDICTS`; label -1 =
    dropped). A class equal to the suggestion is ``accept``, equal to the given label ``reject``, and so is
    ``drop`` when the suggestion is to drop."""
    outcome = -1 if action == "drop" else suggested
    verb = keyword(word)  # ＤＲＯＰ, Drop, drop alike
    # a class named ｄｒｏｐ: the review page and Label Studio wrote its choice so until stop 79 (class:ｄｒｏｐ
    # since), and that choice would now be dropped without a word. Only a word and a class that are no verdict word
    # up to case and spaces alone: "drop " beside the class drop is the verdict, as documented (the page has always
    # written that class class:drop), and was refused as ambiguous
    bare = [name for name in classes if alike(name) == alike(word) and _plain(name) not in KEYWORDS] \
        if verb is not None and _plain(word) not in KEYWORDS else []
    if bare:
        raise WinnowError(f"{where}: verdict {word!r} reads as {verb} and names the class {bare[0]!r}; write {verb}, "
                          f"or {VERDICT_CLASS_PREFIX}{bare[0]} for the class")
    if verb is not None:
        label = {"accept": outcome, "reject": given, "drop": -1}[verb]
    elif word in classes:
        label = classes.index(word)
    elif word.startswith(VERDICT_CLASS_PREFIX) and word[len(VERDICT_CLASS_PREFIX):] in classes:
        label = classes.index(word[len(VERDICT_CLASS_PREFIX):])
    elif len(shown := [i for i, name in enumerate(classes) if alike(name) == alike(word)]) == 1:
        label = shown[0]  # "café" typed for a class folder named on macOS (e + a combining accent)
    elif re.fullmatch(r"[0-9]+", word):  # ASCII digits: str.isdigit() also takes "²" and "٣"
        named = [name for name in classes if re.fullmatch(r"[0-9]+", name)]
        if named:  # a spreadsheet reads the class "01" as 1: index 1, or the class it was?
            shown = ", ".join(map(repr, named[:5])) + ("…" if len(named) > 5 else "")
            raise WinnowError(f"{where}: verdict {word!r} names no class, and with classes named by numbers "
                              f"({shown}) an index is ambiguous (a spreadsheet drops leading zeros); write the class "
                              "name as it is, and keep the column as text")
        label = int(word)
        if not 0 <= label < len(classes):
            raise WinnowError(f"{where}: class index {label} is outside 0-{len(classes) - 1} ({len(classes)} classes)")
    else:
        raise WinnowError(f"{where}: verdict {word!r} is neither accept, reject, drop nor a class ({listed(classes)})")
    if label == outcome:
        if verb == "reject":  # before: recorded as accept, which variants then refused
            raise WinnowError(f"{where}: reject keeps its given class, which is also the suggestion (the cleaners' "
                              "files are older than the data); rerun the pipeline (dvc repro) and export again")
        return "accept", label
    if label == given:
        return "reject", label
    return ("drop" if label == -1 else "relabel"), label


def accepting(action: str, suggested: str) -> str:
    """What accepting a suggestion does, in words: ``drop`` or ``relabel to '<class>'`` (a drop's suggested
    class is only the judge's hint, which accepting does not apply)."""
    return f"relabel to {suggested!r}" if action == "relabel" else action


def unnamed_class(text: str, *, classes: list[str]) -> str | None:
    """Why a class column's cell (``given``, ``suggested``) names no class of ``classes`` (the class names now), None
    where it names one or is empty: a spreadsheet that turned the class '02' into 2 (the cause says what to do), or a
    class renamed or removed since the export, or a cell edited."""
    if not text or as_class(text, classes=classes) in classes:
        return None
    was = [name for name in classes if text.isdecimal() and name.isdecimal() and int(name) == int(text)]
    if was:
        return (f"a spreadsheet may have turned {was[0]!r} into {text}: write the class names as exported, and keep "
                "the class columns as text")
    # before: "the classes are ...; edit only the verdict column", where a class renamed since the export was the cause
    return f"the classes are {listed(classes)} now: one renamed or removed since the export, or the cell edited"


def refuse_unnamed_class(text: str, *, where: str, image: str, column: str, classes: list[str], fix: str) -> None:
    """One line when a class column's cell (``given``, ``suggested``) names no class (:func:`unnamed_class`), ending
    in ``fix`` unless the cause says what to do: before, a spreadsheet's 2 for the class '02' was reported as a label
    changed since the export, and export then asked to import the same file again; and a class renamed since the
    export was told to edit only the verdict column, which no edit of it mends."""
    cause = unnamed_class(text, classes=classes)
    if cause is None:
        return
    told = "" if cause.startswith("a spreadsheet") else f"; {fix}"
    raise WinnowError(f"{where}: id {image!r}: {column} {text!r} names no class ({cause}){told}")
