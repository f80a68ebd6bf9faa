"""What damage a degrade-study experiment stands for: :func:`describe` reads each experiment's ``(sweep, damage,
level)`` points from its params, as :mod:`winnow.study` explains, one curve per damage however it was written."""

from __future__ import annotations

import json
import math

from winnow.degrade_options import OPTIONS as DEGRADE_OPTIONS, check as check_perturbations, with_defaults
from winnow.groundtruth import CONTAMINATION_KINDS, DUPLICATE_KINDS, LABEL_KINDS
from winnow.params_compared import as_values, lookup
from winnow.study_runs import axis_level


STRENGTH_OPTION = {  # contamination kind -> the option that sets how strong it is
    "gaussian_noise": "sigma", "salt_pepper": "rate", "brightness": "factor", "gamma": "gamma",
    "blur": "kernel", "downscale": "size", "odd_size": "size", "odd_aspect_ratio": "ratio",
    "low_information": "size", "near_duplicate": "high",
}
# an option the strength sweep moves with the strength option, and how (low = 2 - high: 0.8 with 1.2, 0.5 with 1.5),
# left out of the curve's name where it moved so: before, the sweep's two near_duplicate settings drew two one-point
# curves. A low that did not move with high stays in the name, or runs of two lows at one high were one point
MOVES_WITH_STRENGTH = {"near_duplicate": ("low", lambda high: 2 - high)}


def describe(params: dict, *, axis: str | None = None) -> list[tuple[str, str, float]]:
    """The ``(sweep, damage, level)`` points one experiment stands for; empty when it is not a study run.

    Args:
        params: params.yaml of the experiment.
        axis: a dotted params path whose value is the level (see the module docstring), or None for
            the rules by kind.
    """
    degrade = params.get("degrade") or {}
    perturbations = (degrade.get("perturbations") or []) if degrade.get("enabled", True) else []
    check_perturbations(perturbations)  # a level must be what degrade would have run ("0.4", true, -5 are not)
    # one damage is one curve however it was written: before, blur without method and blur method=box were two
    perturbations = [with_defaults(p) for p in perturbations]
    if axis is not None:
        level = axis_level(params, axis)
        if level is None:
            return []
        rest = json.loads(json.dumps(perturbations))  # a deep copy, to blank the axis value in the label
        if axis.startswith("degrade.perturbations."):
            _blank(rest, axis.removeprefix("degrade.perturbations.").split("."))
        return [("custom", _label(rest) or "clean", level)]
    if not perturbations:
        return [("clean", "clean", 0.0)]
    if len(perturbations) > 1:
        return []
    options = dict(perturbations[0])
    kind = options.pop("kind", None)
    if kind in LABEL_KINDS and "fraction" in options:
        return [("label_noise", _label([{"kind": kind, **options}], drop=("fraction",)), float(options["fraction"]))]
    if kind == "subsample":
        return [("size", "subsample", float(options["keep"]))]
    if kind == "class_removal":
        return [("class_deletion", f"class_removal {_names(options['classes'], ordered=False)}",
                 float(len(options["classes"])))]
    if kind == "class_subsample":
        if "imbalance_ratio" in options:  # the classes' order is the tail's: two orders are two curves
            return [("imbalance", f"long_tail {_names(options['classes'])}" if "classes" in options else "long_tail",
                     float(options["imbalance_ratio"]))]
        return [("imbalance", f"class_subsample {_names(options['classes'], ordered=False)}", float(options["keep"]))]
    if kind in CONTAMINATION_KINDS + DUPLICATE_KINDS and "fraction" in options:
        fraction = float(options["fraction"])
        points = [("proportion", _label([{"kind": kind, **options}], drop=("fraction",)), fraction)]
        strength = STRENGTH_OPTION.get(kind)
        if strength in options:
            moved, partner = MOVES_WITH_STRENGTH.get(kind, ("", None))
            mirrored = moved in options and math.isclose(options[moved], partner(options[strength]))
            drop = ("fraction", strength, *([moved] if mirrored else []))
            # the share as written, as _label spells options: before, ":g" (6 digits) named fractions 0.1234567 and
            # 0.12345671 alike, and runs of the two at one strength were drawn as one point, their mean
            damage = _label([{"kind": kind, **options}], drop=drop) + f" at {as_values(fraction)}"
            points.append(("strength", damage, float(options[strength])))
        return points
    return []


def _blank(perturbations: list, parts: list[str]) -> None:
    """Remove the axis value from the label copy, at any depth (``0.rates.1`` too: before, only ``<index>.<option>``
    was, and each run of a rates axis drew a curve of its own), so experiments along the axis share one curve."""
    node = lookup(perturbations, ".".join(parts[:-1])) if parts[:-1] else perturbations
    if isinstance(node, dict):
        node.pop(parts[-1], None)
    elif isinstance(node, list) and parts[-1].isdigit() and int(parts[-1]) < len(node):
        node[int(parts[-1])] = "*"  # the list keeps its other items where they are


def _names(classes: list, *, ordered: bool = True) -> str:
    """``classes`` joined by commas; unless ``ordered`` (a long tail's order is its shape), in one order whatever the
    order written: before, a class_removal of [3, 1] queued by hand beside the sweep's [1, 3] drew two curves of one
    point each at the same level. The order is the text's, numbers by value, so an index and the class name it reads
    as (degrade refuses the two apart) sort alike: before, [3, "7"] and ["3", 7] of classes "0".."9" were two curves,
    indices sorted before names."""
    names = [str(c) for c in classes]
    return ",".join(names if ordered else sorted(names, key=_order))


def _order(name: str) -> tuple:
    """Where the class ``name`` sorts: numbers by value, before the other names by their text."""
    return (0, int(name), name) if name.isascii() and name.isdigit() else (1, 0, name)


def _label(perturbations: list[dict], *, drop: tuple[str, ...] = ()) -> str:
    """``blur method=box kernel=11 + ...``: kinds and options, without ``drop``, each option in the order degrade
    declares it and spelled as its value (``2`` for 2.0): one damage is one curve however the experiment's override
    was written (before, ``{kind: brightness, factor: 2, ...}`` queued by hand beside the sweep's ``factor: 2.0``, or
    ``{kind: blur, kernel: 5, method: box}`` beside ``method: box, kernel: 5``, drew a curve of its own)."""
    def options(p: dict) -> list[str]:
        order = DEGRADE_OPTIONS.get(p.get("kind"), ())
        keys = sorted((k for k in p if k != "kind" and k not in drop),
                      key=lambda k: (order.index(k) if k in order else len(order), str(k)))
        return [f"{k}={_spelled(p[k])}" for k in keys]

    return " + ".join(" ".join([str(p.get("kind"))] + options(p)) for p in perturbations)


def _spelled(value):
    """An option's ``value`` as :func:`_label` spells it: whole floats as ints, a mapping's keys in one order (as
    :func:`_names` orders classes), however they were written. Before: a pair flip's ``mapping: {1: 0, 0: 1}`` beside
    ``{0: 1, 1: 0}`` (degrade reads each label's new class from it, in any order) drew two curves of one damage, and
    a replicate at another seed was not averaged with the run it repeats."""
    if isinstance(value, dict):
        return {key: _spelled(value[key]) for key in sorted(value, key=lambda key: _order(str(key)))}
    if isinstance(value, list):
        return [_spelled(item) for item in value]
    return as_values(value)
