"""The augmentation policy chosen on the val split (issue 19, 001 §3.4): a cheap search over
TrivialAugment and RandAugment candidates (op subsets, ops per image, magnitudes), each scored by a short
training with that policy applied on the fly, by its best val accuracy (:func:`short_training_scorer`), or
by density matching (:func:`density_scorer`, Fast AutoAugment's criterion: one model, the candidates judged
by its accuracy on val images they augmented). No augmentation is scored too, as the reference (it never
wins: the search picks a policy).

All candidates train from the same seed on the same stratified sample of the train split, so they differ
by their policy alone (common random numbers: the noise of one short run is shared, not compared).

Read top to bottom: :func:`search`, the scorers (the candidates they score: :mod:`winnow.search_space`), then
:func:`read_policy` / :func:`policy_for`, which the balance and train stages use.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from winnow.configs import Policy, TrainConfig
from winnow.errors import WinnowError, first_line
# the candidates, here for the stage and the tests as before; the params check reads them there
from winnow.search_space import (  # noqa: F401
    NO_CANDIDATE, SEARCH_DEFAULTS, SEARCHED_FIELDS, candidate_name, candidates, challengers, check_searched, rand_ns,
    same_policy, search_settings, search_training,
)

SEARCHED = "data/augment-search/policy.json"
WRITTEN_BY = "augment-search"
class SearchResult(NamedTuple):
    """``policy``: the winner; ``table``: one row per candidate, no augmentation first (``policy`` None),
    each with its ``score`` and ``seconds``; ``incumbent``: with an incumbent, how the best challenger
    fared against it (``challenger``, ``gain``, ``gain_se``, ``bar_se``, ``kept``), else None."""

    policy: Policy
    table: list[dict[str, Any]]
    incumbent: dict[str, Any] | None = None


def search(policies: list[Policy], *, score: Callable[[Policy | None], Any], incumbent: bool = False,
           tie_se: float = 1.0) -> SearchResult:
    """Score no augmentation and every policy with ``score`` (higher is better); the best policy wins,
    the first of them on a tie (with ``incumbent``: the incumbent on a tie with it, and of challengers tied at the
    best score, the one whose per-image difference from the incumbent has the least spread, then the first).

    ``score`` returns float ``(M,)``, one value per val image (1.0 right, 0.0 wrong), or a plain number
    (no spread); a policy's score is the mean. With ``incumbent``, ``policies[0]`` (the hand-set policy)
    stays unless the best of the others beats it by more than a bar of standard errors of the paired
    per-image difference, taken about no difference (McNemar's, for right and wrong): ``tie_se`` for one
    challenger, raised for K so that K challengers no better than the incumbent displace it as rarely as one
    would (Bonferroni: 2.06 for ``tie_se`` 1 and K = 8). The
    best of K equals, tested as if it were one, displaced an equal incumbent in about half of the searches
    (a review's simulation, K = 8). Short trainings on one seed rank close policies by chance: on three
    benchmark sets their winners, chosen over the fixed policy by 7-39 val images of 500-808, did not gain
    more than it over three full-length fits (benchmarks/results/augment.md)."""
    if not policies:
        raise WinnowError(NO_CANDIDATE)
    table, per_image = [], []
    for policy in [None, *policies]:
        started = time.perf_counter()
        values = np.atleast_1d(np.asarray(score(policy), dtype=np.float64))
        per_image.append(values)
        table.append({"policy": None if policy is None else policy.to_params(), "score": float(values.mean()),
                      "seconds": round(time.perf_counter() - started, 2)})
    best = max(range(len(policies)), key=lambda i: (table[i + 1]["score"], -i))
    if not incumbent:
        return SearchResult(policies[best], table)
    bar = challenger_bar(tie_se, challengers=len(policies) - 1)
    if best == 0:  # no challenger scored higher
        return SearchResult(policies[0], table, {"challenger": None, "gain": 0.0, "gain_se": 0.0, "bar_se": bar,
                                                 "kept": True})
    # best is the best challenger: it outscored the incumbent. Of challengers tied at its score (the same gain), the
    # one whose images moved most alike (the least spread, so the largest z) is tested: the bar covers testing any of
    # the K. Before: the first in the lists, so their order decided whether balance.policy stayed (+3 of 20 images by
    # 10 won and 7 lost kept it; +3 by 3 won and none lost, listed first, replaced it)
    tied = [i for i in range(1, len(policies)) if table[i + 1]["score"] == table[best + 1]["score"]]
    best = min(tied, key=lambda i: (_spread(per_image[i + 1] - per_image[1]), i))
    difference = per_image[best + 1] - per_image[1]
    gain = float(difference.mean())
    gain_se = _spread(difference)
    kept = not gain > bar * gain_se
    return SearchResult(policies[0 if kept else best], table,
                        {"challenger": policies[best].to_params(), "gain": gain, "gain_se": gain_se, "bar_se": bar,
                         "kept": kept})


def _spread(difference: np.ndarray) -> float:
    """The standard error of the mean of the paired per-image ``difference`` (float ``(M,)``) about no difference,
    McNemar's (b - c) / sqrt(b + c) for right and wrong, not the spread about the gain, which shrinks as the gain nears
    every image. Before (ad7cafd0 mended its 0 alone): 3 val images won of 4, 1 tied, "+75.0 points (SE 25.0): beyond
    2.06 SE" replaced balance.policy, where one that won all 4 (SE 50.0) did not; and 2 val images all won, "+100.0
    points (SE 0.0)", replaced it at any tie_se."""
    return float(np.sqrt(np.mean(difference ** 2) / len(difference))) if len(difference) > 1 else 0.0


def challenger_bar(tie_se: float, *, challengers: int) -> float:
    """Standard errors the best of ``challengers`` must beat the incumbent by: the one-sided normal bar
    whose chance of being crossed by chance is that of ``tie_se`` for one challenger, divided among them."""
    from statistics import NormalDist

    # the tail by erfc: 1 - cdf(-tie_se) rounded to 1.0 past tie_se 8, and cdf's own 0.5 * (1 + erf) lost digits
    tail = 0.5 * math.erfc(tie_se / math.sqrt(2)) / max(challengers, 1)
    return -NormalDist().inv_cdf(tail)


def short_training_scorer(train_images: np.ndarray, train_labels: np.ndarray, val_images: np.ndarray,
                          val_labels: np.ndarray, *, config: TrainConfig, num_classes: int, seed: int,
                          max_images: int | None = None) -> Callable[[Policy | None], np.ndarray]:
    """A ``score`` for :func:`search`: float ``(M,)``, which val images the model of the epoch with the best
    val accuracy gets right, after :func:`winnow.training.fit` under ``config`` (the short budget) with the
    policy on the fly, on a stratified sample of ``max_images`` train images (all when None or not fewer)
    drawn once from ``seed`` (:func:`stratified_sample`).

    Args:
        train_images, val_images: uint8 ``(N, H, W, C)``; train_labels, val_labels: int ``(N,)``.
    """
    from winnow.training import fit, predict_proba

    rows = stratified_sample(train_labels, max_images=max_images, seed=seed)
    images, labels = train_images[rows], np.asarray(train_labels)[rows]
    truth = np.asarray(val_labels)

    def score(policy: Policy | None) -> np.ndarray:
        trained = fit(images, labels, val_images, val_labels, config=config, num_classes=num_classes, seed=seed,
                      policy=policy, progress=False)
        return (predict_proba(trained, val_images).argmax(1) == truth).astype(np.float64)

    return score


def density_scorer(train_images: np.ndarray, train_labels: np.ndarray, val_images: np.ndarray,
                   val_labels: np.ndarray, *, config: TrainConfig, num_classes: int, seed: int,
                   max_images: int | None = None, draws: int = 2) -> Callable[[Policy | None], np.ndarray]:
    """A ``score`` for :func:`search` by density matching (Fast AutoAugment, Lim et al. 2019): one model is
    fitted without augmentation, as :func:`short_training_scorer` fits each, and a policy scores, per val
    image, how often the model gets it right augmented by that policy (over ``draws`` seeds): the copies that
    still look like the data to a model of the data win. One training instead of one per candidate; the
    criterion favours mild policies. No augmentation scores the plain val accuracy.
    """
    from winnow.augment import augment
    from winnow.training import fit, predict_proba

    rows = stratified_sample(train_labels, max_images=max_images, seed=seed)
    trained = fit(train_images[rows], np.asarray(train_labels)[rows], val_images, val_labels, config=config,
                  num_classes=num_classes, seed=seed, progress=False)
    truth = np.asarray(val_labels)

    def right(images: np.ndarray) -> np.ndarray:
        return (predict_proba(trained, images).argmax(1) == truth).astype(np.float64)

    def score(policy: Policy | None) -> np.ndarray:
        if policy is None:
            return right(val_images)
        return np.mean([right(augment(val_images, policy=policy, seed=seed + d)[0]) for d in range(draws)], axis=0)

    return score


def stratified_sample(labels: np.ndarray, *, max_images: int | None, seed: int) -> np.ndarray:
    """int64 indices, sorted: exactly ``max_images`` of int ``(N,)`` ``labels``, each class keeping its
    share (at least one image; the images rounding leaves over go to the largest remainders, so the
    sample is the budget and no more); all of them when ``max_images`` is None or not below N.

    Raises:
        WinnowError: ``max_images`` below the number of classes, which cannot each keep one image."""
    labels = np.asarray(labels)
    if max_images is None or max_images >= len(labels):
        return np.arange(len(labels))
    names, counts = np.unique(labels, return_counts=True)
    if max_images < len(names):
        raise WinnowError(f"augment_search.max_images: {max_images} is fewer than the {len(names)} classes with train "
                          f"images, so some class would go unseen by the search; set at least {len(names)}, or null")
    take = _sample_counts(counts, max_images=int(max_images))
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == label), size=k, replace=False) for label, k in zip(names, take)]
    return np.sort(np.concatenate(chosen))


def _sample_counts(counts: np.ndarray, *, max_images: int) -> np.ndarray:
    """int64 ``(K,)``: how many of each class's ``counts`` (int ``(K,)``, each >= 1) a sample of exactly
    ``max_images`` (in ``[K, counts.sum()]``) takes: the class's share of it rounded down, at least one and
    at most all of the class, then one more each to the largest remainders (one fewer each from the
    smallest, where the at-least-one took too many). Rounding each share alone took 19 images for a budget of 15."""
    counts = np.asarray(counts, dtype=np.int64)
    quota = max_images * counts / counts.sum()
    take = np.clip(np.floor(quota).astype(np.int64), 1, counts)
    order = np.argsort(-(quota - take), kind="stable")  # largest remainder first; a tie to the first class
    while take.sum() < max_images:
        grow = next(k for k in order if take[k] < counts[k])
        take[grow] += 1
        order = np.argsort(-(quota - take), kind="stable")
    while take.sum() > max_images:
        shrink = next(k for k in order[::-1] if take[k] > 1)
        take[shrink] -= 1
        order = np.argsort(-(quota - take), kind="stable")
    return take


def read_policy(path: str = SEARCHED, *, fixed: Policy | None = None, settings: Mapping[str, Any] | None = None,
                training: Mapping[str, Any] | None = None, chosen_on: Callable[[], str] | None = None) -> Policy:
    """The policy the augment-search stage chose; a missing, damaged or invalid file, or one that lacks a
    field the stage writes (:func:`check_searched`), raises its one line (:func:`winnow.stage_reads.rerun_error`), and
    so does one chosen against another incumbent (its ``fixed``, augment_search.with_fixed's balance.policy) than
    ``fixed`` (balance.policy now; None: not compared), which the search never scored, or, compared, one that records
    no incumbent (no ``fixed``: an earlier winnow's); and one searched under other settings than ``settings``
    (:func:`search_settings` now; None: not compared), or, compared, one that records none (``searched_with``); and one
    whose trainings took another seed or train section than ``training`` (:func:`search_training` now; None: not
    compared), or, compared, one that records none (``trained_with``); and one chosen on other images than
    ``chosen_on`` gives (:func:`pruned_record` now; None: not compared), or, compared, one that records none
    (``chosen_on``)."""
    import json

    from winnow.stage_reads import read_json, rerun_error

    written = read_json(path, written_by=WRITTEN_BY, keys=("policy",))
    try:
        check_searched(written["policy"])
        chosen = Policy.from_params(written["policy"], where="policy")
    except (WinnowError, TypeError, ValueError) as err:
        raise rerun_error(path, f"holds no valid policy ({first_line(err)})", written_by=WRITTEN_BY) from err
    # the incumbent, held to the fields the stage writes as the policy is: before, "fixed": {} was read as the default
    # policy (a refusal then named defaults as the incumbent scored), and "fixed": "rotate" blamed the valid policy
    # for "unknown parameter(s) a, e, o, r, t" of balance.policy, which params.yaml holds
    try:
        if written.get("fixed") is not None:
            check_searched(written["fixed"], key="fixed")
        against = None if written.get("fixed") is None else Policy.from_params(written["fixed"], where="fixed")
    except (WinnowError, TypeError, ValueError) as err:
        raise rerun_error(path, f"records no valid incumbent it was chosen against ({first_line(err)})",
                          written_by=WRITTEN_BY) from err
    # before: a file without the record (an earlier winnow's: no "fixed" key, where null is a search that scored no
    # incumbent) was read unchecked, so after balance.policy was edited the policy chosen against the old one applied
    if fixed is not None and "fixed" not in written:
        raise rerun_error(path, "records no incumbent it was chosen against (fixed: the balance.policy it scored, or "
                                "null): made by an earlier winnow or by hand", written_by=WRITTEN_BY)
    # before: balance.policy edited and balance (or train@<v> under train.augment searched) run alone, the policy
    # chosen against the old one was applied; where the search had kept it, the old balance.policy itself, exit 0
    if fixed is not None and against is not None and not same_policy(against, fixed):
        then, now = against.to_params(), fixed.to_params()
        key = next((k for k in then if (set(then[k]) != set(now[k]) if k == "ops" else then[k] != now[k])), "ops")
        raise rerun_error(path, f"chosen against balance.policy.{key} {json.dumps(then[key])} (the incumbent it "
                                f"scored), but params.yaml gives {json.dumps(now[key])} now", written_by=WRITTEN_BY)
    # before: augment_search edited (with_fixed, op_sets, epochs, ...) and balance or train@<v> run alone, the policy
    # the old search chose was applied without a word
    if settings is not None:
        if not isinstance(written.get("searched_with"), dict):
            raise rerun_error(path, "records no search settings it was chosen under (searched_with): made by an "
                                    "earlier winnow or by hand", written_by=WRITTEN_BY)
        then = written["searched_with"]
        key = next((k for k in [*settings, *then] if not _same_setting(k, then.get(k), settings.get(k))), None)
        if key is not None:
            raise rerun_error(path, f"searched under augment_search.{key} {json.dumps(then.get(key))}, but params.yaml "
                                    f"gives {json.dumps(settings.get(key))} now", written_by=WRITTEN_BY)
        # the pick is the incumbent or a candidate of those settings: before, a policy edited by hand into another valid
        # one ([invert] at 0.5) was applied by balance and train as the search's pick, exit 0
        scored = [*([] if against is None else [against]),
                  *candidates(**{k: settings[k] for k in ("op_sets", "kinds", "ns", "magnitudes", "fill")})]
        if not any(same_policy(chosen, policy) for policy in scored):
            raise rerun_error(path, f"holds a policy the search never scored ({candidate_name(chosen)}: "
                                    f"{'not balance.policy, nor' if against is not None else 'not'} one of the "
                                    "candidates augment_search gives): edited by hand or by another tool",
                              written_by=WRITTEN_BY)
    # before: the seed or the train section edited (train.model, train.lr, ...) and balance or train@<v> run alone, the
    # policy the old trainings chose was applied without a word (augment-search reads both: dvc.yaml)
    if training is not None:
        if not isinstance(written.get("trained_with"), dict):
            raise rerun_error(path, "records no training it was chosen by (trained_with): made by an earlier winnow "
                                    "or by hand", written_by=WRITTEN_BY)
        then, now = written["trained_with"], json.loads(json.dumps(training))  # as JSON holds it
        key = next((k for k in [*now, *(k for k in then if k not in now)] if then.get(k) != now.get(k)), None)
        if key is not None:
            raise rerun_error(path, f"chosen by trainings with {key} {json.dumps(then.get(key))}, but params.yaml "
                                    f"gives {json.dumps(now.get(key))} now", written_by=WRITTEN_BY)
    # before: variants or degrade rerun since (a verdict, a cleaner's decision, other damage) and balance (or train@<v>
    # under train.augment: searched) run alone, the policy the trainings on the old pruned chose was applied, exit 0
    # and a file without the record (an earlier winnow's, or by hand), as one without fixed, searched_with or
    # trained_with is: before, it was read unchecked, so a policy chosen on the old pruned applied after any change
    # and one that is no sha256 (pruned_record's) too: before, "chosen_on": "" or "x" blamed pruned, "chosen on other
    # train or val images", as a null or a number did before 82886f76
    if chosen_on is not None and not (isinstance(written.get("chosen_on"), str)
                                      and re.fullmatch("[0-9a-f]{64}", written["chosen_on"])):
        raise rerun_error(path, "records no images it was chosen on (chosen_on): made by an earlier winnow or by hand",
                          written_by=WRITTEN_BY)
    if chosen_on is not None and written["chosen_on"] != chosen_on():
        raise rerun_error(path, "chosen on other train or val images of pruned (ids, labels or pixels) than "
                                "data/variants/pruned and its imagesets give now", written_by=WRITTEN_BY)
    return chosen


def pruned_record(loaded=None) -> str:
    """sha256 of the ids, labels and pixel digests of the images a search on pruned trains and scores on
    (:func:`winnow.variants.learnt_ids`: its kept train images, then data/ingest's val split), as they are now, or as
    ``loaded`` holds them (``(train, val)`` of :func:`winnow.variants.load_variant`): the searched policy records those
    it was chosen on (``chosen_on``) and :func:`read_policy` holds it to the files'. Before, the stage took the record
    of the files after it had loaded the images: pruned rewritten in between was recorded as the images searched on."""
    import hashlib

    from winnow.variants import learnt_ids, loaded_ids

    digest = hashlib.sha256()
    for column in (learnt_ids("pruned") if loaded is None else loaded_ids(*loaded)):
        digest.update("\n".join(map(str, column.tolist())).encode() + b"\0")
    return digest.hexdigest()


def _same_setting(key: str, then: Any, now: Any) -> bool:
    """Whether the ``augment_search.<key>`` a policy was searched under (``then``) is ``now``'s: ``op_sets`` alike
    where each set holds the same ops in any order, whose candidates make the same copies (:func:`same_policy`), as
    balance.policy's ops are compared with the incumbent's (before: [rotate, shear] for [shear, rotate] was refused,
    a search to rerun for the same candidates)."""
    if key != "op_sets" or not isinstance(then, list):
        return then == now
    try:
        return [frozenset(ops) for ops in then] == [frozenset(ops) for ops in now]
    except TypeError:  # a hand-made record of other than lists of names
        return False


def is_fixed(params: Mapping[str, Any], which: str, policy: Policy) -> bool:
    """Whether ``policy``, :func:`policy_for`'s of ``which``, is balance.policy, also when the search kept it: a refusal
    of what it does then names balance.policy's settings, not augment_search's. Kept only under with_fixed: without it
    the search never scores balance.policy, and a candidate alike to it is the search's pick (before: "raise
    balance.policy.magnitude", and the search, rerun, picked the same candidate). Alike as :func:`read_policy` takes it
    to be balance.policy: before, the kept policy with balance.policy's ops listed in another order since was the
    search's, "raise augment_search.magnitudes"."""
    with_fixed = (params.get("augment_search") or {}).get("with_fixed", True)
    return which == "fixed" or bool(with_fixed) and same_policy(policy, policy_for(params, "fixed"))


def policy_for(params: Mapping[str, Any], which: str) -> Policy | None:
    """The policy ``train.augment`` or the balance stage names: ``none`` → None, ``fixed`` →
    ``balance.policy`` (its defaults where left out), ``searched`` → :func:`read_policy`, chosen against
    balance.policy as it is now where the search scored it, searched and trained as params.yaml says now, on pruned
    as it is now."""
    if which == "none":
        return None
    if which == "fixed":
        return Policy.from_params((params.get("balance") or {}).get("policy") or {})
    if which == "searched":
        return read_policy(fixed=policy_for(params, "fixed"), settings=search_settings(params),
                           training=search_training(params), chosen_on=pruned_record)
    raise WinnowError(f"train.augment: {which!r} is not one of none, fixed, searched")
