"""The merge gate's settings (:mod:`winnow.gate`): params.yaml's ``gate`` section at the base revision, checked.

A change cannot loosen the gate that judges it, so the settings are the base's (:func:`base_settings`); the report
notes where the target's differ, keys the base holds that are no parameter now, tolerances held to the cap, and
(:func:`winnow.gate_report.tolerance_notes`) a key the base's tolerances do not match that has a default, and a
false-positive key a pattern over other metrics too decides.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from winnow import markdown, revisions
from winnow.errors import WinnowError
from winnow.gate_table import GateSettings, revision_list
from winnow.param_rules import finite_number
from winnow.yaml_text import load_yaml


def base_settings(repo: str | Path, *, base: str | list[str],
                  target: str | list[str]) -> tuple[GateSettings, list[str]]:
    """``(settings, notes)``: the ``gate`` section of params.yaml at the (first) base revision, checked by
    params.yaml's own rules, and a note when the (first) target's section differs. A base without a ``gate``
    section (from before the gate) lends the target's, and the note says so. A key the base holds that is no
    parameter now (renamed since) is left out with a note: the change that renamed it could never pass."""
    names = {"base": revision_list(base)[0], "target": revision_list(target)[0]}
    section = {side: _gate_section(repo, name, option=f"--{side}") for side, name in names.items()}
    used = "base" if section["base"] is not None else "target"
    if section[used] is None:
        GateSettings.from_params(None)  # says the section is missing
    settings, notes = _checked_section(section[used], name=names[used])
    if used == "target":
        return settings, [f"gate settings: {names['target']}'s (params.yaml at {names['base']} has no gate "
                          "section)", *notes]
    differ = sorted(revisions.differing({"gate": section["base"]}, {"gate": section["target"] or {}}))
    if differ:  # the target's keys as typed, but never a line or markup of the comment (markdown.inline)
        notes.append(f"gate settings: {names['base']}'s; {names['target']}'s differ in "
                     f"{markdown.inline(', '.join(differ))} and judge the changes after it is merged (a change cannot "
                     "loosen its own gate)")
    return settings, notes


def _gate_section(repo: str | Path, name: str, *, option: str):
    """The ``gate`` section of params.yaml at revision ``name`` as written, or None when there is none."""
    text = revisions.read_text(repo, revisions.resolve(repo, name, option=option), "params.yaml")
    params = load_yaml(text or "", name=f"params.yaml at {name}") or {}
    return params.get("gate") if isinstance(params, dict) else None


def _checked_section(section, *, name: str) -> tuple[GateSettings, list[str]]:
    """(the settings of ``section``, params.yaml's ``gate`` at revision ``name``, checked by
    :data:`winnow.params.SCHEMA`'s rules, and notes on the keys left out as no parameter now and the tolerances
    held to :data:`winnow.params.MAX_TOLERANCE`, the overdispersions to
    :data:`winnow.params.MAX_OVERDISPERSION`, alpha to :data:`winnow.params.MIN_ALPHA`)."""
    from winnow.params import MAX_OVERDISPERSION, MAX_TOLERANCE, MIN_ALPHA, SCHEMA

    rule = SCHEMA.fields["gate"]
    dropped = sorted(k for k in section if k not in rule.fields) if isinstance(section, dict) else []
    notes = [f"gate settings: {name}'s gate.{markdown.inline(key)} is no parameter now; left out" for key in dropped]
    if dropped:
        section = {k: v for k, v in section.items() if k not in dropped}
    tolerances = section.get("tolerances") if isinstance(section, dict) else None
    # a base written when tolerances went up to 1: refused, it would gate every change for good, the one that
    # lowers it too (a change is judged by its base's settings); held to the cap instead. finite_number, not
    # math.isfinite, which raised OverflowError on an integer of 310 digits (before: a traceback from the gate); such
    # a one is left to the check below, which refuses it in one line
    over = sorted(k for k, v in (tolerances.items() if isinstance(tolerances, dict) else ())
                  if finite_number(v) and v > MAX_TOLERANCE)
    if over:
        section = {**section, "tolerances": {**tolerances, **{k: MAX_TOLERANCE for k in over}}}
        notes += [f"gate settings: {name}'s gate.tolerances.{markdown.inline(k)} {tolerances[k]:g} is above "
                  f"{MAX_TOLERANCE:g}; {MAX_TOLERANCE:g} used" for k in over]
    # the same for a base written when phi went up to 10 (until stop 65)
    loose = [k for k in ("overdispersion", "accuracy_overdispersion")
             if isinstance(section, dict) and finite_number(section.get(k)) and section[k] > MAX_OVERDISPERSION]
    if loose:
        notes += [f"gate settings: {name}'s gate.{k} {section[k]:g} is above {MAX_OVERDISPERSION:g}; "
                  f"{MAX_OVERDISPERSION:g} used" for k in loose]
        section = {**section, **{k: MAX_OVERDISPERSION for k in loose}}
    # and for a base written when alpha went down to 1e-300 (until the bound of 1e-4): before, refused, so every change
    # was refused for good, the one that raises it too; a larger alpha only gates more strictly
    if isinstance(section, dict) and finite_number(section.get("alpha")) and 0 < section["alpha"] < MIN_ALPHA:
        notes.append(f"gate settings: {name}'s gate.alpha {section['alpha']:g} is below {MIN_ALPHA:g}; "
                     f"{MIN_ALPHA:g} used")
        section = {**section, "alpha": MIN_ALPHA}
    try:
        rule.check(section, "gate")
    except WinnowError as err:
        raise WinnowError(str(err).replace("params.yaml:", f"params.yaml at {name}:", 1)
                          + f"; the gate takes its settings from {name}: correct them there") from err
    return dataclasses.replace(GateSettings.from_params(section), source=name), notes
