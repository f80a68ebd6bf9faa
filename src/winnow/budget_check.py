"""The budget's model check (:mod:`winnow.budget` step 5): the probe's winner against doing nothing once more,
each trained by the model the variants train (``train.model``, as the train section says) and judged on the judge
images instead of the probe (:func:`check_budget`). A label cleaning ships only if that model measures it better;
the filters ship unless its model gets fewer judge images right with them, and are checked alone (one more training, none's
reused) when a label cleaning is held back, unless the probe scored them more than a tie below none. Why, and the cases
measured: :mod:`winnow.budget`, :class:`ModelCheck`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from winnow.budget import Budget
from winnow.decision_rows import apply_decisions


@dataclass(frozen=True)
class ModelCheck:
    """The winner against none, each trained by the variants' model and judged on the judge images.

    A label cleaning ships only if its model gets more judge images right than none's (:attr:`holds`): a
    tie or a loss ships none. The burden of proof is on the cleaning, as in :func:`winnow.budget_choice.choose` (a
    cleaning has to beat doing less), because one pair of trainings is a noisy judge and the promise is never
    to ship worse than doing nothing; a cleaning with no real effect costs nothing when held back. Measured
    cases (val images right, none against the winner, then the winner's test macro F1 against baseline over 3
    seeds): CIFAR-10 default damage 391 vs 390 (-3.5 points) and, on another machine, 395 vs 372 (-3.2);
    CIFAR-10N random1 9 of 807 fewer (-2.4 and -2.8 on two seeds); MNIST-5k 483 vs 485 (+1.1). The rule
    before this one let a winner one image below none ship, and the first CIFAR-10 case shipped.

    The filters (``candidate`` ``filters``) carry a lighter burden (:meth:`not_worse`): they ship unless their
    model gets fewer judge images right than none's; a tie ships them. They exist for the contracts
    (duplicates, leaks, flagged images), which a model judged on val is nearly blind to; before, a label
    cleaning tied with none (MNIST-5k, lenet5: 481 vs 481) shipped none, and pruned kept its 164 duplicate
    copies and failed its contract. A loss of any size holds them back, not only one beyond a tie: CIFAR-10N
    random1's filters above (9 of 807 fewer, 0.8 standard errors: within one) tested 2.4 and 2.8 points of
    macro F1 below baseline, and the promise is never to ship a measured loss.

    Attributes:
        none_hits, winner_hits: float64 ``(J,)``, 1 where that training classifies a judge image right.
        candidate: the winner's name.
    """

    none_hits: np.ndarray
    winner_hits: np.ndarray
    candidate: str = "winner"

    @property
    def holds(self) -> bool:
        """Whether the winner's model gets more judge images right than none's: otherwise it does not ship."""
        return float(self.winner_hits.sum()) > float(self.none_hits.sum())

    def not_worse(self) -> bool:
        """Whether the winner's model gets at least as many judge images right as none's (the filters' rule)."""
        return float(self.winner_hits.sum()) >= float(self.none_hits.sum())

    def metrics(self, *, filters: bool = False) -> dict:
        """The figures for metrics/budget.json's ``model_check`` block; for a check of the ``filters`` also
        ``ships`` (:meth:`not_worse`). ``gap_images``: none's judge images right less the winner's; ``gap_se``: its
        standard error about no difference, the root of the judge images one training got right and the other wrong
        (McNemar's), shown beside the gap; the verdict is by the counts alone (:attr:`holds`)."""
        difference = np.asarray(self.none_hits, np.float64) - np.asarray(self.winner_hits, np.float64)
        # the spread about no difference, McNemar's sqrt(b + c) for right and wrong (as augment-search's): 0 only where
        # no judge image moved, a gap of 0. Before, the spread about the gap (budget_choice.paired_gap, the probe's), 0
        # where every judge image moved alike: "none 0 right, top10% 2 of 2 (gap -2 images, SE 0.0): top10% stands", and
        # one judge image, "gap -1 images, SE 0.0", a gain of one image shown as certain
        out = {"candidate": self.candidate, "judged": len(self.none_hits), "none_correct": int(self.none_hits.sum()),
               "winner_correct": int(self.winner_hits.sum()), "gap_images": int(difference.sum()),
               "gap_se": float(np.sqrt(np.sum(difference ** 2))), "holds": self.holds}
        return out | {"ships": self.not_worse()} if filters else out


def check_augmentation(params: dict) -> tuple[object, str]:
    """``(policy, name)``: the :class:`winnow.augment.Policy` (or None) the model check trains with, as the
    variants train (``train.augment`` on every batch), and how its metrics name it. The searched policy is
    chosen on pruned, which the budget decides, so under ``searched`` the check trains without one."""
    from winnow.augment_search import policy_for

    which = (params.get("train") or {}).get("augment", "none")
    if which == "searched":
        return None, "none (train.augment searched: its policy is chosen on pruned, after the budget)"
    return policy_for(params, which), which


def model_check(baseline: pd.DataFrame, decisions: pd.DataFrame, *, train_images: np.ndarray,
                judge_images: np.ndarray, judge_labels: np.ndarray, fit_and_predict,
                exclude: np.ndarray | None = None, candidate: str = "winner",
                train_rows: np.ndarray | None = None, none_hits: np.ndarray | None = None) -> ModelCheck:
    """Train twice, on baseline and on baseline with ``decisions`` applied, and judge both.

    Args:
        baseline: :func:`winnow.variants.baseline_rows`, ``N`` train rows; decisions: the winner's.
        train_images: uint8 ``(M, H, W, C)``: row ``train_rows[i]`` (default ``i``) is baseline row i, so a
            caller hands the whole imageset and only the images each training learns from are copied;
            judge_images: uint8 ``(J, H, W, C)`` and judge_labels int ``(J,)``, trusted.
        fit_and_predict: ``(images, labels) -> classes`` int ``(J,)``: a model trained on those train
            images and labels, its class for each judge image (the stage's: train.model trained as the
            train section says with the run's seed, the judge split as its val).
        exclude: bool ``(N,)``, train images neither training learns from (copies of judge images).
        none_hits: float64 ``(J,)``, 1 where none's model classifies a judge image right, when a model trained
            exactly as ``fit_and_predict`` would train on baseline already exists (the represent stage's judge,
            or an earlier check's :attr:`ModelCheck.none_hits`): that training is then not repeated.
    """
    exclude = np.zeros(len(baseline), bool) if exclude is None else np.asarray(exclude, bool)
    train_rows = np.arange(len(baseline)) if train_rows is None else np.asarray(train_rows, np.int64)
    judge_labels = np.asarray(judge_labels, np.int64)

    def hits(rows: pd.DataFrame) -> np.ndarray:
        learn = (rows["action"] != "drop").to_numpy() & ~exclude
        classes = fit_and_predict(train_images[train_rows[learn]], rows["label"].to_numpy(np.int64)[learn])
        return (np.asarray(classes) == judge_labels).astype(np.float64)

    none = hits(baseline) if none_hits is None else np.asarray(none_hits, np.float64)
    return ModelCheck(none, hits(apply_decisions(baseline, decisions)), candidate)


def check_budget(budget: Budget, baseline: pd.DataFrame, *, none_hits: np.ndarray | None = None,
                 **training) -> tuple[Budget, ModelCheck, ModelCheck | None]:
    """``(shipped, check, filters_check)``: the model check of ``budget``'s winner (not none) and, when that
    holds back a label cleaning (a ``top`` cut or ``all``) and ``budget.filters`` was judged within a tie of none,
    of the filters alone, and what ships after them (:meth:`winnow.budget.Budget.checked`).
    none is trained once at most (never when ``none_hits`` is given): the filters' check reuses the first
    check's none. ``training``: :func:`model_check`'s ``train_images``, ``train_rows``, ``judge_images``,
    ``judge_labels``, ``fit_and_predict`` and ``exclude``."""
    check = model_check(baseline, budget.decisions, candidate=budget.winner, none_hits=none_hits, **training)
    filters_check = None
    if budget.winner != "filters" and not check.holds and budget.filters is not None:
        # before: a label cleaning tied with none shipped none and the filters went with it (MNIST-5k: pruned kept
        # its 164 duplicate copies and failed its contract)
        filters_check = model_check(baseline, budget.filters, candidate="filters", none_hits=check.none_hits,
                                    **training)
    return budget.checked(check, filters_check=filters_check), check, filters_check
