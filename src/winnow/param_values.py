"""How a params.yaml value is told in a one-line error (:mod:`winnow.param_rules`, :mod:`winnow.degrade_options`):
short, on one line, its invisible characters written out, and spelt only as far as it is shown; what it is
(:func:`kind_of`), and the known name a misspelt one is close to (:func:`did_you_mean`).

A module of its own: :mod:`winnow.param_rules` says what a key may hold, this one how a value given there is shown.
"""

from __future__ import annotations

import difflib
import json
import math
import unicodedata
from typing import Any

from winnow.errors import WinnowError

SHOWN = 60  # the most characters :func:`show` gives a value


def show(value: Any) -> str:
    """A value as YAML would spell it, on one line and short, its invisible characters written out (:func:`visible`).
    Only as much of it is spelt as is shown: before, a 300-byte params.yaml whose YAML aliases nest a list eight levels
    of ten deep (10**8 items, one object each in memory) was spelt whole, 3 minutes before its one line (a level more:
    out of memory)."""
    if isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    elif isinstance(value, float):
        text = repr(value)
    else:
        try:  # visible only lengthens a text, character by character: one more than is shown decides the cut
            text = visible(_leading(json.JSONEncoder(ensure_ascii=False, default=str).iterencode(value), SHOWN + 1))
        except (TypeError, ValueError):  # a mapping with keys JSON cannot spell (dates, ...)
            text = bounded_repr(value, limit=SHOWN + 1)
    return text if len(text) <= SHOWN else text[:SHOWN - 3] + "..."


def _leading(chunks, limit: int) -> str:
    """The text of ``chunks`` (strings, made one by one) up to ``limit`` characters: the whole text when shorter."""
    text = ""
    for chunk in chunks:
        text += chunk
        if len(text) >= limit:
            break
    return text[:limit]


def bounded_repr(value: Any, *, limit: int = 200) -> str:
    """``repr(value)``, its lists, tuples and mappings spelt only up to about ``limit`` characters and then cut with
    "...", so a value that YAML aliases nest deep (10**8 items from a few hundred bytes) is not spelt whole; a scalar
    is spelt whole."""
    parts: list[str] = []
    size = 0

    class _Full(Exception):
        pass

    def emit(text: str) -> None:
        nonlocal size
        parts.append(text)
        size += len(text)
        if size > limit:
            raise _Full

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            emit("{")
            for i, (key, inner) in enumerate(item.items()):
                emit(", " if i else "")
                walk(key)
                emit(": ")
                walk(inner)
            emit("}")
        elif isinstance(item, (list, tuple)):
            emit("[" if isinstance(item, list) else "(")
            for i, inner in enumerate(item):
                emit(", " if i else "")
                walk(inner)
            emit("]" if isinstance(item, list) else ",)" if len(item) == 1 else ")")
        else:
            emit(repr(item))

    if not isinstance(value, (dict, list, tuple)):
        return repr(value)
    try:
        walk(value)
    except _Full:
        return "".join(parts)[:limit] + "..."
    return "".join(parts)


# what a terminal shows as a space or as nothing: Unicode spaces other than " " (a no-break space), zero-width and
# other format characters (U+200B, U+FEFF), line and paragraph separators. Pasted from a web page or a chat after a
# value, a no-break space made `model: lenet5` read `train.model: "lenet5 " is not one of lenet5, cnn_small,
# resnet18 (did you mean lenet5?)`, and `epochs: 20` read `"20 " is a string ... (write numbers without quotes)`
INVISIBLE = ("Zs", "Zl", "Zp", "Cf")


def visible(text: str) -> str:
    """``text`` with each character of :data:`INVISIBLE` but the space written as its escape (``\\u00a0``)."""
    return "".join((f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
                   if c != " " and unicodedata.category(c) in INVISIBLE else c for c in text)


def kind_of(value: Any) -> str:
    for types_, name in ((bool, "a boolean"), (str, "a string"), ((int, float), "a number"), (list, "a list"),
                         (dict, "a mapping")):
        if isinstance(value, types_):
            return name
    return "null" if value is None else f"a {type(value).__name__}"


def did_you_mean(word: Any, known) -> str:
    """``" (did you mean x?)"`` when ``word`` is close to one of ``known``, else ``""``; and the letter that tells
    them apart where ``word`` holds one that ``x`` lacks outside ASCII: a Cyrillic о typed on a Russian layout,
    or pasted, read ``scоre: unknown parameter (did you mean score?)``, two words that look the same."""
    # the same name in other capitals first: difflib compares letters as they are, so "OTSU" (for otsu) or "FIRST"
    # (for first) had no close match at all, where "Auto" had one
    close = ([k for k in map(str, known) if k.casefold() == str(word).casefold()][:1]
             or difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6))
    if not close:
        return ""
    # letters only: an invisible character is shown escaped in the word itself (:func:`visible`)
    foreign = next((c for c in str(word) if c.isalpha() and not c.isascii() and c not in close[0]), None)
    if foreign is None:
        return f" (did you mean {close[0]}?)"
    return f" (did you mean {close[0]}? it holds {foreign}, {unicodedata.name(foreign, 'a letter outside ASCII')})"


def before_a_glued_comment(rule, value: Any, path: str) -> str | None:
    """The text before the first # of ``value`` where, read as YAML, it fits ``rule`` (``lr: 1e-3# Adam``, a comment
    without the space before its #, which YAML reads as part of the value); else None."""
    if not isinstance(value, str) or "#" not in value:
        return None
    before = value.split("#", 1)[0].strip()
    from winnow.yaml_text import load_yaml

    try:
        rule.check(load_yaml(f"value: {before}", name="params.yaml")["value"], path)
    except (WinnowError, TypeError, KeyError):
        return None
    return before if before else None


def number_text_hint(text: str, *, high: float | None = None) -> str:
    """Why ``text``, given for a number (one of at most ``high``), is none, where it nearly is one; else ""."""
    # a percentage (`val_fraction: 15%`): before, "is a string, not a number in [0, 1)" and no word of the %
    percent = _float(text.strip()[:-1]) if text.strip().endswith("%") else None
    if percent is not None and high is not None and high <= 1:  # a share of 1
        return f" (write {percent / 100:g}, a number without the %)"
    if percent is not None:  # a percentile's 75 is 75; another's, unknown
        return f" (write {percent:g}, a number without the %)" if high == 100 else " (write a number, without the %)"
    hidden = [c for c in text if visible(c) != c]
    try:
        float("".join(c for c in text if c not in hidden))
    except ValueError:
        return ""
    if hidden:  # a number but for them: deleting them is the fix, there are no quotes to remove
        return f" (it holds {visible(hidden[0])}, {unicodedata.name(hidden[0], 'an invisible character')}: delete it)"
    # Python reads any script's digits, YAML only 0-9: `epochs: ２０` (full-width, as an East Asian input method types
    # them) was told to drop quotes it does not have
    wide = next((c for c in text if not c.isascii()), None)
    if wide is not None:
        ascii_text = "".join(c if c.isascii() else str(unicodedata.decimal(c, "")) for c in text)
        return f" (it holds {wide}, {unicodedata.name(wide, 'a digit')}: write {ascii_text})"
    return " (write numbers without quotes)"


def _float(text: str) -> float | None:
    """``text`` as a finite float, or None."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
