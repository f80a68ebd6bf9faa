"""GitHub markdown tables of names that come from the data: the merge gate's pull-request comment and
``compare``'s seed tables. A class or variant name is shown as typed, and never as markup."""

from __future__ import annotations

import html
import unicodedata


MARKUP = "\\`*_[]|~@#$"  # backslash-escaped: emphasis, code, links, a cell break, strike-through, a mention,
# an issue reference (#1), inline math (GitHub draws "$x^2$" as a formula and "$\frac{1}{0}$" as an error)


def cell(text: str) -> str:
    """``text`` as one table cell, shown as typed: each character of :data:`MARKUP` backslash-escaped (``|``
    breaks the cell, ``*cat*`` is emphasis, ``[a](b)`` a link, ``@team`` a mention, ``#1`` a link to
    issue 1 in a pull request and ``$x^2$`` a formula), ``<``, ``>`` and ``&`` as HTML entities (a name
    holding a tag is shown, not rendered), and each character that is not printable as its ``\\u`` escape: a
    line break ends the table, and a bidirectional override (U+202E) shows the rest of the row, numbers and
    verdict included, reversed."""
    return isolate(inline("".join(f"\\{c}" if c in MARKUP else c for c in text)))  # MARKUP holds none of & < >


def inline(text: str) -> str:
    """``text`` inside a line of the comment (a note), its markup kept (a pattern's ``*``): ``<``, ``>`` and ``&``
    as HTML entities and each character that is not printable as its ``\\u`` escape. A line break would start a
    line of its own (a "gate: PASS" above the verdict) and ``<!--`` hide the rest of the comment, verdict included."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in html.escape(text, quote=False))


def isolate(name: str) -> str:
    """``name`` between Unicode's first-strong isolate and its pop (U+2068, U+2069) when it holds a right-to-left
    letter, else as it is: a Hebrew or Arabic name otherwise reorders what stands beside it, so "חתול → כלב" showed
    the arrow from the new class to the given one, and a markdown row "| חתול | 0.9000 | 0.4000 |" showed the two
    versions' numbers swapped in any bidi-aware plain-text view."""
    if any(unicodedata.bidirectional(c) in ("R", "AL") for c in name):
        return f"\u2068{name}\u2069"
    return name


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table of ``rows`` (lists of cell texts, as long as ``header``); a cell that holds a name
    from the data must have passed :func:`cell`."""
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                      + ["| " + " | ".join(row) + " |" for row in rows])
