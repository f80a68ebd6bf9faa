"""params.yaml, validated as a whole before any stage works.

:data:`SCHEMA` declares every section: types (a boolean is not an integer, ``"3"`` is not a number),
ranges, choices, which keys may be null or left out, unknown keys, and the rules across fields.
:func:`load` reads and checks the file; every stage gets its params through it
(:func:`winnow.stage.load_params`), and so do the ``winnow`` commands, so one bad value anywhere stops
any of them before it reads or writes anything, with one line that names the parameter by its dotted
path, what was given and what is allowed::

    params.yaml: train.epochs: 0 is below 1
    params.yaml: ingest.sise: unknown parameter (did you mean size?)

Sections the library takes whole get their keys from its dataclasses (:class:`winnow.configs.TrainConfig`,
:class:`~winnow.configs.GanConfig`, :class:`~winnow.configs.Policy`): a field added there is a parameter
here at once, typed by its annotation; ranges are set here. ``degrade.perturbations`` are checked by
:func:`winnow.degrade_options.check`. Adding a key to a section is one line below.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from winnow.configs import (
    ASSEMBLED_VARIANTS, CLEANERS, CONTRACT_MODES, EMBEDDING_MODES, FILTER_BY, KEEP_POLICIES, LABEL_ACTIONS,
    MODEL_NAMES, OPS, OPTIMIZERS, OUTLIER_METHODS, RANK_BY, SCHEDULES, SOURCES, THRESHOLD_METHODS, VARIANTS, WEAK_BY,
    GanConfig, Policy, TrainConfig,
)
from winnow.degrade_options import check as check_perturbations
from winnow.errors import WinnowError
from winnow.groundtruth import QUALITY_ISSUES

FILE = "params.yaml"


def load(path: str | os.PathLike = FILE) -> dict[str, Any]:
    """The params file as a dict, checked against :data:`SCHEMA`.

    Raises:
        WinnowError: one line: the file is missing, not YAML, not a mapping, or a value breaks a rule.
    """
    path = Path(path)
    if not path.is_file():
        raise WinnowError(f"{path}: params file not found (run from the project root)")
    try:
        params = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(err, "problem", None) or err).split())
        raise WinnowError(f"{FILE}: not valid YAML{where}: {problem}") from err
    except UnicodeDecodeError as err:
        raise WinnowError(f"{FILE}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    return validate(params)


def validate(params: Any) -> dict[str, Any]:
    """``params`` (params.yaml as read) unchanged when every rule of :data:`SCHEMA` holds.

    Raises:
        WinnowError: the first rule broken, in one line.
    """
    if not isinstance(params, dict):
        shown = "empty" if params is None else f"{_kind(params)}, {_show(params)}"
        raise WinnowError(f"{FILE}: the file is {shown}; it must be a mapping of sections "
                          f"({', '.join(SCHEMA.fields)})")
    SCHEMA.check(params, "")
    return params


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error: the plain loader
    keeps the last value and drops the first without a word."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, typing.Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# -- rules -------------------------------------------------------------------------------------------

def _fail(path: str, problem: str) -> typing.NoReturn:
    raise WinnowError(f"{FILE}: {path}: {problem}")


def _show(value: Any) -> str:
    """A value as YAML would spell it, on one line and short."""
    if isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    for types_, name in ((bool, "a boolean"), (str, "a string"), ((int, float), "a number"), (list, "a list"),
                         (dict, "a mapping")):
        if isinstance(value, types_):
            return name
    return "null" if value is None else f"a {type(value).__name__}"


def did_you_mean(word: Any, known) -> str:
    """``" (did you mean x?)"`` when ``word`` is close to one of ``known``, else ``""``."""
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


class Rule:
    """What one parameter may be. ``null=True`` lets it be null too (YAML ``null`` or nothing)."""

    def __init__(self, *, null: bool = False):
        self.null = null

    @property
    def allowed(self) -> str:
        """What fits, in words: the end of every message about this parameter."""
        return f"null or {self.describe()}" if self.null else self.describe()

    def describe(self) -> str:
        raise NotImplementedError

    def check(self, value: Any, path: str) -> None:
        """Raise a one-line :class:`WinnowError` naming ``path`` unless ``value`` fits."""
        if value is None and self.null:
            return
        self.verify(value, path)

    def verify(self, value: Any, path: str) -> None:
        raise NotImplementedError

    def wrong_type(self, value: Any, path: str) -> typing.NoReturn:
        hint = ""
        if isinstance(value, str) and isinstance(self, Num):
            hint = _number_text_hint(value)
        is_what = "is not" if value is None else f"is {_kind(value)}, not"
        _fail(path, f"{_show(value)} {is_what} {self.allowed}{hint}")


def _number_text_hint(text: str) -> str:
    try:
        float(text)
    except ValueError:
        return ""
    if "e" in text.lower() and "." not in text:  # YAML 1.1 wants a dot in a float: 1e-3 is text
        return " (YAML reads a number like 1e-3 as text: write 0.001 or 1.0e-3)"
    return " (write numbers without quotes)"


class Num(Rule):
    """A number (or with ``integer``, an integer) within ``[low, high]``; ``low_open`` / ``high_open``
    leave the bound out. A boolean or a quoted number is not a number; nan and inf never fit."""

    def __init__(self, low: float | None = None, high: float | None = None, *, integer: bool = False,
                 low_open: bool = False, high_open: bool = False, null: bool = False):
        super().__init__(null=null)
        self.low, self.high, self.integer, self.low_open, self.high_open = low, high, integer, low_open, high_open

    def describe(self) -> str:
        what = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            return f"{what} in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '>='} {self.low}"
        if self.high is not None:
            return f"{what} {'<' if self.high_open else '<='} {self.high}"
        return what

    def verify(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.wrong_type(value, path)
        if not math.isfinite(value):
            _fail(path, f"{_show(value)} is not a finite number; allowed: {self.allowed}")
        if self.integer and not isinstance(value, int):
            _fail(path, f"{_show(value)} is not an integer; allowed: {self.allowed}")
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            _fail(path, f"{_show(value)} is {'not above' if self.low_open else 'below'} {self.low}")
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            _fail(path, f"{_show(value)} is {'not below' if self.high_open else 'above'} {self.high}")


class Choice(Rule):
    """One of a few names."""

    def __init__(self, options, *, null: bool = False):
        super().__init__(null=null)
        self.options = tuple(options)

    def describe(self) -> str:
        return self.options[0] if len(self.options) == 1 else f"one of {', '.join(self.options)}"

    def verify(self, value: Any, path: str) -> None:
        if not (isinstance(value, str) and value in self.options):
            suggestion = did_you_mean(value, self.options) if isinstance(value, str) else ""
            _fail(path, f"{_show(value)} is not {self.allowed}{suggestion}")


class Device(Rule):
    """A torch device: auto (CUDA when present, else CPU), cpu, cuda, cuda:<index> or mps."""

    NAMES = ("auto", "cpu", "cuda", "mps")

    def describe(self) -> str:
        return "one of auto, cpu, cuda, cuda:<index>, mps"

    def verify(self, value: Any, path: str) -> None:
        index = value[len("cuda:"):] if isinstance(value, str) and value.startswith("cuda:") else None
        if not (value in self.NAMES or index is not None and index.isdigit()):
            suggestion = did_you_mean(value, self.NAMES) if isinstance(value, str) else ""
            _fail(path, f"{_show(value)} is not {self.allowed}{suggestion}")


class Text(Rule):
    """A non-empty string."""

    def describe(self) -> str:
        return "a non-empty string"

    def verify(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self.wrong_type(value, path)
        if not value.strip():
            _fail(path, f"{_show(value)} is empty; allowed: {self.allowed}")


class Bool(Rule):
    """true or false."""

    def describe(self) -> str:
        return "true or false"

    def verify(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            _fail(path, f"{_show(value)} is not {self.allowed}")


class ListOf(Rule):
    """A list whose every item fits ``item``; ``unique``: no item twice; at least ``min_len`` items."""

    def __init__(self, item: Rule, *, min_len: int = 0, unique: bool = False, null: bool = False):
        super().__init__(null=null)
        self.item, self.min_len, self.unique = item, min_len, unique

    def describe(self) -> str:
        at_least = f" of at least {self.min_len}" if self.min_len > 1 else " (not empty)" if self.min_len else ""
        return f"a list{at_least}, each item {self.item.describe()}"

    def verify(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.wrong_type(value, path)
        if len(value) < self.min_len:
            _fail(path, f"{_show(value)} has {len(value)} item(s); allowed: {self.allowed}")
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]")
        if self.unique:
            seen = []
            for i, item in enumerate(value):
                if item in seen:
                    _fail(f"{path}[{i}]", f"{_show(item)} is listed twice")
                seen.append(item)


class MapOf(Rule):
    """A mapping of free names (a non-empty string each) to values that fit ``value``."""

    def __init__(self, value: Rule, *, null: bool = False):
        super().__init__(null=null)
        self.value = value

    def describe(self) -> str:
        return f"a mapping of names to {self.value.describe()}"

    def verify(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.wrong_type(value, path)
        for key, item in value.items():
            Text().check(key, path)
            self.value.check(item, f"{path}.{key}")


class Either(Rule):
    """Fits when one of ``rules`` does (``max`` or an integer, ``real_median`` or a number)."""

    def __init__(self, *rules: Rule, null: bool = False):
        super().__init__(null=null)
        self.rules = rules

    def describe(self) -> str:
        return " or ".join(rule.describe() for rule in self.rules)

    def verify(self, value: Any, path: str) -> None:
        for rule in self.rules:
            try:
                rule.check(value, path)
                return
            except WinnowError:
                pass
        numbers = [rule for rule in self.rules if isinstance(rule, Num)]
        if numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers[0].check(value, path)  # a number out of range: say which bound it breaks
        options = [o for rule in self.rules if isinstance(rule, Choice) for o in rule.options]
        hint = ""
        if isinstance(value, str):
            hint = did_you_mean(value, options) or (_number_text_hint(value) if numbers else "")
        _fail(path, f"{_show(value)} is not {self.allowed}{hint}")


Check = Callable[[dict, str], None]  # a rule across the keys of one mapping: (the mapping, its path)


class Section(Rule):
    """A mapping with known keys: ``fields`` maps each to its rule; ``required`` keys must be there (the
    others may be left out: the code that reads them has defaults); ``checks`` are rules across keys,
    run once every key fits. ``what`` names a key in the message about an unknown one."""

    def __init__(self, fields: Mapping[str, Rule], *, required=(), checks: tuple[Check, ...] = (),
                 what: str = "parameter", null: bool = False):
        super().__init__(null=null)
        self.fields, self.required, self.checks, self.what = dict(fields), tuple(required), checks, what
        assert set(self.required) <= set(self.fields), f"required keys {self.required} not among {list(fields)}"

    def describe(self) -> str:
        return f"a mapping with keys {', '.join(self.fields)}" if self.fields else "an empty mapping"

    def verify(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.wrong_type(value, path)
        for key in value:
            if key not in self.fields:
                known = did_you_mean(key, self.fields) or (f"; known: {', '.join(self.fields)}" if self.fields
                                                           else f"; {path} takes none")
                _fail(_join(path, key), f"unknown {self.what}{known}")
        for key in self.required:
            if key not in value:
                _fail(_join(path, key), f"missing ({self.fields[key].allowed})")
        for key, item in value.items():
            self.fields[key].check(item, _join(path, key))
        for check in self.checks:
            check(value, path)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def from_dataclass(cls, ranges: Mapping[str, Rule]) -> dict[str, Rule]:
    """A rule per field of the dataclass ``cls``, in field order: ``ranges[name]`` where given, else the
    type of its annotation (int, float, bool, str, optional or not); so a field added to ``cls`` is a
    parameter at once."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    stale = sorted(set(ranges) - set(names))
    assert not stale, f"ranges for {stale}, which {cls.__name__} does not have"
    return {name: ranges[name] if name in ranges else _rule_of_type(hints[name], f"{cls.__name__}.{name}")
            for name in names}


def _rule_of_type(hint, where: str) -> Rule:
    args = typing.get_args(hint)
    null = (typing.get_origin(hint) in (typing.Union, types.UnionType)) and type(None) in args
    if null:
        (hint,) = [a for a in args if a is not type(None)]
    rule = {bool: Bool, int: lambda null: Num(integer=True, null=null), float: lambda null: Num(null=null),
            str: Text}.get(hint)
    if rule is None:
        raise TypeError(f"{where}: no params rule for the annotation {hint!r}; give it a range in winnow.params")
    return rule(null=null)


# -- rules across keys ---------------------------------------------------------------------------------

def _splits_leave_train(section: dict, path: str) -> None:
    val, test = section["val_fraction"], section["test_fraction"]
    if val + test >= 1:
        _fail(f"{path}.val_fraction + {path}.test_fraction", f"{val} + {test} is not below 1 (no train images left)")


def _source_options(section: dict, path: str) -> None:
    source = section["source"]
    if source != "mnist5k" and section.get("path") is None:
        _fail(f"{path}.path", f"missing; source {source} reads its images from it")
    if section.get("classes") is not None and source != "npz":
        _fail(f"{path}.classes", f"only the npz source reads it (source is {source}); set it to null")
    if section.get("download") and source != "cifar10":
        _fail(f"{path}.download", f"only the cifar10 source downloads (source is {source}); set it to false")


def _weak_classes_chosen(section: dict, path: str) -> None:
    if section["weak_k"] is None and section["weak_below"] is None:
        _fail(f"{path}.weak_k", "null, and so is weak_below; set one of them to choose the weak classes")


def _ops_enough(section: dict, path: str) -> None:
    ops = section.get("ops", POLICY_DEFAULTS.ops)
    n = section.get("n", POLICY_DEFAULTS.n)
    if n > len(ops):
        _fail(f"{path}.n", f"{n} is above {len(ops)}, the number of ops to draw from")


def _variants_can_be_made(params: dict, path: str) -> None:
    variants = params["variants"]
    if "baseline" not in variants:
        _fail("variants", f"{_show(variants)} lacks baseline; gan-synthesize and balance start from its model "
                          "(models/baseline.pt)")
    if "oracle" in variants and not params["degrade"].get("enabled", True):
        _fail("variants", "oracle needs degrade.enabled: true (without degrade it is the baseline); "
                          "remove oracle or enable degrade")
    enforced = (params.get("contracts") or {}).get("enforce_variants") or []
    for i, name in enumerate(enforced):
        where = f"contracts.enforce_variants[{i}]"
        if name not in ASSEMBLED_VARIANTS:
            _fail(where, f"{name} is not checked: the contracts stage runs before it is made (after training "
                         f"the baseline); allowed: {', '.join(ASSEMBLED_VARIANTS)}")
        if name not in variants:
            _fail(where, f"{name} is not in variants {_show(variants)}")


# -- the sections ------------------------------------------------------------------------------------

class ThresholdSetting(Rule):
    """One quality issue's cut: ``{method: <one of THRESHOLD_METHODS>, <that method's options>}``; null
    or no method means auto."""

    # each method's options (the keyword arguments of its function in winnow.thresholds)
    OPTIONS = {
        "auto": {"alpha": Num(0, 1, low_open=True, high_open=True)},
        "otsu": {},
        "li": {"tolerance": Num(0, low_open=True, null=True)},
        "kittler": {},
        "kapur": {},
        "ght": {"nu": Num(0, null=True), "tau": Num(0, null=True), "kappa": Num(0), "omega": Num(0, 1)},
        "valley": {"valley_window": Num(0, integer=True)},
        "gamma_mixture": {"iterations": Num(1, integer=True)},
        "fixed": {"value": Num()},
    }
    assert set(OPTIONS) == set(THRESHOLD_METHODS)

    def describe(self) -> str:
        return f"a mapping with method ({', '.join(THRESHOLD_METHODS)}) and its options"

    def verify(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.wrong_type(value, path)
        method = value.get("method", "auto")
        Choice(THRESHOLD_METHODS).check(method, f"{path}.method")
        Section({"method": Choice(THRESHOLD_METHODS), **self.OPTIONS[method]},
                required=("value",) if method == "fixed" else (), what=f"option of method {method}").check(value, path)


class Perturbations(Rule):
    """``degrade.perturbations``: a list of ``{kind: ..., <its options>}``, checked by
    :func:`winnow.degrade_options.check` as far as it can be without the data."""

    def describe(self) -> str:
        return "a list of {kind: ..., <its options>} mappings"

    def verify(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.wrong_type(value, path)
        try:
            check_perturbations(value)
        except WinnowError as err:
            raise WinnowError(f"{FILE}: {err}") from None


# methods that take no options: isolation and outlier cuts have nowhere to put fixed's value
CUT_METHODS = tuple(m for m in THRESHOLD_METHODS if m != "fixed")
POLICY_DEFAULTS = Policy()
TRAIN_RANGES = {
    "model": Choice(MODEL_NAMES),
    "epochs": Num(1, integer=True),
    "batch_size": Num(1, integer=True),
    "optimizer": Choice(OPTIMIZERS),
    "lr": Num(0, low_open=True),
    "weight_decay": Num(0),
    "momentum": Num(0, 1, high_open=True),
    "schedule": Choice(SCHEDULES),
    "label_smoothing": Num(0, 1, high_open=True),
    "crop_padding": Num(0, integer=True),
    "device": Device(),
    "eval_batch_size": Num(1, integer=True),
}
TRAIN_FIELDS = from_dataclass(TrainConfig, TRAIN_RANGES)
# confident_learn.train and embedding_clean.train: any of train's keys, overriding it for their models
TRAIN_OVERRIDES = Section(TRAIN_FIELDS, null=True)
GAN_TRAIN = Section(from_dataclass(GanConfig, {
    "latent_dim": Num(1, integer=True),
    "width": Num(1, integer=True),
    "epochs": Num(1, integer=True),
    "batch_size": Num(2, integer=True),  # batch norm needs two images to normalise a batch
    "lr": Num(0, low_open=True),
    "lr_d": Num(0, low_open=True),
    "beta1": Num(0, 1, high_open=True),
    "ac_weight": Num(0),
    "device": Device(),
}))
POLICY = Section(from_dataclass(Policy, {
    "ops": ListOf(Choice(OPS), min_len=1, unique=True),
    "n": Num(1, integer=True),
    "magnitude": Num(0, 1, low_open=True),
}), checks=(_ops_enough,), null=True)
FRACTION = Num(0, 1)
SHARE = Num(0, 1, low_open=True)  # a share that must leave something: a cut that flags "more than 0" flags all

SCHEMA = Section({
    "seed": Num(0, 2**32 - 1, integer=True),  # numpy and scikit-learn seeds
    "ingest": Section({
        "source": Choice(SOURCES),
        "path": Text(null=True),
        "download": Bool(),
        "size": Num(1, integer=True, null=True),
        "classes": ListOf(Text(), min_len=1, unique=True, null=True),
        "val_fraction": Num(0, 1, high_open=True),
        "test_fraction": Num(0, 1, high_open=True),
        "max_reject_fraction": FRACTION,
    }, required=("source", "val_fraction", "test_fraction", "max_reject_fraction"),
        checks=(_splits_leave_train, _source_options)),
    "degrade": Section({"enabled": Bool(), "disjoint": Bool(), "perturbations": Perturbations(null=True)}),
    "score": Section({
        "light_percentile": Num(0, 100),
        "dark_percentile": Num(0, 100),
        "iqr_factor": Num(0),
        "min_relative_spread": Num(0),
        "batch_size": Num(1, integer=True),
    }),
    "threshold": Section({
        "bins": Num(2, integer=True),
        "max_flagged_fraction": SHARE,
        "issues": Section({issue: ThresholdSetting(null=True) for issue in QUALITY_ISSUES}, what="issue"),
    }, required=("bins", "max_flagged_fraction", "issues")),
    "dedup": Section({
        "radius": Num(0, 63, integer=True, null=True),  # Hamming distance between 64-bit pHashes
        "min_correlation": Num(-1, 1, null=True),
        "keep": Choice(KEEP_POLICIES),
        "drop_leaks": Bool(),
    }),
    "confident_learn": Section({
        "folds": Num(2, integer=True),
        "repeats": Num(1, integer=True),
        "train": TRAIN_OVERRIDES,
        "filter_by": Choice(FILTER_BY),
        "rank_by": Choice(RANK_BY),
        "frac_noise": SHARE,
        "action": Choice(LABEL_ACTIONS),
        "relabel_threshold": FRACTION,
    }, null=True),
    "embedding_clean": Section({
        "mode": Choice(EMBEDDING_MODES),
        "folds": Num(2, integer=True),
        "rounds": Num(1, integer=True),
        "augment_between_rounds": Bool(),
        "train": TRAIN_OVERRIDES,
        "k": Num(1, integer=True),
        "agree": SHARE,
        "margin": Num(0, null=True),
        "isolation": Choice(CUT_METHODS, null=True),
        "max_isolated_fraction": SHARE,
        "outliers": ListOf(Choice(OUTLIER_METHODS), unique=True),
        "outlier_threshold": Choice(CUT_METHODS),
        "max_outlier_fraction": SHARE,
        "drop_outliers": Bool(),
        "bins": Num(2, integer=True),
    }, null=True),
    "contracts": Section({
        "mode": Choice(CONTRACT_MODES),
        "enforce_variants": ListOf(Choice(VARIANTS), unique=True, null=True),
        "bounds": Section({  # the {$PARAMETER: name} placeholders of contracts/*.yaml; null: no bound
            "min_images_per_class": Num(0, integer=True, null=True),
            "min_class_balance": Num(0, 1, null=True),
            "max_duplicate_rate": Num(0, 1, null=True),
            "max_label_issue_rate": Num(0, 1, null=True),
            "max_flagged_rate": Num(0, 1, null=True),
            "min_completeness": Num(0, 1, null=True),
        }, null=True),
    }, null=True),
    "variants": ListOf(Choice(VARIANTS), min_len=1, unique=True),
    "pruned": Section({"cleaners": ListOf(Choice(CLEANERS), unique=True)}, required=("cleaners",)),
    "train": Section(TRAIN_FIELDS),
    "gan": Section({
        "weak_by": Choice(WEAK_BY),
        "weak_k": Num(0, integer=True, null=True),
        "weak_below": Num(null=True),
        "per_class": Num(1, integer=True),
        "threshold": Either(Choice(("real_median",)), Num(0, 1, high_open=True)),
        "train": GAN_TRAIN,
    }, required=("weak_by", "weak_k", "weak_below", "per_class", "threshold"), checks=(_weak_classes_chosen,)),
    "balance": Section({
        "target": Either(Choice(("max",)), Num(0, integer=True)),
        "policy": POLICY,
        "edge_fraction": FRACTION,
        "edge_extra": Num(0),
        "device": Device(),
    }, null=True),
    "report": Section({
        "images_per_grid": Num(1, integer=True),
        "duplicate_groups": Num(1, integer=True),
        "samples_per_class": Num(1, integer=True),
    }, required=("images_per_grid", "duplicate_groups", "samples_per_class")),
    "gate": Section({  # winnow gate
        "files": ListOf(Text(), min_len=1),
        "tolerances": MapOf(Num(0)),  # fnmatch pattern over metric keys -> largest allowed drop
    }, required=("files", "tolerances")),
}, required=("seed", "ingest", "degrade", "score", "threshold", "dedup", "variants", "pruned", "train", "gan",
             "report"), checks=(_variants_can_be_made,))
