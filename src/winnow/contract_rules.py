"""What one expectation of a suite file may hold, checked by :func:`winnow.contracts.load_suite` before Great
Expectations sees it: a rule that passes on any data (no bound, ``mostly`` 0, a pattern or list left null, an
infinite threshold, a misspelt placeholder), and a number GX cannot store (NaN, an infinity, past float64), are
refused with one line naming the file, the expectation's place in it and the option (an empty value_set or
column list too, and a pattern that matches every text); an infinity that leaves one side of a range open
(``max_value: .inf`` beside a finite minimum, a partition's tail bins) is kept. :func:`check_value_sets` refuses,
once the table is known, a value_set of text for a column of numbers, or of numbers for one of text.

Kept apart from the validation code (winnow.contracts) so that each stays short; imports no GX."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd

from winnow.errors import WinnowError
from winnow.param_rules import finite_number

# options Great Expectations reads as "check nothing" when null or missing: the rule passed on any data
# (a regex left out defaults to "(?s).*", which matches every value)
_NOTHING_WHEN_NULL = {"expect_column_values_to_be_in_type_list": ("type_list",),
                      "expect_column_kl_divergence_to_be_less_than": ("partition_object", "threshold"),
                      "expect_column_values_to_match_regex": ("regex",),
                      "expect_table_columns_to_match_ordered_list": ("column_list",),
                      "expect_table_columns_to_match_set": ("column_set",)}
# options that list the values or columns a rule checks: an empty list checks nothing (a set that no value may
# be in, or must contain, passed on any data; one that every value must be in failed on all)
# (what each lists, for the message: before, an empty column_set was told to "list the values it is about")
_LISTS = {"value_set": "values", "column_list": "columns", "column_set": "columns", "type_list": "types"}
_QUANTILES = "expect_column_quantile_values_to_be_between"
# the patterns a value must match, and whether one of a list is enough (regex_list's match_on, "any" by default)
_PATTERNS = {"expect_column_values_to_match_regex": "regex", "expect_column_values_to_match_regex_list": "regex_list"}
# Great Expectations searches each value for the pattern (str.contains), so one that matches the empty string where a
# search may start ("[0-9a-f]*" unanchored, "x?", "") matches every value; texts no character class covers together
_ANY_TEXT = ("", "\n", "~ \u00e9", "\x00")
SEVERITIES = ("critical", "warning", "info")  # Great Expectations' FailureSeverity


def check_rule(kind: str, kwargs: Mapping[str, Any], *, where: str) -> None:
    """Refuse a rule ``kind`` whose bound ``kwargs`` (placeholders filled in) pass on any data or that GX
    cannot store; ``where`` names it (``<file>: expectation <n> (<description>)``).

    Raises:
        WinnowError: one line naming the option and what to give instead.
    """
    for key in _NOTHING_WHEN_NULL.get(kind, ()):
        if kwargs.get(key) is None:
            raise WinnowError(f"{where} has no {key}, so it passes on anything; give one, or {{$PARAMETER: name}} "
                              "to set it in contracts.bounds")
    one_enough = kind != "expect_column_values_to_match_regex_list" or kwargs.get("match_on", "any") == "any"
    if kind in _PATTERNS and one_enough:
        patterns = kwargs.get(_PATTERNS[kind])
        universal = next((p for p in (patterns if isinstance(patterns, list) else [patterns]) if _matches_any(p)), None)
        if universal is not None:  # before: "[0-9a-f]*" for a hex digest passed "NOT-HEX!", "0 of 4 rows" unexpected
            raise WinnowError(f"{where}: {_PATTERNS[kind]} {universal!r} matches every text (it matches the empty "
                              "string, and each value is searched for it), so it passes on anything; anchor it at both "
                              "ends (^...$) or require a character (+)")
    for key, listed in _LISTS.items():
        if isinstance(kwargs.get(key), (list, tuple, set)) and not kwargs[key]:  # before: accepted, a pass on anything
            raise WinnowError(f"{where} has an empty {key}, so it checks nothing (it passes or fails on any data "
                              f"alike); list the {listed} it is about")
    if kind == _QUANTILES:  # its result holds numpy booleans, which GX's own results store cannot write
        raise WinnowError(f"{where}: Great Expectations 1.x fails to store this rule's result (a defect of its "
                          "own); use expect_column_median_to_be_between, _min_, _max_ or _mean_ instead")
    if kind.endswith("_to_be_between") and not any(finite_number(kwargs.get(k)) for k in ("min_value", "max_value")):
        raise WinnowError(f"{where} has no finite min_value or max_value, so it passes on anything; give a bound, "
                          "or {$PARAMETER: name} to set it in contracts.bounds")
    for option, value in _leaves(kwargs):
        # before: a NaN reached GX's suite store as null (a pydantic traceback) or was dropped as a bound ("<= 1"
        # for min_value .nan, max_value 1); an infinite threshold or multiplier passed on anything
        if isinstance(value, int) and not isinstance(value, bool) and not finite_number(value):
            raise WinnowError(f"{where}: {option} is a {len(str(abs(value)))}-digit number, beyond float64's range; "
                              f"give one of at most {sys.float_info.max:.4g}")
        if isinstance(value, float) and not finite_number(value) and not _open_end(option, value, kwargs):
            raise WinnowError(f"{where}: {option} is {value!r}, not a finite number (Great Expectations drops it or "
                              "cannot store it, and an infinite one passes on anything); give a finite number")
        if isinstance(value, str) and value.casefold() == "$parameter":
            # before: value_set {$parameter: x} was read as the set {'$parameter'}, which nothing matched
            raise WinnowError(f"{where}: {option}: {value!r} is not a placeholder (that is spelt "
                              "{$PARAMETER: name}), so it would be checked as a literal value")
    if "mostly" in kwargs:
        _check_mostly(kwargs["mostly"], where=where)


def check_value_sets(suite, *, table: str, frame: pd.DataFrame) -> None:
    """Refuse a rule of ``suite`` (:class:`winnow.contracts.Suite`) whose ``value_set`` holds text where its column of
    ``frame`` (the table named ``table``) holds numbers, or numbers where it holds text: Great Expectations compares
    values as they are, so none is in the set. Before: expect_column_values_to_not_be_in_set of value_set ['7'] (MNIST's
    class name) on label, which holds the class index, passed a table holding 7, "0 of 4 rows" unexpected."""
    for number, rule in zip(suite.numbers or range(1, len(suite.expectations) + 1), suite.expectations):
        values, column = rule["kwargs"].get("value_set"), rule["kwargs"].get("column")
        if not isinstance(values, list) or not values or not isinstance(column, str) or column not in frame.columns:
            continue
        held = _kind(frame[column].dropna())
        if held is not None and all(_kind(pd.Series([value])) not in (None, held) for value in values):
            raise WinnowError(f"{suite.path}: expectation {number} ({rule['description']}): value_set {values!r} holds "
                              f"{'text' if held == 'numbers' else 'numbers'}, but column {column!r} of the {table} "
                              f"table holds {held}, so no value is in the set (a label is its class's index in "
                              "classes.json); write the values as the column holds them")


def _kind(values: pd.Series) -> str | None:
    """``numbers`` or ``text`` when every one of ``values`` (a column's non-null values, or a value_set) is of that
    kind (a bool is neither), else None."""
    if len(values) and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return "numbers"
    if len(values) and values.map(lambda value: isinstance(value, str)).all():
        return "text"
    return None


def _matches_any(pattern: Any) -> bool:
    """Whether the regular expression ``pattern`` is found in each of :data:`_ANY_TEXT` (False where it is not one:
    Great Expectations reports it as the rule's error)."""
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError):
        return False
    return all(compiled.search(text) for text in _ANY_TEXT)


def _open_end(option: str, value: float, kwargs: Mapping[str, Any]) -> bool:
    """Whether the infinity ``value`` at ``option`` leaves one side of a range open, as Great Expectations documents:
    min_value or max_value beside a finite other bound (both infinite are refused before), or partition_object's
    tail bins, -inf first and inf last. Before: both were refused as "passes on anything", and a rule with a finite
    minimum or GX's own tail-bin partition could not be written."""
    if option in ("min_value", "max_value"):
        return not math.isnan(value)
    partition = kwargs.get("partition_object")
    bins = partition.get("bins") if isinstance(partition, Mapping) else None
    # three edges at least: [-inf, inf] is one bin holding every value, a divergence of 0 on any data
    if not isinstance(bins, list) or len(bins) < 3:
        return False
    return (option, value) in (("partition_object.bins[0]", -math.inf),
                               (f"partition_object.bins[{len(bins) - 1}]", math.inf))


def _check_mostly(mostly: Any, *, where: str) -> None:
    if isinstance(mostly, bool) or not isinstance(mostly, (int, float)):
        # before: GX read false and '0' as a share of 0, and the rule passed on anything
        raise WinnowError(f"{where} has mostly {mostly!r}, not a number; give the share in (0, 1] of the rows "
                          "that must meet it")
    if mostly <= 0:
        raise WinnowError(f"{where} has mostly {mostly:g}, so it passes on anything; give a share above 0 of the rows "
                          "that must meet it")
    if mostly > 1:
        raise WinnowError(f"{where} has mostly {mostly:g}; give the share in (0, 1] of the rows that must meet it")


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(where, value) of every number and string in ``value``, nested lists and mappings included; a mapping's
    keys come as strings too, so a misspelt placeholder key is seen."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            yield where, key
            yield from _leaves(item, where)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value
