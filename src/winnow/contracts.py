"""Data contracts: versioned Great Expectations suites (``contracts/*.yaml``) checked at the pipeline's gates.

A suite file is a Great Expectations 1.x expectation suite written as YAML: ``name`` and ``expectations``,
each a ``type`` (``expect_...``), its ``kwargs`` and a ``description`` naming the rule. A bound written
``{$PARAMETER: name}`` (GX's own placeholder) is filled in by :func:`load_suite` from a flat dict of
parameters (params.yaml ``contracts.bounds`` plus values taken from the data), so Data Docs show the
numbers that were enforced; an expectation whose bound is null is left out and listed in
:attr:`Suite.left_out`.

:func:`validate` runs suites on pandas DataFrames in an ephemeral GX context (no GX project folder),
returns one :class:`winnow.contract_results.ExpectationResult` per expectation and table, and can build the
Data Docs HTML site (:mod:`winnow.contract_docs`).
great_expectations is imported only where a suite is checked (here in :func:`validate`, and by
winnow.variant_contract before a stage's work), through :func:`winnow.gx_import.import_gx`: it takes seconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from winnow.configs import CONTRACT_MODES
from winnow.contract_docs import build_docs, store_verdicts
from winnow.contract_results import _EXAMPLES, ExpectationResult, _result
from winnow.contract_rules import SEVERITIES, check_kinds, check_rule
from winnow.errors import WinnowError, fault_line
from winnow.output_paths import not_a_file
from winnow.gx_import import gx_broken, import_gx
from winnow.yaml_text import load_yaml, not_utf8

SUITES = ("ingest", "scores", "variant")
SUITES_DIR = "contracts"
MODES = CONTRACT_MODES
PARAMETER = "$PARAMETER"


@dataclass(frozen=True)
class Suite:
    """A suite file with its bounds filled in.

    Attributes:
        name: the suite's name (``ingest``, ``scores``, ``variant``); path: the file it came from.
        expectations: GX expectation configurations (``type``, ``kwargs``, ``description``), bounds bound.
        left_out: one line per expectation dropped because its bound is null.
        numbers: each expectation's place in the file (1 = first), as a message names it: with some left out,
            "expectation 15" once named another rule than the one Great Expectations rejected.
    """

    name: str
    path: str
    expectations: list[dict[str, Any]]
    left_out: list[str]
    numbers: tuple[int, ...] = ()


class Batch(NamedTuple):
    """A table to check against a suite; ``table`` names it in results (unique per suite)."""

    suite: Suite
    table: str
    frame: pd.DataFrame


# what a suite file and an expectation may hold (Great Expectations' own export adds id, notes, severity and
# rendered_content); any other key is a typo, whose rules never ran
SUITE_KEYS = frozenset({"name", "expectations", "meta", "id", "notes"})
ENTRY_KEYS = frozenset({"type", "kwargs", "description", "meta", "id", "notes", "severity", "rendered_content"})


def load_suite(path: str | os.PathLike, *, parameters: Mapping[str, Any]) -> Suite:
    """Read a suite file and fill in its ``{$PARAMETER: name}`` bounds.

    Raises:
        WinnowError: the file is missing or malformed, or names a parameter ``parameters`` lacks.
    """
    path = Path(path)
    what = not_a_file(path)
    if what == "not found":  # before: no fix named, where a folder or a dangling link in its place is told one
        raise WinnowError(f"{path}: contract suite not found; restore it (git checkout -- {path})")
    if what is not None:  # before: "not found", of a folder or a dangling symlink that is there (as params.yaml's)
        raise WinnowError(f"{path}: the contract suite {what}; restore it (git checkout -- {path})")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        # as params.yaml's: the line, not only the byte (a Latin-1 "é" in a comment), and UTF-16 by name
        raise WinnowError(f"{path}: not UTF-8 text ({not_utf8(err)}); save it as UTF-8") from err
    # a key given twice is refused: a second expectations list replaced the first
    spec = load_yaml(text, name=str(path), anchors_once=True)
    # before: an alias inside the list it names (`value_set: &a [train, *a]`) was a RecursionError traceback, and a few
    # hundred bytes of aliases nested ten deep (10**8 values) were walked for minutes, the rules' own checks too
    size = _spelt(spec, {})
    if size is None:
        raise WinnowError(f"{path}: a YAML alias inside the list or mapping it names holds itself, with no end; write "
                          "the values out")
    if size > MAX_VALUES:
        raise WinnowError(f"{path}: its YAML aliases spell out more than {MAX_VALUES:,} values; a suite's rules take "
                          "a few each: write them out")
    if isinstance(spec, dict) and spec.get("expectations") and not isinstance(spec["expectations"], list):
        # before: `expectations: 5` was a TypeError traceback, and one rule written without its dash (a mapping) or a
        # text was told "expectation 1 needs `type: expect_...` and a `kwargs` mapping", which it had
        kind = {dict: "a mapping", str: "a text"}.get(type(spec["expectations"]), repr(spec["expectations"]))
        raise WinnowError(f"{path}: expectations is {kind}, not a list; begin each expectation with a dash "
                          "(`- type: expect_...`)")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec.get("expectations"):
        raise WinnowError(f"{path}: a suite needs `name` and a non-empty `expectations` list")
    if spec["name"] != path.stem:  # results are kept by suite name: another file's name would stand in for this one
        raise WinnowError(f"{path}: name {spec['name']!r} must be {path.stem!r}, the file's own name")
    unknown = sorted(set(spec) - SUITE_KEYS)
    if unknown:  # "expectation:" beside "expectations:" was read as nothing, and its rules never ran
        raise WinnowError(f"{path}: unknown key {unknown[0]!r} (a suite holds {', '.join(sorted(SUITE_KEYS))})")
    expectations, left_out, numbers = [], [], []
    for number, entry in enumerate(spec["expectations"], start=1):
        if not isinstance(entry, dict) or not str(entry.get("type", "")).startswith("expect_") \
                or not isinstance(entry.get("kwargs"), dict):
            raise WinnowError(f"{path}: expectation {number} needs `type: expect_...` and a `kwargs` mapping")
        unknown = sorted(set(entry) - ENTRY_KEYS)
        if unknown:  # a row_condition beside kwargs, not in it, was dropped without a word
            raise WinnowError(f"{path}: expectation {number}: unknown key {unknown[0]!r} (an expectation holds "
                              f"{', '.join(sorted(ENTRY_KEYS))}; its options go in kwargs)")
        if entry.get("severity", "critical") not in SEVERITIES:  # before: "severity: blocker" was kept without a word
            raise WinnowError(f"{path}: expectation {number}: severity {entry['severity']!r} is not one of Great "
                              f"Expectations' ({', '.join(SEVERITIES)}); a failure of any severity fails the contract")
        kwargs, nulls = {}, set()
        for key, value in entry["kwargs"].items():
            kwargs[key] = _bind(value, parameters, where=f"{path}: expectation {number}")
            if _parameter_name(value) and kwargs[key] is None:
                nulls.add(_parameter_name(value))
        description = " ".join(str(entry.get("description") or entry["type"]).split())  # one line in a message
        if nulls:
            left_out.append(f"{spec['name']}: {description} left out ({', '.join(sorted(nulls))} is null)")
            continue
        check_rule(entry["type"], kwargs, where=f"{path}: expectation {number} ({description})")
        expectations.append({"type": entry["type"], "kwargs": kwargs, "description": description})
        numbers.append(number)
    return Suite(name=spec["name"], path=str(path), expectations=expectations, left_out=left_out,
                 numbers=tuple(numbers))


MAX_VALUES = 10**6  # values a suite file may spell out, aliases expanded: a value_set of every class is far fewer
_OPEN = -1  # in _spelt's sizes: a list or mapping being counted (met again inside itself: it holds itself)


def _spelt(value: Any, sizes: dict[int, int]) -> int | None:
    """How many values, keys included, ``value`` holds with its YAML aliases spelt out, counting past
    :data:`MAX_VALUES` no further; None where a list or mapping holds itself. Each list or mapping is walked once
    (``sizes``: by id), so aliases nested deep cost what their text does."""
    if not isinstance(value, (dict, list)):
        return 1
    if id(value) in sizes:
        return None if sizes[id(value)] == _OPEN else sizes[id(value)]
    sizes[id(value)] = _OPEN
    total = 1
    for item in [*value.keys(), *value.values()] if isinstance(value, dict) else value:
        inner = _spelt(item, sizes)
        if inner is None:
            return None
        total += inner
        if total > MAX_VALUES:
            break
    sizes[id(value)] = total
    return total


def _parameter_name(value: Any) -> str | None:
    return value[PARAMETER] if isinstance(value, dict) and set(value) == {PARAMETER} else None


def _bind(value: Any, parameters: Mapping[str, Any], *, where: str) -> Any:
    if isinstance(value, dict) and PARAMETER in value and (set(value) != {PARAMETER}
                                                          or not isinstance(value[PARAMETER], str)):
        raise WinnowError(f"{where}: {{{PARAMETER}: ...}} takes one bound name and nothing beside it, got {value!r}")
    name = _parameter_name(value)
    if name is None:
        if PARAMETER in str(value):  # inside a list or mapping it was never bound, and printed as a bound
            raise WinnowError(f"{where}: {{{PARAMETER}: ...}} stands for a whole option's value, not a part of "
                              f"one, got {value!r}")
        return value
    if name not in parameters:
        # before: "add it to params.yaml contracts.bounds", whose schema then refused the new name: a circle
        raise WinnowError(f"{where}: unknown parameter {name!r}; use one of {', '.join(sorted(parameters))} "
                          "(params.yaml contracts.bounds takes no other name), or write the bound itself as a number")
    return parameters[name]


def validate(batches: Sequence[Batch], *, docs_dir: str | os.PathLike | None = None) -> list[ExpectationResult]:
    """Check every batch against its suite in one ephemeral GX context.

    Args:
        batches: the tables to check; one GX data asset and validation per table.
        docs_dir: when given, the Data Docs HTML site (an index, one page per suite and per validation)
            replaces this folder; it is built beside it and renamed into place.

    Returns:
        One :class:`ExpectationResult` per expectation of each batch's suite, in suite order.
    """
    for batch in batches:  # before any check runs: a rule that can match no value stops them all
        check_kinds(batch.suite, table=batch.table, frame=batch.frame)
    gx, context = _ephemeral_context()
    from great_expectations.core.run_identifier import RunIdentifier

    run_id = RunIdentifier(run_name="winnow-contracts", run_time=pd.Timestamp(0, tz="UTC").to_pydatetime())
    source, gx_suites, results = context.data_sources.get("winnow"), {}, []
    for batch in batches:
        suite = batch.suite
        if suite.name not in gx_suites:
            expectations = _gx_expectations(suite)
            try:
                gx_suites[suite.name] = context.suites.add(gx.ExpectationSuite(name=suite.name,
                                                                               expectations=expectations))
            except Exception as err:  # before: a pydantic traceback from GX's suite store (a NaN it made null)
                raise _gx_failed(suite, "storing the suite", err) from err
        # one asset per table: GX files a validation result under (suite, run, asset)
        name = suite.name if batch.table == suite.name else f"{suite.name}-{batch.table}"
        definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=definition, suite=gx_suites[suite.name]))
        stored = set(context.validation_results_store.list_keys())
        try:
            outcome = validation.run(batch_parameters={"dataframe": batch.frame}, run_id=run_id, result_format={
                "result_format": "SUMMARY", "partial_unexpected_count": _EXAMPLES})
        except Exception as err:  # a GX defect on a rule it accepted: one line naming the suite, not its traceback
            raise _gx_failed(suite, f"checking table {batch.table!r}", err) from err
        checked = [_result(suite.name, batch.table, one, frame=batch.frame) for one in outcome.results]
        store_verdicts(context.validation_results_store, stored, outcome, [result.success for result in checked])
        results += checked
    if docs_dir is not None:
        build_docs(context, Path(docs_dir))
    return results


def _gx_expectations(suite: Suite) -> list:
    """GX expectation objects, or a WinnowError naming the first one GX rejects (GX's own suite
    constructor only logs an unknown type and drops it)."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    built = []
    for number, config in zip(suite.numbers or range(1, len(suite.expectations) + 1), suite.expectations):
        try:
            built.append(ExpectationConfiguration(**config).to_domain_obj())
        except Exception as err:  # GX raises several types for an unknown type or bad kwargs
            named = f"{config['type']}: {config['description']}" if config["description"] != config["type"] \
                else config["type"]
            raise WinnowError(f"{suite.path}: expectation {number} ({named}) is rejected by Great "
                              f"Expectations: {' '.join(str(err).split())[:200]}") from err
    return built


def _ephemeral_context():
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    try:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.data_sources.add_pandas("winnow")
    except Exception as err:  # noqa: BLE001 - another GX version's context (a TypeError, an AttributeError)
        raise gx_broken("start an ephemeral context", err) from err
    return gx, context


def _gx_failed(suite: Suite, doing: str, err: Exception) -> WinnowError:
    """The one line for Great Expectations failing while ``doing`` a suite's work; a fault of memory or the disk is
    raised as it is, for the stage's own line that says what to do."""
    if fault_line(err) is not None:
        raise err
    return WinnowError(f"{suite.path}: Great Expectations failed {doing}: {type(err).__name__}: "
                       f"{' '.join(str(err).split())[:200]}")


def check_settings(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """params.yaml ``contracts``, validated: ``mode``, ``enforce_variants`` and numeric ``bounds``.

    Raises:
        WinnowError: one line naming the bad key and what would fix it.
    """
    section = dict(section or {})
    mode = section.get("mode", "warn")
    if mode not in MODES:
        raise WinnowError(f"params.yaml contracts.mode: must be one of {', '.join(MODES)}, got {mode!r}")
    enforced = section.get("enforce_variants") or []
    if not isinstance(enforced, list) or not all(isinstance(v, str) for v in enforced):
        raise WinnowError(f"params.yaml contracts.enforce_variants: must be a list of variant names, got {enforced!r}")
    bounds = section.get("bounds") or {}
    if not isinstance(bounds, dict):
        raise WinnowError(f"params.yaml contracts.bounds: must map bound names to numbers, got {bounds!r}")
    for name, value in bounds.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise WinnowError(f"params.yaml contracts.bounds.{name}: must be a number or null, got {value!r}")
    # a bound params.yaml leaves out (or a null section, which params.py allows) is no bound, as a null one is:
    # before, every stage ran and the contracts stage then refused "unknown parameter 'min_images_per_class'"
    from winnow.params import SCHEMA

    known = SCHEMA.fields["contracts"].fields["bounds"].fields
    return {"mode": mode, "enforce_variants": enforced, "bounds": dict.fromkeys(known) | bounds}
