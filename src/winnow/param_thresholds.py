"""The rule of one ``threshold.issues`` entry in params.yaml (:class:`ThresholdSetting`): a method of
:data:`winnow.configs.THRESHOLD_METHODS` and that method's own options, each ranged, an option of another method or one
left idle by another refused in one line. :data:`winnow.params.SCHEMA` applies it to every issue."""

from __future__ import annotations

from typing import Any

from winnow.configs import REFERENCE_THRESHOLDS, THRESHOLD_METHODS
from winnow.param_rules import Choice, Num, Rule, Section, fail, show


class ThresholdSetting(Rule):
    """One quality issue's cut: ``{method: <one of THRESHOLD_METHODS>, <that method's options>}``; no method
    means auto. Null is refused: elsewhere in params.yaml null turns a rule off, here an issue is off when left out."""

    # each method's options (the keyword arguments of its function in winnow.thresholds)
    OPTIONS = {
        "auto": {"alpha": Num(0, 1, low_open=True, high_open=True),
                 "tail_share": Num(0, 1, low_open=True, high_open=True, null=True),
                 "isolated_max": Num(1, integer=True, null=True)},
        "otsu": {},
        "li": {"tolerance": Num(0, low_open=True, null=True)},
        "kittler": {},
        "kapur": {},
        # bounded: scores lie in [0, 1], so a spread tau beyond 1e3 or a weight beyond 1e9 means nothing more, and
        # tau 1e155 overflowed (tau squared), kappa 1e308 made the criterion NaN
        "ght": {"nu": Num(0, 10**9, null=True), "tau": Num(0, 1000, null=True), "kappa": Num(0, 10**9),
                "omega": Num(0, 1)},
        "valley": {"valley_window": Num(0, 65536, integer=True)},  # bins' own bound: 1e20 was a traceback
        # EM steps: on unimodal scores (a gamma's) it never settles, 0.14 ms a step at 256 bins: 10**20 ran with no end
        "gamma_mixture": {"iterations": Num(1, 1000, integer=True)},
        "fixed": {"value": Num(0, 1)},  # scores lie in [0, 1]
    }
    assert set(OPTIONS) == set(THRESHOLD_METHODS)
    # (method, option, its default, the option that can leave it idle, that one's default, the value that does, why):
    # auto's tail_share null turns the isolated rule off; ght's omega shares kappa's prior between the classes, and
    # nu weighs tau's. Before, such an option moved from its default was accepted and cut nothing otherwise
    IDLE = (("auto", "isolated_max", 10, "tail_share", 0.1, None, "turns the isolated rule off", "a share such as 0.1"),
            ("ght", "omega", 0.5, "kappa", 0.0, 0, "leaves no prior for omega to share", "above 0"),
            ("ght", "tau", None, "nu", None, 0, "gives tau's prior no weight", "above 0, or null (1% of the images)"))

    def describe(self) -> str:
        return f"a mapping with method ({', '.join(THRESHOLD_METHODS)}) and its options"

    def verify(self, value: Any, path: str) -> None:
        if value is None:  # before: read as auto, so `light:` (its value commented out) or `light: null` flagged
            fail(path, f"null; to flag nothing leave {path.rpartition('.')[2]} out of threshold.issues, for the "
                       "automatic cut give {method: auto}")
        if not isinstance(value, dict):
            self.wrong_type(value, path)
        method = value.get("method", "auto")
        Choice(THRESHOLD_METHODS).check(method, f"{path}.method")
        # another method's option: before, told the nearest spelling of this method's (ght with alpha: "kappa?")
        for key in [key for key in value if key not in self.OPTIONS[method]]:
            owners = [name for name, options in self.OPTIONS.items() if key in options]
            if owners:
                shown = f"{method}{'' if 'method' in value else ' (left out)'}"
                fail(f"{path}.{key}", f"an option of method {' or '.join(owners)}, and method is {shown}; set method: "
                                      f"{owners[0]}, or remove {key}")
        Section({"method": Choice(THRESHOLD_METHODS), **self.OPTIONS[method]},
                required=("value",) if method == "fixed" else (), what=f"option of method {method}").check(value, path)
        # before: accepted here and refused by the threshold stage alone, after ingest, degrade and score had run
        # (winnow.thresholds.cut_issues words it the same)
        issue, options = path.rpartition(".")[2], [key for key in value if key != "method"]
        if method == "auto" and issue in REFERENCE_THRESHOLDS and options:
            fail(path, f"auto takes {issue}'s own cut ({REFERENCE_THRESHOLDS[issue]:.4g}), so {', '.join(options)} "
                       "would change nothing; drop them, or give method fixed and a value")
        for _, key, default, other, other_default, idle, why, advice in (i for i in self.IDLE if i[0] == method):
            # null is the default or turns the option's rule off too: nothing is lost
            if value.get(key) not in (None, default) and value.get(other, other_default) == idle:
                given = show(idle) + ("" if other in value else " (left out)")
                fail(f"{path}.{key}", f"{show(value[key])}, but {other} {given} {why}, so {key} would change nothing; "
                                      f"drop {key}, or give {other} {advice}")
