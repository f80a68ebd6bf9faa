"""Which train rows each perturbation of a degrade run takes (step 2 of :mod:`winnow.degrade`'s run).

Every ``fraction`` and ``rates`` is turned into rows before any damage is applied, so a shortage is one line naming
the perturbation, what took the other rows and the range allowed, and nothing is half applied.
"""

from __future__ import annotations

import math

import numpy as np

from winnow.degrade_options import Perturbation
from winnow.errors import WinnowError
from winnow.groundtruth import CONTAMINATION_KINDS, DUPLICATE_KINDS, LABEL_KINDS, issue_of

TONE_KINDS = ("brightness", "gamma")  # contaminations that remap an image's tones (:func:`_same_damage`)
# (earlier damage, later damage), each named by the issue it plants or else its kind (:func:`_damage`) -> how the
# later one hides the earlier's issue from its score or its own from the score, as the refusal says it, and whether
# the other order keeps both (the refusal then advises it) (:func:`check_overlaps`). Measured on 1,000 MNIST-5k train
# digits (clean: blurry median 0.687, low_information 0.165, its 1st percentile 0.071)
HIDDEN_BY = {
    # a 10x10 thumbnail after box 5 scores blurry 0.666; listed after the thumbnail the blur holds, but see below
    ("blurry", "low_information"): ("shrink into a thumbnail", "blurred, which then look sharp", False),
    # noise after box 5: 0.929 (gaussian sigma 30), 0.898 (salt and pepper 0.02); listed first, the blur smooths it
    ("blurry", "gaussian_noise"): ("cover in noise", "blurred, which then look sharp", True),
    ("blurry", "salt_pepper"): ("cover in noise", "blurred, which then look sharp", True),
    # white salt lifts the dark score's 99th percentile (x0.05, then rate 0.02: 36% above half-bright, where no dark
    # cut reaches); listed first, the salt darkens with the rest
    ("dark", "salt_pepper"): ("cover in noise", "darkened, whose white salt then reads as bright", True),
    # gaussian noise lifts it too, by factor and sigma together: x0.5 then sigma 3 puts 84% above half-bright, x0.3
    # then sigma 45 67%, x0.05 then sigma 60 95% (sigma 45: none), so no threshold on sigma alone would do; listed
    # first, the noise darkens with the rest (sigma 60, then x0.05: 0.047)
    ("dark", "gaussian_noise"): ("cover in noise", "darkened, whose noise then reads as bright", True),
    # a blur spreads a 10x10 thumbnail over its black canvas: low_information 0.041, then box 3 0.080 (58% of them
    # above clean's 1st percentile), box 5 0.120 (all); blur then thumbnail is refused above, so neither order holds
    ("low_information", "blurry"): ("blur", "shrank into a thumbnail, which the blur then spreads over the black "
                                            "canvas", False),
    # noise off the black canvas's one level: thumbnails 0.041, then gaussian sigma 1 0.335 (all above clean's 1st
    # percentile), salt and pepper 0.1 0.088 (86%); noise first leaves each thumbnail pixel off that level (0.125)
    ("low_information", "gaussian_noise"): ("cover in noise", "shrank into a thumbnail, whose black canvas then reads "
                                                              "as detail", False),
    ("low_information", "salt_pepper"): ("cover in noise", "shrank into a thumbnail, whose black canvas then reads as "
                                                           "detail", False),
    # gaussian noise is drawn per channel: greyed CIFAR-subset images score grayscale 0, after sigma 1 0.007, above
    # the 1/255 a grey image's channels may differ by; noise first is greyed with the rest (salt and pepper hits all
    # channels together)
    ("grayscale", "gaussian_noise"): ("cover in noise", "greyed, whose noise, drawn per channel, then reads as colour",
                                      True),
    # a light image's score reads its 75th percentile and clipped share, which a thumbnail's black canvas outweighs in
    # either order: 1,000 CIFAR-subset images x2 score light 0.062, then a 10x10 thumbnail 0.985, a thumbnail then x2
    # 0.973, all above clean's 1st percentile (0.37)
    ("light", "low_information"): ("shrink into a thumbnail", "lightened, which its black canvas then outweighs",
                                   False),
    ("low_information", "light"): ("lighten", "shrank into a thumbnail, whose black canvas then outweighs the light",
                                   False),
    # a strong darkening leaves a few grey levels, whose steps read as fine detail, in either order: on 500 generated
    # 32x32 colour photos (smooth fields, contrast 45 grey levels; clean blurry 1st percentile 0.44) box 5 scores
    # 0.20, and with x0.05 before or after it 0.71 (all above clean's 1st percentile; a gaussian or median blur or a
    # downscale to 8x8 alike), with x0.1 0.48 (83%); MNIST's strokes keep more levels (0.45, below clean's 0.62), but
    # photos of a third of that contrast hide the blur at x0.2 too, so no threshold on the factor would do
    ("blurry", "dark"): ("darken", "blurred, whose blur its few grey levels left then hide", False),
    ("dark", "blurry"): ("blur", "darkened, whose few grey levels then hide the blur", False),
    # a gain's only trace in an ordinary exposure is the codes it leaves out (winnow.gain), which a blur, noise, a
    # resampling or greying fills in: those photos x1.5 score light 0.062, then box 5 0.60 (77% above the 0.5 no light
    # cut reaches), gaussian sigma 1 0.53 (57%), a resize to 48x48 and back 0.53 (56%), greying 0.63 (100%); x2 then
    # box 5 26%, then sigma 30 5% (at a third of the contrast 46% and 25%). Listed after the damage, the gain keeps its
    # trace (0.062); in a grey image a gain is never read (winnow.gain), so greying hides it in either order (x2 after
    # greying 29% above 0.5)
    ("light", "blurry"): ("blur", "lightened, whose gain's trace the blur then fills in", True),
    ("light", "gaussian_noise"): ("cover in noise", "lightened, whose gain's trace the noise then fills in", True),
    ("light", "odd_size"): ("resize", "lightened, whose gain's trace the resampling then fills in", True),
    ("light", "odd_aspect_ratio"): ("resize", "lightened, whose gain's trace the resampling then fills in", True),
    ("light", "grayscale"): ("grey", "lightened, whose gain's trace greying then fills in", False),
    ("grayscale", "light"): ("lighten", "greyed, in which the light score reads no gain", False),
}


def check_overlaps(specs: list[Perturbation]) -> None:
    """Refuse, under ``degrade.disjoint: false``, two perturbations of ``specs`` that may meet on one image where the
    ground truth would keep a change the image no longer shows: two sizes, two relabellings, one damage twice (x0.5
    then x2 undoes it), or two damages of which one keeps the other from its score (:data:`HIDDEN_BY`).

    Raises:
        WinnowError: one line naming the later perturbation and the earlier one.
    """
    def refuse(first: Perturbation, later: Perturbation, what: str, done: str, *, fix: str = "") -> WinnowError:
        return WinnowError(f"degrade.perturbations[{later.index}] ({later.kind}): with degrade.disjoint false it may "
                           f"{what} images perturbations[{first.index}] ({first.kind}) {done}, while the ground truth "
                           f"would keep both; {fix}set degrade.disjoint: true or keep one of them")

    sized = [p for p in specs if "shape" in p.params]
    if len(sized) > 1:  # on an image both pick, the later size replaces the earlier one
        raise refuse(*sized[:2], "resize", "resized")
    labels = [p for p in specs if p.kind in LABEL_KINDS]
    twice = next(((a, b) for i, a in enumerate(specs) for b in specs[i + 1:]
                  if a.kind in CONTAMINATION_KINDS and _same_damage(a.kind, b.kind)), None)
    pair = tuple(labels[:2]) if len(labels) > 1 else twice
    if pair is not None:
        raise refuse(*pair, "relabel" if pair[1].kind in LABEL_KINDS else "damage again", "changed")
    hidden = next(((a, b) for i, a in enumerate(specs) for b in specs[i + 1:]
                   if (_damage(a), _damage(b)) in HIDDEN_BY), None)
    if hidden is not None:
        first, later = hidden
        what, done, swap = HIDDEN_BY[_damage(first), _damage(later)]
        raise refuse(first, later, what, done, fix=f"list it before perturbations[{first.index}], " if swap else "")


def _may_overlap(specs: list[Perturbation]) -> bool:
    """Whether :func:`check_overlaps` lets ``specs`` overlap, so that a shortage may advise degrade.disjoint: false.
    Before: [blur 0.6, brightness x0.05 0.6] was told "their sum must be at most 1, or set degrade.disjoint: false
    to let them overlap", and following it "with degrade.disjoint false it may darken images ... blurred ...; set
    degrade.disjoint: true or keep one of them": each line sent the user to the other."""
    try:
        check_overlaps(specs)
    except WinnowError:
        return False
    return True


def _damage(p: Perturbation) -> str:
    """``p`` as :data:`HIDDEN_BY` names it: the quality issue it plants (brightness x0.5: dark), or else its kind."""
    return issue_of(p.kind, p.params) or p.kind


def _same_damage(first: str, later: str) -> bool:
    """Whether contamination kinds ``first`` and ``later`` change one property of an image, so that the later can
    undo the earlier on an image both pick: one kind twice, or brightness and gamma, which both remap its tones.
    Before: brightness x0.05 then gamma 0.2 left an image recorded dark at 138/255 (its white 12, then 138), above
    the 0.5 of white no dark cut reaches (winnow.quality.CEILINGS), so the dark detector was scored as missing it."""
    return first == later or {first, later} <= set(TONE_KINDS)


def pick_all(specs: list[Perturbation], state, *, disjoint: bool, seed: int):
    """Choose every perturbation's target rows (and copy sources), in list order, before any is applied.
    ``state``: :class:`winnow.degrade._State`, the imageset being degraded, after the removals.

    Returns ``[(perturbation, (targets, sources)), ...]`` with int positions; ``sources`` is None
    except for duplicates.

    A shortage advises degrade.disjoint: false only where the list then runs: check_overlaps passes it
    (:func:`_may_overlap`) and its picks find their rows. Before, one class's shortage weighed the rows the picks
    before it had left under disjoint true, but under false they draw other rows: [brightness 0.25, grayscale 0.25,
    exact_duplicate 0.17, symmetric_noise rates cat 0.75] (seed 19, 4 cats of 12) read "only 1 are free ..., or set
    degrade.disjoint: false", and following it "only 2 are free (... the duplicates before it ...)".
    """
    curable = disjoint and _may_overlap(specs)  # whether degrade.disjoint: false is a cure to offer
    try:
        return _picks(specs, state, disjoint=disjoint, seed=seed, curable=curable)
    except WinnowError:
        if not curable or _runs_overlapping(specs, state, seed=seed):
            raise
    return _picks(specs, state, disjoint=True, seed=seed, curable=False)  # the same shortage, without that cure


def open_to(picks, rows: int, *, disjoint: bool) -> dict[int, np.ndarray]:
    """bool ``(rows,)`` by perturbation index: the rows :func:`pick_all`'s ``picks`` (in list order) left free for each
    non-duplicate one to draw from (train rows among them), as they were drawn: all but those the picks before it took,
    with ``disjoint`` false all but the copies and sources of the duplicates before it."""
    taken, left = np.zeros(rows, bool), {}
    for p, (targets, sources) in picks:
        left[p.index] = ~taken
        if disjoint or p.kind in DUPLICATE_KINDS:
            taken = taken.copy()
            taken[targets] = True
            taken[[] if sources is None else sources] = True
    return left


def share_advice(state, p: Perturbation, wanted, what: str) -> str:
    """What a refusal of ``p``, whose picks all lack what it changes, advises: a larger fraction where ``wanted`` (bool
    ``(n,)`` of uint8 images ``(n, H, W, C)``, read a chunk at a time: a streamed set stays on disk) finds some, called
    ``what``, among the train rows it could pick (``state.open_to``, :func:`open_to`); to list it before the
    perturbations that took them all; else to remove it."""
    train = state.train_alive()
    left = train[state.open_to[p.index][train]] if p.index in state.open_to else train
    found, elsewhere = (sum(int(wanted(state.images[rows[start:start + 1024]]).sum())
                            for start in range(0, len(rows), 1024)) for rows in (left, train))
    which = "train images" if len(left) == len(train) else "train images the perturbations before it left"
    if found:
        return f"{found} of the {len(left)} {which} are {what}: a larger fraction may pick some, or remove this entry"
    if elsewhere:
        return (f"none of the {len(left)} {which} is {what} (they took the {elsewhere}); list it before them, or "
                "remove this entry")
    return "remove this entry"


def _runs_overlapping(specs: list[Perturbation], state, *, seed: int) -> bool:
    """Whether every pick of ``specs`` finds its rows under degrade.disjoint: false."""
    try:
        _picks(specs, state, disjoint=False, seed=seed, curable=False)
    except WinnowError:
        return False
    return True


def _picks(specs: list[Perturbation], state, *, disjoint: bool, seed: int, curable: bool):
    """:func:`pick_all`'s picks; ``curable``: a shortage may advise degrade.disjoint: false."""
    train = state.train_alive()
    labels = state.labels
    counts = _counts(specs, len(train), disjoint=disjoint)
    _check_budget(specs, state, counts, disjoint=disjoint, curable=curable)
    free = np.ones(len(state.manifest), bool)  # not yet picked by anything
    free_of_copies = free.copy()  # not yet picked by a duplicate (copy or source)
    picks = []
    for p in specs:
        rng = p.rng(seed)
        is_dup = p.kind in DUPLICATE_KINDS
        pool = train[(free if disjoint or is_dup else free_of_copies)[train]]
        # the pool degrade.disjoint: false would give, or None where it gives no more: it is false already, the
        # perturbation is a duplicate, whose images are kept apart whatever it says, or check_overlaps refuses the list
        overlap = train[free_of_copies[train]] if curable and not is_dup else None
        # what took the other images
        if is_dup:
            shortage = ("the perturbations before it: a duplicate shares its images with nothing, whatever "
                        "degrade.disjoint says")
        elif disjoint:
            shortage = "the perturbations before it"
        else:
            shortage = "the duplicates before it, which share their images with nothing"
        if p.kind == "pair_flip":
            moved = list(p.params["mapping"])
            pool = pool[np.isin(labels[pool], moved)]
            overlap = None if overlap is None else overlap[np.isin(labels[overlap], moved)]
            # the mapping limits the pool whatever the others took: said, or disjoint: false read as the cure
            shortage = f"{shortage}, of the classes its mapping moves"
        if "rates" in p.params:
            targets = np.concatenate([
                _draw(pool[labels[pool] == c], round(rate * np.sum(labels[train] == c)), rng,
                      where=f"{p.where} rates[{state.classes[c]!r}]", per=int(np.sum(labels[train] == c)),
                      shortage=shortage, overlap=None if overlap is None else overlap[labels[overlap] == c])
                for c, rate in sorted(p.params["rates"].items())
            ]).astype(np.int64)
        else:
            targets = _draw(pool, _needed(p, counts), rng, where=f"{p.where} fraction", per=len(train),
                            factor=rows_per_pick(_spec(p)), shortage=shortage, overlap=overlap)
        sources = None
        if is_dup:
            # overwrite: the first half are replaced by copies of the second half; add: all are sources
            half = len(targets) // 2 if p.params["mode"] == "overwrite" else 0
            targets, sources = targets[:half], targets[half:]
            free_of_copies[targets] = free_of_copies[sources] = free[sources] = False
        free[targets] = False
        picks.append((p, (targets, sources)))
    return picks


def picked(specs: list[dict], n_train: int, *, disjoint: bool = True) -> list[int]:
    """Images each of the ``fraction`` perturbations ``specs`` (``kind``, ``fraction``, a duplicate's ``mode``) picks
    among ``n_train`` train rows: ``round(fraction * n_train)``. Where the ones that share the rows (all of them, with
    ``disjoint`` false the duplicates alone; an overwriting copy takes its source too) would so need more rows than
    there are though their fractions add up to at most 1, those rounded up the most give one image back each (the
    later first among equals) until they fit. Before: round(0.5 * 27) = 14 overwriting copies needed 28 of 27 rows,
    and the 0.5 the strength sweep queues (half copies, half their sources) was refused, "their sum must be at most
    1"; so were symmetric_noise 0.5 beside blur 0.5, 14 images each."""
    counts = [round(spec["fraction"] * n_train) for spec in specs]
    rows = [rows_per_pick(spec) for spec in specs]
    shared = [i for i, spec in enumerate(specs) if disjoint or spec["kind"] in DUPLICATE_KINDS]
    if sum(specs[i]["fraction"] * rows[i] for i in shared) <= 1 + 1e-9:  # each then fits at its share rounded down
        for i in sorted(shared, key=lambda i: (counts[i] - specs[i]["fraction"] * n_train, i), reverse=True):
            if sum(counts[j] * rows[j] for j in shared) <= n_train:
                break
            counts[i] -= counts[i] > specs[i]["fraction"] * n_train
    return counts


def rows_per_pick(spec: dict) -> int:
    """Train rows each image a perturbation ``spec`` (``kind``, a duplicate's ``mode``, overwrite by default) picks
    takes: an overwriting copy two, the copy's position and its source; anything else one."""
    return 2 if spec["kind"] in DUPLICATE_KINDS and spec.get("mode", "overwrite") == "overwrite" else 1


def _counts(specs: list[Perturbation], n_train: int, *, disjoint: bool) -> dict[int, int]:
    """Images each ``fraction`` perturbation picks among ``n_train`` train rows, by its index
    (:func:`picked`)."""
    shares = [p for p in specs if "fraction" in p.params]
    return dict(zip([p.index for p in shares], picked([_spec(p) for p in shares], n_train, disjoint=disjoint)))


def _spec(p: Perturbation) -> dict:
    """``p`` as a spec dict (``kind`` and its options, the defaults filled in), as :func:`picked` and
    :func:`rows_per_pick` read specs."""
    return {"kind": p.kind, **p.params}


def _needed(p: Perturbation, counts: dict[int, int]) -> int:
    """Train rows a ``fraction`` perturbation takes, ``counts`` its images (:func:`_counts`)."""
    return counts[p.index] * rows_per_pick(_spec(p))


def _draw(pool: np.ndarray, n: int, rng: np.random.Generator, *, where: str, per: int, factor: int = 1,
          shortage: str, overlap: np.ndarray | None) -> np.ndarray:
    """``n`` of ``pool``; ``shortage``: what took the rest of the train rows; ``overlap``: the pool degrade.disjoint:
    false would give (None: no other), advised only where it holds ``n`` (before: advised whenever disjoint was
    true, also where a pair flip's mapping or a duplicate's images were the limit, and following it failed again)."""
    if n > len(pool):
        advice = ", or set degrade.disjoint: false" if overlap is not None and n <= len(overlap) else ""
        raise WinnowError(f"{where}: needs {n} train images but only {len(pool)} are free (after removals and "
                          f"{shortage}); allowed range [0, {_largest_share(len(pool) // factor, per)}]{advice}")
    return rng.choice(pool, n, replace=False)


def _largest_share(images: int, per: int) -> str:
    """The largest share of ``per`` images that rounds to at most ``images`` of them, as a shortage prints it: to 4
    decimals, or as many as tell one image of ``per`` from the next, and never rounded up past ``images``. Before: 11
    free of 30,000 printed [0, 0.0004], which needs 12, and the line repeated itself."""
    if not per:
        return f"{0:.4f}"
    digits = max(4, math.ceil(math.log10(per)))
    share = round(images / per, digits)
    while round(share * per) > images:  # round(): how picked() and the rates count a share's images
        share = round(share - 10 ** -digits, digits)
    return f"{share:.{digits}f}"


def _check_budget(specs: list[Perturbation], state, counts: dict[int, int], *, disjoint: bool,
                  curable: bool) -> None:
    """Fractions that add up to more than the surviving train rows fail here, naming the total; degrade.disjoint:
    false is offered as the cure where ``curable`` (:func:`_may_overlap`) and it gives the rows."""
    train = state.train_alive()
    needed = [_needed(p, counts) for p in specs if "fraction" in p.params and (disjoint or p.kind in DUPLICATE_KINDS)]
    if sum(needed) > len(train):
        scope = "perturbation fractions" if disjoint else "duplicate fractions"
        cure = ", or set degrade.disjoint: false to let them overlap" if curable and _fits_overlapping(
            specs, len(train)) else ""
        raise WinnowError(
            f"degrade.perturbations: the {scope} need {sum(needed)} train images (overwriting duplicates count "
            f"twice: copy and source) but the train split has {len(train)} after removals; their sum must be "
            f"at most 1{cure}"
        )


def _fits_overlapping(specs: list[Perturbation], n_train: int) -> bool:
    """Whether degrade.disjoint: false gives every ``fraction`` perturbation its rows however the earlier picks fall:
    duplicates share their images with nothing, so each must fit beside all before it, the others beside the
    duplicates before them (before: offered for [exact_duplicate 0.5 add, symmetric_noise 1.0], a shortage again)."""
    duplicates = taken = 0
    counts = _counts(specs, n_train, disjoint=False)
    for p in specs:
        if "fraction" not in p.params:
            continue
        needed = _needed(p, counts)
        if needed > n_train - (taken if p.kind in DUPLICATE_KINDS else duplicates):
            return False
        duplicates += needed if p.kind in DUPLICATE_KINDS else 0
        taken += needed
    return True
