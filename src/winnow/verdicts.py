"""A person's verdicts on the cleaners' decisions (``reviews/verdicts.csv``, written by ``winnow review
import``, :mod:`winnow.review`), read, checked against the data they were given on, and applied to the
pruned variant in place of the cleaners' decisions (:mod:`winnow.variants`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.decision_files import read_cleaner_tables
from winnow.errors import WinnowError, first_line

# a person's verdicts (git-tracked, written by `winnow review import`, :mod:`winnow.review`): per image, what
# they said and the label it trains with afterwards (-1: dropped). accept = the cleaners' suggestion,
# reject = the given label, relabel = a class the person chose, drop = out whatever the suggestion was
VERDICTS_FILE = "reviews/verdicts.csv"
# label: the class the image trains with, -1 dropped; suggested: what accepting did when the person judged it
# (-1 drop, else the class), so the verdict word can be checked against the outcome without the review queue;
# given: the class the image had when the person judged it (a verdict holds only while that is its label)
# given: the label the person saw; digest: the pixels they saw (imageset ``digest``), so that a verdict never
# lands on another picture filed under the same id
# classes: the class list the numbers mean (:func:`class_list_key`): a class removed, renamed or added before
# another moves every later number, and a person's "8" trained as "9" without a word
VERDICT_COLUMNS = ("id", "verdict", "label", "suggested", "given", "digest", "classes")
VERDICTS = ("accept", "reject", "relabel", "drop")


def refuse_spreadsheet_number(value: str, *, now: str, column: str, kind: str, where: str, written: str,
                              fix: str) -> None:
    """Refuse ``value``, the ``column`` a person's file gives where ``now`` is right, where it is no ``kind`` at all
    (a pixel digest, a class list key: not as many lowercase hex digits as ``now``): past 11 digits, or digits around
    one "e", a spreadsheet shows and saves a key of decimal digits as a number ("6.58175E+13"), no sign that the
    pixels or the classes changed. ``where`` starts the line; ``written``: how the file got its keys ("exported");
    ``fix``: what to do."""
    if value != now and not (len(value) == len(now) and set(value) <= set("0123456789abcdef")):
        raise WinnowError(f"{where}: {column} {value!r} is no {kind} ({len(now)} hex digits, as {written}): a "
                          f"spreadsheet may have read it as a number; {fix}")


def separator_hint(path: str | os.PathLike) -> str:
    """What the header (first line) of a CSV file pandas read as one column tells: " (its header holds semicolons:
    save it as comma-separated CSV)" where a spreadsheet saved it with semicolons or tabs, one naming a field with
    spaces around it where it was written with a space after each comma, else "" (also where the file cannot be
    read)."""
    try:
        header = Path(path).read_text(encoding="utf-8-sig", errors="replace").partition("\n")[0]
    except OSError:
        return ""
    separator = next((name for mark, name in ((";", "semicolons"), ("\t", "tabs")) if mark in header), None)
    # before: "lacks column(s) verdict" alone of a header "id, verdict, ..." written by hand: it holds it, spaced
    padded = next((field for field in next(csv.reader([header.rstrip("\r")]), []) if field != field.strip()), None)
    return (f" (its header holds {separator}: save it as comma-separated CSV)" if separator else "" if padded is None
            else f" (its header's field {padded!r} has spaces around it: write it without spaces beside its commas)")


def class_list_key(classes: list[str]) -> str:
    """A short key of the class names in their order (12 hex digits of the SHA-256 of their JSON)."""
    return hashlib.sha256(json.dumps(list(classes)).encode()).hexdigest()[:12]


# the lines git writes around the two sides of a conflict (diff3's base marker too): "<<<<<<< HEAD", "=======", ...
_CONFLICT_MARKER = re.compile(r"(?:<{7}|>{7}|\|{7})(?: .*)?|={7}")
# what to do with a verdicts file two branches' verdicts met in (two reviewers' imports merged)
CONFLICT_FIX = "keep the verdict lines you mean (one per image), delete the marker lines, and `git add` the file"


def conflict_marker(line: str) -> bool:
    """Whether ``line`` (a line of a verdicts file) is a marker git writes into a file whose merge conflicted."""
    return _CONFLICT_MARKER.fullmatch(line.rstrip("\r\n")) is not None


def merge_conflict(path: str | os.PathLike) -> str | None:
    """Why the verdicts file at ``path`` is no verdicts file as it stands: "line N is a git merge conflict marker
    (...)", the first such line; None where it holds none (or cannot be read: its readers say why). Before, pandas
    read the markers as verdicts of ids '<<<<<<< HEAD' and '=======': the variants stage refused "verdict ''" with the
    advice to restore the header-only file (both reviewers' verdicts lost), and the export warned of verdicts made on
    another class list."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig", errors="replace").splitlines()
    except OSError:
        return None
    number = next((n for n, line in enumerate(lines, start=1) if conflict_marker(line)), None)
    if number is None:
        return None
    marker = lines[number - 1][:40]
    return f"line {number} is a git merge conflict marker ({marker!r}), left by a merge of two versions of the file"


def saved_lines(path: str | os.PathLike) -> int:
    """How many lines below the header of the verdicts file at ``path``, read as text, hold something (a blank line,
    an editor's spaces, a spreadsheet's ",,,,,," for an emptied row do not) and are no merge conflict marker: what an
    import --replace removes where the file cannot be read as verdicts (an older format, semicolons, a hand edit).
    0 where it is missing or cannot be read."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig", errors="replace").splitlines()[1:]
    except OSError:
        return 0
    return sum(1 for line in lines if line.strip(' \t,"') and not conflict_marker(line))


def holding_something(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` (a verdicts file read as text, ``dtype=str``) that hold something: a blank line, an
    editor's spaces or tab, a spreadsheet's ",,,,,," for an emptied row hold no verdict. Every reader of
    :data:`VERDICTS_FILE` leaves out the same rows (the index is kept: a row's line less 2 where blank lines were
    read as rows)."""
    return frame[frame.apply(lambda column: column.str.strip() != "").any(axis=1)]


def not_as_written(saved: pd.DataFrame, *, classes: list[str], current: pd.Series) -> pd.Series:
    """Which lines of ``saved`` (a verdicts file read as text, ``dtype=str``) :func:`read_verdicts` refuses for their
    form, whatever the data (a hand edit: a word or key not as import writes it, a number cell emptied, a verdict
    word its numbers contradict, or a suggestion that is the label seen). ``current``: the lines whose label and
    pixels are the image's now, which alone reach the checks of a word against its numbers (another's are refused
    as stale first). Lines under another class list are refused for that first, and their numbers not checked."""
    label, suggested, given = (pd.to_numeric(saved[c], errors="coerce") for c in ("label", "suggested", "given"))
    own = saved["classes"] == class_list_key(classes)

    def index(value, low):  # a whole class index (NaN fails)
        return (value % 1 == 0) & value.between(low, len(classes) - 1)

    unindexed = own & ~(index(label, -1) & index(suggested, -1) & index(given, 0))
    verdict = saved["verdict"]
    agrees = (((verdict == "drop") & (label == -1)) | ((verdict == "relabel") & (label >= 0) & (label != given))
              | ((verdict == "reject") & (label == given)) | ((verdict == "accept") & (label == suggested)))
    contradicted = own & current & ~unindexed & (~agrees | (suggested == given)
                                                 | ((verdict != "accept") & (label == suggested)))
    return (~verdict.isin(VERDICTS) | ~saved["classes"].str.fullmatch("[0-9a-f]{12}") | label.isna() | given.isna()
            | unindexed | contradicted)


def read_verdicts(path: str | os.PathLike, *, baseline: pd.DataFrame, digests: pd.Series,
                  classes: list[str], replaced: frozenset[str] = frozenset()) -> pd.DataFrame:
    """A person's verdicts (:data:`VERDICT_COLUMNS`), checked against ``baseline`` (the train rows),
    ``digests`` (str pixel digests indexed by id, the imageset's) and ``classes`` (the class names now, whose
    :func:`class_list_key` each verdict must carry): every verdict one of :data:`VERDICTS`,
    every label and suggestion a class index or -1, the label the person saw (``given``) still the image's
    label and the pixels they saw (``digest``, a pixel digest) still its pixels, the suggestion not that label,
    accept with the suggestion, drop with -1 and relabel with a class (neither the suggestion), reject with the
    image's given label, every id a train image, once. An absent file holds no verdict. The lines of the ids in
    ``replaced`` (those an import judges anew) are neither checked nor returned.

    Returns:
        DataFrame ``id`` (str), ``verdict`` (str), ``label``, ``suggested``, ``given`` (int64), in file order.
    """
    path, num_classes, key = Path(path), len(classes), class_list_key(classes)
    empty = pd.DataFrame({"id": pd.Series(dtype=object), "verdict": pd.Series(dtype=object),
                          **{column: pd.Series(dtype=np.int64) for column in ("label", "suggested", "given")},
                          "digest": pd.Series(dtype=object), "classes": pd.Series(dtype=object)})
    fix = "write it with `winnow review import`, or restore the header-only file from git"
    restore = ("restore the file from git and edit it as text, or import the reviewed file again with `winnow review "
               "import --replace FILE`")  # a spreadsheet's number where a key was
    if not path.exists():
        return empty
    conflict = merge_conflict(path)
    if conflict is not None:
        raise WinnowError(f"{path}: {conflict}; {CONFLICT_FIX}")
    try:
        # blank lines kept as rows, then left out with their numbers: before, skipped by pandas, they moved every later
        # row's number, and a refusal named the line above the one a person had to mend
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except (OSError, ValueError) as err:  # pandas' parser and decoding errors are ValueErrors
        raise WinnowError(f"{path}: not a readable CSV file ({first_line(err)[:160]}); {fix}") from err
    if not isinstance(frame.index, pd.RangeIndex):  # pandas took the first field for an index: one field too many
        raise WinnowError(f"{path}: its lines hold more fields than the header ({', '.join(frame.columns)}); {fix}")
    # a line of spaces too (before: refused as "verdict ''", where pandas had skipped it), as export reads the file
    frame = holding_something(frame)
    missing = [c for c in VERDICT_COLUMNS if c not in frame.columns]
    if missing and set(missing) <= {"suggested", "given", "digest", "classes"}:  # before verdicts recorded these
        raise WinnowError(f"{path}: lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)} (written by "
                          "an older winnow); import the reviewed file again with `winnow review import --replace "
                          "FILE`, which writes it anew")
    if missing:
        # before, only the advice to restore the header-only file: a spreadsheet's semicolons lost the verdicts
        hint = separator_hint(path)
        raise WinnowError(f"{path}: lacks column(s) {', '.join(missing)}" + (
            f"{hint}, or restore it from git" if hint else f" (needs {', '.join(VERDICT_COLUMNS)}); {fix}"))
    # an image judged anew: before, its old verdict, refused as stale (its pixels changed), stopped the import that
    # replaced it, though the refusal advised exactly that new review
    frame = frame[~frame["id"].isin(replaced)]
    given = pd.Series(baseline["label"].to_numpy(np.int64), index=baseline["id"].to_numpy())
    labels, suggestions, saw = (pd.to_numeric(frame[c], errors="coerce") for c in ("label", "suggested", "given"))
    # row: the file's line less 2 (frame.index, kept where lines of ``replaced`` were left out)
    for row, image, verdict, label, text, suggested, suggested_text, seen, seen_text, digest, meant in zip(
            frame.index, frame["id"], frame["verdict"], labels, frame["label"], suggestions, frame["suggested"], saw,
            frame["given"], frame["digest"], frame["classes"]):
        where = f"{path}: line {row + 2} (id {image!r})"
        if verdict not in VERDICTS:
            raise WinnowError(f"{where}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}; {fix}")
        # before: a spreadsheet's number ("3.1E+13": a key of decimal digits and one "e") was called a class list
        # changed since the review, whose advice (review again) threw the person's verdicts away
        refuse_spreadsheet_number(meant, now=key, column="classes", kind="class list key", where=where,
                                  written="written", fix=restore)
        if meant != key:  # checked first: every class number below means another class under another list
            raise WinnowError(f"{where}: the data set's classes changed since the review (class list {meant!r} then, "
                              f"{key!r} now: a class removed, renamed or added), so its class numbers would name "
                              "other classes: export and review again, or remove the line")
        for column, value, shown in (("label", label, text), ("suggested", suggested, suggested_text)):
            if not (value % 1 == 0 and -1 <= value < num_classes):  # NaN fails
                raise WinnowError(f"{where}: {column} {shown!r} is not a class index in [0, {num_classes - 1}] or -1 "
                                  f"(dropped); {fix}")
        if not (seen % 1 == 0 and 0 <= seen < num_classes):
            raise WinnowError(f"{where}: given {seen_text!r} is not a class index in [0, {num_classes - 1}]; {fix}")
        # before: "export and review again, or remove the line", but no queue lists an image out of train, so the
        # line stayed, and every later import and variants run repeated the advice
        if image not in given.index:
            raise WinnowError(f"{where}: not a train image of data/degrade (the data changed since the review), so no "
                              "export lists it to review again; remove the line")
        # another degrade seed or source changed the label: the verdict was about the label the person saw
        if seen != given[image]:
            raise WinnowError(f"{where}: its label was {seen_text} when reviewed and is {given[image]} in data/degrade "
                              "now; the verdict was for the label the person saw: export and review again, or "
                              "remove the line")
        # before, read as other pixels: a spreadsheet's number, saved where a person removed a line as advised
        refuse_spreadsheet_number(digest, now=digests[image], column="digest", kind="pixel digest", where=where,
                                  written="written", fix=restore)
        # another degrade seed, or a file replaced under its name: the same id and label, another picture
        if digest != digests[image]:
            raise WinnowError(f"{where}: its pixels changed since the review (digest {digest!r} then, "
                              f"{digests[image]!r} in data/degrade now); the verdict was for the picture the person "
                              "saw: export and review again, or remove the line")
        if suggested == given[image]:  # by hand, or the label changed to the suggestion since the review
            raise WinnowError(f"{where}: suggested {suggested_text} is its label in data/degrade; a suggestion drops "
                              "or relabels: if the data changed since the review, export and review again, or "
                              "remove the line")
        # the verdict word says what the outcome is: the suggestion's outcome is accept, whatever word it took
        if verdict != "accept" and label == suggested:
            raise WinnowError(f"{where}: verdict {verdict} with label {text} is its suggestion: write accept; {fix}")
        expected = {"drop": label == -1, "relabel": label >= 0 and label != given[image],
                    "reject": label == given[image], "accept": label == suggested}[verdict]
        if not expected:
            want = {"drop": "-1", "relabel": f"a class index other than its given label {given[image]}",
                    "reject": f"its given label {given[image]}", "accept": f"its suggestion {suggested_text}"}[verdict]
            raise WinnowError(f"{where}: verdict {verdict} needs the label {want}, not {text}; {fix}")
    twice = frame["id"].duplicated()
    if twice.any():
        raise WinnowError(f"{path}: line {int(twice.idxmax()) + 2}: id {frame['id'][twice].iloc[0]!r} "
                          f"has a verdict already; keep one line per image")
    return frame.loc[:, list(VERDICT_COLUMNS)].assign(label=labels.astype(np.int64), suggested=suggestions.astype(
        np.int64), given=saw.astype(np.int64)).reset_index(drop=True)


def replaced_differently(new: pd.DataFrame, *, source: str | os.PathLike) -> str:
    """The warning an import of ``new`` (:data:`VERDICT_COLUMNS`, read from ``source``) owes when it replaces
    verdicts of :data:`VERDICTS_FILE` with another outcome (label), "" when it replaces none so: two reviewers'
    files imported in turn, or a saved verdict a person changed in a second round. The file is read as text (its
    lines for the ids of ``new`` are not checked: they may be stale, the reason to review again)."""
    if not Path(VERDICTS_FILE).is_file():
        return ""
    old = pd.read_csv(VERDICTS_FILE, dtype=str, keep_default_na=False).drop_duplicates("id", keep="last")
    old = old.set_index("id")
    was = new["id"].map(old["verdict"])
    # labels compared as numbers, as read_verdicts reads them: a spreadsheet's "1.0" is the same outcome as 1
    changed = new[was.notna() & (new["id"].map(pd.to_numeric(old["label"], errors="coerce")) != new["label"])]
    if not len(changed):
        return ""
    first = changed.iloc[0]
    return (f"warning: review import: {len(changed)} verdict(s) of {source} replace different ones of {VERDICTS_FILE} "
            f"(first: id {first['id']!r}, {was[first.name]} there, {first['verdict']} here); the later import wins: "
            "import the other file again to keep its verdicts")


def left_out_by_replace(new: pd.DataFrame, *, source: str | os.PathLike) -> str:
    """The warning an import ``--replace`` of ``new`` (:data:`VERDICT_COLUMNS`, read from ``source``, holding some)
    owes when :data:`VERDICTS_FILE` holds verdicts of images ``new`` does not name, which it removes; "" when it holds
    none. A file that cannot be read as a table of ids (semicolons, a field too many) is warned of by its lines
    (:func:`saved_lines`), which --replace removes all the same. Before, they went without a
    word: a verdict of an image no cleaner raises now (which no queue, page or Label Studio export carries back, and
    which the export had said pruned still applies) was lost by a second round imported with --replace."""
    if not Path(VERDICTS_FILE).is_file():
        return ""
    try:
        frame = pd.read_csv(VERDICTS_FILE, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:
        frame, why = None, f"is not readable ({first_line(err)[:160]})"
    else:  # as read_verdicts tells them: pandas took the first field for an index (one field too many), no id column
        why = ("holds lines of more fields than its header" if not isinstance(frame.index, pd.RangeIndex) else
               f"lacks column id{separator_hint(VERDICTS_FILE)}" if "id" not in frame.columns else None)
    if why is not None:
        # before: "" (no word), where --replace removed the file's verdicts all the same (a spreadsheet's semicolons, a
        # hand edit); or, of lines with a field too many, their verdict words named as the ids removed. Its lines are
        # counted as text, as for an import adding none
        lines = saved_lines(VERDICTS_FILE)
        return "" if not lines else (
            f"warning: review import --replace: removed the {lines} line(s) of {VERDICTS_FILE}, which {why}, so "
            f"which of them {source} does not name cannot be told; restore it from git (git checkout {VERDICTS_FILE}) "
            f"and import {source} without --replace if that was not meant")
    old = holding_something(frame)["id"]
    gone = list(dict.fromkeys(old[~old.isin(set(new["id"])) & ~old.map(conflict_marker)]))
    if not gone:
        return ""
    return (f"warning: review import --replace: removed the verdict(s) of {len(gone)} image(s) {source} does not name "
            f"(first: id {gone[0]!r}) from {VERDICTS_FILE}; restore it from git (git checkout {VERDICTS_FILE}) and "
            f"import {source} without --replace if that was not meant")


def refuse_kept_leaks(verdicts: pd.DataFrame, decisions: pd.DataFrame, *, where: str) -> None:
    """One line when a verdict keeps an image that ``decisions`` (the budget's) drop as dedup's ``leak``: a
    train copy of a val, test or trusted image is never trained on, whatever a person or the budget says, or val or
    the test would score an image the model learnt, or the trusted split judge the budget on one."""
    leaks = set(decisions.loc[(decisions["stage"] == "dedup") & (decisions["reason"] == "leak"), "id"])
    kept = verdicts[verdicts["id"].isin(leaks) & (verdicts["label"] != -1)]
    if len(kept):
        first = kept.iloc[0]
        # dedup's leaks are train copies of trusted images too: before, the line spoke of val and test alone, and
        # a person kept from keeping a copy of a trusted image looked for it there
        raise WinnowError(f"{where}: id {first['id']!r}: verdict {first['verdict']} keeps a train copy of a val, "
                          "test or trusted image (dedup: leak), which pruned always drops: val or the test would "
                          "score an image the model learnt, or the trusted split judge the budget on one; write drop "
                          "or accept for it, or remove the verdict")


def refuse_lost_copies(before: pd.DataFrame, after: pd.DataFrame, *, verdicts: pd.DataFrame,
                       decisions: pd.DataFrame, groups: pd.DataFrame, where: str) -> None:
    """One line when ``verdicts`` drop the last train copy of a duplicate group: the rows ``before`` (the decisions
    applied) keep an image of a dedup group whose other train copies the budget's ``decisions`` drop as its
    duplicates (not as leaks) with no verdict of their own (a person who judged each copy may drop the picture), and
    the rows ``after`` (the verdicts applied too) keep none. ``groups``: dedup's groups.parquet (``id``, ``group``).

    before: a verdict accepting dedup's drop of one copy outlived a change of dedup.keep (first -> best_quality),
    which kept that copy now and dropped the other: pruned held no copy of the picture, and said nothing."""
    copies = decisions.loc[(decisions["stage"] == "dedup") & (decisions["action"] == "drop")
                           & (decisions["reason"] != "leak") & ~decisions["id"].isin(set(verdicts["id"])), "id"]
    if copies.empty or verdicts.empty:
        return
    group = groups.set_index("id")["group"]
    kept = before["action"].to_numpy() != "drop"
    lost = kept & (after["action"].to_numpy() == "drop") & before["id"].isin(set(verdicts["id"])).to_numpy()
    emptied = set(group[copies]) - set(group[after.loc[after["action"] != "drop", "id"]])
    lost &= before["id"].map(group).isin(emptied).to_numpy()
    if lost.any():
        first = before["id"][lost].iloc[0]
        verdict = verdicts.set_index("id").loc[first, "verdict"]
        named = copies[copies.map(group) == group[first]]
        raise WinnowError(f"{where}: id {first!r}: verdict {verdict} drops the train copy dedup keeps of its group, "
                          f"whose other train copies ({', '.join(named.head(3))}{', ...' if len(named) > 3 else ''}) "
                          "pruned drops as its duplicates: no copy of the picture would stay in train; judge those "
                          "copies too (accepting their drop drops the picture), or remove the line (dedup's groups "
                          "may have changed since the review: dedup.keep, a radius)")


def verdicts_applied(decided: pd.DataFrame, verdicts: pd.DataFrame, *, decisions: pd.DataFrame,
                     baseline: pd.DataFrame, manifest: pd.DataFrame, classes: list[str],
                     where: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """:func:`apply_verdicts` to ``decided`` (the budget's ``decisions`` applied), refused by
    :func:`refuse_lost_copies` (dedup's groups read only where there are verdicts and dedup drops): what the
    variants stage makes pruned of, and what ``winnow review import`` checks before it writes the verdicts.

    before: import wrote a verdict dropping the copy dedup keeps, its other copies unjudged, and only the variants
    stage refused it, after the person had left the review."""
    pruned, review = apply_verdicts(decided, verdicts, baseline=baseline)
    if len(verdicts) and (decisions["stage"] == "dedup").any():  # which copies are one picture: dedup's groups
        groups = read_cleaner_tables(("dedup",), classes=classes, manifest=manifest,
                                     extra_columns={"dedup": ("group",)})["groups"]
        refuse_lost_copies(decided, pruned, verdicts=verdicts, decisions=decisions, groups=groups, where=where)
    return pruned, review


def apply_verdicts(rows: pd.DataFrame, verdicts: pd.DataFrame, *,
                   baseline: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows with a person's verdicts in place of the automatic decisions for the images they name.

    A verdict's label -1 drops the image, its given label (from ``baseline``, the rows before any decision,
    same order as ``rows``) keeps it, another class relabels it. A verdict whose outcome is what the
    decisions already did **confirms** them (the row keeps its reason, ``review:<verdict>`` added); any
    other **overrules** them (stage ``review``).

    Returns:
        (rows, counts): counts ``verdicts``, ``confirmed``, ``overruled`` and ``relabelled_by_person`` (class
        verdicts: the person chose the label), the ``review`` entry of metrics/variants.json.
    """
    by_id = verdicts.set_index("id")
    verdict = rows["id"].map(by_id["verdict"])
    reviewed = verdict.notna().to_numpy()
    out = rows.copy()
    label = rows["id"].map(by_id["label"]).fillna(-2).to_numpy(np.int64)
    given = baseline["label"].to_numpy(np.int64)
    automatic = np.where(rows["action"] == "drop", -1, rows["label"].to_numpy(np.int64))
    confirmed = reviewed & (label == automatic)
    overruled = reviewed & ~confirmed
    note = np.array([f"review:{v}" for v in verdict.astype(object).fillna("")], dtype=object)  # no verdict: NaN floats
    reasons, stages = rows["reason"].to_numpy(object), rows["stage"].to_numpy(object)
    out.loc[confirmed, "reason"] = [f"{r}; {n}" if r else n for r, n in zip(reasons[confirmed], note[confirmed])]
    out.loc[confirmed, "stage"] = [f"{s}+review" if s else "review" for s in stages[confirmed]]
    action = np.where(label == -1, "drop", np.where(label == given, "keep", "relabel"))
    out.loc[overruled, "action"] = action[overruled]
    out.loc[overruled, "label"] = np.where(label == -1, given, label)[overruled]
    out.loc[overruled, "reason"] = [f"{g}->{l}: {n}" if a == "relabel" else n for g, l, a, n in zip(
        given[overruled], label[overruled], action[overruled], note[overruled])]
    out.loc[overruled, "stage"] = "review"
    counts = {"verdicts": int(reviewed.sum()), "confirmed": int(confirmed.sum()), "overruled": int(overruled.sum()),
              "relabelled_by_person": int((verdict == "relabel").sum())}
    return out.astype({"label": np.int64}), counts
