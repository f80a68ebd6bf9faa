"""The merge gate's settings (:mod:`winnow.gate`): params.yaml's ``gate`` section at the base revision, checked.

A change cannot loosen the gate that judges it, so the settings are the base's (:func:`base_settings`); the report
notes where the target's differ, keys the base holds that are no parameter now, tolerances held to the cap, and
(:func:`winnow.gate_report.tolerance_notes`) a key the base's tolerances do not match that has a default, and a
false-positive key a pattern over other metrics too decides. A base whose tolerances are an earlier release's (before
the paired gate: DVC's metric keys, ``per_class.*.f1``, ``macro.f1``) is read as what they meant
(:func:`_earlier_tolerances`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import fnmatch

from winnow import markdown, revisions
from winnow.errors import WinnowError
from winnow.gate_table import GateSettings, is_pattern, revision_list
from winnow.param_rules import finite_number
from winnow.params_compared import differing
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
        # before: "params.yaml gate: missing; winnow gate needs ...", naming neither revision nor where to add it
        where = ("the working tree's params.yaml" if names["target"] == revisions.WORKSPACE else
                 f"{names['target']}'s params.yaml")
        raise WinnowError(f"params.yaml at {names['base']} and at {names['target']}: no gate section, so no tolerances "
                          f"to judge by; add one (files, tolerances, alpha, correction) to {where}: a base without "
                          "one takes the target's")
    settings, notes = _checked_section(section[used], name=names[used])
    if used == "target":
        return settings, [f"gate settings: {names['target']}'s (params.yaml at {names['base']} has no gate "
                          "section)", *notes]
    settings, old = _earlier_tolerances(settings, name=names["base"])
    notes += old
    differ = sorted(differing({"gate": section["base"]}, {"gate": section["target"] or {}}))
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


# the tolerance keys of the gate before it paired test images (cc524fa9): fnmatch patterns over DVC's flattened keys of
# metrics/evaluate/<variant>.json, the first matching pattern deciding; params.yaml's default was accuracy, macro.f1
# and per_class.*.f1. A per-class F1 entry is read as the per-class recall entry it became there
EARLIER_PER_CLASS = ("per_class.", ".f1")
EARLIER_AVERAGES = ("macro.", "per_class_std.")  # averages over the classes: the gate tests none now


def _earlier_tolerances(settings: GateSettings, *, name: str) -> tuple[GateSettings, list[str]]:
    """``settings`` read at base revision ``name`` with its tolerances in an earlier release's form (an entry
    ``per_class.<pattern>.f1`` and none written for what the gate tests per class now, recall or false positives) as
    what they meant, and a note per entry: each ``per_class.<pattern>.f1`` as ``per_class.<pattern>.recall``, at most
    the tolerance of any such entry before it that decided some of its keys there (the earlier gate took the first
    matching pattern, today's takes a key's own entry, else the strictest: a looser per_class.1.f1 after
    ``per_class.*.f1`` never decided there, and must not here), and the averages' entries (``macro.*``,
    ``per_class_std.*``) left out. Before: refused with
    "no pattern matches per_class.0.recall ...; correct them there", and no change could pass: the one correcting them
    is judged by the base's settings too."""
    tolerances = settings.tolerances
    per_class = [k for k in tolerances if k.startswith(EARLIER_PER_CLASS[0]) and k.endswith(EARLIER_PER_CLASS[1])]
    current = [k for k in tolerances if any(fnmatch.fnmatchcase(metric, k.rsplit(".", 1)[-1])
                                            for metric in ("recall", "false_positives"))]
    if not per_class or current:
        return settings, []
    read, notes, earlier = {}, [], {}
    for key, value in tolerances.items():
        if key.startswith(EARLIER_AVERAGES):
            notes.append(f"gate settings: {name}'s gate.tolerances.{markdown.inline(key)} is an earlier release's "
                         "entry of an average over the classes, which the gate tests no more; left out")
        elif key in per_class:
            # the entries before it that decided some of its keys there: for one key it names, a pattern before it
            # that matches it (today its own entry decides it, whatever the patterns). A pattern keeps its own: today
            # a key two patterns match takes the stricter, never looser than the first of them, and one before it
            # held to it gated every other class at that one's tolerance (per_class.[0-4].f1 0.01 before
            # per_class.*.f1 0.05: classes 5 to 9 at 0.01)
            used = value if is_pattern(key) else min([value] + [tolerances[e] for e in per_class[:per_class.index(key)]
                                                           if fnmatch.fnmatchcase(key, e)])
            recall = key[:-len(EARLIER_PER_CLASS[1])] + ".recall"
            read[recall] = used
            earlier[recall] = key
            notes.append(f"gate settings: {name}'s gate.tolerances.{markdown.inline(key)} {value:g} is an earlier "
                         f"release's per-class F1 entry; read as {markdown.inline(recall)} {used:g} (the gate "
                         "tests each class's recall)")
        else:
            read[key] = value
    return dataclasses.replace(settings, tolerances=read, earlier=earlier), notes


def passed_over(settings: GateSettings, unmatched: list[str],
                overridden: list[str]) -> tuple[list[str], list[str], list[str]]:
    """``(unmatched, overridden, notes)``: the tolerance entries that match no tested key and those that decide none
    (:func:`winnow.gate_table.unused_tolerances`) less those read from an earlier release's per-class F1 entry
    (:func:`_earlier_tolerances`), each left out with a note, in the base's order: the earlier gate took a key's first
    matching entry and passed over the others, so such an entry (after a pattern matching every class it names, or
    naming a class tested no more) decided nothing there either. Before: refused as "per_class.[0-4].recall: 0.02
    decide no metric ...; correct them there", an entry the base does not hold, and no change could pass, the one
    correcting it being judged by the base's settings too."""
    notes = [f"gate settings: {settings.source}'s gate.tolerances.{markdown.inline(settings.earlier[e])}, read as "
             f"{markdown.inline(e)}, decides no class's recall here; left out" for e in settings.tolerances
             if e in settings.earlier and (e in unmatched or e in overridden)]
    return ([e for e in unmatched if e not in settings.earlier], [e for e in overridden if e not in settings.earlier],
            notes)
