"""Around the GAN: which classes are weak, which generated samples to keep, how close they come to the
real ones, and a grid of samples to look at.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pandas as pd

from winnow.configs import check_weak_k
from winnow.errors import WinnowError
from winnow.param_values import show
from winnow.stage import atomic_path


def weak_classes(scores: dict[str, float], *, k: int | None, below: float | None,
                 classes: int | None = None) -> list[str]:
    """The classes with the lowest scores (per-class F1, or train image counts), lowest first.

    ``below`` keeps those scoring under the bound, ``k`` caps how many; with neither, none are weak.
    ``classes``: how many classes there are, when some have no score (no val image to take an F1 on); a ``k``
    above it is refused, one above the scored classes alone takes them all.
    """
    check_weak_k(k)
    total = len(scores) if classes is None else classes
    # before: the scored classes were counted, so with 3 classes, one without a val image, weak_k 4 was refused as
    # "more than the 2 classes; set at most 2", where 3 ran (on the 2 scored, with a warning)
    if k is not None and k > total:
        raise WinnowError(f"gan.weak_k: {k} is more than the {total} classes; set at most {total}")
    ranked = sorted(scores, key=scores.get)  # stable: ties keep class order
    if below is not None:
        ranked = [c for c in ranked if scores[c] < below]
    elif k is None:
        raise WinnowError("gan: set weak_k or weak_below to choose the weak classes")
    return ranked if k is None else ranked[:k]


def no_weak_class(scores: dict[str, float], *, by: str, below: float, k: int | None) -> str:
    """The refusal when ``below`` (gan.weak_below) leaves no class of ``scores`` (:func:`weak_classes`'s, by ``by``,
    gan.weak_by) weak, ``k`` being gan.weak_k (or None): the lowest score, rounded up so that a bound above the figure
    shown is above the score, and how to take classes in. Before: "raise it, set gan.weak_k", though weak_k only caps
    the classes under the bound, so no weak_k made one weak, and "raise it" named no figure."""
    lowest = min(scores, key=scores.get)
    score = scores[lowest]
    figure = f"{math.ceil(score * 10_000) / 10_000:g}"
    what = "F1" if by == "f1" else "pruned train image count"
    # an F1 of 1 is no rate a bound can lie above (the params check refuses a weak_below above 1)
    raise_it = "" if by == "f1" and score >= 1 else f"raise it above {figure}, or "
    if by == "f1" and figure == "1" and score < 1:
        # an F1 within 0.0001 of 1 (0.99995 of 10,000 val images, one missed): rounded up it read "the lowest F1 is
        # 1 ... raise it above 1", a bound the params check refuses, where 1 itself takes the class in
        figure, raise_it = f"{score:.10g}", "set it to 1, or "
    lowest_k = (f"set it null to take the {k} lowest (gan.weak_k)" if k is not None else
                "set it null and gan.weak_k to how many of the lowest to take")
    return (f"gan.weak_below: {show(below)} makes no class weak: the lowest {what} is {figure}, of class {lowest!r}; "
            f"{raise_it}{lowest_k}, or leave augmented out of variants")


def unlearnable(weak: list[str], train_labels: np.ndarray, classes: list[str]) -> list[str]:
    """The weak classes without a train image: the GAN never sees them, so its samples of them are noise
    labelled as the class (its class embedding is never trained)."""
    present = set(np.unique(np.asarray(train_labels, np.int64)).tolist())
    return [name for name in weak if classes.index(name) not in present]


def confident(probs: np.ndarray, intended: np.ndarray, *, threshold: float | np.ndarray,
              top_class: bool = False) -> np.ndarray:
    """bool ``(N,)``: the classifier gives the intended class more than its threshold and, with ``top_class``, more
    than any other class. real_median bounds (:func:`real_thresholds`) can lie below 0.5 (a baseline trained on noisy
    labels is rarely sure), and a sample above one that the classifier gives more to another class is a picture of
    that class labelled as this one: before, such samples were kept (0.35 to its class, 0.60 to another, under a
    bound of 0.3). A number the person set is taken as it is.

    Args:
        probs: float ``(N, classes)`` softmax probabilities of the generated images.
        intended: int ``(N,)`` the class each image was generated for.
        threshold: one bound for all classes, or float ``(classes,)`` one per class.
    """
    bound = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (probs.shape[1],))
    if not ((bound >= 0.0) & (bound < 1.0)).all():
        raise WinnowError(f"gan.threshold: must be in [0, 1), got {threshold}")
    rows = np.arange(len(intended))
    mine = probs[rows, intended]
    kept = mine > bound[intended]
    if top_class:
        others = np.array(probs, dtype=np.float64)
        others[rows, intended] = -np.inf
        kept &= mine > others.max(axis=1, initial=-np.inf)
    return kept


def repeats(digests: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """bool ``(N,)``: the ``kept`` samples (bool ``(N,)``) whose pixels equal an earlier kept sample's (object ``(N,)``
    pixel ``digests``): a generator that collapsed onto a few images (one colour, saturated tanh) draws them again
    and again, and the filter keeps every one its class's classifier recognises. The first of each stays."""
    out = np.zeros(len(kept), bool)
    out[np.flatnonzero(kept)] = pd.Series(np.asarray(digests, dtype=object)[kept]).duplicated().to_numpy()
    return out


def repeats_warning(repeated: np.ndarray, intended: np.ndarray, *, classes: list[str], kept: int) -> str | None:
    """The one warning line when the filter's ``kept`` samples held ``repeated`` ones (bool ``(N,)``, :func:`repeats`,
    of int ``(N,)`` ``intended`` classes), dropped; None when none did. Names the class with the most."""
    if not repeated.any():
        return None
    counts = np.bincount(np.asarray(intended)[repeated], minlength=len(classes))
    worst = int(np.argmax(counts))
    return (f"warning: gan-synthesize: {int(repeated.sum())} of the {kept} samples the filter kept equal an earlier "
            f"kept sample pixel for pixel ({counts[worst]} of {classes[worst]!r}), so augmented takes the first of "
            "each alone; the generator repeats itself (mode collapse): train the GAN longer (gan.train.epochs), or "
            "leave augmented out of variants")


def real_copies(digests: np.ndarray, kept: np.ndarray, *, real: pd.DataFrame) -> np.ndarray:
    """bool ``(N,)``: the ``kept`` samples (bool ``(N,)``) whose pixels (object ``(N,)`` ``digests``) equal a real
    image's, of ``real`` (``id``, ``split``, ``digest``: data/ingest's val, test and trusted images and pruned's train
    images). Such a sample is no new image: a held-out one learnt by train@augmented flatters the score it is chosen or
    judged by, a train one is in augmented twice (under two labels when another class's). Before: kept, exit 0, and
    the variant's contract, which measures data/degrade's images alone, could not see them."""
    out = np.zeros(len(kept), bool)
    out[np.flatnonzero(kept)] = pd.Series(np.asarray(digests, dtype=object)[kept]).isin(real["digest"]).to_numpy()
    return out


def real_copies_warning(copied: np.ndarray, digests: np.ndarray, ids: np.ndarray, *, real: pd.DataFrame,
                        kept: int) -> str | None:
    """The one warning line when ``copied`` samples (bool ``(N,)``, :func:`real_copies`, of object ``(N,)`` ``digests``
    and ``ids``) were dropped from the ``kept`` ones; None when none was. Names the first, by a held-out image first."""
    if not copied.any():
        return None
    pairs = pd.DataFrame({"sample": np.asarray(ids, dtype=object)[copied],
                          "digest": np.asarray(digests, dtype=object)[copied]}).merge(real, on="digest")
    held = pairs[pairs["split"] != "train"]
    first = (held if len(held) else pairs).iloc[0]
    return (f"warning: gan-synthesize: {int(copied.sum())} of the {kept} samples the filter kept equal a real image "
            f"pixel for pixel (first: {first['sample']!r} is {first['split']} image {str(first['id'])!r}), so "
            "augmented leaves them out: train@augmented would learn a val, test or trusted image, or a train image "
            "again; the generator copies real images (memorisation or mode collapse): give the weak classes more train "
            "images, or leave augmented out of variants")


def emptied_warning(filtered: np.ndarray, kept: np.ndarray, intended: np.ndarray, *,
                    classes: list[str]) -> str | None:
    """The one warning line when a weak class (int ``(N,)`` ``intended``) had samples the filter kept (bool ``(N,)``
    ``filtered``) and none is left in ``kept`` (bool ``(N,)``: each was a copy of a real image or a repeat, left out)
    while other classes' samples joined augmented; None otherwise (with none joined, the copies' line says so). Before:
    the class got no sample, and the copies' line gave a count over all classes alone."""
    labels = np.asarray(intended)
    emptied = [classes[label] for label in np.unique(labels)
               if filtered[labels == label].any() and not kept[labels == label].any()]
    if not emptied or not kept.any():
        return None
    named = ", ".join(map(repr, emptied))
    one = len(emptied) == 1
    return (f"warning: gan-synthesize: weak class{'' if one else 'es'} {named} get{'s' if one else ''} no sample: "
            f"every sample of {'it' if one else 'them'} the filter kept equals a real image or an earlier kept sample "
            f"pixel for pixel (above), so augmented adds none of {'it' if one else 'them'}; give "
            f"{'the class' if one else 'the classes'} more train images, or leave augmented out of variants")


def real_thresholds(probs: np.ndarray, labels: np.ndarray, *, quantile: float = 0.5) -> np.ndarray:
    """float ``(classes,)``: per class, the ``quantile`` of the classifier's probability for the true class
    over real images of it — "as confident as a typical real image". A classifier trained on noisy labels
    is rarely confident even on real images, so a fixed bound like 0.9 would reject nearly every sample of
    a weak class; this bound moves with the classifier. Classes without real images get 0.5.

    Args:
        probs: float ``(N, classes)`` probabilities of real (val) images; labels: int ``(N,)``.
    """
    true_class = probs[np.arange(len(labels)), labels]
    out = np.full(probs.shape[1], 0.5)
    for label in np.unique(labels):
        out[label] = np.quantile(true_class[labels == label], quantile)
    return np.minimum(out, 0.999)


def acceptance(accepted: np.ndarray, intended: np.ndarray, *, classes: list[str]) -> dict[str, dict]:
    """Per generated class: ``generated``, ``accepted`` and their ratio ``rate``."""
    out = {}
    for label in np.unique(intended):
        mine = intended == label
        out[classes[label]] = {"generated": int(mine.sum()), "accepted": int(accepted[mine].sum()),
                               "rate": float(accepted[mine].mean())}
    return out


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to float ``(n, d)`` and ``(m, d)`` feature sets.

    ||mu_a - mu_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)); the imaginary part sqrtm leaves from
    rounding is dropped.
    """
    from scipy import linalg

    mu = a.mean(axis=0) - b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # scipy's "matrix is singular ... might be inaccurate": take the ridge instead
        warnings.simplefilter("error", linalg.LinAlgWarning)
        try:
            root = linalg.sqrtm(cov_a @ cov_b)
        except linalg.LinAlgWarning:
            root = np.full_like(cov_a, np.nan)
    if not np.isfinite(root).all():
        # features that barely vary (a class of one repeated image, a generator collapsed to one sample) leave
        # covariances of rounding dust (1e-31) whose product's root came out NaN, and metrics/gan.json said NaN;
        # a ridge of 1e-6 on both, as pytorch-fid adds in this case, makes it finite; added to the traces too, so
        # it is the distance of two as slightly widened Gaussians (pytorch-fid's is 2e-6 per dimension short)
        cov_a, cov_b = cov_a + 1e-6 * np.eye(len(cov_a)), cov_b + 1e-6 * np.eye(len(cov_b))
        with warnings.catch_warnings():  # with the ridge, what scipy's root gives is the distance this reports
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            root = linalg.sqrtm(cov_a @ cov_b)
    # the covariances' term within rounding of their traces is rounding: equal sets gave -8e-40 without the ridge
    # and 1.7e-21 with it, a distance where there is none
    spread = float(np.trace(cov_a + cov_b - 2.0 * np.real(root)))
    if abs(spread) <= 1e-9 * float(np.trace(cov_a + cov_b)):
        spread = 0.0
    return max(0.0, float(mu @ mu) + spread)


def class_frechet(real: np.ndarray, generated: np.ndarray, *, seed: int) -> dict:
    """Generated-vs-real Fréchet distance of one class beside a real-vs-real reference of the same size.

    The real features are split at random into halves A and B; the reference is FD(A, B), the score
    FD(G, B) with G as many generated samples as A holds, so both carry the same small-sample bias: with
    fewer generated samples than a half, A is cut to their number (``samples``). Before: A stayed a half,
    and 53 samples drawn from the real images' own distribution scored 7.06 against a reference of 3.32
    (10 of them 2.59 against 0.27), as if far from the real images. A covariance needs well over ``d``
    samples: with fewer than ``2 d`` both sides are projected onto the top ``samples // 2`` principal
    components of the real features, and ``dims`` says how many were used.

    Args:
        real, generated: float ``(n, d)``, ``(m, d)`` classifier features of one class.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(real))
    half = len(real) // 2
    out = {"real_images": int(len(real)), "generated_images": int(len(generated))}
    if half < 2 or len(generated) < 2:
        return {**out, "samples": 0, "dims": 0, "generated": None, "real_reference": None,
                "note": "too few images for a covariance"}
    size = min(half, len(generated))
    a, b = real[order[:size]], real[order[half:2 * half]]
    g = generated[rng.permutation(len(generated))[:size]]
    dims = real.shape[1]
    if size < 2 * dims:
        dims = max(1, size // 2)
        centre = real.mean(axis=0)
        basis = np.linalg.svd(real - centre, full_matrices=False)[2][:dims].T  # (d, dims)
        a, b, g = ((x - centre) @ basis for x in (a, b, g))
    return {**out, "samples": int(size), "dims": int(dims), "generated": frechet_distance(g, b),
            "real_reference": frechet_distance(a, b)}


def sample_grid(samples: dict[str, np.ndarray], path: str | os.PathLike, *, columns: int = 10,
                notes: dict[str, str] | None = None) -> None:
    """A PNG with one row per class of up to ``columns`` uint8 ``(n, S, S, C)`` images."""
    from matplotlib.figure import Figure

    rows = max(1, len(samples))
    fig = Figure(figsize=(columns * 0.9, rows * 1.0 + 0.3))
    # one axes a row, its images tiled by numpy: an axes per image (70 for balance's grid) took seconds
    for ax, (name, images) in zip(np.atleast_1d(fig.subplots(rows, 1)), samples.items()):
        ax.axis("off")
        if len(images):
            ax.imshow(_strip(images[:columns], columns=columns), cmap="gray", vmin=0, vmax=255)
        note = (notes or {}).get(name, "")
        # a class "$\foo$" is a name, never a formula; set on the title alone: before, matplotlib's rcParams, which an
        # in-process caller (a notebook) was left with, its own "$x^2$" then drawn as typed
        ax.set_title(f"{name} {note}".strip(), fontsize=8, loc="left", parse_math=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)


def _strip(images: np.ndarray, *, columns: int, gap: int = 2) -> np.ndarray:
    """uint8 ``(S, columns * (S + gap), C)`` or ``(S, ..)`` for one channel: the images side by side on
    white, the unused places left white so every row of a grid has the same width."""
    n, height, width, channels = images.shape
    strip = np.full((height, columns * (width + gap), channels), 255, np.uint8)
    for i, image in enumerate(images):
        strip[:, i * (width + gap): i * (width + gap) + width] = image
    return strip[..., 0] if channels == 1 else strip


def _offered(surest: float) -> float:
    """The figure :func:`kept_none_warning` offers a number below: ``surest`` rounded down to thousandths."""
    return math.floor(surest * 1000) / 1000


def kept_none_warning(threshold, *, surest: float, outranked: tuple[str, float] | None = None,
                      also_kept: int = 0) -> str:
    """The line for a filter that kept no sample at ``gan.threshold``; ``surest``: the highest probability a sample is
    given of its class (under real_median, of those the baseline gives more of their class than of any other:
    :func:`surest_sample`). A number below it, rounded down to thousandths, keeps that sample: before, "lower
    gan.threshold" named no figure, and under real_median (no number to lower) "a number below the real images'
    median confidence", a figure printed nowhere, kept none again where the samples lie further below. ``outranked``:
    under real_median where no sample is so, the class the surest sample is given as much or more of, and that
    probability; training longer is then the one way. ``also_kept``: under real_median, the samples given as much or
    more of another class that every number below the figure keeps too (a number drops the top-class rule)."""
    start = "warning: gan-synthesize: the filter kept no sample, so augmented holds pruned's images alone; train the GAN"
    if outranked is not None:
        # before: "or set gan.threshold to a number below 0.35", which keeps those samples, each a picture the baseline
        # takes for another class, under the weak class's label: what real_median's top-class rule leaves out
        return (f"{start} longer (gan.train.epochs): the baseline gives every sample as much or more of another class "
                f"than of its own (the surest: {surest:.4g} of its class, {outranked[1]:.4g} of {outranked[0]!r}), so "
                "a number for gan.threshold would only keep pictures of other classes under its label")
    below = _offered(surest)
    if below <= 0:
        return f"{start} longer (gan.train.epochs): the surest sample is given less than 0.001 of its class"
    lower = "set gan.threshold to a number" if threshold == "real_median" else f"lower gan.threshold ({threshold:g})"
    # before: said nothing of them, so the number offered as keeping the surest sample of its own class kept pictures
    # of other classes given more of their class than it, under the weak class's label
    also = (f"; any such number also keeps {also_kept} sample(s) the baseline gives as much or more of another class "
            "than of its own, under its label") if also_kept else ""
    return (f"{start} longer (gan.train.epochs) or {lower} below {below:g}, the surest sample's probability of its "
            f"class{also}")


def surest_sample(probs: np.ndarray, intended: np.ndarray, *, classes: list[str],
                  top_class: bool) -> dict[str, float | tuple[str, float] | int | None]:
    """:func:`kept_none_warning`'s ``surest``, ``outranked`` and ``also_kept`` for samples generated for int ``(N,)``
    ``intended`` classes (N >= 1), of float ``(N, classes)`` ``probs``: with ``top_class`` (real_median,
    :func:`confident`), the surest of the samples given more of their class than of any other and how many of the
    others a number below it keeps, or where none is, the surest of all and the class (of ``classes``) it is given most
    of beside its own, with that probability."""
    rows = np.arange(len(intended))
    mine = probs[rows, intended]
    if not top_class:
        return {"surest": float(mine.max()), "outranked": None}
    others = np.array(probs, dtype=np.float64)
    others[rows, intended] = -np.inf
    own = mine > others.max(axis=1)
    if own.any():
        surest = float(mine[own].max())
        return {"surest": surest, "outranked": None, "also_kept": int((~own & (mine >= _offered(surest))).sum())}
    first = int(np.argmax(mine))
    rival = int(np.argmax(others[first]))
    return {"surest": float(mine[first]), "outranked": (classes[rival], float(others[first, rival]))}
