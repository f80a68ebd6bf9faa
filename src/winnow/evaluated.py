"""What evaluate wrote, read back as text from any revision and checked before anything is computed from it:
the merge gate pairs these files across revisions, and the report reads them from the workspace.

- :func:`read_predictions`: ``metrics/evaluate/<variant>/predictions.csv`` (one row per test image);
- :func:`read_headline`, :func:`check_headline`: ``metrics/evaluate/<variant>.json`` (what DVC shows), which
  must say what its predictions say;
- :func:`metric_problems`: any gated metrics file holding a value that is not a finite number (:func:`non_numbers`:
  those of another kind than a number).
"""

from __future__ import annotations

import io
import json
import re
import unicodedata

import pandas as pd

from winnow.errors import WinnowError, first_line
from winnow.metrics import headline, summarise
from winnow.param_rules import finite_number


def natural_order(name: str):
    """A sort key of a class or variant name that puts "2" before "10": its runs of decimal digits as numbers.

    isdecimal, the digits \\d splits on, not isdigit: a class named "²" or "10²" (a superscript is a digit, not a
    decimal one) was a ValueError traceback from int() in the gate. A run is compared by its digits' values (any
    script's), leading zeros dropped, by length and then digit by digit: int() refused a run of over 4,300 digits (a
    ValueError traceback too). Names of one number ("1", "01", "١") tie on that, and then go by the name itself:
    before, their order was the order of a set of names, which differs from process to process."""
    parts = []
    for part in re.split(r"(\d+)", name):
        if part.isdecimal():
            digits = "".join(str(unicodedata.decimal(c)) for c in part).lstrip("0")
            parts.append((0, len(digits), digits))
        elif part:
            parts.append((1, 0, part))
    return parts, name


def flatten(value, prefix: str = ""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from flatten(inner, f"{prefix}{key}.")
    else:
        yield prefix[:-1], value


def metric_problems(text: str, *, where: str) -> list[str]:
    """What is wrong with one gated metrics file's text: not JSON, no table of metrics (a list, a string, null), or
    values that are not finite numbers (NaN, ±Infinity, strings, null, lists), each named by its flattened key."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:  # also a number past 4,300 digits, or nesting past the parser's
        return [f"{where}: not valid JSON ({first_line(err)})"]
    if isinstance(data, list) or not isinstance(data, dict) and not finite_number(data):
        # before: flattened under an empty key, "...baseline.json at workspace:  = [{'accuracy': 0.9}]"
        return [f"{where}: holds {'a list' if isinstance(data, list) else _shown(data)}, not a table of metrics (a "
                "JSON object of numbers)"]
    # finite_number: math.isfinite raised OverflowError on a 400-digit integer, and the gate ended in a traceback
    bad = [f"{key} = {_shown(value)}" for key, value in flatten(data) if not finite_number(value)]
    return [f"{where}: {', '.join(bad)}"] if bad else []


def non_numbers(texts: list[str]) -> str:
    """The values that every one of ``texts`` (a gated metrics file at each revision holding it) holds under the same
    flattened key as text, true/false, null or a list, as ``key = value, ...`` (three, and how many more), or "": what
    its stage writes beside its numbers (budget's ``enabled``, ``cleaners``), not a number gone wrong at one
    revision."""
    def kept(text: str) -> dict:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return {}
        return {key: value for key, value in flatten(data) if value is None or isinstance(value, (str, bool, list))} \
            if isinstance(data, dict) else {}

    found = [kept(text) for text in texts]
    always = [key for key in found[0] if all(key in other for other in found[1:])] if found else []
    return ", ".join(f"{key} = {_shown(found[0][key])}" for key in always[:3]) + (
        f" and {len(always) - 3} more" if len(always) > 3 else "")


def _shown(value) -> str:
    """``value``'s repr, at most 40 characters (a 400-digit integer stays readable in the one line)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def read_predictions(text: str, *, where: str, classes=()) -> pd.DataFrame:
    """``id, label, predicted`` (strings), and ``digest`` when the file has one (evaluate writes it since the gate
    pairs pixels too), from a predictions CSV's text; one line when it cannot be paired (a row without a label, a
    prediction or, in a file of digests, a digest among them).
    A prediction must name a test label or one of ``classes`` (those evaluate knew: a class without test
    images can still be predicted)."""
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise WinnowError(f"{where}: not a predictions table ({str(err).splitlines()[0]}); rerun evaluate") from err
    if not isinstance(frame.index, pd.RangeIndex):  # pandas took the first fields for an index: more than the header
        raise WinnowError(f"{where}: its lines hold more fields than the header ({', '.join(map(str, frame.columns))}), "
                          "so every column would be read one place off; rerun evaluate")
    missing = [c for c in ("id", "label", "predicted") if c not in frame.columns]
    if missing or frame.empty:
        raise WinnowError(f"{where}: {'no rows' if not missing else 'no column ' + ', '.join(missing)}; "
                          "rerun evaluate (it writes id, label, predicted, probability)")
    repeated = frame["id"].duplicated()
    if repeated.any():
        raise WinnowError(f"{where}: {int(repeated.sum())} repeated ids, first {frame['id'][repeated].iloc[0]!r}; "
                          "rerun evaluate")
    # a blank digest (a line that lost its last field) read as other pixels than the other revision's, or as the
    # same pixels as another blank, unchecked without the warning a file of no digests gets
    for column in ("label", "predicted", *(["digest"] if "digest" in frame.columns else [])):
        blank = frame[column].str.strip() == ""
        if blank.any():
            raise WinnowError(f"{where}: {int(blank.sum())} row(s) without a {column}, first id "
                              f"{frame['id'][blank].iloc[0]!r}; rerun evaluate")
    # a name that is no class (a typo, a hand edit) would count as wrong and look like a real change
    unknown = ~frame["predicted"].isin(set(frame["label"]) | set(classes))
    if unknown.any():
        raise WinnowError(f"{where}: predicted {frame['predicted'][unknown].iloc[0]!r} (id "
                          f"{frame['id'][unknown].iloc[0]!r}, {int(unknown.sum())} row(s)) is no class of the test "
                          "labels or of its metrics; rerun evaluate")
    return frame[["id", "label", "predicted", *(["digest"] if "digest" in frame.columns else [])]]


def read_headline(text: str | None, *, where: str) -> dict | None:
    """An evaluate metrics file's text (None: absent) as flattened ``{key: value}``, or None."""
    if text is None:
        return None
    try:
        return dict(flatten(json.loads(text)))
    except (ValueError, RecursionError) as err:  # also a number past 4,300 digits, or nesting past the parser's
        raise WinnowError(f"{where}: not valid JSON ({first_line(err)}); rerun evaluate") from err


def headline_classes(written: dict | None) -> list[str]:
    """The classes a :func:`read_headline` result scores (``per_class.<class>.f1``), in file order."""
    return [key[len("per_class."):-len(".f1")] for key in written or {}
            if key.startswith("per_class.") and key.endswith(".f1")]


def check_headline(written: dict, frame: pd.DataFrame, *, where: str) -> None:
    """Raise unless the metrics file (:func:`read_headline`) says what its predictions do: the
    accuracy and each class's F1 (``winnow.metrics.headline``) of ``frame`` (:func:`read_predictions`) within
    1e-6. DVC shows the file and the gate tests the predictions; evaluate writes both, so a difference is a
    hand edit or a stale file."""
    # classes evaluate knew but the test split lacks stay in the file (F1 0), out of its macro average
    classes = list(dict.fromkeys([*headline_classes(written), *sorted(set(frame["label"]), key=natural_order)]))
    index = {name: i for i, name in enumerate(classes)}
    truth, predicted = (frame[column].map(index).to_numpy() for column in ("label", "predicted"))
    summary = summarise(truth, predicted, classes=classes)
    # a commit evaluated before stop 67 averaged those classes in as 0s, and a gate's base is often such a commit
    counted = sum(values["f1"] for values in summary["per_class"].values()) / len(classes)
    for key, value in flatten(headline(summary)):
        found = written.get(key)
        if key == "macro.f1" and finite_number(found) and abs(found - counted) <= 1e-6:
            continue
        if not finite_number(found) or abs(found - value) > 1e-6:
            raise WinnowError(f"{where}: {key} is {_shown(found)} but its predictions give {value:.6f}; rerun evaluate "
                              "and commit both files")
