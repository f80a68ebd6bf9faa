"""The kinds of value a params.yaml key may hold, each with the one line it gives when a value does not
fit: ``params.yaml: <dotted path>: <what was given> <what is wrong>; <what is allowed>``.

:mod:`winnow.params` builds the schema of the whole file from these: :class:`Num`, :class:`Choice`,
:class:`Device`, :class:`Text`, :class:`Bool`, :class:`ListOf`, :class:`MapOf`, :class:`Either` and
:class:`Section` (a mapping with known keys), plus :func:`from_dataclass` for a section a dataclass defines.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from winnow.errors import WinnowError
from winnow.param_values import (  # noqa: F401  (kind_of, show: winnow.params's)
    before_a_glued_comment, did_you_mean, kind_of, number_text_hint, show, visible,
)

FILE = "params.yaml"


def fail(path: str, problem: str) -> typing.NoReturn:
    raise WinnowError(f"{FILE}: {path}: {problem}")


def finite_number(value: Any) -> bool:
    """Whether ``value`` is a number (not a bool) that float64 holds and that is neither NaN nor infinite.
    Before: math.isfinite raised OverflowError on a 310-digit integer."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= sys.float_info.max


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
        if self.null and isinstance(value, str) and value.strip() in ("None", "none"):
            # Python's None, text to YAML: before, `trusted_path: None` passed, and ingest refused "ingest.trusted_path:
            # None does not exist; give a folder ...", as if null were a path not found (a folder named so: ./None)
            # a file or folder of that name is given as ./None: before, the line told a folder named so to write null
            named = (f", or ./{value.strip()} for a file or folder of that name" if getattr(self, "names_a_path", False)
                     else "")
            fail(path, f"{show(value)} is text to YAML, not null (Python's None); write null or ~{named}")
        try:
            self.verify(value, path)
        except WinnowError:
            meant = before_a_glued_comment(self, value, path)
            if meant is None:
                raise
            # before: "train.lr: "1e-3# Adam" is a string, not a number ...", the comment's # not named
            fail(path, f"{show(value)} is one string: YAML starts a comment at a # only after a space, so the "
                       f"comment is read as part of the value; put a space before the # ({meant} #...)")

    def verify(self, value: Any, path: str) -> None:
        raise NotImplementedError

    def wrong_type(self, value: Any, path: str) -> typing.NoReturn:
        hint = ""
        if isinstance(value, str) and isinstance(self, Num):
            hint = number_text_hint(value, high=self.high)
        is_what = "is not" if value is None else f"is {kind_of(value)}, not"
        fail(path, f"{show(value)} {is_what} {self.allowed}{hint}")


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
        if not finite_number(value):  # before: math.isfinite raised OverflowError on an integer of 310 digits
            fail(path, f"{show(value)} is past the largest number a float holds (about 1.8e308); allowed: "
                       f"{self.allowed}" if isinstance(value, int) else
                       f"{show(value)} is not a finite number; allowed: {self.allowed}")
        if self.integer and not isinstance(value, int):
            fail(path, f"{show(value)} is not an integer; allowed: {self.allowed}")
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            fail(path, f"{show(value)} is {'not above' if self.low_open else 'below'} {self.low}")
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            fail(path, f"{show(value)} is {'not below' if self.high_open else 'above'} {self.high}")


class Percentile(Num):
    """A percentile of each image's pixel brightness, in [0, 100]. A share strictly between 0 and 1 is refused: it is
    far more likely a fraction meant as a percentage than the darkest hundredth of the pixels. Before, score.dark_percentile
    0.99 read every digit's 0.99th percentile, its black background, so dark scored 0 for all, its floor and ceiling
    were off (below 99) and darkened digits were found on none, without a word."""

    def __init__(self):
        super().__init__(0, 100)

    def verify(self, value: Any, path: str) -> None:
        super().verify(value, path)
        if 0 < value < 1:
            meant = (f"for the {value * 100:g}th write {value * 100:g}" if value >= 0.01
                     else "give one from 1 to 100, or 0 for the darkest pixel")
            fail(path, f"{show(value)} would read the {show(value)}th percentile of each image's brightness, nearly "
                       f"its darkest pixel: percentiles run from 0 to 100, not shares of 1; {meant}")


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
            fail(path, f"{show(value)} is not {self.allowed}{suggestion}")


class Device(Rule):
    """A torch device: auto (CUDA when present, else CPU), cpu, cuda, cuda:<index> or mps."""

    NAMES = ("auto", "cpu", "cuda", "mps")

    def describe(self) -> str:
        return "one of auto, cpu, cuda, cuda:<index>, mps"

    def verify(self, value: Any, path: str) -> None:
        index = value[len("cuda:"):] if isinstance(value, str) and value.startswith("cuda:") else None
        # before: isdigit() took "²" (a superscript digit), and pick_device's int() then raised a traceback
        if not (value in self.NAMES or index is not None and index.isascii() and index.isdecimal()):
            suggestion = did_you_mean(value, self.NAMES) if isinstance(value, str) else ""
            fail(path, f"{show(value)} is not {self.allowed}{suggestion}")
        if index is not None and index != str(int(index)):  # before: accepted, and torch.device's RuntimeError traceback
            fail(path, f"{show(value)} is not {self.allowed} (did you mean cuda:{int(index)}? torch reads no index "
                       "with a leading zero)")


class Text(Rule):
    """A non-empty string; ``names_a_path``: a file's or folder's path (the refusal of ``None`` says how to give one
    of that name) or a pattern of them, which holds no shell variable (``$HOME``, ``${DATA}``) or command
    (``$(pwd)``, a backquoted one): refused, not expanded. A leading ``~`` is the home folder, as the readers of
    these paths take it (``os.path.expanduser``)."""

    def __init__(self, *, null: bool = False, names_a_path: bool = False):
        super().__init__(null=null)
        self.names_a_path = names_a_path

    def describe(self) -> str:
        return "a non-empty string"

    def verify(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self.wrong_type(value, path)
        if not value.strip():
            fail(path, f"{show(value)} is empty; allowed: {self.allowed}")
        shell = _SHELL_EXPANSION.search(value) if self.names_a_path else None
        if shell is not None:
            # before: read as a folder literally named $HOME ("ingest.path: $HOME/x does not exist"). Not expanded:
            # the pipeline's inputs would then depend on who runs it, which DVC's params and lock do not record
            kind = "command" if shell.group().startswith(("$(", "`")) else "variable"
            fail(path, f"{show(value)} holds a shell {kind} ({shell.group()}), and params.yaml paths are not "
                       "expanded; write the path itself, or a path relative to the project")


# $NAME or ${...}, as a shell would expand them in a path (a lone $ or "$1" is a character of a name, not expanded
# here), and a command's output, $(...) or `...` (before: "$(pwd)/images" passed, read as a folder of that name)
_SHELL_EXPANSION = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[^}]*\}?|\([^)]*\)?)|`[^`]*`")


class Bool(Rule):
    """true or false."""

    def describe(self) -> str:
        return "true or false"

    def verify(self, value: Any, path: str) -> None:
        if isinstance(value, str) and value.lower() in YAML11_BOOLEANS:  # what a YAML 1.1 habit writes for a boolean
            meant = "true" if YAML11_BOOLEANS[value.lower()] else "false"
            fail(path, f"{show(value)} is text to DVC (YAML 1.2), not a boolean; write {meant}")
        if not isinstance(value, bool):
            fail(path, f"{show(value)} is not {self.allowed}")


# YAML 1.1's other spellings of a boolean, which YAML 1.2 (DVC's reader, and winnow's: winnow.yaml_text) reads as text
YAML11_BOOLEANS = {"yes": True, "on": True, "y": True, "no": False, "off": False, "n": False}


class ListOf(Rule):
    """A list whose every item fits ``item``; ``unique``: no item twice; at least ``min_len`` items and,
    with ``max_len``, at most that many."""

    def __init__(self, item: Rule, *, min_len: int = 0, max_len: int | None = None, unique: bool = False,
                 null: bool = False):
        super().__init__(null=null)
        self.item, self.min_len, self.max_len, self.unique = item, min_len, max_len, unique

    def describe(self) -> str:
        if self.max_len is not None and self.max_len == self.min_len:
            size = f" of {self.min_len}"
        else:
            size = f" of at least {self.min_len}" if self.min_len > 1 else " (not empty)" if self.min_len else ""
        return f"a list{size}, each item {self.item.describe()}"

    def verify(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.wrong_type(value, path)
        if len(value) < self.min_len or self.max_len is not None and len(value) > self.max_len:
            fail(path, f"{show(value)} has {len(value)} item(s); allowed: {self.allowed}")
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]")
        if self.unique:
            # a set (0.1 and 0.10 one item): before, a list searched item by item, 20,000 class names 6 s a check
            seen, unhashable = set(), []  # a list's lists (augment_search.op_sets) searched one by one
            for i, item in enumerate(value):
                if item in (seen if isinstance(item, (str, int, float)) else unhashable):
                    fail(f"{path}[{i}]", f"{show(item)} is listed twice")
                if isinstance(item, (str, int, float)):
                    seen.add(item)
                else:
                    unhashable.append(item)


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
            _named(key, item, path, "its name")
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
            hint = did_you_mean(value, options) or (number_text_hint(value, high=numbers[0].high) if numbers else "")
        fail(path, f"{show(value)} is not {self.allowed}{hint}")


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
            _named(key, value[key], path, f"the {self.what}'s name")
            if key not in self.fields:
                known = (self._nested(key, path) or did_you_mean(key, self.fields)
                         or (f"; known: {', '.join(self.fields)}" if self.fields else f"; {path} takes none"))
                fail(_join(path, key), f"unknown {self.what}{known}")
        for key, item in value.items():  # before the missing keys: a key written too deep is missing here too
            self._too_deep(key, item, path)
        for key in self.required:
            if key not in value:
                fail(_join(path, key), f"missing ({self.fields[key].allowed})")
        for key, item in value.items():
            self.fields[key].check(item, _join(path, key))
        for check in self.checks:
            check(value, path)

    def _nested(self, key: Any, path: str) -> str:
        """`` (a key of <section>: indent it under <name>)`` when ``key`` is a key of sections of this one; else "".
        Before: a line dedented by one level (`device: auto` under represent, the last of represent.selfsup), or a
        section's key written at the top (`lr: 0.01`), was told only the keys of the section it landed in."""
        owners = [name for name, rule in self.fields.items() if isinstance(rule, Section) and key in rule.fields]
        if not owners:
            return ""
        sections = " and ".join(_join(path, name) for name in owners)
        return f" (a key of {sections}: indent it under {' or '.join(owners)})"


    def _too_deep(self, name: str, item: Any, path: str) -> None:
        """Refuses a key of this section written inside its section ``name`` (one level too deep), naming where it
        belongs. Before: the last key of compute indented under the ray before it read `compute.ray.knn: unknown
        parameter; known: address, num_cpus`, the keys of the section it landed in (the mirror of :meth:`_nested`)."""
        rule = self.fields[name]
        if not isinstance(rule, Section) or not isinstance(item, dict):
            return
        for key in item:
            if key not in rule.fields and key in self.fields:
                where = f"a key of {path}: indent it as {name} is" if path else "a top-level key: unindent it"
                fail(_join(_join(path, name), key), f"unknown {rule.what} ({where}, not under {name})")


def _named(key: Any, item: Any, path: str, name: str) -> None:
    """Refuse a key with no name: `: 5` (its name deleted), `null:` or `~:` (null), or `"": 5` (empty). Before:
    "train.None: unknown parameter; known: …", a parameter nobody wrote; then `"":` still read "train.: unknown
    parameter", and a null key of gate.tolerances "null is not a non-empty string", as if its value were null."""
    if key is None or key == "":
        nameless = "no name (null)" if key is None else 'an empty name ("")'
        raise WinnowError(f"{FILE}: {path + ': ' if path else ''}a key with {nameless} holds {show(item)}; write "
                          f"{name} before its colon")


def _join(path: str, key: Any) -> str:
    return f"{path}.{visible(str(key))}" if path else visible(str(key))


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
