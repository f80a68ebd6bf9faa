"""Duplicate groups, one image kept per group, label conflicts and split leakage.

Two images are duplicates when :mod:`winnow.copies` links them: equal pixel digests (exact), pHashes
within ``radius`` bits whose thumbnails correlate (near), the same between one image's mirror or
centre crop and the other (flip/crop; a mirror never links two labels: it may change the class, as left/right
does), the same between one image turned (upside down, by 90 or 180 degrees, transposed) and the other where
``orientations`` is ``any`` (turned), or represent embeddings within a cosine radius (embedding). Flat images link by
digest only. A group is a connected component of all the links (single linkage, as 004 section IV.B.2 found best),
found by searches that never compare all pairs of hashes, less the images that joined it only through a chain
and resemble none of the images it keeps (:func:`winnow.dedup_keep.kept_by_resemblance`): those are grouped
anew among themselves.

Only train images are ever removed. A group holding a val, test or trusted image is leakage: evaluating (or judging
the budget) on a copy of a training image flatters the model, so with ``drop_leaks`` every train member of such a
group goes and the val, test and trusted images stay. Val copies of test images cannot be fixed here (val and test
are never changed); :func:`winnow.leaks.leaks_by_kind` counts them apart so the stage can warn. Other groups keep
one train image of the label most of their train images carry (any label on a tie), one threshold does not flag
where there is one (pruned drops a flagged image: its sound copy must stay), by ``keep``:

- ``best_quality``: the original the others were made from where the source tells it (the larger source size, then a
  lossless file before a JPEG: :func:`winnow.dedup_keep.derived_rank`), then the highest mean of the seven quality
  scores (lower = worse), first seen on ties;
- ``first``: the first in manifest order.

A removed image's reason is the strongest kind of link that joins it to the kept image (exact, then
near, flip/crop, turned, embedding: the first kind whose links alone already put both in one group).

A group whose members carry more than one label is a label conflict: its images are flagged
``label_conflict`` so confident-learn treats them as suspects; the kept image's label is not trusted.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np
import pandas as pd

from winnow.configs import KEEP_POLICIES, KEPT_REASONS, ORIENTATIONS, REMOVED_REASONS
from winnow.copies import (LINKS, embedding_pairs, exact_pairs, flip_crop_pairs, mirrored_views, near_pairs,
                           pair_keys, pixel_pairs, resembling, share_a_label, variant_hashes)
from winnow.cosine_index import unique_pairs
from winnow.dedup_keep import derived_rank, kept_by_resemblance
from winnow.engine import Engine
from winnow.errors import WinnowError
from winnow.groundtruth import QUALITY_ISSUES
from winnow.hamming_index import HASH_BITS, components
from winnow.phash import turned_phashes, turns_for
from winnow.file_rows import unchanged_in_place
from winnow.thumbnails import Looks, TurnedLooks, flat_images

GROUP_COLUMNS = ("id", "split", "label", "group", "group_size", "kept", "reason", "label_conflict")
# why a row is kept or removed; the LINKS say how a removed image relates to the kept one
REASONS = ("unique", "kept", *LINKS, "leak", "eval_copy")
# the reasons every reader takes (winnow.group_rows, which cannot import this module's searches): a reason added here
# alone would be refused in every reader of the groups dedup writes
assert set(REASONS) == {*KEPT_REASONS, *REMOVED_REASONS}, "winnow.configs' dedup reasons differ from dedup's"


def duplicate_groups(
    *, digests: np.ndarray, phashes: np.ndarray, radius: int | None,
    features: np.ndarray | None = None, min_correlation: float | None = None,
) -> np.ndarray:
    """Connected components of "same digest" or "near duplicate" alone (:func:`winnow.copies.near_pairs`:
    ``features`` are whole-image thumbnails, ``radius`` None finds exact duplicates only).

    Returns:
        int64 ``(N,)`` group numbers ``0..G-1`` in order of each group's first row.
    """
    pairs = [exact_pairs(digests)]
    if radius is not None:
        pairs.append(near_pairs(phashes, radius=radius, features=features, min_correlation=min_correlation))
    return components(len(digests), np.concatenate(pairs))


def duplicate_links(
    *, digests: np.ndarray, phashes: np.ndarray, radius: int | None, looks: Looks | None = None,
    min_correlation: float | None = None, variants: np.ndarray | None = None,
    embedding: np.ndarray | None = None, embedding_radius: float | None = None, embedding_confirm: bool = True,
    knn: str = "numpy", flat: np.ndarray | None = None, labels: np.ndarray | None = None,
    mirrored: np.ndarray | None = None, turned: np.ndarray | None = None, turns: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """int64 ``(P, 2)`` pairs by kind of :data:`winnow.copies.LINKS`, the kinds asked for.

    Args:
        digests: ``(N,)`` pixel digests; phashes: uint64 ``(N,)``.
        radius: pHash radius of near and flip/crop duplicates; None: exact (and embedding) only.
        looks: the images' thumbnails, which confirm every pHash candidate, and every embedding
            candidate when ``embedding_confirm``, at ``min_correlation``; None: candidates taken as they are.
        variants: uint64 ``(V, N)`` pHashes of mirrors and crops (:func:`winnow.copies.variant_hashes`);
            None or ``V = 0``: no flip/crop search.
        embedding: float ``(N, D)``, searched within cosine distance ``embedding_radius`` (None: off).
        embedding_confirm: False takes the embedding's pairs unchecked. The thumbnails rescue a weak
            embedding (a supervised judge) but drop most cropped copies that a self-supervised one finds.
        knn: how the embedding's nearest neighbours are searched (:data:`winnow.cosine_index.BACKENDS`).
        flat: bool ``(N,)``, the flat images (:func:`winnow.thumbnails.flat_images`), left out of the pHash
            searches: they link by digest only. None: none flat.
        labels, mirrored: int ``(N,)`` labels and bool ``(V,)`` which variants are mirrors
            (:func:`winnow.copies.mirrored_views`): given both, a pair linked only through a mirror whose
            pixels carry no label in common (:func:`winnow.copies.share_a_label`) is no copy (mirroring may
            change the class: left/right, b/d; an embedding pair of such images is confirmed by the unmirrored
            views alone), and a ``warning:`` line says how many such links were left out.
        turned, turns: uint64 ``(T, N)`` pHashes of the images turned by each of the ``T`` ``turns`` of
            :data:`winnow.phash.TURNS` (:func:`winnow.phash.turned_phashes`), confirmed by the turned thumbnails
            (:class:`winnow.thumbnails.TurnedLooks`); None or ``T = 0``: no turned search. A turned copy links
            any labels: dedup.orientations: any says no turn changes the class.
    """
    links = {"exact_duplicate": exact_pairs(digests)}
    across = np.empty((0, 2), np.int64)  # mirror links of images of different classes, not taken as copies
    if radius is not None:
        first = searched_rows(np.arange(len(digests)), digests=digests, flat=flat)
        links["near_duplicate"] = near_pairs(phashes[first], radius=radius, rows=first,
                                             features=None if looks is None else looks.whole,
                                             min_correlation=min_correlation)
        if variants is not None and len(variants):
            links["flip_crop_duplicate"], across = _view_links(
                phashes[first], variants[:, first], radius=radius, rows=first, looks=looks,
                min_correlation=min_correlation, labels=labels, mirrored=mirrored, near=links["near_duplicate"],
                digests=digests)
        if turned is not None and len(turned):
            turned_looks = None if looks is None else TurnedLooks(looks.whole, looks.grid, turns)
            links["turned_duplicate"] = flip_crop_pairs(phashes[first], turned[:, first], radius=radius, rows=first,
                                                        looks=turned_looks, min_correlation=min_correlation)[0]
    if embedding_radius is not None:  # a user's embeddings (represent.source file) of equal pixels may differ
        # before: the thumbnail check took a mirror of another class as a copy here, so with an embedding trained
        # on mirrored views every class-1 mirror of a class-0 image was dropped as its embedding_duplicate, right
        # after the warning that such mirror links are not taken as copies
        links["embedding_duplicate"], mirror_only = embedding_pairs(
            embedding, radius=embedding_radius, looks=looks if embedding_confirm else None,
            min_correlation=min_correlation, knn=knn, digests=digests, labels=None if mirrored is None else labels)
        across = np.concatenate([across, mirror_only])
    # before: the embedding's such pairs were left out without this line (dedup.radius null: no line at all)
    left_out = pixel_pairs(across, digests=digests)
    if left_out:
        print(f"warning: dedup: {left_out} mirror link(s) join images of different classes: not taken as copies, "
              "since a mirror that changes the class (left/right, b/d) is no copy. If your classes are not mirror "
              "images of one another, these may be mislabelled copies, which the label cleaners judge; "
              "dedup.flip: false turns the mirror search off")
    return links


def _view_links(phashes: np.ndarray, variants: np.ndarray, *, radius: int, rows: np.ndarray, looks: Looks | None,
                min_correlation: float | None, labels: np.ndarray | None, mirrored: np.ndarray | None,
                near: np.ndarray, digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``flip_crop_duplicate`` pairs of :func:`duplicate_links` (arguments as there, ``near`` its near pairs),
    and the mirror links of images of different classes left out (no crop or near link joins them).

    before: with dedup.flip on, classes that are mirror images of each other (left/right) were linked as copies:
    30 of 60 class-1 images mirrored class-0 ones and were dropped silently. A mirror link between different
    labels is evidence that mirroring changes the class; the crop views (no mirror) still link any labels."""
    search = partial(flip_crop_pairs, phashes, radius=radius, rows=rows, min_correlation=min_correlation)
    if labels is None or mirrored is None or not mirrored.any():
        return search(variants, looks=looks)[0], np.empty((0, 2), np.int64)
    n = int(rows[-1]) + 1 if len(rows) else 0
    plain = (search(variants[~mirrored], looks=None if looks is None else replace(looks, flip=False))[0]
             if (~mirrored).any() else np.empty((0, 2), np.int64))
    same, across = search(variants[mirrored], looks=looks, labels=labels)
    # before: the labels were the searched image's alone, so the train mirror (label 1) of a test image (1) whose
    # train exact copy (0) came first was no copy, stayed in train, and was counted as a link of different classes
    shared = share_a_label(across, digests=digests, labels=labels)
    same, across = np.concatenate([same, across[shared]]), across[~shared]
    known = np.concatenate([plain, near])
    return unique_pairs(np.concatenate([plain, same]), n), across[~np.isin(pair_keys(across, n), pair_keys(known, n))]


def _searched_again(rows: np.ndarray, *, digests: np.ndarray, phashes: np.ndarray, flat: np.ndarray | None,
                    radius: int | None, embedding: np.ndarray | None, embedding_radius: float | None,
                    knn: str, looks: Looks | None, min_correlation: float | None,
                    labels: np.ndarray | None) -> dict[str, np.ndarray]:
    """int64 ``(P, 2)`` pairs by kind: the links among the image ``rows`` (int ``(R,)``, increasing) that left their
    groups, searched again where the first search gave too few of them: ``near_duplicate`` by pHash alone within
    ``radius`` (None: not searched again), and ``embedding_duplicate`` of float ``(N, D)`` ``embedding`` rows (None:
    not searched again) within ``embedding_radius``, confirmed as :func:`winnow.copies.embedding_pairs` (``looks``,
    ``min_correlation``, int ``(N,)`` ``labels``, ``knn``); ``digests``, uint64 ``phashes``, ``flat``: ``(N,)``.

    before: pHash alone chains each group's members in row order (:func:`winnow.copies.near_pairs`), so the images
    that left were grouped by the links that remained among them: test-0, train-1, train-2, train-3 at pHashes 0,
    bits 0/3/4, bit 0, bits 0/3/4 (radius 2), train-1 and train-3 0 bits apart were each kept as unique (of 2,000
    such, all stayed in train). The embedding's pairs are among each image's nearest, which may be images that
    stayed: two train images 0.016 apart (embedding_radius 0.02), each with 11 nearer ones, stayed apart, both kept,
    with their thumbnails confirming or not. With thumbnails the confirmed pHash pairs are kept, not a chain."""
    found = {}
    if radius is not None:
        searched = searched_rows(rows, digests=digests, flat=flat)
        found["near_duplicate"] = near_pairs(phashes[searched], radius=radius, rows=searched)
    if embedding is not None:
        found["embedding_duplicate"] = embedding_pairs(embedding, radius=embedding_radius, looks=looks,
                                                       min_correlation=min_correlation, knn=knn, digests=digests,
                                                       labels=labels, rows=rows)[0]
    return found


def label_conflicts(*, groups: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """bool ``(N,)``: the image's group carries more than one distinct label."""
    if len(groups) == 0:
        return np.zeros(0, dtype=bool)
    frame = pd.DataFrame({"group": groups, "label": labels})
    distinct = frame.groupby("group")["label"].nunique()
    return distinct.reindex(groups).to_numpy() > 1


def searched_rows(rows: np.ndarray, *, digests: np.ndarray, flat: np.ndarray | None) -> np.ndarray:
    """int ``(M,)``: the image ``rows`` (int ``(R,)``, increasing) the pHash searches compare, given ``(N,)`` pixel
    ``digests`` and bool ``(N,)`` ``flat`` images (None: none flat)."""
    # the first image of each set of equal pixels stands for the set in the pHash searches (its hashes and
    # thumbnails are the set's; the exact links join the rest): 5,000 blank frames made 12.5 million
    # candidate pairs of one another (349 s, 6.7 GB); the groups are the same
    first = rows[~pd.Series(digests[rows]).duplicated().to_numpy()]
    # before: every flat image's pHash is 0 or 1 << 63, so pHash alone grouped flat images of any colour (a
    # black train image dropped as a leak of a white test image), and the mirror search compared every pair
    # of them (21 s for 1,000 solid colours) only for the thumbnails to reject each one (correlation 0)
    return first if flat is None else first[~flat[first]]


def dedup_table(
    manifest: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    radius: int | None,
    keep: str = "best_quality",
    drop_leaks: bool = True,
    looks: Looks | None = None,
    min_correlation: float | None = None,
    variants: np.ndarray | None = None,
    embedding: np.ndarray | None = None,
    embedding_radius: float | None = None,
    embedding_confirm: bool = True,
    knn: str = "numpy",
    flat: np.ndarray | None = None,
    mirrored: np.ndarray | None = None,
    flagged: np.ndarray | None = None,
    turned: np.ndarray | None = None,
    turns: tuple[str, ...] = (),
) -> pd.DataFrame:
    """One row per image of ``manifest``: its group, whether it stays, why, and label conflicts.

    Args:
        manifest: the imageset manifest (``id``, ``split``, ``label``, ``digest``).
        scores: the score stage's table: ``id``, ``phash`` (uint64) and the quality scores.
        radius, looks, min_correlation, variants, embedding, embedding_radius, embedding_confirm, knn, flat,
            mirrored, turned, turns: see :func:`duplicate_links` (given ``mirrored``, the manifest's labels are its
            ``labels``);
            their rows follow ``manifest``.
        keep, drop_leaks, flagged: see :func:`winnow.dedup_keep.choose_kept` (``flagged`` follows ``manifest``).

    Returns:
        DataFrame with columns :data:`GROUP_COLUMNS`, rows in manifest order.
    """
    merged = _validated(manifest, scores, radius=radius, keep=keep, min_correlation=min_correlation)
    labels = merged["label"].to_numpy(dtype=np.int64)
    if embedding_radius is not None and (embedding is None or len(embedding) != len(merged)):
        raise WinnowError(f"dedup.embedding_radius: {len(merged)} images but "
                          f"{'no' if embedding is None else len(embedding)} embeddings (rerun the represent stage)")
    links = duplicate_links(digests=merged["digest"].to_numpy(), phashes=merged["phash"].to_numpy(), radius=radius,
                            looks=looks, min_correlation=min_correlation, variants=variants, embedding=embedding,
                            embedding_radius=embedding_radius, embedding_confirm=embedding_confirm, knn=knn,
                            flat=flat, labels=labels, mirrored=mirrored, turned=turned, turns=turns)
    quality = merged[list(QUALITY_ISSUES)].to_numpy(dtype=np.float64).mean(axis=1) if keep == "best_quality" else None
    # ranked only where an image has a link (a million ids took a second); a manifest read by read_imageset always
    # holds the source sizes, a table made by hand may not (all alike then)
    linked = np.unique(np.concatenate([np.empty((0, 2), np.int64), *links.values()]))
    sized = {"orig_h", "orig_w"} <= set(manifest.columns)
    sizes = [manifest[c].to_numpy()[linked] for c in ("orig_h", "orig_w")] if sized else []
    derived = np.zeros(len(merged), np.int64)
    derived[linked] = derived_rank(merged["id"].to_numpy()[linked], *sizes)
    # where the embedding's pairs go unconfirmed (embedding_confirm false, or no thumbnails: min_correlation null);
    # a confirmed pair resembles by its thumbnails, compared there already
    unconfirmed = embedding if embedding_radius is not None and (not embedding_confirm or looks is None) else None
    resembles = partial(resembling, digests=merged["digest"].to_numpy(), phashes=merged["phash"].to_numpy(),
                        links=links, radius=radius, looks=looks, min_correlation=min_correlation,
                        embedding=unconfirmed, embedding_radius=embedding_radius)
    # the images that left their groups are searched again among themselves where the first links are a chain (pHash
    # alone) or each image's nearest only (the embedding): with thumbnails the confirmed pHash pairs are all kept
    relink = partial(_searched_again, digests=merged["digest"].to_numpy(), phashes=merged["phash"].to_numpy(),
                     flat=flat, radius=None if looks is not None else radius,
                     embedding=embedding if embedding_radius is not None else None,
                     embedding_radius=embedding_radius, knn=knn, looks=looks if embedding_confirm else None,
                     min_correlation=min_correlation, labels=None if mirrored is None else labels)
    groups, kept, reason, chained = kept_by_resemblance(links, splits=merged["split"].to_numpy(), labels=labels,
                                                        resembles=resembles, quality=quality, keep=keep,
                                                        drop_leaks=drop_leaks, flagged=flagged, relink=relink,
                                                        derived=derived)
    if chained.any():
        print(f"warning: dedup: {int(chained.sum())} image(s) joined a group only through a chain of copies and "
              f"resemble none of the images it keeps: not removed as their copies or leaks, but grouped among "
              f"themselves ({int(kept[chained].sum())} kept); if they are many, lower dedup.radius or "
              "dedup.embedding_radius, or raise dedup.min_correlation")
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
                 keep: str = "best_quality", drop_leaks: bool = True, min_correlation: float | None = None,
                 flip: bool = False, crop: float | None = None, embedding: np.ndarray | None = None,
                 embedding_radius: float | None = None, embedding_confirm: bool = True,
                 knn: str = "numpy", flagged: np.ndarray | None = None, orientations: str = "upright",
                 engine: Engine = Engine()) -> pd.DataFrame:
    """:func:`dedup_table` with what it needs computed from ``images`` (uint8 ``(N, H, W, C)``, rows
    following ``manifest``): the thumbnails when ``min_correlation`` asks for them, and the pHashes of
    the mirrors (``flip``) and centre crops (``crop``, the share cut from each side; None = off) and which
    images are flat when ``radius`` is set; their batches run on ``engine`` (:class:`winnow.engine.Engine`).
    ``orientations`` (:data:`winnow.configs.ORIENTATIONS`) ``any`` with ``radius`` set hashes every image turned too
    (:func:`winnow.phash.turned_phashes`: the turns an image of its shape can be a copy under, :func:`turns_for`);
    with the left-right mirror of ``flip``, a copy under any of the eight turns and mirrors is found.

    The passes are watched as one (:func:`~winnow.file_rows.unchanged_in_place`): each checked only itself, so an
    ``images.npy`` rewritten in place between the thumbnails and the mirrors' pHashes (``cp`` over it) gave links of
    the old images confirmed by those of the new ones, exit 0."""
    if orientations not in ORIENTATIONS:
        raise WinnowError(f"params.yaml dedup.orientations: must be one of {', '.join(ORIENTATIONS)}, got "
                          f"{orientations!r}")
    with engine.session(), unchanged_in_place(images, engine=engine.kind):
        looks = None if min_correlation is None else Looks.of(images, flip=flip, crop=crop, engine=engine)
        variants = variant_hashes(images, flip=flip, crop=crop, engine=engine) if radius is not None else None
        # the whole thumbnails, when made, already say which images are flat
        flat = None if radius is None else flat_images(images, engine=engine) if looks is None else looks.flat()
        # before: a copy turned 90 degrees or upside down was found by no search; opt-in, since a turned 6 is a 9
        turns = turns_for(*images.shape[1:3]) if radius is not None and orientations == "any" else ()
        turned = turned_phashes(images, turns=turns, engine=engine) if turns else None
    return dedup_table(manifest, scores, radius=radius, keep=keep, drop_leaks=drop_leaks, looks=looks,
                       min_correlation=min_correlation, variants=variants, embedding=embedding,
                       embedding_radius=embedding_radius, embedding_confirm=embedding_confirm, knn=knn, flat=flat,
                       mirrored=mirrored_views(flip=flip, crop=crop), flagged=flagged, turned=turned, turns=turns)


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
