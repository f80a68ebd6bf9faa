"""Linear probes on a fixed embedding: the cheap judge that never trains a network.

A probe is multinomial logistic regression on standardised features, fitted by full-batch L-BFGS
(deterministic for a thread count). It gives what the cleaners need from an embedding that never saw
the labels (``winnow.represent``):

- :func:`out_of_sample_probs`: K-fold predicted probabilities, each image scored by a probe that did
  not see its label (cleanlab's recipe for images with pretrained features);
- :func:`choose_l2`: the ridge strength that scores best on the val split, and that score, which is
  how far the judge can be trusted;
- :func:`val_accuracy`: how well a candidate training set teaches a probe, the quick model that
  chooses a cleaning budget (``winnow.budget``).
"""

from __future__ import annotations

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
        weight: float32 ``(D, K)``; bias: float32 ``(K,)``; mean, std: float32 ``(D,)`` of the
            training features.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """float32 ``(N, K)`` class probabilities of float ``(N, D)`` features."""
        x = (torch.as_tensor(np.asarray(features, np.float32)) - self.mean) / self.std
        return torch.softmax(x @ self.weight + self.bias, dim=1).numpy()


def fit_probe(features: np.ndarray, labels: np.ndarray, *, num_classes: int, l2: float,
              max_iter: int = 100) -> Probe:
    """Fit one probe.

    Args:
        features: float ``(N, D)``, finite; labels: int ``(N,)`` in ``[0, num_classes)``.
        l2: the ridge strength on the weights (mean squared weight times ``l2`` is added to the
            mean cross-entropy), > 0.
    """
    x, y = _checked(features, labels, num_classes=num_classes)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    x = (x - mean) / std
    weight = torch.zeros(x.shape[1], num_classes, requires_grad=True)
    bias = torch.zeros(num_classes, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], lr=1, max_iter=max_iter, history_size=20,
                                  line_search_fn="strong_wolfe")

    def loss():
        optimiser.zero_grad()
        value = F.cross_entropy(x @ weight + bias, y) + l2 * weight.pow(2).sum() / num_classes
        value.backward()
        return value

    optimiser.step(loss)
    return Probe(weight.detach(), bias.detach(), mean, std)


def choose_l2(train_features: np.ndarray, train_labels: np.ndarray, val_features: np.ndarray,
              val_labels: np.ndarray, *, num_classes: int, grid=L2_GRID) -> tuple[float, float]:
    """(the ridge strength of ``grid`` whose probe, fitted on train, is most accurate on val, that accuracy).
    Ties go to the stronger ridge, the simpler judge."""
    if len(val_labels) == 0:
        raise WinnowError("the val split is empty: a probe's ridge strength and strength as a judge are chosen "
                          "on it (set ingest.val_fraction above 0)")
    scores = [val_accuracy(train_features, train_labels, val_features, val_labels, num_classes=num_classes, l2=l2)
              for l2 in grid]
    best = max(range(len(grid)), key=lambda i: (scores[i], grid[i]))
    return float(grid[best]), float(scores[best])


def val_accuracy(train_features: np.ndarray, train_labels: np.ndarray, val_features: np.ndarray,
                 val_labels: np.ndarray, *, num_classes: int, l2: float) -> float:
    """Accuracy on val of a probe fitted on the given training set."""
    probe = fit_probe(train_features, train_labels, num_classes=num_classes, l2=l2)
    return float((probe.predict_proba(val_features).argmax(1) == np.asarray(val_labels)).mean())


def out_of_sample_probs(features: np.ndarray, labels: np.ndarray, *, num_classes: int, l2: float, folds: int = 5,
                        seed: int = 0) -> np.ndarray:
    """float32 ``(N, K)``: row i from a probe fitted on the other folds (stratified by label), never on i."""
    from winnow.labels import stratified_folds

    labels = np.asarray(labels, np.int64)
    fold_of = stratified_folds(labels, folds=folds, seed=seed)
    out = np.zeros((len(labels), num_classes), np.float32)
    for fold in range(folds):
        held_out = fold_of == fold
        probe = fit_probe(features[~held_out], labels[~held_out], num_classes=num_classes, l2=l2)
        out[held_out] = probe.predict_proba(features[held_out])
    return out


def _checked(features, labels, *, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = np.asarray(features, np.float32)
    y = np.asarray(labels, np.int64)
    if x.ndim != 2 or len(x) != len(y) or len(y) == 0:
        raise WinnowError(f"probe: features {x.shape} and {len(y)} labels do not pair up (need (N, D) and N >= 1)")
    if not np.isfinite(x).all():
        raise WinnowError(f"probe: {int((~np.isfinite(x)).any(1).sum())} feature row(s) are not finite")
    if y.min() < 0 or y.max() >= num_classes:
        raise WinnowError(f"probe: labels outside [0, {num_classes})")
    return torch.from_numpy(x), torch.from_numpy(y)
