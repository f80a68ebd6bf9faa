"""params.yaml mappings compared as settings: where two differ (:func:`differing`), the value at a dotted key
(:func:`lookup`), one text for two spellings of one setting (:func:`as_values`, :func:`comparable`), and the largest
group of runs that share one (:func:`same_setting`). What the gate, ``compare`` and ``study`` read of the params of
the revisions :mod:`winnow.revisions` reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from winnow.errors import WinnowError, listed

def differing(a: dict, b: dict, prefix: str = "") -> set[str]:
    """Dotted paths of the values that differ between two params.yaml mappings ``a`` and ``b``, a key one holds and
    the other lacks too, whatever its value: before, a null there (``train.threads: null``, a line DVC reads as a
    change when deleted) differed in nothing, so compare named "the classes evaluated" for runs of the same classes,
    and a section's first difference from its dvc.lock entry was an IndexError traceback."""
    out = set()
    for key in set(a) | set(b):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            out |= differing(x, y, f"{prefix}{key}.")
        elif x != y or (key in a) != (key in b):
            out.add(f"{prefix}{key}")
    return out


def as_values(value: Any) -> Any:
    """``value`` (params) with every whole float written as the int it equals (``0.0`` as ``0``), booleans as they
    are: ``-S train.weight_decay=0`` and params.yaml's ``0.0`` are one setting (the params' rules read both as the
    number), though their JSON differs."""
    if isinstance(value, dict):
        return {key: as_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_values(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def comparable(value: Any) -> str:
    """``value`` (params) as text two spellings of one setting share: values as :func:`as_values` writes them, keys
    as text (as `dvc exp show --json` writes them) in one order. Before, sorting the keys as read failed on a mapping
    DVC's Python API gives with keys of two types (a noise's ``rates: {1: 0.2, a: 0.1}``, YAML's int 1 beside the
    name a): study collect and study queue ended in a TypeError traceback."""
    return json.dumps(json.loads(json.dumps(as_values(value), default=str)), sort_keys=True)


def lookup(params: Any, key: str | tuple[str, ...], *, missing: Any = None) -> Any:
    """The value at the dotted ``key`` of a params mapping (as dvc.lock names params: ``degrade.perturbations.1``
    indexes a list, ``cls.3`` an integer key), or ``missing``. A tuple ``key`` gives its parts whole: one may hold a
    dot (a class named ``st.bernard`` in a metrics file)."""
    node = params
    for part in key if isinstance(key, tuple) else key.split("."):
        # ASCII digits, one sign at most: before, "²" (isdigit, which int() refuses) or "--1" in `study collect --axis`
        # was a ValueError traceback
        number = re.fullmatch(r"-?[0-9]+", part) is not None
        if isinstance(node, list) and number and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, dict) and number and int(part) in node:
            node = node[int(part)]
        else:
            return missing
    return node


def seed_of(params: dict) -> int:
    """The ``seed`` of a run's params (params.yaml as `dvc exp show --json` writes it), as every stage takes it: an
    integer within params.yaml's rule. ValueError otherwise, in words a line can end with. Before, compare and study
    collect refused text, booleans and fractions alone: a run without a seed, or at -1 or 2**40 (which every stage
    refuses, so no winnow run has them), was counted as a seed of its own beside the real ones ("seeds 0, 1, null,
    -1")."""
    from winnow.params import SCHEMA  # where the seed's bounds are declared (winnow.params imports much)

    if "seed" not in params:
        raise ValueError("seed missing (every stage requires one, so no winnow run lacks it)")
    seed, rule = params["seed"], SCHEMA.fields["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed {seed!r} is not an integer")
    if not rule.low <= seed <= rule.high:
        raise ValueError(f"seed {seed} is outside [{rule.low}, {rule.high}], which every stage refuses")
    return seed


def same_setting(records: list[dict], *, varied: tuple[str, ...], where: str,
                 also: tuple[str, Callable[[dict], Any]] | None = None,
                 size: Callable[[list[dict]], int] = len) -> tuple[list[dict], str]:
    """The records (``experiment``, ``params``: params.yaml) of the largest group that agree on every param
    but the dotted paths ``varied`` (compared as values: :func:`as_values`), the first such group on a tie; and a
    note naming the rest ("" when none).
    ``also``: ``(what, key)``, a JSON-able ``key(record)`` the group must share too, named ``what`` in the
    note when the params alone do not tell the rest apart. ``size``: how large a group is (default: its records).

    Raises:
        WinnowError: a record whose params are not a mapping (``where`` names the command).
    """
    def setting(params: dict) -> str:
        # as values: before, 0 and 0.0 made two groups, and the note named no param that differs
        kept = json.loads(json.dumps(as_values(params), default=str))
        for path in varied:
            *parents, last = path.split(".")
            # a list index too, as lookup reads it (study collect --axis budget.fractions.0): before, only mappings
            # were walked, so the runs along such an axis were left out as of "other settings (budget.fractions)"
            section = lookup(kept, ".".join(parents)) if parents else kept
            if isinstance(section, dict):
                section.pop(last, None)
            elif isinstance(section, list) and last.isdigit() and int(last) < len(section):
                section[int(last)] = None  # blanked, not removed: the items after it keep their places
        return kept

    groups: dict[str, list[dict]] = {}
    for record in records:
        if not isinstance(record["params"], dict):
            raise WinnowError(f"{where}: experiment {record['experiment']}: its params are not what a winnow run "
                              f"writes (a {type(record['params']).__name__}, not a mapping)")
        key = [setting(record["params"]), also[1](record) if also else None]
        groups.setdefault(json.dumps(key, sort_keys=True, default=str), []).append(record)
    if len(groups) < 2:
        return list(records), ""
    chosen = max(groups.values(), key=size)
    others = [record for group in groups.values() if group is not chosen for record in group]
    differ = sorted({key for r in others for key in differing(as_values(chosen[0]["params"]), as_values(r["params"]))}
                    - set(varied))
    told = listed(differ, at_most=5) or (also[0] if also else "")
    return chosen, (f"left out {len(others)} run(s) with other settings ({told}): "
                    + listed([record["experiment"] for record in others]))
