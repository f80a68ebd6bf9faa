"""A ``threshold.issues`` setting of params.yaml as the threshold stage cuts by it (:func:`as_cut`): the one reading
that every record of the issues is compared by, the flags' own (:mod:`winnow.flag_cuts`) and a contract verdict's
(:mod:`winnow.contract_verdict`). Kept apart from both so that train@<variant>, which reads the verdicts, depends on
nothing of the flags."""

from __future__ import annotations

import inspect
from typing import Any


def as_cut(setting: Any) -> Any:
    """An issue's setting of threshold.issues as it cuts: its method (auto where left out, as
    :func:`winnow.thresholds.cut_issues` reads it) and each option of that method at its default where left out, so
    {}, {method: auto} and {method: auto, alpha: 0.01} cut alike; anything but a mapping as it is. Before, an option
    written out at its default (auto's alpha 0.01) was read as another cut, and every reader of the flags refused
    them."""
    import winnow.histogram_cuts as histogram_cuts
    from winnow.auto_rule import auto_cut

    if not isinstance(setting, dict):
        return setting
    method = setting.get("method", "auto")
    function = auto_cut if method == "auto" else getattr(histogram_cuts, str(method), None)
    defaults = {} if not callable(function) else {
        name: option.default for name, option in inspect.signature(function).parameters.items()
        if option.kind is option.KEYWORD_ONLY and option.default is not option.empty and name != "bins"}
    return {"method": method, **defaults, **setting}


def issues_as_cut(issues: Any) -> Any:
    """A whole ``threshold.issues`` section as it cuts: each issue's setting by :func:`as_cut` (None, the section
    left out or null, as no issue; anything but a mapping as it is)."""
    if issues is None:
        return {}
    return {issue: as_cut(setting) for issue, setting in issues.items()} if isinstance(issues, dict) else issues
