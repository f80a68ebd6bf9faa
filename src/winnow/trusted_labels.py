"""Whether the trusted split's labels can be believed: the budget stage judges its candidates on the trusted split
when ingest read one, so labels of their own class order, or paired with the wrong images, would choose among them
by nonsense. :func:`trusted_doubt` gives the warning line when none's probe and val say so."""

from __future__ import annotations

import numpy as np

from winnow.probe import fit_probe


DOUBT_ALPHA = 0.01  # how unlikely, by val's mistakes, the trusted split's confusions of all classes together are


def trusted_doubt(train_features: np.ndarray, train_labels: np.ndarray, *, l2: float, judge_features: np.ndarray,
                  judge_labels: np.ndarray, val_features: np.ndarray, val_labels: np.ndarray,
                  classes: list[str]) -> str | None:
    """The warning line when the trusted split's labels contradict what none's probe (fitted on float ``(M, D)``
    ``train_features`` with int ``(M,)`` ``train_labels``, ridge ``l2``) learnt and val confirms: a class most of
    whose trusted images (float ``(J, D)``, int ``(J,)``) it puts in one other class, while it puts most of that
    class's val images (float ``(V, D)``, int ``(V,)``) in their own, and so many of them that val's rate of that
    class's mistakes (Laplace-smoothed) makes it unlikely (binomial tail below :data:`DOUBT_ALPHA` over the classes).
    A careless val agreeing with train's mistakes shifts no class's majority; a trusted set with its class order
    reversed or labels shifted does. None if no class does."""
    from scipy import stats  # here: only a trusted split asks, and its import took 0.7 CPU s of every budget run

    k = len(classes)
    probe = fit_probe(train_features, train_labels, num_classes=k, l2=l2)
    on_judge, on_val = probe.predict_proba(judge_features).argmax(1), probe.predict_proba(val_features).argmax(1)
    judged, seen = np.zeros((k, k), np.int64), np.zeros((k, k), np.int64)  # rows: the label; columns: the prediction
    np.add.at(judged, (judge_labels, on_judge), 1)
    np.add.at(seen, (val_labels, on_val), 1)
    other = judged - np.diag(np.diag(judged))
    into = other.argmax(1)
    # before: "most" of a class of one trusted image was that one image: a rightly labelled trusted set of 120
    # images over 60 classes, which the probe got right more often than val (0.93 against 0.92), was called
    # mislabelled in 6 of 10 draws for a class whose one image was predicted as another
    slips = (seen.sum(1) - np.diag(seen) + 1) / (seen.sum(1) + 2)
    unlikely = stats.binom.sf(other[np.arange(k), into] - 1, judged.sum(1), slips) < DOUBT_ALPHA / k
    odd = sorted((a for a in range(k) if 2 * other[a, into[a]] > judged[a].sum() and 2 * seen[a, a] > seen[a].sum()
                  and unlikely[a]), key=lambda a: -other[a, into[a]])
    if not odd:
        return _unrelated_labels(judged, seen)
    pairs = ", ".join(f"{classes[a]!r} as {classes[into[a]]!r} ({other[a, into[a]]} of {judged[a].sum()})"
                      for a in odd[:3]) + (f" and {len(odd) - 3} more class(es)" if len(odd) > 3 else "")
    right = int(np.trace(judged))
    return (f"warning: budget: the trusted split's labels disagree with the probe far beyond what val shows: none's "
            f"probe gets {right} of {len(judge_labels)} trusted images right ({right / len(judge_labels):.4f}) and "
            f"{np.trace(seen) / len(val_labels):.4f} of val; most trusted images of {pairs} are predicted as another "
            "class, which val does not show, so the choice above was made on those labels: check the class names and "
            "labels of ingest.trusted_path (a class order of its own?)")


def _unrelated_labels(judged: np.ndarray, seen: np.ndarray) -> str | None:
    """The warning line when none's probe gets the trusted split's labels right no more often than labels drawn apart
    from its predictions would (binomial tail at or above :data:`DOUBT_ALPHA`), while it gets val's right far more
    often and val's rate makes so few right on the trusted split unlikely (below :data:`DOUBT_ALPHA`: a trusted split
    of 3 images, all right, is as likely by chance as by val's rate, and no sign of anything); ``judged``, ``seen``:
    int ``(K, K)`` confusions (rows: the label, columns: the prediction) of the trusted split and of val. Labels
    paired with the wrong images (an .npz's labels one row off, or shuffled) spread each class over all of them, so no
    class's majority moves to one other class (:func:`trusted_doubt`). Before, a trusted split of shuffled labels
    chose all (240 wrong relabels beside 120 fixes: log-loss rewards the vaguest probe on labels it cannot learn), and
    nothing said so. None otherwise."""
    from scipy import stats

    def by_chance(table: np.ndarray) -> tuple[float, float]:
        """The share right by labels drawn apart from the predictions, and the tail of getting as many right so."""
        n = int(table.sum())
        share = float(table.sum(1) @ table.sum(0)) / n ** 2
        return share, float(stats.binom.sf(np.trace(table) - 1, n, share))

    (chance, trusted_tail), (_, val_tail) = by_chance(judged), by_chance(seen)
    right, n, val_rate = int(np.trace(judged)), int(judged.sum()), np.trace(seen) / seen.sum()
    if trusted_tail < DOUBT_ALPHA or val_tail >= DOUBT_ALPHA or stats.binom.cdf(right, n, val_rate) >= DOUBT_ALPHA:
        return None
    return (f"warning: budget: the trusted split's labels look unrelated to its images: none's probe gets {right} of "
            f"{n} trusted images right ({right / n:.4f}), no more than labels drawn at random in the same class shares "
            f"would ({chance:.4f}), and {val_rate:.4f} of val, so the choice above was "
            "made on those labels: check that ingest.trusted_path pairs each image with its own label (an .npz's "
            "labels in the order of its images?)")
