"""The accessors that read one option of a ``degrade.perturbations`` spec and name it when it is wrong: a number
in a range, a fraction, a choice, a class by index or name, a list or mapping of classes, an image side. Each kind's
checks in :mod:`winnow.degrade_options` are made of them; without :class:`DataFacts` the checks against the images and
classes are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from winnow.errors import WinnowError
from winnow.imageset import as_class
from winnow.param_rules import finite_number
from winnow.param_values import bounded_repr

_REQUIRED = object()


@dataclass(frozen=True)
class DataFacts:
    """What the checks against the data read of the images, the classes and the manifest."""

    classes: list[str]
    shape: tuple[int, ...]  # (N, H, W, C)
    train_counts: np.ndarray  # int (K,)
    originals: tuple[int, int]  # (height, width) most of the files had before ingest resized them


class OptionReader:
    """The option accessors of :class:`winnow.degrade_options`' spec reader, which sets ``where`` (the spec's place
    in the params, named in every error), ``spec`` (the dict) and ``data`` (:class:`DataFacts`, or None)."""

    def fail(self, option: str, allowed: str, value) -> None:
        raise WinnowError(f"{self.where}: {option} must be {allowed}, got {bounded_repr(value)}")

    def number(self, option, *, low=0.0, high=math.inf, low_open=False, integer=False, default=_REQUIRED, value=_REQUIRED):
        if value is _REQUIRED:
            value = self.spec.get(option, default)
        kind = "an integer" if integer else "a number"
        if high == math.inf:
            allowed = f"{'a finite number' if not integer else kind} {'>' if low_open else '>='} {low}"
        else:
            allowed = f"{kind} in {'(' if low_open else '['}{low}, {high}]"
        if value is _REQUIRED:
            raise WinnowError(f"{self.where}: {option} is required ({allowed})")
        is_number = isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)
        # finite: a factor of .inf passed `value > high` with high = inf and made NaN pixels; finite_number, not
        # math.isfinite, which raised OverflowError on an integer of 310 digits (a traceback from every stage)
        finite = is_number and finite_number(value)
        if not finite or not (low < value if low_open else low <= value) or value > high:
            self.fail(option, allowed, value)
        return value

    def changing(self, option, value, *, identity):
        """``value`` unless it is the option's ``identity``: a damage that changes no pixel would still be
        recorded in the ground truth as done."""
        if value == identity:
            self.fail(option, f"other than {identity:g} (at {identity:g} it changes no pixel, yet the images would "
                              "be recorded as damaged)", value)
        return value

    def fraction(self, option="fraction", **kw) -> float:
        return float(self.number(option, high=1.0, **kw))

    def choice(self, option, allowed, default):
        value = self.spec.get(option, default)
        if value not in allowed:
            self.fail(option, f"one of {', '.join(allowed)}", value)
        return value

    def class_index(self, option, value) -> int:
        if self.data is None:  # any index or name: classes.json decides which exist
            if not (isinstance(value, str) or isinstance(value, int) and not isinstance(value, bool) and value >= 0):
                self.fail(option, "a class index >= 0 or a class name", value)
            return value
        classes = self.data.classes
        # the class names YAML would read as this number: "1", and "07" or "007" too (before: classes: [07] was
        # the index 7, class '08' among folders 01..10, and cut the wrong class without a word)
        named = [name for name in classes if isinstance(value, int) and not isinstance(value, bool)
                 and name.isascii() and name.isdigit() and int(name) == value]
        # classes named by numbers ("1", "10", "2" sorted by name): the index 1 is the class "10"
        if named and 0 <= value < len(classes):
            other = next((name for name in named if classes.index(name) != value), None)
            if other is not None:
                self.fail(option, f"unambiguous (class {classes[value]!r} by index, class {other!r} by name); write "
                                  "the name as text, quoted", value)
        elif named:  # a folder named 10 among 4 classes: YAML read the name as a number
            self.fail(option, f"a class index in [0, {len(classes) - 1}] or a name in classes.json; to name class "
                              f"{named[0]!r} write it as text, quoted", value)
        # a name as a person reads it (winnow.imageset.alike, as the review reads a verdict): a folder named on macOS
        # holds "café" decomposed (NFD), which params.yaml typed as "café" (NFC) never equalled, so the refusal's
        # own fix, to name one of the classes listed, failed again; ingest refuses two classes alike, so at most one
        if isinstance(value, str) and value not in classes:
            value = as_class(value, classes=classes)
        index = classes.index(value) if isinstance(value, str) and value in classes else value
        if not isinstance(value, (str, int)) or isinstance(value, bool):  # true, null, 1.0, a date: YAML read a name
            read = next((name for name in classes if _yaml_reads(name) == (type(value), value)), None)
            if read is not None:  # before: "got True" beside a class named "true", with no way to write it told
                self.fail(option, f"a class index in [0, {len(classes) - 1}] or a name in classes.json; to name class "
                                  f"{read!r} write it as text, quoted", value)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(classes):
            # a name no class has: before, the default damage's '7' on a set of named classes read "a class index in
            # [0, 9] or a name in classes.json, got '7'", as if 7 were out of range, and named no class to write
            unnamed = (f"; no class is named {value!r} (classes.json: {', '.join(map(repr, classes[:6]))}"
                       f"{', …' if len(classes) > 6 else ''}): name one of them" if isinstance(value, str) else "")
            if unnamed and value.isascii() and value.isdigit() and int(value) < len(classes):
                unnamed += f", or write {int(value)} unquoted for the class of that index ({classes[int(value)]!r})"
            self.fail(option, f"a class index in [0, {len(classes) - 1}] or a name in classes.json{unnamed}", value)
        if self.data.train_counts[index] == 0:
            self.fail(option, "a class with train images", value)
        return index

    def classes(self, option="classes", default=_REQUIRED) -> list[int]:
        values = self.spec.get(option, default)
        if values is _REQUIRED or not isinstance(values, list) or not values:
            self.fail(option, "a non-empty list of classes", None if values is _REQUIRED else values)
        indices = [self.class_index(option, v) for v in values]
        if len(set(indices)) != len(indices):
            self.fail(option, "a list without repeats", values)
        return indices

    def class_map(self, option, convert) -> dict[int, object]:
        values = self.spec[option]
        if not isinstance(values, dict) or not values:
            self.fail(option, "a non-empty mapping class -> value", values)
        converted, named_as = {}, {}
        for key, value in values.items():
            index = self.class_index(option, key)
            # before: a class given by its name and by its index ({cat: 0.5, 3: 0.1}) kept the last value without
            # a word, and the damage planted was another than the one written
            if index in named_as:
                self.fail(option, f"a mapping that names each class once ({named_as[index]!r} and {key!r} are one "
                                  "class)", values)
            converted[index], named_as[index] = convert(key, value), key
        return converted

    def size(self, option="size", *, high, low: int = 1) -> int:
        """An image side in pixels; ``high(height, width)`` of the images bounds it (no bound without data). Images too
        small for any side are said to be (before: "size must be an integer in [2, 1]" on 2x2 images, a range no value
        holds)."""
        bound = math.inf if self.data is None else high(*self.data.shape[1:3])
        if bound < low:
            height, width = self.data.shape[1:3]
            raise WinnowError(f"{self.where}: the images are {height}x{width}, too small for any {option} (it must be "
                              f"at least {low} and below their smaller side); set ingest.size (8 to 1024) to resize "
                              "them, or remove this entry")
        return self.number(option, low=low, high=bound, integer=True)


def _yaml_reads(name: str) -> tuple[type, object] | None:
    """The type and value params.yaml's reader (YAML 1.2, as DVC) makes of the class ``name`` written unquoted (None
    where it is no plain scalar): "true" a bool, "null" None, "1.0" and "1e3" floats, "2024-01-02" a date."""
    from winnow.yaml_text import load_yaml

    try:
        value = load_yaml(name, name="a class name")
    except WinnowError:
        return None
    return None if isinstance(value, (dict, list)) else (type(value), value)
