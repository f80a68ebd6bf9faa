"""What one expectation of a suite file may hold, checked by :func:`winnow.contracts.load_suite` before Great
Expectations sees it: a rule that passes on any data (no bound, ``mostly`` 0, a pattern or list left null, an
infinite threshold, a misspelt placeholder), and a number GX cannot store (NaN, an infinity, past float64), are
refused with one line naming the file, the expectation's place in it and the option (an empty value_set or
column list too, a pattern that matches every text, a bound written as a boolean or a text, a range no value lies
in, and a list written as a mapping); an infinity that leaves one side of a range open
(``max_value: .inf`` beside a finite minimum, a partition's tail bins) is kept. :func:`check_kinds` refuses,
once the table is known, a value_set or a row_condition's value of text for a column of numbers, or of numbers for
one of text.

Kept apart from the validation code (winnow.contracts) so that each stays short; imports no GX."""

from __future__ import annotations

import ast
import io
import math
import re
import string
import sys
import tokenize
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd

from winnow.contract_results import is_strict
from winnow.errors import WinnowError, first_repeated
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
# the rules comparing two columns row by row, and what comparing a column with itself does: before, column_A and
# column_B both orig_h (orig_w meant) of expect_column_pair_values_to_be_equal passed on any data, "0 of 3 rows"
_SELF_COMPARED = {"expect_column_pair_values_to_be_equal": lambda kwargs: "passes on anything",
                  "expect_column_pair_values_a_to_be_greater_than_b":
                      lambda kwargs: "passes on anything" if is_strict(kwargs.get("or_equal")) else "fails on any data"}
# the rules whose value_set Great Expectations compares with a column's values less its nulls (a rule of each value
# leaves null rows out, the distinct values drop them), and what a null listed there then does: before, value_set
# [-1, null] of expect_column_values_to_not_be_in_set ("no -1, nothing missing") passed a label column of nulls
_NULL_NEVER_SEEN = {"expect_column_values_to_not_be_in_set": "a null passes it",
                    "expect_column_distinct_values_to_contain_set": "it fails on any data",
                    "expect_column_distinct_values_to_equal_set": "it fails on any data"}
# the patterns a value must match, and whether one of a list is enough (regex_list's match_on, "any" by default)
_PATTERNS = {"expect_column_values_to_match_regex": "regex", "expect_column_values_to_match_regex_list": "regex_list"}
# Great Expectations searches each value for the pattern (str.contains), so one that matches the empty string where a
# search may start ("[0-9a-f]*" unanchored, "x?", "") matches every value; texts no character class covers together,
# a line break inside a text and each printable character alone (before, "^[^/]*$", no slash, was refused though it
# fails on one). All short, so that a pattern backtracking without end on a long text ("(?s)^(?:.{1,8}){0,10}$", at
# most 80 characters) is read at once: before, a probe of 1000 NULs hung the suite's reading
_ANY_TEXT = ("", "\n", "~ \u00e9", "\x00", "a\nb", *string.printable)
# a lookaround looks at the text about the place searched: "^(?!.*secret)" (no "secret") matches the empty string,
# yet is not found in "a secret"; no fixed text tells whether one is found in every text, so it is kept
_LOOKAROUND = re.compile(r"(?<!\\)(?:\\\\)*\(\?<?[=!]")
# a counted repetition between a start and an end anchor ("(?s)^.{0,4096}$") bounds a text's length, which no short
# text passes, so it is kept too (unanchored, "[0-9a-f]{0,8}" is found in every text: the probes refuse it)
_LENGTH_CAP = re.compile(r"(?:\(\?[a-zA-Z]+\))?(?:\^|\\A)"  # inline flags, then a start anchor
                         r".*(?<!\\)(?:\\\\)*\{(?:\d+|\d*,\d+)\}"  # an unescaped {n}, {m,n} or {,n}
                         r".*(?<!\\)(?:\\\\)*(?:\$|\\Z)", re.DOTALL)  # an unescaped end anchor, last
SEVERITIES = ("critical", "warning", "info")  # Great Expectations' FailureSeverity
# between rules of the whole table, and what each counts, which is never below 0: a min_value of 0 or below beside no
# finite max_value holds every count, so the rule passes on anything, an empty table too: before,
# expect_table_row_count_to_be_between min_value 0 passed a table of no rows ("observed 0, bound >= 0"). A rule of a
# column's values (a length, a count or proportion of distinct values) is kept: one that examines no value fails, so
# such bounds still ask that the column hold one; and so is a row count under a row_condition, which asks that it
# select a row
_COUNTS = {"expect_table_row_count_to_be_between": "a row count",
           "expect_table_column_count_to_be_between": "a column count"}
# the options Great Expectations reads as whole numbers (pydantic's int): a fraction is cut to the whole number below
# it without a word. Before: expect_table_row_count_to_equal value 2.5 passed a table of 2 rows ("bound = 2"), and
# min_value 2.5 a row count or value length of 2
_WHOLE = {"expect_table_row_count_to_equal": ("value",), "expect_table_column_count_to_equal": ("value",),
          "expect_table_row_count_to_be_between": ("min_value", "max_value"),
          "expect_column_unique_value_count_to_be_between": ("min_value", "max_value"),
          "expect_column_value_lengths_to_be_between": ("min_value", "max_value"),
          "expect_column_to_exist": ("column_index",)}


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
    if kind in _PATTERNS:
        patterns = kwargs.get(_PATTERNS[kind])
        listed = patterns if isinstance(patterns, list) else [patterns]
        universal = next((p for p in listed if _matches_any(p)), None)
        # match_on all: each pattern must be found, so one matching every text is harmless beside one that is not, but
        # a list of only such patterns passes on anything (before: kept, ["[0-9a-f]*"] passed "NOT-HEX!")
        if universal is not None and (one_enough or all(_matches_any(p) for p in listed)):
            # before: "[0-9a-f]*" for a hex digest passed "NOT-HEX!", "0 of 4 rows" unexpected
            raise WinnowError(f"{where}: {_PATTERNS[kind]} {universal!r} matches every text (it matches the empty "
                              "string, and each value is searched for it), so it passes on anything; anchor it at both "
                              "ends (^...$) or require a character (+)")
    for key, listed in _LISTS.items():
        if isinstance(kwargs.get(key), (list, tuple, set)) and not kwargs[key]:  # before: accepted, a pass on anything
            raise WinnowError(f"{where} has an empty {key}, so it checks nothing (it passes or fails on any data "
                              f"alike); list the {listed} it is about")
    pair = kwargs.get("column_A"), kwargs.get("column_B")
    if kind in _SELF_COMPARED and isinstance(pair[0], str) and pair[0] == pair[1]:
        raise WinnowError(f"{where}: column_A and column_B are both {kwargs['column_A']!r}, so it compares each value "
                          f"with itself and {_SELF_COMPARED[kind](kwargs)}; name the two columns it compares")
    columns = kwargs.get("column_list")
    repeated = first_repeated(columns) if isinstance(columns, list) and all(isinstance(c, str) for c in columns) \
        else None
    if repeated is not None:
        # before: Great Expectations took each column once, so expect_multicolumn_values_to_be_equal of [h, h] passed
        # on any data, and expect_multicolumn_sum_to_equal of [h, h] with sum_total 2 checked h == 2, not h == 1
        raise WinnowError(f"{where}: column_list names {repeated!r} twice, and Great Expectations takes each column "
                          "once, so it checks another rule than written; name each column once")
    values = kwargs.get("value_set")
    if kind in _NULL_NEVER_SEEN and isinstance(values, (list, tuple)) and any(value is None for value in values):
        # the null by its place, as value_set[1] is nan: before, the list in Python's words, "[-1, None] lists null"
        at = next(i for i, value in enumerate(values) if value is None)
        raise WinnowError(f"{where}: value_set[{at}] is null, which Great Expectations never compares "
                          f"(it leaves a column's nulls out of this rule), so {_NULL_NEVER_SEEN[kind]}; list values "
                          "only, and check nulls with expect_column_values_to_not_be_null")
    if kind == _QUANTILES:  # its result holds numpy booleans, which GX's own results store cannot write
        raise WinnowError(f"{where}: Great Expectations 1.x fails to store this rule's result (a defect of its "
                          "own); use expect_column_median_to_be_between, _min_, _max_ or _mean_ instead")
    _check_bound_kinds(kind, kwargs, where=where)
    if kind.endswith("_to_be_between") and not any(finite_number(kwargs.get(k)) for k in ("min_value", "max_value")):
        raise WinnowError(f"{where} has no finite min_value or max_value, so it passes on anything; give a bound, "
                          "or {$PARAMETER: name} to set it in contracts.bounds")
    if kind in _COUNTS and kwargs.get("row_condition") is None:
        _check_count(kind, kwargs, where=where)
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
    # after the placeholders' own check: {$parameter: x} is a misspelt one. regex_list too: a mapping of patterns was
    # no list to the every-text check above, and GX searched for its keys ({"[0-9a-f]*"} passed "NOT-HEX!")
    for key, listed in {**_LISTS, "regex_list": "patterns"}.items():
        if isinstance(kwargs.get(key), Mapping):
            # before: `value_set: {7}` (a set as Python writes it, a mapping of keys without values to YAML) reached
            # Great Expectations as the set of its keys written as text, {'7'}: expect_column_values_to_not_be_in_set
            # passed a label column holding 7, and `value_set: {}` passed on anything
            raise WinnowError(f"{where}: {key} is a mapping, not a list (YAML reads {{a, b}} as keys without values, "
                              f"and Great Expectations takes its keys as text); list the {listed} it is about in "
                              "square brackets")
    for option in _WHOLE.get(kind, ()):
        value = kwargs.get(option)
        if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
            raise WinnowError(f"{where}: {option} is {value!r}, not a whole number, and Great Expectations reads it as "
                              f"{int(value)} (it counts), another bound than written; give a whole number")
    length = kwargs.get("value") if kind == "expect_column_value_lengths_to_equal" else None
    if isinstance(length, float) and math.isfinite(length) and not length.is_integer():
        # Great Expectations keeps it a float: before, every value's length differed from 1.5, on any data
        raise WinnowError(f"{where}: value is {length!r}, and no length is a fraction, so it fails on any data; give a "
                          "whole number")
    if kind.endswith("_to_be_between"):
        _check_order(kwargs, where=where)
    if "mostly" in kwargs:
        _check_mostly(kwargs["mostly"], where=where)


def check_kinds(suite, *, table: str, frame: pd.DataFrame) -> None:
    """Refuse a rule of ``suite`` (:class:`winnow.contracts.Suite`) that sets text against a column of ``frame`` (the
    table named ``table``) holding numbers, or numbers against one holding text, in its ``value_set`` (every value)
    or its ``row_condition`` (a comparison of the column with a value): Great Expectations compares values as they
    are, so the set holds no value of the column and the condition selects no row by it. Before: value_set ['7']
    (MNIST's class name) of expect_column_values_to_not_be_in_set on label, which holds the class's index, passed a
    table holding 7, "0 of 4 rows" unexpected; and expect_table_row_count_to_equal 0 under row_condition
    'label=="7"' ("no image of class 7") counted 0 rows of it, a pass."""
    for number, rule in zip(suite.numbers or range(1, len(suite.expectations) + 1), suite.expectations):
        kwargs, where = rule["kwargs"], f"{suite.path}: expectation {number} ({rule['description']})"
        values, column = kwargs.get("value_set"), kwargs.get("column")
        if isinstance(values, list) and values and isinstance(column, str) and column in frame.columns:
            held = _kind(frame[column].dropna())
            if _of_other_kind(values, held):
                raise WinnowError(f"{where}: value_set {values!r} holds {_OTHER[held]}, but column {column!r} of the "
                                  f"{table} table holds {held}, so no value is in the set{_hint(column)}; write the "
                                  "values as the column holds them")
        condition = kwargs.get("row_condition")
        for column, values, negated in _compared(condition) if isinstance(condition, str) else ():
            held = _kind(frame[column].dropna()) if column in frame.columns else None
            if _of_other_kind(values, held):
                # != and not in: every row differs from such a value (before: "selects no row", as == does)
                raise WinnowError(f"{where}: row_condition {condition!r} compares column {column!r}, which holds "
                                  f"{held} in the {table} table, with the {_ONE[_OTHER[held]]} {values[0]!r}, so it "
                                  f"{'leaves out' if negated else 'selects'} no row by it{_hint(column)}; write the "
                                  "value as the column holds it")


_OTHER, _ONE = {"numbers": "text", "text": "numbers"}, {"numbers": "number", "text": "text"}


def _hint(column: str) -> str:
    """What the label column holds, said where a rule set a class's name against it."""
    return " (a label is its class's index in classes.json)" if column == "label" else ""


def _of_other_kind(values: list, held: str | None) -> bool:
    """Whether each of ``values`` (a value_set, or what a condition compares a column with) is of the other kind than
    ``held``, what its column holds (:func:`_kind`; None: no kind, nothing is refused): one of the column's kind, a
    null or a bool can match, so the rule is kept (before: ``label in [7, "7"]`` was refused, value_set [7, "7"]
    not)."""
    return held is not None and bool(values) and all(_kind(pd.Series([value])) == _OTHER[held] for value in values)


def _compared(condition: str) -> Iterator[tuple[str, list, bool]]:
    """(column, values, negated: ``!=``, ``not in``) of each comparison of a column with a value, or with a list of
    them (``in``), in ``condition`` (pandas' query syntax, or Great Expectations' ``col("x") == ...``); nothing where
    Python cannot parse it (``@var``: Great Expectations reports its own errors). ``&`` and ``|``
    join comparisons, as pandas reads them (it gives them the precedence of ``and`` and ``or``); each comparison pairs
    the operands beside its operator."""
    try:
        tree = ast.parse(_as_pandas_reads(condition.strip()), mode="eval")
    except (SyntaxError, ValueError, tokenize.TokenError):
        return
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        # before: Python's precedence read 'label == 7 & split == "train"' as one chain, label == (7 & split) ==
        # "train", and the text "train" was refused as compared with label
        for op, pair in zip(node.ops, zip(operands, operands[1:])):
            for operand, other in (pair, pair[::-1]):
                name, values = _column(operand), other.elts if isinstance(other, (ast.List, ast.Tuple)) else [other]
                if name is not None and all(isinstance(value, ast.Constant) for value in values):
                    yield name, [value.value for value in values], isinstance(op, (ast.NotEq, ast.NotIn, ast.IsNot))


def _as_pandas_reads(condition: str) -> str:
    """``condition`` with each ``&`` and ``|`` outside a quoted text written ``and`` and ``or``, as pandas' query does
    before it parses a condition, so that Python's parser gives them their precedence; and each backticked column
    name outside a quoted text (```label```, ```my col```) written ``col("label")``, which :func:`_column` reads."""
    words = {"&": "and", "|": "or"}
    # before: Python's parser refused the backtick, and 'label == "7"' written `label` == "7" passed unchecked
    named = _QUOTED_OR_BACKTICKED.sub(lambda m: m[0] if m[1] else f"col({m[2]!r})", condition)
    return tokenize.untokenize(
        (tokenize.NAME, words[token.string]) if token.type == tokenize.OP and token.string in words
        else (token.type, token.string) for token in tokenize.generate_tokens(io.StringIO(named).readline))


# a quoted text (group 1, left as it is), or a column name between backticks (group 2)
_QUOTED_OR_BACKTICKED = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|`([^`]*)`""")


def _column(node: ast.expr) -> str | None:
    """The column an operand of a condition names: ``label`` (pandas) or ``col("label")`` (Great Expectations)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "col" and len(node.args) == 1 \
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _kind(values: pd.Series) -> str | None:
    """``numbers`` or ``text`` when every one of ``values`` (a column's non-null values, or a value_set) is of that
    kind (a bool is neither), else None."""
    if len(values) and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return "numbers"
    if len(values) and values.map(lambda value: isinstance(value, str)).all():
        return "text"
    return None


def _matches_any(pattern: Any) -> bool:
    """Whether the regular expression ``pattern`` is found in each of :data:`_ANY_TEXT` and holds no lookaround
    (:data:`_LOOKAROUND`) nor length cap (:data:`_LENGTH_CAP`; False where it is not one: Great Expectations reports
    it as the rule's error)."""
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError):
        return False
    return not (_LOOKAROUND.search(compiled.pattern) or _LENGTH_CAP.fullmatch(compiled.pattern)) \
        and all(compiled.search(text) for text in _ANY_TEXT)


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


def _check_count(kind: str, kwargs: Mapping[str, Any], *, where: str) -> None:
    """Refuse a count rule of :data:`_COUNTS` whose min_value (0 or below, not strict) and max_value (none, or
    infinite) hold every count; a bound that is no number is left to the other checks."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    numbers = [v for v in (low, high) if v is not None]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        return
    if (low is None or low < 0 or (low == 0 and not is_strict(kwargs.get("strict_min")))) \
            and (high is None or high == math.inf):
        given = " and ".join(f"{key} {value:g}" for key, value in (("min_value", low), ("max_value", high))
                             if value is not None)
        # strict_min is advice for a minimum of 0 only: before, min_value -1 (strict_min true or not) was told "(or
        # strict_min: true)", which left it refused (a count above -1 is any count)
        raise WinnowError(f"{where}: {given} {'bound' if len(numbers) > 1 else 'bounds'} nothing: {_COUNTS[kind]} is "
                          "never below 0, so it passes on anything, an empty table too; give a min_value above 0"
                          + (" (or strict_min: true)" if low == 0 else ""))


def _check_bound_kinds(kind: str, kwargs: Mapping[str, Any], *, where: str) -> None:
    """Refuse a bound (a between rule's min_value or max_value, a count's value or column_index, a threshold) written
    as a boolean or a text. Before: Great Expectations read ``max_value: true`` as 1, so beside ``min_value: 0`` a
    rate's rule passed on any rate; and ``max_value: '0.05'`` alone was refused as "no finite min_value or max_value",
    though one was written."""
    # a threshold and a column_index too (found by a review): GX read ``threshold: true`` as 1, so a KL divergence of
    # 0.37 passed its rule, and ``column_index: true`` as the index 1
    # and an equal rule's value or sum_total of every kind (72r): GX read expect_column_value_lengths_to_equal's
    # ``value: true`` as 1, and expect_multicolumn_sum_to_equal's ``sum_total: true`` as 1 (rows summing to 1 passed)
    options = ("min_value", "max_value") if kind.endswith("_to_be_between") else \
        (*_WHOLE.get(kind, ()), "threshold", *(("value", "sum_total") if kind.endswith("_to_equal") else ()))
    for option in options:
        value = kwargs.get(option)
        if isinstance(value, bool):
            raise WinnowError(f"{where}: {option} is {str(value).lower()}, not a number (Great Expectations reads "
                              f"true as 1 and false as 0, another {'index' if option == 'column_index' else 'bound'} "
                              "than written); give a number")
        if isinstance(value, str):
            raise WinnowError(f"{where}: {option} is the text {value!r}, not a number; write the number without quotes")


def _check_order(kwargs: Mapping[str, Any], *, where: str) -> None:
    """Refuse a between rule whose min_value is above its max_value, or equal to it with either end strict: no value
    lies between them, so it fails on any data (before: warned on every run, "observed 7, bound in [9, 1]", or GX's
    "min_value cannot be greater than max_value" as the observed value)."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
        return
    if low > high:
        raise WinnowError(f"{where}: min_value {low!r} is above max_value {high!r}, so no value lies between them and "
                          "it fails on any data; write the smaller bound as min_value")
    strict = [key for key in ("strict_min", "strict_max") if is_strict(kwargs.get(key))]
    if low == high and strict:
        raise WinnowError(f"{where}: min_value and max_value are both {low!r} and {' and '.join(strict)} leaves that "
                          f"value out, so no value lies between them and it fails on any data; drop "
                          f"{' and '.join(strict)}, or widen the range")


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
