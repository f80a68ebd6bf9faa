"""The space an augmentation search scores (winnow.augment_search), apart from the search: the candidate policies
augment_search's lists give, which of them make copies alike, balance.policy's challengers among them, a candidate's
name in a line and the fields a searched policy holds (the report reads those two too). A module of
its own, without numpy or torch, because the params check (winnow.param_checks) reads it as the stage does, and every
stage runs that check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from winnow.configs import GEOMETRIC_OPS, NO_STRENGTH, STEP_SETTINGS, Policy, TrainConfig
from winnow.errors import WinnowError

NO_CANDIDATE = "augment_search: no candidate policy (op_sets, kinds, ns and magnitudes give none)"
# the augment_search section where params.yaml leaves a key out: the stage reads it so, and so does the params check
# that its candidates challenge balance.policy (:func:`winnow.param_checks.search_challenges_fixed`)
SEARCH_DEFAULTS = {"enabled": False, "method": "train", "epochs": 6, "max_images": 2000, "kinds": ["trivial", "rand"],
                   "ns": [2], "magnitudes": [0.3, 0.6], "fill": "border", "with_fixed": True, "tie_se": 1.0,
                   "op_sets": [["shear", "translate", "rotate", "crop"],
                               ["shear", "translate", "rotate", "crop", "noise", "brightness", "contrast", "cutout"]]}


def search_settings(params: Mapping[str, Any]) -> dict[str, Any]:
    """params.yaml's ``augment_search`` section with its defaults where left out: what the search ran under, and
    what :func:`winnow.augment_search.read_policy` holds a searched policy's record to."""
    return {**SEARCH_DEFAULTS, **(params.get("augment_search") or {})}


# the train options the search's trainings do not take from params.yaml: it trains augment_search.epochs without
# patience, each candidate's policy on the fly whatever train.augment says
SEARCH_OVERRIDES = ("epochs", "patience", "augment")


def search_training(params: Mapping[str, Any]) -> dict[str, Any]:
    """What the search's trainings (:func:`winnow.augment_search.short_training_scorer`, or density's one model) take
    from beyond its own section, by params path: ``seed`` and each :data:`STEP_SETTINGS` option of the train section
    (:class:`TrainConfig`'s default where params.yaml is silent) but :data:`SEARCH_OVERRIDES`; not device, threads,
    stream or eval_batch_size, which change no step (as :func:`winnow.configs.model_check_training`). The searched
    policy records it (``trained_with``) and :func:`winnow.augment_search.read_policy` holds it to params.yaml's."""
    config = TrainConfig.from_params(dict(params.get("train") or {}))
    return {"seed": params.get("seed"), **{f"train.{name}": getattr(config, name) for name in STEP_SETTINGS
                                           if name not in SEARCH_OVERRIDES}}


def candidates(*, op_sets: Iterable[Iterable[str]], kinds: Iterable[str], ns: Iterable[int],
               magnitudes: Iterable[float], fill: str = "border") -> list[Policy]:
    """The policies a search scores: for each op subset and magnitude, TrivialAugment (``kind: trivial``,
    one op per image) and RandAugment with each ``n`` (``kind: rand``; an ``n`` above the subset's size
    is left out; one that makes copies alike an earlier one's, :func:`same_policy`, too). Order: op set, then kind,
    then n, then magnitude; a tie in the search goes to the first."""
    kinds, ns, magnitudes = list(kinds), list(ns), list(magnitudes)
    out = []
    for ops in op_sets:
        ops = tuple(ops)
        for kind in kinds:
            for n, m in ((n, m) for n in ([1] if kind == "trivial" else rand_ns(ops, ns)[0]) for m in magnitudes):
                policy = Policy(ops=ops, n=n, magnitude=m, kind=kind, fill=fill)
                # before: flip and invert at each magnitude and kind, copies alike, each trained again and one more
                # challenger of balance.policy, raising the bar for the others
                if not any(same_policy(policy, earlier) for earlier in out):
                    out.append(policy)
    if not out:
        raise WinnowError(NO_CANDIDATE)
    return out


def challengers(policies: Iterable[Policy], fixed: Policy) -> list[Policy]:
    """``fixed`` (balance.policy, which with_fixed scores first, as the incumbent) and the ``policies`` (:func:`candidates`)
    that make other copies than it (:func:`same_policy`): balance.policy's ops in another order are balance.policy, and
    were a challenger of its own, which could "replace" it by the noise of two trainings. Raise :class:`WinnowError`
    when none is left: the search would write balance.policy "chosen" against no challenger. The params check
    refuses it so before ingest; the stage calls it too, for its list."""
    policies = [fixed, *(policy for policy in policies if not same_policy(policy, fixed))]
    if len(policies) == 1:
        # an op set other than balance.policy's always gives another policy; a magnitude only where an op has a
        # strength (flip and invert have none), an n only where the set holds more than one op
        other = ["an op set other than balance.policy's ops"]
        if not set(fixed.ops) <= set(NO_STRENGTH):
            other.append(f"a magnitude other than its {fixed.magnitude:g}")
        raise WinnowError("augment_search.op_sets: every candidate they give (with kinds, ns and magnitudes) makes "
                          "copies alike to balance.policy's, which with_fixed scores as the incumbent, so there is no "
                          f"candidate to compare it with; add {' or '.join(other)}, or set augment_search.enabled: "
                          "false")
    return policies


def same_policy(a: Policy, b: Policy) -> bool:
    """Whether policies ``a`` and ``b`` make copies alike: the same ops in any order and the same ``n``, and the same
    ``magnitude``, ``kind`` and ``fill`` wherever they change a copy. Each copy draws its ops at random from the set
    and :func:`winnow.augment.apply_policy` applies them in its own fixed order, so the list's order changes which
    random draws an op gets, never what the copies are (as ``op_sets`` are judged: the same set in another order is
    refused there). ``magnitude`` and ``kind`` set strengths, which flip and invert lack (:data:`NO_STRENGTH`); ``fill``
    is what crop, shear, rotate and translate uncover (a flip uncovers nothing; cutout paints the border colour)."""
    return _copies_made(a) == _copies_made(b)


def _copies_made(policy: Policy) -> tuple:
    """What of ``policy`` changes its copies (:func:`same_policy`)."""
    ops = frozenset(policy.ops)
    strength = not ops <= set(NO_STRENGTH)
    uncovers = bool(ops & (set(GEOMETRIC_OPS) - {"flip"}))
    return (ops, policy.n, policy.magnitude if strength else None, policy.kind if strength else None,
            policy.fill if uncovers else None)


def rand_ns(ops: Iterable[str], ns: Iterable[int]) -> tuple[list[int], list[int]]:
    """``(usable, left_out)`` of RandAugment's ``ns`` over the op set ``ops``: it draws n different ops, so an n
    above the set's size is no policy."""
    size = len(tuple(ops))
    return [n for n in ns if n <= size], [n for n in ns if n > size]


def candidate_name(policy: Policy | Mapping[str, Any]) -> str:
    """A candidate (or its ``to_params``) in a line: ``trivial [rotate, cutout] at magnitude 0.3``, or ``rand n 2 of
    [rotate, noise] at magnitude 0.6``."""
    p = policy.to_params() if isinstance(policy, Policy) else policy
    of = f"rand n {p['n']} of" if p["kind"] == "rand" else p["kind"]
    return f"{of} [{', '.join(p['ops'])}] at magnitude {p['magnitude']:g}"


# what augment-search writes for the winner (Policy.to_params): a file without one of these, or with one of
# another type, was edited or damaged; filled with the defaults it would train on a policy nobody chose
SEARCHED_FIELDS = {
    "ops": ("a list of op names", lambda v: isinstance(v, list) and all(isinstance(op, str) for op in v)),
    "n": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "magnitude": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "kind": ("a name", lambda v: isinstance(v, str)),
    "fill": ("a name", lambda v: isinstance(v, str)),
}


def check_searched(policy: Any, *, key: str = "policy") -> None:
    """Raise :class:`WinnowError` (the problem alone: :func:`winnow.augment_search.read_policy` adds the file) unless
    ``policy``, the ``policy`` of the searched file (or another ``key`` of it holding one: ``fixed``, or a candidate
    metrics/augment_search.json's ``left_out`` names), holds every field augment-search writes, each of its type (a
    boolean is not a number). :class:`Policy` then checks the values."""
    import json

    if not isinstance(policy, Mapping):
        raise WinnowError(f"{key} is {type(policy).__name__}, not a mapping")
    missing = [name for name in SEARCHED_FIELDS if name not in policy]
    if missing:
        raise WinnowError(f"{key} lacks field(s) {', '.join(missing)}")
    for name, (what, fits) in SEARCHED_FIELDS.items():
        if not fits(policy[name]):
            raise WinnowError(f"{key}.{name} is {json.dumps(policy[name])}, not {what}")
