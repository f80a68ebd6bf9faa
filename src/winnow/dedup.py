"""Exact and near-duplicate groups, one image kept per group, label conflicts and split leakage.

Two images are duplicates when their pixel digests are equal (exact) or their 64-bit perceptual
hashes are at most ``radius`` bits apart (near); a group is a connected component of that relation
(single linkage, as 004 section IV.B.2 found best). Components are found with the multi-index search
of :mod:`winnow.hamming_index`, never by comparing all pairs.

Only train images are ever removed. A group holding a val or test image is leakage: evaluating on a
copy of a training image flatters the model, so with ``drop_leaks`` every train member of such a
group goes and the val/test images stay. Val copies of test images cannot be fixed here (val and test
are never changed); :func:`leaks_by_kind` counts them apart so the stage can warn. Other groups keep
one train image by ``keep``:

- ``best_quality``: the highest mean of the seven quality scores (lower = worse), first seen on ties;
- ``first``: the first in manifest order.

A group whose members carry more than one label is a label conflict: its images are flagged
``label_conflict`` so confident-learn treats them as suspects; the kept image's label is not trusted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from winnow.configs import KEEP_POLICIES
from winnow.errors import WinnowError
from winnow.groundtruth import DUPLICATE_KINDS, QUALITY_ISSUES, planted, precision_recall_f1
from winnow.hamming_index import HASH_BITS, components, hamming_components, hamming_pairs

GROUP_COLUMNS = ("id", "split", "label", "group", "group_size", "kept", "reason", "label_conflict")
# why a row is kept or removed; "exact"/"near" say how a removed image relates to the kept one
REASONS = ("unique", "kept", "exact_duplicate", "near_duplicate", "leak", "eval_copy")


def duplicate_groups(
    *, digests: np.ndarray, phashes: np.ndarray, radius: int | None,
    features: np.ndarray | None = None, min_correlation: float | None = None,
) -> np.ndarray:
    """Connected components of "same digest" or "near duplicate".

    Near duplicates are pairs whose pHashes are within ``radius`` bits and, when ``features`` are
    given, whose thumbnails correlate at least ``min_correlation``. The pHash search finds candidates
    cheaply; the correlation check keeps digits, icons and other sets of look-alike images, whose
    hashes crowd together, from chaining into one giant group.

    Args:
        digests: ``(N,)`` pixel digests (any hashable dtype); equal digest = exact duplicate.
        phashes: uint64 ``(N,)`` perceptual hashes.
        radius: largest Hamming distance between near duplicates; None finds exact duplicates only.
        features: float32 ``(N, D)`` from :func:`thumbnail_features`, or None for pHash alone.
        min_correlation: required with ``features``.

    Returns:
        int64 ``(N,)`` group numbers ``0..G-1`` in order of each group's first row.
    """
    exact = pd.factorize(pd.Series(digests))[0]
    order = np.argsort(exact, kind="stable")
    same = exact[order][1:] == exact[order][:-1]
    pairs = [np.stack([order[:-1][same], order[1:][same]], axis=1)]
    if radius is not None:
        phashes = np.asarray(phashes, dtype=np.uint64)
        if features is None:
            labels = hamming_components(phashes, radius=radius)
            order = np.argsort(labels, kind="stable")
            same = labels[order][1:] == labels[order][:-1]
            pairs.append(np.stack([order[:-1][same], order[1:][same]], axis=1))
        else:
            candidates = _image_pairs(phashes, radius=radius)
            pairs.append(candidates[pair_correlation(features, candidates) >= min_correlation])
    return components(len(exact), np.concatenate(pairs))


def thumbnail_features(images: np.ndarray, *, side: int = 16, batch_size: int = 4096) -> np.ndarray:
    """Standardised grayscale thumbnails, for the correlation check of near duplicates.

    Brightness, contrast and saturation changes are (up to clipping) affine maps of the grey levels,
    so a jittered copy correlates with its source at nearly 1 while a different image does not.

    Args:
        images: uint8 ``(N, H, W, C)``.
        side: the thumbnail is about ``side`` pixels on its shorter edge (block means of an integer factor).

    Returns:
        float32 ``(N, D)``, each row zero-mean with unit norm (all zeros for a flat image).
    """
    n, h, w, c = images.shape
    factor = max(1, min(h, w) // side)
    th, tw = h // factor, w // factor
    weights = np.array([0.2989, 0.587, 0.114], np.float32) if c == 3 else np.ones(1, np.float32)
    out = np.empty((n, th * tw), np.float32)
    for start in range(0, n, batch_size):
        batch = np.asarray(images[start:start + batch_size, : th * factor, : tw * factor], dtype=np.float32)
        gray = batch @ weights
        thumbs = gray.reshape(len(batch), th, factor, tw, factor).mean(axis=(2, 4)).reshape(len(batch), -1)
        thumbs -= thumbs.mean(axis=1, keepdims=True)
        norms = np.linalg.norm(thumbs, axis=1, keepdims=True)
        out[start:start + batch_size] = np.divide(thumbs, norms, out=np.zeros_like(thumbs), where=norms > 1e-6)
    return out


def pair_correlation(features: np.ndarray, pairs: np.ndarray, *, block: int = 1 << 20) -> np.ndarray:
    """float32 ``(P,)`` correlation of the two rows of ``features`` named by each of ``pairs`` ``(P, 2)``."""
    out = np.empty(len(pairs), np.float32)
    for start in range(0, len(pairs), block):
        chunk = pairs[start:start + block]
        out[start:start + block] = np.einsum("ij,ij->i", features[chunk[:, 0]], features[chunk[:, 1]])
    return out


def _image_pairs(phashes: np.ndarray, *, radius: int) -> np.ndarray:
    """int64 ``(P, 2)`` every pair of images whose hashes are within ``radius``, equal hashes included.

    The search runs on distinct hashes; each pair of distinct hashes then expands to all pairs of the
    images carrying them.
    """
    unique, inverse = np.unique(phashes, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse, minlength=len(unique))
    members = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    repeated = np.flatnonzero(counts > 1)
    hash_pairs = np.concatenate([hamming_pairs(unique, radius=radius), np.stack([repeated, repeated], axis=1)])
    a, b = hash_pairs[:, 0], hash_pairs[:, 1]
    sizes = counts[a] * counts[b]
    which = np.repeat(np.arange(len(hash_pairs)), sizes)
    within = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    left = members[starts[a][which] + within // counts[b][which]]
    right = members[starts[b][which] + within % counts[b][which]]
    keep = (a[which] != b[which]) | (left < right)  # within one hash: each unordered pair once
    return np.stack([left[keep], right[keep]], axis=1)


def choose_kept(
    *,
    groups: np.ndarray,
    splits: np.ndarray,
    digests: np.ndarray,
    quality: np.ndarray | None,
    keep: str,
    drop_leaks: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Which images stay, and why.

    Args:
        groups: int64 ``(N,)`` from :func:`duplicate_groups`.
        splits: str ``(N,)``, each train/val/test.
        digests: ``(N,)`` pixel digests, to tell an exact from a near duplicate of the kept image.
        quality: float ``(N,)`` higher = better, required by ``keep="best_quality"``.
        keep: one of :data:`KEEP_POLICIES`.
        drop_leaks: remove train members of groups that hold a val/test image.

    Returns:
        ``(kept, reason)``: bool ``(N,)`` and object ``(N,)`` of :data:`REASONS`.
    """
    n = len(groups)
    n_groups = int(groups.max()) + 1 if n else 0
    is_train = np.asarray(splits) == "train"
    size = np.bincount(groups, minlength=n_groups)[groups]
    leaky_group = np.zeros(n_groups, dtype=bool)
    leaky_group[groups[~is_train]] = drop_leaks
    leaky = leaky_group[groups]

    # rank train images within their group: best first, then manifest order
    score = np.zeros(n) if keep == "first" else -np.asarray(quality, dtype=np.float64)
    order = np.lexsort((np.arange(n), score, ~is_train, groups))
    first_of_group = np.ones(n, dtype=bool)
    first_of_group[1:] = groups[order][1:] != groups[order][:-1]
    winner = np.zeros(n, dtype=bool)
    winner[order[first_of_group]] = True
    winner &= is_train & ~leaky
    kept = ~is_train | winner
    kept_digest = pd.Series(np.asarray(digests)[winner], index=groups[winner])
    same_as_kept = kept_digest.reindex(groups).to_numpy() == np.asarray(digests)
    reason = np.select(
        [size == 1, ~is_train, winner, leaky, same_as_kept],
        ["unique", "eval_copy", "kept", "leak", "exact_duplicate"],
        default="near_duplicate",
    ).astype(object)
    return kept, reason


def label_conflicts(*, groups: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """bool ``(N,)``: the image's group carries more than one distinct label."""
    if len(groups) == 0:
        return np.zeros(0, dtype=bool)
    frame = pd.DataFrame({"group": groups, "label": labels})
    distinct = frame.groupby("group")["label"].nunique()
    return distinct.reindex(groups).to_numpy() > 1


def dedup_table(
    manifest: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    radius: int | None,
    keep: str = "best_quality",
    drop_leaks: bool = True,
    features: np.ndarray | None = None,
    min_correlation: float | None = None,
) -> pd.DataFrame:
    """One row per image of ``manifest``: its group, whether it stays, why, and label conflicts.

    Args:
        manifest: the imageset manifest (``id``, ``split``, ``label``, ``digest``).
        scores: the score stage's table: ``id``, ``phash`` (uint64) and the quality scores.
        radius, features, min_correlation: see :func:`duplicate_groups`; ``features`` rows follow ``manifest``.
        keep, drop_leaks: see :func:`choose_kept`.

    Returns:
        DataFrame with columns :data:`GROUP_COLUMNS`, rows in manifest order.
    """
    merged = _validated(manifest, scores, radius=radius, keep=keep, min_correlation=min_correlation)
    groups = duplicate_groups(digests=merged["digest"].to_numpy(), phashes=merged["phash"].to_numpy(), radius=radius,
                              features=features, min_correlation=min_correlation)
    quality = merged[list(QUALITY_ISSUES)].to_numpy(dtype=np.float64).mean(axis=1) if keep == "best_quality" else None
    kept, reason = choose_kept(
        groups=groups, splits=merged["split"].to_numpy(), digests=merged["digest"].to_numpy(),
        quality=quality, keep=keep, drop_leaks=drop_leaks,
    )
    labels = merged["label"].to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "id": merged["id"].to_numpy(),
        "split": merged["split"].to_numpy(),
        "label": labels,
        "group": groups,
        "group_size": np.bincount(groups)[groups] if len(groups) else np.zeros(0, dtype=np.int64),
        "kept": kept,
        "reason": reason,
        "label_conflict": label_conflicts(groups=groups, labels=labels),
    })


def dedup_images(manifest: pd.DataFrame, images: np.ndarray, scores: pd.DataFrame, *, radius: int | None,
                 keep: str = "best_quality", drop_leaks: bool = True,
                 min_correlation: float | None = None) -> pd.DataFrame:
    """:func:`dedup_table` with the thumbnail features computed from ``images`` (uint8 ``(N, H, W, C)``,
    rows following ``manifest``) when ``min_correlation`` asks for them."""
    features = None if min_correlation is None else thumbnail_features(images)
    return dedup_table(manifest, scores, radius=radius, keep=keep, drop_leaks=drop_leaks, features=features,
                       min_correlation=min_correlation)


def true_duplicate_ids(perturbations: pd.DataFrame) -> set[str]:
    """Ids of every image in a planted duplicate group of two or more: the copies and their sources."""
    planted = perturbations[perturbations["kind"].isin(DUPLICATE_KINDS)]
    return set(planted["id"]) | set(planted["source_id"].dropna())


# cross-split duplicates by kind: (the split holding the copies, the split they copy)
LEAK_KINDS = {"train_copies_of_val": ("train", "val"), "train_copies_of_test": ("train", "test"),
              "val_copies_of_test": ("val", "test")}


def leaks_by_kind(table: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Duplicate groups that span two splits, one entry per :data:`LEAK_KINDS`.

    They differ in what they spoil: train copies of val images flatter the val score that picks every
    checkpoint, train copies of test images the test score, and val copies of test images make test
    partly a set the checkpoint was already chosen on. A group holding all three splits counts under
    each kind.

    Returns:
        kind -> ``groups`` (groups holding both splits), ``images`` (their members in the copying
        split, e.g. the train images for ``train_copies_of_val``) and ``<copied split>_images``
        (their members in the other split).
    """
    groups = table["group"].to_numpy(np.int64)
    splits = table["split"].to_numpy()
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    holds = {s: np.bincount(groups[splits == s], minlength=n_groups) > 0 for s in ("train", "val", "test")}
    leaks = {}
    for kind, (copy, copied) in LEAK_KINDS.items():
        spans = holds[copy] & holds[copied]
        member = spans[groups] if len(groups) else np.zeros(0, dtype=bool)
        leaks[kind] = {"groups": int(spans.sum()), "images": int((member & (splits == copy)).sum()),
                       f"{copied}_images": int((member & (splits == copied)).sum())}
    return leaks


def dedup_metrics(table: pd.DataFrame, *, perturbations: pd.DataFrame | None = None) -> dict:
    """Counts from a :func:`dedup_table`: groups, removals, label conflicts, cross-split leaks by kind
    (:func:`leaks_by_kind`) and, when degrade planted duplicates, detection scores over train images.

    An image is predicted positive when its group has two or more members, truly positive when it is
    in :func:`true_duplicate_ids`.
    """
    train = table["split"].to_numpy() == "train"
    in_group = table["group_size"].to_numpy() > 1
    reason = table["reason"].to_numpy()
    conflict = table["label_conflict"].to_numpy()
    metrics = {
        "images": int(len(table)),
        "groups": int(table.loc[in_group, "group"].nunique()),
        "images_in_groups": int(in_group.sum()),
        "largest_group": int(table["group_size"].max()) if len(table) else 0,
        "images_removed": int((~table["kept"]).sum()),
        "removed": {r: int((reason == r).sum()) for r in ("exact_duplicate", "near_duplicate", "leak")},
        "conflicts": int(table.loc[conflict, "group"].nunique()),
        "conflict_images": int(conflict.sum()),
        "leaks": leaks_by_kind(table),
    }
    if planted(perturbations, DUPLICATE_KINDS):
        truth = table["id"].isin(true_duplicate_ids(perturbations)).to_numpy()
        metrics["detection"] = precision_recall_f1(in_group[train], truth[train])
    return metrics


def _validated(manifest: pd.DataFrame, scores: pd.DataFrame, *, radius: int | None, keep: str,
               min_correlation: float | None) -> pd.DataFrame:
    """The manifest joined with the scores it needs, or a one-line :class:`WinnowError`."""
    if min_correlation is not None and not -1 <= min_correlation <= 1:
        raise WinnowError(f"params.yaml dedup.min_correlation: must lie in [-1, 1] or be null, got {min_correlation!r}")
    if radius is not None and (isinstance(radius, bool) or not isinstance(radius, int) or not 0 <= radius < HASH_BITS):
        raise WinnowError(f"params.yaml dedup.radius: must be an integer in [0, {HASH_BITS - 1}] or null, got {radius!r}")
    if keep not in KEEP_POLICIES:
        raise WinnowError(f"params.yaml dedup.keep: must be one of {', '.join(KEEP_POLICIES)}, got {keep!r}")
    needed = ["id", "phash"] + (list(QUALITY_ISSUES) if keep == "best_quality" else [])
    missing = [c for c in needed if c not in scores.columns]
    if missing:
        raise WinnowError(f"scores table lacks column(s) {', '.join(missing)} (re-run the score stage)")
    merged = manifest[["id", "split", "label", "digest"]].merge(scores[needed], on="id", how="left", validate="1:1")
    unscored = merged["phash"].isna()
    if unscored.any():
        raise WinnowError(
            f"scores table has no row for {int(unscored.sum())} image(s), first {merged['id'][unscored].iloc[0]!r} "
            "(re-run the score stage on this imageset)"
        )
    merged["phash"] = merged["phash"].astype(np.uint64)
    return merged
