"""Reading Great Expectations' results: one :class:`ExpectationResult` per rule checked on a table, its observed
value and bound in words, as :func:`winnow.contracts.validate` returns them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd


_EXAMPLES = 3  # unexpected values shown in a failure line
# rules whose observed value is the number of rows the row_condition selects: for them no row selected is a
# measurement, 0 (before: "value: 0, row_condition: 'label==99'", a user's "no image may be X", failed on clean data)
_COUNTS_SELECTED_ROWS = "expect_table_row_count_"


def _counts_none(kind: str, kwargs: Mapping[str, Any]) -> bool:
    """Whether a rule counts the rows its row_condition selects and expects none (value 0, or max_value 0): only
    then is no row selected its measurement. A count allowing some (max_value 1) whose condition matches nothing
    is more likely a typo ('split=="Test"') and fails as other rules do (found by a review: it passed)."""
    return kind.startswith(_COUNTS_SELECTED_ROWS) and (kwargs.get("value") == 0 or kwargs.get("max_value") == 0)


@dataclass(frozen=True)
class ExpectationResult:
    """One expectation checked on one table.

    Attributes:
        suite: the suite's name; table: the table checked (the suite's name, or a variant's name).
        expectation: the GX expectation type; column: the column it looks at (None for a table-wide one).
        description: the rule in words, from the suite file.
        observed: the observed value (a number for aggregates, ``"k of n rows, e.g. [...]"`` for per-row
            rules), ``"not measured"`` when the value is null, ``"error: ..."`` when GX could not evaluate it.
        bound: the bound in words (``"<= 0.01"``, ``"in [0, 9]"``, ``"in {'train', ...}"``, ``"-"``).
        success: whether the expectation held.
        limits: the numeric bounds (min_value, max_value), so that a failure line never prints its observed
            value rounded onto one of them.
    """

    suite: str
    table: str
    expectation: str
    column: str | None
    description: str
    observed: Any
    bound: str
    success: bool
    limits: tuple = ()

    def line(self) -> str:
        """One line for a failure: which rule on which table, the observed value, the bound."""
        where = self.suite if self.table == self.suite else f"{self.suite}[{self.table}]"
        target = f"{self.expectation}({self.column})" if self.column else self.expectation
        observed = _number(self.observed, apart_from=self.limits)
        return f"{where}: {self.description}: observed {observed}, bound {self.bound} ({target})"


def _result(suite: str, table: str, checked, *, frame: pd.DataFrame) -> ExpectationResult:
    """``checked`` (a GX result of a rule on ``frame``) as a result of table ``table``. A rule checked nothing,
    and fails, when its row_condition selects no row of ``frame`` (before: a distinct-values or max-only rule
    passed on it, as the typo 'split=="Train"' selects none), or when it is a per-row rule whose column holds no
    value among the rows examined (before: "0 of 4 rows" unexpected on an all-NaN column, a pass), and so does any
    other rule of a column (a sum, its distinct values) but those of :data:`_NEEDS_NO_VALUE`. A row count
    measures the rows selected, so none selected is its observed 0, judged against its bound."""
    config, outcome = checked.expectation_config, checked.result or {}
    kwargs = config.kwargs
    error = _error_message(checked.exception_info)
    if error is not None:
        observed = f"error: {error}"
    elif outcome.get("observed_value") is not None:  # None: a per-row rule, whose unexpected values say more
        observed = outcome["observed_value"]
    elif "unexpected_count" in outcome:
        examples = [_number(value) for value in outcome.get("partial_unexpected_list", [])[:_EXAMPLES]]
        of = f" of {outcome['element_count']} rows" if "element_count" in outcome else " unexpected value(s)"
        observed = f"{outcome['unexpected_count']}{of}" + (
            f", e.g. {examples}" if outcome["unexpected_count"] else "")
    else:
        observed = None
    # a per-row rule that examined no row checked nothing: it fails (GX counts the nulls it skips as missing)
    examined_none = error is None and "unexpected_count" in outcome and outcome.get("element_count") == 0
    rows = _selected(frame, kwargs) if error is None else None
    if rows is not None and kwargs.get("row_condition") and not _counts_none(config.type, kwargs) and rows.empty:
        observed, examined_none = "no row examined (its row_condition selects none)", True
    elif examined_none:
        observed = "no row"
    elif error is None and "missing_count" in outcome and outcome["missing_count"] == outcome.get("element_count"):
        observed = f"no value examined ({outcome['missing_count']} of {outcome['element_count']} rows null)"
        examined_none = True
    elif checked.success and config.type not in _NEEDS_NO_VALUE and rows is not None \
            and kwargs.get("column") in rows.columns and not rows[kwargs["column"]].notna().any():
        # an aggregate of no value: before, a sum of 0 or no distinct value outside the set passed on an empty table
        # or an all-null column, where the same rule whose row_condition selected no row failed
        observed = f"no value examined ({len(rows)} of {len(rows)} rows null)" if len(rows) else "no row"
        examined_none = True
    return ExpectationResult(
        suite=suite, table=table, expectation=config.type, column=kwargs.get("column"),
        description=config.description or config.type, observed=_plain(observed),
        bound=_bound(kwargs, observed=_plain(observed)),
        success=bool(checked.success) and not examined_none,
        limits=tuple(kwargs[k] for k in ("min_value", "max_value") if isinstance(kwargs.get(k), (int, float))))


# column rules that measure something of a column without values: that it exists, its type, its nulls
_NEEDS_NO_VALUE = ("expect_column_to_exist", "expect_column_values_to_be_of_type",
                   "expect_column_values_to_be_in_type_list", "expect_column_values_to_be_null",
                   "expect_column_proportion_of_non_null_values_to_be_between")


def _selected(frame: pd.DataFrame, kwargs: Mapping[str, Any]) -> pd.DataFrame | None:
    """The rows of ``frame`` the rule's row_condition keeps, filtered as GX filters them (all rows without one);
    None when GX cannot evaluate it (its result then carries GX's own error)."""
    if not kwargs.get("row_condition"):
        return frame
    from great_expectations.execution_engine import PandasExecutionEngine

    try:
        return PandasExecutionEngine()._apply_row_condition_filter(frame, kwargs["row_condition"], dict(kwargs))
    except Exception:  # noqa: BLE001 - a condition GX refuses is its result's error, reported there
        return None


def _error_message(info: Mapping | None) -> str | None:
    """The first line of the exception GX caught, if any; ``info`` is flat or keyed by metric."""
    entries = [info] if info and "raised_exception" in info else list((info or {}).values())
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("raised_exception"):
            return (str(entry.get("exception_message") or "").splitlines() or ["GX could not evaluate it"])[0]
    return None


def _plain(value: Any) -> Any:
    """A builtin for JSON: numpy scalars become numbers, null and NaN become ``"not measured"``."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not measured"
    return value


def _number(value: Any, *, apart_from: tuple = ()) -> str:
    """A float to 4 significant digits, more where 4 would print it as one of the bounds ``apart_from`` it
    differs from: a class balance of 0.19995 failing ``>= 0.2`` read "observed 0.2, bound >= 0.2"."""
    if not isinstance(value, float):
        return str(value)
    digits = 4
    while digits < 17 and any(value != limit and f"{value:.{digits}g}" == f"{float(limit):.{digits}g}"
                              for limit in apart_from):
        digits += 1
    return f"{value:.{digits}g}"


def _bound(kwargs: Mapping[str, Any], *, observed: Any = None) -> str:
    """The bound of a rule's ``kwargs`` in words; a strict_min or strict_max excludes its end (``> 0``, ``in (0.2, 1]``):
    before, "observed 0.01, bound <= 0.01" was a failure line of max_value 0.01 with strict_max, as if it had passed.
    Each number is printed apart from the ``observed`` value (:func:`_number`): before, max_value 0.012346 read
    "observed 0.012348, bound <= 0.01235", a failure printed as a pass, the bound rounded past the value."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    above, below = is_strict(kwargs.get("strict_min")), is_strict(kwargs.get("strict_max"))
    apart = (observed,) if isinstance(observed, (int, float)) and not isinstance(observed, bool) else ()

    def number(value: Any) -> str:
        return _number(value, apart_from=apart)

    if "value_set" in kwargs:
        return f"in {{{', '.join(map(repr, kwargs['value_set']))}}}"
    if low is not None and high is not None:
        if low == high and not (above or below):
            return f"= {number(low)}"
        return f"in {'(' if above else '['}{number(low)}, {number(high)}{')' if below else ']'}"
    if low is not None:
        return f"{'>' if above else '>='} {number(low)}"
    if high is not None:
        return f"{'<' if below else '<='} {number(high)}"
    if isinstance(kwargs.get("value"), (int, float)) and not isinstance(kwargs["value"], bool):
        return f"= {number(kwargs['value'])}"  # expect_table_row_count_to_equal, ...: before "bound -"
    return "-"


def is_strict(value: Any) -> bool:
    """Whether a strict_min or strict_max ``value`` is true as Great Expectations reads it (pydantic's booleans: true,
    1, 1.0, "yes", "on"; its ``value in BOOL_TRUE`` takes the float 1.0 for 1: before, ``strict_min: 1.0`` beside a
    row count's min_value 0 was refused as bounding nothing, where GX checked more than 0 rows)."""
    if isinstance(value, bool) or value is None:
        return value is True
    if isinstance(value, str):
        value = value.lower()
    try:
        return value in _PYDANTIC_TRUE
    except TypeError:  # unhashable (a list): no boolean to pydantic, which refuses it as the rule's error
        return False


_PYDANTIC_TRUE = frozenset({1, "1", "on", "t", "true", "y", "yes"})  # pydantic v1's BOOL_TRUE, which GX's models use
