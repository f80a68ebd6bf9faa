"""Linear probes on a fixed embedding: the cheap judge that never trains a network.

A probe is multinomial logistic regression on standardised features, fitted by full-batch L-BFGS on one
thread (deterministic). It gives what the cleaners need from an embedding that never saw the labels
(``winnow.represent``):

- :func:`out_of_sample_probs`: K-fold predicted probabilities, each image scored by a probe that did
  not see its label (cleanlab's recipe for images with pretrained features), and val images scored by
  the same fold probes;
- :func:`choose_l2`: the ridge strength that scores best on the val split, and that score;
- :func:`label_log_probs`: the log-probability a probe gives each image's label, the score of
  ``choose_l2`` and of the cleaning budget (``winnow.budget``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from winnow.errors import WinnowError

# ridge strengths tried on val: from almost none to strong enough that a 1,280-d embedding of a few
# thousand images cannot memorise its labels (EfficientNet-Lite0 features of the CIFAR subset with human
# noise: 1-3)
L2_GRID = (1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass(frozen=True)
class Probe:
    """A fitted probe: ``softmax(((x - mean) / std) @ weight + bias)``.

    Attributes:
        weight: float32 ``(D, K)``; bias: float32 ``(K,)``; mean, std: float64 ``(D,)`` of the
            training features (:func:`_standardised`).
    """

    weight: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """float32 ``(N, K)`` class probabilities of float ``(N, D)`` features."""
        x = _standardised(torch.from_numpy(np.array(features, np.float32)), self.mean, self.std)
        with _one_thread():  # float64: a row far outside the training features' range overflowed float32 to NaN
            return torch.softmax(x @ self.weight.double() + self.bias.double(), dim=1).float().numpy()


def fit_probe(features: np.ndarray, labels: np.ndarray, *, num_classes: int, l2: float,
              max_iter: int = 100) -> Probe:
    """Fit one probe.

    Args:
        features: float ``(N, D)``, finite; labels: int ``(N,)`` in ``[0, num_classes)``.
        l2: the ridge strength on the weights (mean squared weight times ``l2`` is added to the
            mean cross-entropy), > 0.
    """
    x, y = _checked(features, labels, num_classes=num_classes)
    x64 = x.double()
    mean, std = x64.mean(0), x64.std(0)
    std = torch.where(std > 0, std, 1.0)  # a constant column is 0 once centred: it carries nothing
    x = _standardised(x64, mean, std).float()  # within sqrt(N) of 0: float32 holds it
    weight = torch.zeros(x.shape[1], num_classes, requires_grad=True)
    bias = torch.zeros(num_classes, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], lr=1, max_iter=max_iter, history_size=20,
                                  line_search_fn="strong_wolfe")

    def loss():
        optimiser.zero_grad()
        value = F.cross_entropy(x @ weight + bias, y) + l2 * weight.pow(2).sum() / num_classes
        value.backward()
        return value

    with _one_thread():
        optimiser.step(loss)
    return Probe(weight.detach(), bias.detach(), mean, std)


def _standardised(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """float64 ``(N, D)``: float ``x`` less float64 ``mean``, over float64 ``std``. Before, in float32 with std
    floored at 1e-6: finite features of 1e37 summed past float32's range (a traceback from the optimiser), a row of
    3e38 came out of its held-out probe as a NaN row of pred_probs.npy, and features scaled by 1e-30 or a constant
    column of 1e30 (whose float32 mean missed its value) left a judge at chance."""
    return (x.double() - mean) / std


@contextmanager
def _one_thread():
    """torch on one intra-op thread inside the block. A probe's products are small ((N, D) by (D, K)):
    more threads only add synchronisation (on 2 shared cores the MNIST-5k confident-learn stage took 33 s
    on torch's 2 threads, 17 s on one), and one thread gives the same sums on every machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def choose_l2(train_features: np.ndarray, train_labels: np.ndarray, val_features: np.ndarray,
              val_labels: np.ndarray, *, num_classes: int, grid=L2_GRID) -> tuple[float, float]:
    """(the ridge strength of ``grid`` whose probe, fitted on train, is most accurate on val, that accuracy).

    Ties go to the lower val cross-entropy. They are common where the classes separate (every ridge right
    on every val image), and there the stronger ridges are the vaguer judges: on four tight clusters the
    strongest probe of :data:`L2_GRID` gives its class about 0.3, and cleanlab, whose thresholds are each
    class's mean confidence, then found one of three planted flips (the sharpest: all three).
    """
    if len(val_labels) == 0:
        raise WinnowError("the val split is empty: a probe's ridge strength and strength as a judge are chosen "
                          "on it (set ingest.val_fraction above 0)")
    val_labels = np.asarray(val_labels, np.int64)
    scores = []
    for l2 in grid:
        probs = fit_probe(train_features, train_labels, num_classes=num_classes, l2=l2).predict_proba(val_features)
        cross_entropy = -label_log_probs(probs, val_labels).mean()
        scores.append((float((probs.argmax(1) == val_labels).mean()), -float(cross_entropy)))
    best = max(range(len(grid)), key=lambda i: scores[i])
    return float(grid[best]), scores[best][0]


def label_log_probs(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """float ``(N,)``: the log of each row's probability of its label (``probs`` float ``(N, K)``, ``labels``
    int ``(N,)``), floored at 1e-12 so a confident miss costs about 28 nats rather than infinity."""
    return np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None))


def out_of_sample_probs(features: np.ndarray, labels: np.ndarray, *, num_classes: int, l2: float, folds: int = 5,
                        seed: int = 0, val_features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """K-fold probabilities: ``(float32 (N, K), float32 (M, K))``.

    Row i of the first comes from a probe fitted on the other folds (stratified by label, dealt with
    ``seed``), never on row i. Row j of the second, for ``val_features`` float ``(M, D)`` (None: M = 0),
    comes from the probe of the fold that row j is dealt to (a seeded deal, no label read), so a val image
    is judged by a probe fitted on the same share of the train rows as a train image is.
    """
    from winnow.out_of_sample import dealt_folds, stratified_folds

    labels = np.asarray(labels, np.int64)
    val_features = np.zeros((0, np.shape(features)[1]), np.float32) if val_features is None else val_features
    fold_of = stratified_folds(labels, folds=folds, seed=seed)
    val_fold_of = dealt_folds(len(val_features), folds=folds, seed=seed)
    out = np.zeros((len(labels), num_classes), np.float32)
    val_out = np.zeros((len(val_features), num_classes), np.float32)
    for fold in range(folds):
        held_out = fold_of == fold
        probe = fit_probe(features[~held_out], labels[~held_out], num_classes=num_classes, l2=l2)
        out[held_out] = probe.predict_proba(features[held_out])
        val_part = val_fold_of == fold
        if val_part.any():
            val_out[val_part] = probe.predict_proba(val_features[val_part])
    return out, val_out


def _checked(features, labels, *, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = np.array(features, np.float32)  # copies: torch wants writable memory, and the inputs may be memory maps
    y = np.array(labels, np.int64)
    if x.ndim != 2 or len(x) != len(y) or len(y) == 0:
        raise WinnowError(f"probe: features {x.shape} and {len(y)} labels do not pair up (need (N, D) and N >= 1)")
    if not np.isfinite(x).all():
        raise WinnowError(f"probe: {int((~np.isfinite(x)).any(1).sum())} feature row(s) are not finite")
    if y.min() < 0 or y.max() >= num_classes:
        raise WinnowError(f"probe: labels outside [0, {num_classes})")
    return torch.from_numpy(x), torch.from_numpy(y)
