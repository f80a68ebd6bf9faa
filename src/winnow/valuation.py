"""Data valuation: which train images help the model on the val split and which hurt it (issue 23, 001 §3.2).

The cleaners judge an image by how it looks or where it sits among its neighbours; a value says what the
image does to a model judged on val labels, which are trusted. Two estimators, both on the represent
stage's embedding, both positive for an image that helps and negative for one that hurts:

- :func:`knn_shapley`: the exact Shapley value of each train image for a K-nearest-neighbour classifier's
  val accuracy (Jia et al. 2019, "Efficient task-specific data valuation for nearest neighbor
  algorithms", Theorem 1), in closed form from each val image's ranking of the train images: no model is
  trained;
- :func:`tracin`: TracIn (Pruthi et al. 2020) on a linear layer over the embedding (a softmax probe)
  trained here by SGD: the sum over its checkpoints of ``lr * grad loss(train image) . grad loss(val
  mean)``, the first-order drop of the val loss that a step on the image causes. The per-image gradient of
  the last linear layer is ``(softmax - onehot) (x) [features, 1]``, so every dot product is closed form.

:func:`decide` turns the two into keep | drop decisions: an image is dropped when both estimators value it
reliably below zero (by more than ``bound`` standard errors over the val images).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from winnow.configs import VALUE_COMBINE
from winnow.errors import WinnowError, check_neighbour_count
from winnow.neighbours import silent_rows
from winnow.progress_env import progress_bar

ESTIMATORS = ("knn_shapley", "tracin")
DECISION_COLUMNS = ("id", "given_label", "suggested_label", "decision", "reason", "is_issue", "knn_shapley",
                    "tracin", "harm")
# The fewest val images of a class for its train images to be valued. Only a val image that carries an image's
# given label can value it positively (kNN-Shapley's match term, TracIn's one-hot), so with none every image of
# the class is valued at or below zero by construction (MNIST-5k, no val image of '7': all 120 dropped, 35 with
# its 50), and with one the positive side rests on a single observation whose spread, which the standard error
# is made of, cannot be measured. Two is enough in practice: on MNIST-5k's default damage, three draws of 2 val
# images a class dropped 150, 120 and 123 train images, 149, 118 and 123 of them planted label noise.
MIN_CLASS_VAL = 2


def _pairs(train_features, train_labels, val_features, val_labels) -> tuple[np.ndarray, ...]:
    """The four arrays as float32 / int64 copies (torch wants writable memory; the inputs may be memory maps),
    checked to pair up."""
    x, y = np.array(train_features, np.float32), np.array(train_labels, np.int64)
    vx, vy = np.array(val_features, np.float32), np.array(val_labels, np.int64)
    if x.ndim != 2 or vx.ndim != 2 or x.shape[1] != vx.shape[1] or len(x) != len(y) or len(vx) != len(vy):
        raise WinnowError(f"valuation: train features {x.shape} with {len(y)} labels and val features {vx.shape} "
                          f"with {len(vy)} labels do not pair up (need (N, D), (N,), (M, D), (M,))")
    if len(x) == 0 or len(vx) == 0:
        raise WinnowError("valuation: no train or no val images; values are measured on the val split "
                          "(set ingest.val_fraction above 0)")
    return x, y, vx, vy


@dataclass(frozen=True)
class Values:
    """One estimator's values: the mean over the val images of what each train image does to each.

    Attributes:
        mean: float64 ``(N,)``, the value (positive helps, negative hurts).
        se: float64 ``(N,)``, its standard error over the val images (the spread of the per-val-image
            values over sqrt(M)): how far the val split's draw could move it.
        val_accuracy: the valued model's accuracy on val (None where none is trained).
    """

    mean: np.ndarray
    se: np.ndarray
    val_accuracy: float | None = None

    @classmethod
    def of(cls, total: torch.Tensor, squares: torch.Tensor, m: int, **info) -> "Values":
        """From the per-train-image sums of the per-val values and of their squares over ``m`` val images.

        One val image has no spread: its standard error is infinite (no value is reliable), not 0 (every
        negative value "reliably" negative, as it was)."""
        mean = total / m
        if m < 2:
            return cls(mean.cpu().numpy(), np.full(len(mean), np.inf), **info)
        variance = (squares / m - mean.square()).clamp_min(0) * m / (m - 1)
        return cls(mean.cpu().numpy(), (variance / m).sqrt().cpu().numpy(), **info)

    def take(self, rows: np.ndarray) -> "Values":
        """The values of the train images ``rows`` (indices or a bool mask)."""
        return Values(self.mean[rows], self.se[rows], self.val_accuracy)

    def t(self) -> np.ndarray:
        """float64 ``(N,)``: mean / se, 0 where both are 0 (an image no val image ranks differently from
        any other)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(self.se > 0, self.mean / self.se, np.copysign(np.inf, self.mean))
        return np.where((self.se == 0) & (self.mean == 0), 0.0, t)  # before: 0 * inf, NaN


def knn_shapley(train_features: np.ndarray, train_labels: np.ndarray, val_features: np.ndarray,
                val_labels: np.ndarray, *, k: int = 10, batch_size: int = 256, device: torch.device | None = None,
                progress: bool = False) -> "Values":
    """Each train image's Shapley value for the val accuracy of a ``k``-NN classifier (cosine similarity).

    For one val image, with the train images sorted nearest first (``a_1 .. a_N``) and ``m_j`` = 1 when
    ``a_j`` carries the val image's label: ``s(a_N) = m_N / N`` and ``s(a_j) = s(a_{j+1}) + (m_j - m_{j+1})
    / k * min(k, j) / j`` (Jia et al. 2019, Theorem 1), a reverse cumulative sum computed for a batch of
    val images at once. Train images a val image finds equally near (copies, all-zero rows) are a tie no
    position may break: their values are the mean over every order of the tie (:func:`_tied_values`), so they do
    not hang on the images' ids. The value is the mean over the val images; one whose features are all zero is
    left out (:func:`winnow.neighbours.silent_rows`: as near to every train image as to any other, it has no
    neighbours).

    Args:
        train_features: float ``(N, D)``; train_labels: int ``(N,)`` (the given labels, on trial).
        val_features: float ``(M, D)``; val_labels: int ``(M,)`` (trusted).
        k: the classifier's neighbours, >= 1 (at most N are used).
        batch_size: val images ranked at once (memory: about 60 bytes per pair of a batch's val image and a train
            image, the similarities, the sort's order and the float64 values: 0.3 GB at 256 and N = 20,000).
        device: where the sorting runs (None: CPU).

    Returns:
        :class:`Values`; the values sum to the k-NN classifier's val accuracy (the empty set scores 0).
        Positive helps, negative hurts.
    """
    x, y, vx, vy = _pairs(train_features, train_labels, val_features, val_labels)
    if k < 1:
        raise WinnowError(f"valuation.knn_k: {k!r} is below 1")
    device = device or torch.device("cpu")
    n = len(x)
    # past n every train image is a neighbour of every val image: all values equal, nothing told apart
    # the range offered stops below n, which is refused just below: before, knn_k 100 of 60 train images was told to
    # choose from [1, 60], and 60 was then refused
    check_neighbour_count(k, n, where="data_valuation.knn_k", among="train images", largest=max(n - 1, 1))
    if k == n and n > 1:
        # at k = n too: every step's weight is 1 / n, so s(a_j) = m_j / n, never below zero: a value is only the
        # share of val images carrying the image's label, and no image could be dropped (a probe met 0 of 1,200
        # flagged, 120 of them planted flips, reported as if valued)
        raise WinnowError(f"data_valuation.knn_k: {k} is every one of the {n} train images, so each val image's "
                          "neighbours are all of them and kNN-Shapley values no image below zero (its value is its "
                          "label's share of the val images over N); choose an integer in "
                          f"[1, {n - 1}], well below the train set's size")
    # an all-zero val row (a ReLU model's, for an image none of its units answers) lies at similarity 0 to every train
    # image: its order is a tie the stable sort broke by position. Before, its values landed on the first train images
    # by id (a zero row of class 1 among 40 train images of alternating classes, k 5: -0.097 and +0.103 for the first
    # six, under 0.002 past the thirtieth). It ranks none, as it has no vote in embedding-clean (silent_rows)
    answered = ~silent_rows(vx)
    if not answered.any():
        raise WinnowError(f"valuation: every one of the {len(vx)} val images has an all-zero feature row, as near to "
                          "each train image as to any other, so no train image is a val image's neighbour and "
                          "kNN-Shapley values none; the representation answers none of them (see represent.source)")
    vx, vy = vx[answered], vy[answered]
    train = F.normalize(torch.from_numpy(x).to(device), dim=1)
    # each distinct row once, so copies (and all-zero rows) get bit-equal similarities: a tie is then exact
    distinct, copy_of = torch.unique(train, dim=0, return_inverse=True)
    labels = torch.from_numpy(y).to(device)
    j = torch.arange(1, n + 1, device=device, dtype=torch.float64)
    # rank j's weight min(k, j) / (k j): 1 / N at the last rank, as k < N
    weight = torch.clamp(j, max=k) / (k * j)
    total = torch.zeros(n, dtype=torch.float64, device=device)
    squares = torch.zeros(n, dtype=torch.float64, device=device)
    starts = range(0, len(vx), batch_size)
    if progress:
        starts = progress_bar(starts, desc="data-valuation knn-shapley", unit="batch")
    for start in starts:
        query = F.normalize(torch.from_numpy(vx[start:start + batch_size]).to(device), dim=1)
        near, order = torch.sort((query @ distinct.T)[:, copy_of], dim=1, descending=True, stable=True)
        match = (labels[order] == torch.from_numpy(vy[start:start + batch_size]).to(device)[:, None]).double()
        shapley = _tied_values(near, match, weight)
        total.scatter_add_(0, order.reshape(-1), shapley.reshape(-1))
        squares.scatter_add_(0, order.reshape(-1), shapley.reshape(-1).square())
    return Values.of(total, squares, len(vx))


def _tied_values(near: torch.Tensor, match: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """float64 ``(B, N)``: the kNN-Shapley value of the train image at each rank, for ``B`` val images whose train
    images sorted nearest first have similarities ``near`` and ``match`` (1 where the image carries the val image's
    label), rank j weighing ``weight[j]``.

    Untied, ``s(a_j) = m_j w_j + sum_{i > j} m_i (w_i - w_{i-1})`` (Theorem 1's recursion summed). Within a tie the
    order is any of its orders alike, and the value is the mean over them: for rank j in a tie G of g ranks, ``m_j
    mean_G(w) + (sum_G m - m_j) C_G + sum_{i after G} mean_{G(i)}(m) (w_i - w_{i-1})``, with ``C_G = sum_t t
    (w_{p+t} - w_{p+t-1}) / (g (g - 1))`` over G's ranks p + t. Before, the stable sort broke a tie by position:
    two copies of a picture labelled 0 and 1, a val image's nearest, took 0.83 and -0.17 (1-NN), swapped with their
    ids; the mean over both orders gives them 0.625 and -0.375 whichever comes first.

    An untied rank's value is the recursion's on ``m`` with each tie's ranks given the tie's mean label; only the
    ranks in a tie (few: copies, zero rows, an ulp's coincidence) are worked apart. Before, every rank was (a dozen
    passes over ``(B, N)``): 50,000 train by 5,000 val images of 64 features took 2.2 to 2.6 times as long as before
    ties were averaged (157 s against 71 s, one thread); now 1.1 times."""
    new = torch.ones_like(match, dtype=torch.bool)
    new[:, 1:] = near[:, 1:] != near[:, :-1]
    in_tie = ~new
    in_tie[:, :-1] |= ~new[:, 1:]  # a tie's first rank too
    row, col = in_tie.nonzero(as_tuple=True)  # row by row, rank by rank: a tie's ranks are consecutive
    starts = new[row, col]
    tie = torch.cumsum(starts, 0) - 1  # which tie, at each tied rank

    def tie_total(values: torch.Tensor) -> torch.Tensor:  # each tied rank's tie's total of values
        total = torch.zeros(int(tie[-1]) + 1 if len(tie) else 0, dtype=torch.float64, device=match.device)
        return total.scatter_add_(0, tie, values)[tie]

    rise = torch.zeros_like(weight)
    rise[1:] = weight[1:] - weight[:-1]  # w_i - w_{i-1}; the first rank's is never used
    first = col[starts][tie]
    size = tie_total(torch.ones_like(weight[col]))
    m = match[row, col]
    sum_m = tie_total(m)
    mean_match = match.clone()
    mean_match[row, col] = sum_m / size
    step = torch.empty_like(match)  # the recursion on the ties' mean labels: s(a_j) = sum of the steps from j to N
    step[:, :-1] = (mean_match[:, :-1] - mean_match[:, 1:]) * weight[:-1]
    step[:, -1] = mean_match[:, -1] * weight[-1]
    shapley = step.flip(1).cumsum(1).flip(1)
    last = first + size.long() - 1
    after = shapley[row, last] - mean_match[row, last] * weight[last]  # the ranks after the tie
    pair = tie_total((col - first).double() * rise[col]) / (size * (size - 1))
    shapley[row, col] = m * tie_total(weight[col]) / size + (sum_m - m) * pair + after
    return shapley


def tracin(train_features: np.ndarray, train_labels: np.ndarray, val_features: np.ndarray, val_labels: np.ndarray,
           *, num_classes: int, epochs: int = 10, lr: float = 0.1, batch_size: int = 64, weight_decay: float = 1e-4,
           val_batch_size: int = 256, seed: int = 0, device: torch.device | None = None,
           progress: bool = False) -> Values:
    """TracIn-CP on a softmax probe ``softmax(theta^T [x, 1])`` over standardised features, trained here by
    plain minibatch SGD (constant ``lr``, ``weight_decay`` on the weights, not the bias) for ``epochs``
    epochs, one checkpoint after each.

    At checkpoint t, with ``e_i = softmax_i - onehot(y_i)`` (``(K,)``) and ``z_i = [x_i, 1]``, the gradient of
    image i's cross-entropy with respect to ``theta`` is the outer product ``z_i e_i^T``, so the dot product of
    two images' gradients is ``(e_i . e_v)(z_i . z_v)``: the influence of train image i on val image v is
    ``sum_t lr (e_i^t . e_v^t) (z_i . z_v)``, computed for a batch of val images at once as ``(N, B)`` matrix
    products, no per-image backward pass. The value is its mean over the val images, which equals the dot
    product with the val images' mean gradient (TracIn against the val loss).

    Args:
        train_features: float ``(N, D)``; train_labels: int ``(N,)`` in ``[0, num_classes)``.
        val_features: float ``(M, D)``; val_labels: int ``(M,)``.
        epochs: the budget: epochs of SGD, one checkpoint each.
        val_batch_size: val images whose influences are computed at once (memory: ``N * val_batch_size``).
        seed: the shuffling of the minibatches.
        device: where it trains (None: CPU).

    Returns:
        :class:`Values` with the probe's val accuracy at the last checkpoint; a value is positive when
        training on the image lowered the val loss.
    """
    x, y, vx, vy = _pairs(train_features, train_labels, val_features, val_labels)
    if y.min() < 0 or y.max() >= num_classes or vy.min() < 0 or vy.max() >= num_classes:
        raise WinnowError(f"valuation: labels outside [0, {num_classes})")
    # each step scales the weights by 1 - lr * weight_decay before the gradient: at 0 or below the decay erases
    # (or flips) what the probe learnt every step, and below -1 the weights grow without bound; softmax saturates,
    # so a slow growth need not end in the non-finite values _diverged catches, and the values would be noise
    if lr * weight_decay >= 1:
        # named by the one further above its default: lr 1e6 at the default decay once blamed weight_decay
        if lr / 0.1 > weight_decay / 1e-4:
            raise WinnowError(f"data_valuation.tracin.lr: {lr:g} at weight_decay {weight_decay:g} makes each SGD step "
                              f"scale the weights by 1 - lr * weight_decay = {1 - lr * weight_decay:g}, where a probe "
                              "that learns needs a factor just under 1; lower data_valuation.tracin.lr (the default "
                              "is 0.1)")
        raise WinnowError(f"data_valuation.tracin.weight_decay: {weight_decay:g} at lr {lr:g} makes each SGD step "
                          f"scale the weights by 1 - lr * weight_decay = {1 - lr * weight_decay:g}, where a probe that "
                          "learns needs a factor just under 1; lower data_valuation.tracin.weight_decay so that "
                          "lr * weight_decay is well below 1 (the default is 1e-4)")
    device = device or torch.device("cpu")
    mean, std = x.mean(0), np.maximum(x.std(0), 1e-6)

    def lifted(features: np.ndarray) -> torch.Tensor:  # standardised features with a 1 for the bias: (n, D + 1)
        z = torch.from_numpy((features - mean) / std).to(device, torch.float64)
        return torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype, device=device)], dim=1)

    z, vz = lifted(x), lifted(vx)
    onehot = F.one_hot(torch.from_numpy(y).to(device), num_classes).double()
    val_onehot = F.one_hot(torch.from_numpy(vy).to(device), num_classes).double()
    theta = torch.zeros(z.shape[1], num_classes, dtype=torch.float64, device=device)  # rows: D weights, then bias
    decay = torch.ones(z.shape[1], 1, dtype=torch.float64, device=device)
    decay[-1] = 0.0
    generator = torch.Generator().manual_seed(seed)
    errors, val_errors = [], []  # per checkpoint: (N, K) and (M, K), each scaled by the step's lr
    epochs_run = range(epochs)
    if progress:
        epochs_run = progress_bar(epochs_run, desc="data-valuation tracin", unit="epoch")
    for _ in epochs_run:
        order = torch.randperm(len(z), generator=generator).to(device)
        for start in range(0, len(z), batch_size):
            rows = order[start:start + batch_size]
            error = torch.softmax(z[rows] @ theta, dim=1) - onehot[rows]
            theta -= lr * (z[rows].T @ error / len(rows) + weight_decay * decay * theta)
        errors.append(lr * (torch.softmax(z @ theta, dim=1) - onehot))
        val_errors.append(torch.softmax(vz @ theta, dim=1) - val_onehot)
        if not (torch.isfinite(errors[-1]).all() and torch.isfinite(val_errors[-1]).all()):
            _diverged(lr, weight_decay)
    error, val_error = torch.cat(errors, dim=1), torch.cat(val_errors, dim=1)  # checkpoints side by side
    total = torch.zeros(len(z), dtype=torch.float64, device=device)
    squares = torch.zeros_like(total)
    for start in range(0, len(vz), val_batch_size):
        rows = slice(start, start + val_batch_size)
        influence = (error @ val_error[rows].T) * (z @ vz[rows].T)  # (N, B): summed over the checkpoints
        total += influence.sum(1)
        squares += influence.square().sum(1)
    if not (torch.isfinite(total).all() and torch.isfinite(squares).all()):
        _diverged(lr, weight_decay)
    accuracy = float(np.mean((vz @ theta).argmax(1).cpu().numpy() == vy))
    return Values.of(total, squares, len(vz), val_accuracy=accuracy)


def _diverged(lr: float, weight_decay: float) -> None:
    """A step too large: the influences would be NaN or infinite, every value equal or meaningless. The step is
    lr's: a weight decay that could diverge (lr * weight_decay >= 1) is refused before training."""
    raise WinnowError(f"data_valuation.tracin.lr: the probe diverged (non-finite weights) at lr {lr:g} with "
                      f"weight_decay {weight_decay:g}; lower data_valuation.tracin.lr")


def thin_classes(train_labels: np.ndarray, val_labels: np.ndarray) -> dict[int, int]:
    """Label -> its number of val images, for each class of ``train_labels`` with fewer than
    :data:`MIN_CLASS_VAL` val images: its train images cannot be valued (see there)."""
    counts = np.bincount(np.asarray(val_labels, np.int64),
                         minlength=int(np.max(train_labels, initial=-1)) + 1)
    return {int(c): int(counts[c]) for c in np.unique(train_labels) if counts[c] < MIN_CLASS_VAL}


def harm(values: dict[str, np.ndarray]) -> np.ndarray:
    """float64 ``(N,)`` in [0, 1]: how surely an image hurts, the mean over the estimators of the share of
    images valued above it (1: the lowest value under every estimator). Ranks, not values, because the two
    estimators' units differ; ties take their mean rank, so equal values rank equally."""
    n = len(next(iter(values.values())))
    if n == 1:
        return np.zeros(1)
    shares = [(n - average_ranks(v)) / (n - 1) for v in values.values()]
    return np.mean(shares, axis=0)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """float64 ``(N,)``: 1-based ranks of ``values`` float ``(N,)``, ties sharing their mean rank (scipy's
    ``rankdata(method="average")``, whose module takes 1.6 s to import, for the few lines it needs here)."""
    _, group, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)  # the rank of each distinct value's last copy
    return (last - (counts - 1) / 2)[group].astype(np.float64)


def decide(ids: np.ndarray, given: np.ndarray, values: dict[str, Values], *, bound: float = 1.0,
           combine: str = "both") -> pd.DataFrame:
    """One keep | drop decision per image.

    An estimator finds an image harmful when its value is reliably negative: at least ``bound`` standard
    errors (over the val images) below zero, the one-SE rule of the cleaning budget (``budget.tie_se``), so a
    value that another draw of val images could turn positive is no evidence. ``combine: both`` (the
    conservative default) drops an image only when every estimator finds it harmful: two unlike
    measurements, a neighbour vote and a trained layer's gradients, agree that it hurts; ``either`` when one
    does. An image no val image tells apart from the rest (value and error 0) is never dropped.

    Args:
        ids: ``(N,)``; given: int ``(N,)``, the given labels.
        values: estimator name (:data:`ESTIMATORS`) -> its :class:`Values`.
        bound: standard errors, >= 0.

    Returns:
        :data:`DECISION_COLUMNS`: ``suggested_label`` -1 (a value names no better label), ``reason``
        ``negative_value`` for a drop, each estimator's value, ``harm`` as :func:`harm`.
    """
    if combine not in VALUE_COMBINE:
        raise WinnowError(f"data_valuation.combine: {combine!r} is not one of {', '.join(VALUE_COMBINE)}")
    if not bound >= 0:
        raise WinnowError(f"data_valuation.bound: {bound!r} is below 0; give standard errors, 0 or more")
    harmful = np.stack([v.t() < -bound for v in values.values()])
    drop = harmful.all(0) if combine == "both" else harmful.any(0)
    table = pd.DataFrame({
        "id": np.asarray(ids, dtype=object), "given_label": np.asarray(given, np.int64),
        "suggested_label": np.full(len(drop), -1, np.int64),
        "decision": np.where(drop, "drop", "keep"), "reason": np.where(drop, "negative_value", ""),
        "is_issue": drop, **{name: v.mean for name, v in values.items()},
        "harm": harm({name: v.mean for name, v in values.items()}),
    })
    return table.loc[:, list(DECISION_COLUMNS)]
