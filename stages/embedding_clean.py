"""embedding-clean: neighbour cleansing (001 section 3.3) and outlier scores (002 section 2.2) of the train
images that survived threshold and dedup, in the represent stage's embedding (embedding: represent) or in
a model trained here on the given labels (embedding: judge), for ``rounds`` rounds; relabels only where
the judge's relabel precision, measured on flips planted in val, clears relabel_min_precision; decisions
and metrics.

With the represent embedding the features are fixed: a later round re-applies the neighbour rules to the
labels the earlier rounds left, and augment_between_rounds does nothing. With the judge and
``augment_between_rounds`` (001's clean -> augment -> clean), each round after the first trains its
embedding model on the cleaned images plus balanced augmented copies made with the balance section's
policy (winnow.balance), so the next round sees every class at the same count."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd

from winnow import judges
from winnow import labels as cl
from winnow.balance import balanced_augment
from winnow.cosine_index import backend_of, resolve
from winnow.decided_at import DECIDED_AT, EMBEDDING_CLEAN_DEFAULTS, decided_at, decided_on
from winnow.embeddings import clean_rounds, round_options
from winnow.errors import WinnowError, named_then_counted
from winnow.groundtruth import LABEL_KINDS, planted
from winnow.judge_val import measured_val
from winnow.judged_rows import in_id_order, read_judged, with_digests
from winnow.neighbours import DECISIONS, RULES, final_decisions
from winnow.represent import read_representation
from winnow.stage import atomic_path, check_outputs, load_params, run, together, write_json, write_table
from winnow.schedule import patience_unreachable
from winnow.training import TrainConfig

REPRESENT_IN = "data/represent"
OUT = Path("data/embedding-clean")
METRICS_OUT = "metrics/embedding_clean.json"
# the embedding_clean section of params.yaml; "train" overrides the train section for the judge's models
DEFAULTS = EMBEDDING_CLEAN_DEFAULTS
REASONS = RULES + ("outlier",)
# the drops for lying far from the rest (a reason's rule): what each is called, and the setting that turns it off
SET_APART = {"isolated": ("the isolation rule", "set embedding_clean.isolation: null"),
             "outlier": ("the outlier drops", "set embedding_clean.drop_outliers: false")}
CLASS_SHARE = 0.5  # of a class's train images judged, dropped by them: how that class looks, more likely than mistakes
NAMED = 5  # small classes a warning names one by one


def main() -> None:
    params = load_params()
    p = {**DEFAULTS, **(params.get("embedding_clean") or {})}
    check_outputs(stage="embedding-clean", files=[OUT / "embeddings.npy", OUT / "embedding_ids.json",
                                                  OUT / "decisions.parquet", OUT / "rounds.parquet", METRICS_OUT])
    config = TrainConfig.from_params(params["train"], overrides=p["train"], overrides_from="embedding_clean.train")
    resolve(backend_of(params))  # faiss asked for but missing: one line now, not after the judge trained
    data, considered, _, truth = read_judged(cleaners=params["pruned"]["cleaners"], params=params)
    left_out = int(((data.manifest["split"] == "train").to_numpy() & ~considered).sum())
    folds = p["folds"] if p["embedding"] == "judge" and p["mode"] == "folds" else None
    considered, unjudged = _without_small_classes(data, considered, k=p["k"], agree=p["agree"], folds=folds)
    train = data.select(in_id_order(data.manifest, considered))  # the same decisions whatever the row order
    # the judge works among the classes it has train images of (as confident-learn's; degrade's class_removal,
    # a class kept unjudged). Labels go to clean_rounds as indices into `learned` and come back as class indices
    learned = np.unique(train.labels)
    # each val picture once, and none a judged train image copies (dedup.drop_leaks false)
    val, val_left_out = measured_val(data, learned, stage="embedding_clean", judged=train.manifest["id"])

    fixed = p["embedding"] == "represent"
    train_ids = train.manifest["id"].to_numpy()
    embedded = decided_on("embedding_clean", params)  # the represent embedding's files, before they are read
    # read before anything is trained or judged, so a missing or misaligned embedding stops the stage at once
    features = read_representation(REPRESENT_IN, train_ids, data=data, params=params) if fixed else None
    val_features = read_representation(REPRESENT_IN, val.manifest["id"], data=data, params=params) if fixed else None
    # fixed features: nothing is trained, so there is nothing to augment for
    augmented = p["augment_between_rounds"] and not fixed and p["rounds"] > 1
    unstoppable = None if fixed else patience_unreachable(config)  # once, not once a model: before, never said
    if unstoppable:
        print(f"warning: embedding-clean: {unstoppable}", flush=True)
    result = clean_rounds(
        train.images, np.searchsorted(learned, train.labels), train_ids, val_images=val.images,
        val_labels=np.searchsorted(learned, val.labels), config=config, num_classes=len(learned), features=features,
        val_features=val_features, **round_options(p), seed=params["seed"], knn=backend_of(params), progress=True,
        augment=_balancer(params, classes=len(learned)) if augmented else None,
    )
    result = dataclasses.replace(result, decisions=_in_classes(result.decisions, learned))
    trusted = _gated(final_decisions(result.decisions), result.strengths)
    # before: with val lacking a class (an imagefolder without its val/ folder) relabels to and from it shipped
    # under a precision that never saw them
    unmeasured = judges.unmeasured_classes(learned, val.labels)
    final = judges.gate_unmeasured(trusted, unmeasured, classes=data.classes)
    weakest = _weakest(result.strengths)
    # round 1's neighbours, each image left out of its own vote: how often the vote is the given label. Before,
    # a tie (1 vote of the given class, 1 of another) counted as agreement while val's vote went to the nearest:
    # random features read 18.4% on train against 7.6% on val, and were told they "carry the train labels"
    first = result.decisions[result.decisions["round"] == result.decisions["round"].min()]
    echo = result.train_agreement[0] if len(first) else None
    # beside it, val's vote among the same references: in a fixed embedding the judge's val accuracy, with the
    # judge's own models another measurement than their classifier's (before: left out of the metrics, so the
    # label-echo warning's two figures could not both be read back)
    metrics = {"judge": {"embedding": p["embedding"], **weakest, "train_agreement": echo,
                         "val_agreement": result.val_agreement[0] if len(first) else None,
                         "relabels_blocked": judges.blocked(final),
                         "classes_without_val_images": [data.classes[c] for c in unmeasured], **val_left_out},
               "considered": len(train), "left_out": left_out,
               "unjudged": {"classes": unjudged, "images": sum(unjudged.values())}, **_counts(final),
               "augmented_between_rounds": augmented,
               "rounds": [{"round": r, "judged": len(table), "judge_val_accuracy": strength.val_accuracy,
                           "relabel_precision": strength.relabel_precision,
                           "relabels_allowed": strength.relabels_allowed, **_counts(table),
                           "outliers": {m: int(table[f"{m}_outlier"].sum()) for m in p["outliers"]},
                           "outlier_cuts": {m: None if math.isinf(c) else c for m, c in cuts.items()}}
                          for (r, table), cuts, strength in zip(result.decisions.groupby("round"), result.outlier_cuts,
                                                                result.strengths)]}
    if planted(truth, LABEL_KINDS):  # no planted label noise: nothing to score against, so no truth entry
        metrics["truth"] = cl.score_against_truth(final, truth)
    with together():  # all outputs or none: a failed write (a full disk) leaves the last run's
        with atomic_path(OUT / "embeddings.npy") as tmp:
            np.save(tmp, result.features)
        write_json(OUT / "embedding_ids.json", result.ids.tolist())
        decided = with_digests(final, manifest=data.manifest)
        # held to params.yaml by its readers, and to the represent embedding it judged in (before: decisions made in
        # an embedding since rewritten were read as current)
        decided.attrs = {DECIDED_AT: decided_at("embedding_clean", params), **embedded}
        write_table(OUT / "decisions.parquet", decided)
        # the report shows each round's judgements of the images by id, and refuses them of other pixels
        write_table(OUT / "rounds.parquet", with_digests(result.decisions, manifest=data.manifest))
        write_json(METRICS_OUT, metrics)
    print(f"embedding-clean: {len(train)} train images judged over {p['rounds']} round(s) in the {p['embedding']} "
          f"embedding by judges {', '.join(f'{s.val_accuracy:.3f}' for s in result.strengths)} accurate on val, "
          "relabel precision " + ", ".join(s.precision_text for s in result.strengths)
          + f" on {result.strengths[0].planted} flips planted in val; "
          + ", ".join(f"{d} {n}" for d, n in metrics["decisions"].items()))
    if fixed and p["rounds"] > 1 and p["augment_between_rounds"]:
        print("embedding-clean: note: augment_between_rounds does nothing with the represent embedding (its features "
              "are fixed; later rounds re-apply the neighbour rules to the updated labels)")
    refused = [s for s in result.strengths if not s.relabels_allowed]
    if refused and metrics["judge"]["relabels_blocked"]:
        print(f"embedding-clean: {metrics['judge']['relabels_blocked']} relabel(s) became drops: "
              f"{refused[0].refusal()}")
    for warning in (judges.unmeasured_warning("embedding-clean", unmeasured, classes=data.classes,
                                              dropped=int((final["decision"] != trusted["decision"]).sum())),
                    judges.weak_judge_warning("embedding-clean", weakest["val_accuracy"], cleaner="embedding_clean",
                                              strength=next((s for s in result.strengths
                                                             if not s.beats_largest_class), None)),
                    judges.coin_flip_relabels_warning("embedding-clean", _weakest_strength(result.strengths),
                                                      relabels=metrics["decisions"]["relabel"],
                                                      cleaner="embedding_clean"),
                    judges.label_echo_warning("embedding-clean", train_agreement=echo or 0.0, train_images=len(first),
                                              val_agreement=result.val_agreement[0], val_images=len(val.manifest))):
        if warning:
            print(warning)
    for line in _classes_set_apart(final, classes=data.classes) + _peeled(result.decisions, p):
        print(line)


# each round's cut of the rules that drop an image for lying far from the rest, and the setting that caps that cut
CAPPED = {"outlier": ("as outliers", "max_outlier_fraction", "set embedding_clean.drop_outliers: false"),
          "isolated": ("as isolated", "max_isolated_fraction", "set embedding_clean.isolation: null")}


def _peeled(decisions: pd.DataFrame, p: dict) -> list[str]:
    """A ``warning:`` line for each rule of :data:`CAPPED` whose drops over all rounds (``decisions``: every round's
    rows, column ``round``) exceed its fraction (``p``: the embedding_clean section) of the images round 1 judged. Each
    round's cut is capped on the images the rounds before kept, so each round takes the new edge of what is left:
    before, 20 rounds of drop_outliers (ght) on two clean clusters of 100 dropped 59 (29.5%) under a
    max_outlier_fraction of 0.1, and nothing said so."""
    rounds = int(decisions["round"].nunique())
    if rounds < 2:
        return []
    judged = int((decisions["round"] == decisions["round"].min()).sum())
    rule = decisions["reason"].astype(str).str.split(":").str[0].to_numpy()
    dropped = (decisions["decision"] == "drop").to_numpy()
    lines = []
    for name, (what, setting, off) in CAPPED.items():
        taken, cap = int((dropped & (rule == name)).sum()), p[setting]
        if taken > cap * judged:
            lines.append(f"warning: embedding-clean: over the {rounds} rounds {taken} of the {judged:,} train images "
                         f"judged were dropped {what} ({taken / judged:.1%}), more than embedding_clean.{setting} "
                         f"({cap:g}), "
                         "which caps each round's cut alone: each round cuts the edge of what the rounds before kept; "
                         f"set embedding_clean.rounds: 1, or {off}, unless that many are outliers")
    return lines


def _classes_set_apart(final: pd.DataFrame, *, classes: list[str]) -> list[str]:
    """A ``warning:`` line for each class of which the rules that drop an image for lying far from the rest
    (:data:`SET_APART`) drop more than :data:`CLASS_SHARE` of the train images judged (``final``: the decisions, class
    indices into ``classes``). Their cuts are taken over every class at once, so a rare class whose images lie further
    apart than the others' (a varied class, few images) sits below the cut whole: before, 9 of a class's 12 correct
    images were dropped as isolated (the other 3 as relabels too few val flips measured), the class gone from pruned
    without a word, where threshold warns of a cut that takes most of one class."""
    rule = final["reason"].astype(str).str.split(":").str[0].to_numpy()
    apart = (final["decision"] == "drop").to_numpy() & np.isin(rule, list(SET_APART))
    lines = []
    for c in np.unique(final["given_label"]):
        of_class = final["given_label"].to_numpy() == c
        k, n = int((apart & of_class).sum()), int(of_class.sum())
        if k <= CLASS_SHARE * n:
            continue
        rules = [r for r in SET_APART if (apart & of_class & (rule == r)).any()]
        named = " and ".join(SET_APART[r][0] for r in rules)
        lines.append(f"warning: embedding-clean: {named} drop{'s' * (len(rules) == 1)} {k} of the {n} train images of "
                     f"class {classes[c]!r} judged: a class whose images lie that far apart is more likely how that "
                     "class looks (rare or varied) than a class of mistakes, so check them (then "
                     f"{' or '.join(SET_APART[r][1] for r in rules)}); dropping them would leave that class little or "
                     "nothing to learn from")
    return lines


def _neighbours_needed(*, k: int, folds: int | None) -> int:
    """The fewest train images a class needs before its own images could fill an image's ``k`` neighbours: the
    ``n - 1`` others (an image is not its own neighbour), or in folds mode the ``(folds - 1) / folds`` of them the
    other folds hold. Below it some neighbours are of other classes whatever the image shows. Before, the bound
    was only the count that could outvote ``agree``: a class of 4 correct images at k 10 had 3 relabelled to the
    next class and the fourth dropped as isolated, the class gone, without a word."""
    return math.ceil(k * folds / (folds - 1)) if folds else k + 1


def _without_small_classes(data, considered: np.ndarray, *, k: int, agree: float,
                           folds: int | None) -> tuple[np.ndarray, dict[str, int]]:
    """``considered`` less the train images of classes too small for the neighbour vote
    (:func:`_neighbours_needed`), and those classes' ``{name: images}``, named in a warning. Judged, a class of 3
    images among k = 10 neighbours at agree 0.8 was relabelled whole to the class next to it, and its val images,
    voted by 3 references, took a perfect judge's measured val accuracy to 0.667: its images are kept as they are,
    unjudged, as confident-learn keeps a class too small for its folds. Fewer than two classes left: one line."""
    if (not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1 or not 0 < agree <= 1
            or (folds is not None and (not isinstance(folds, (int, np.integer)) or folds < 2))):
        return considered, {}  # clean_rounds refuses these in its own words
    needed = _neighbours_needed(k=int(k), folds=folds)
    vote = f"embedding_clean.k {k}" + (f", folds {folds}" if folds else "")
    rows = np.flatnonzero(considered)
    counts = np.bincount(data.labels[rows], minlength=len(data.classes))
    small = {data.classes[c]: int(counts[c]) for c in np.flatnonzero((counts > 0) & (counts < needed))}
    judgeable = int((counts >= needed).sum())
    if not small and judgeable >= 2:
        return considered, small
    # a long tail of rare classes stays one readable line
    named = named_then_counted([f"{name!r} ({n} image{'s' if n > 1 else ''})" for name, n in small.items()],
                               most=NAMED, noun=("class", "classes"))
    if judgeable < 2:
        fewer = f", fewer in {named}" if small else ""
        # the stage runs and stops the pipeline whatever pruned.cleaners says (its outputs feed the budget, the
        # report and review), so leaving it out of pruned.cleaners is no way on: before, a user who did so met the
        # same line again. The k named is the largest at which the second-largest class fills its own neighbours
        lower = _lower_k(int(np.sort(counts)[-2]) if len(counts) > 1 else 0, folds=folds)
        raise WinnowError(f"embedding_clean: neighbour cleansing needs two classes of at least {needed} train images "
                          f"({vote}); {judgeable} ha{'s' if judgeable == 1 else 've'} that many{fewer}: add images"
                          f"{lower}")
    kept = considered.copy()
    kept[rows[np.isin(data.labels[rows], [data.classes.index(name) for name in small])]] = False
    # before: "or lower embedding_clean.k", not how far (the refusal above names it, as confident-learn's warning
    # names its folds)
    print(f"warning: embedding-clean: fewer train images than the neighbour vote needs ({needed}, for its own class "
          f"to fill the neighbours: {vote}) in {named}: kept unjudged, since some of such an image's nearest "
          f"neighbours are of other classes whatever it shows; add images{_lower_k(min(small.values()), folds=folds)}")
    return kept, small


def _lower_k(images: int, *, folds: int | None) -> str:
    """', or lower embedding_clean.k to <k>': the largest k at which a class of ``images`` train images fills an
    image's neighbours from its own (:func:`_neighbours_needed`); '' where none does (a class of one image)."""
    fits = images * (folds - 1) // folds if folds else images - 1
    return f", or lower embedding_clean.k to {fits}" if fits >= 1 else ""


def _in_classes(decisions: pd.DataFrame, learned: np.ndarray) -> pd.DataFrame:
    """``decisions`` whose labels are indices into ``learned`` (int, sorted class indices) with class indices
    instead: the label columns and the class a reason names (``neighbours_agree:<c>``, ``inside_class:<c>``)."""
    if np.array_equal(learned, np.arange(len(learned))):
        return decisions
    out = decisions.copy()
    for column in ("given_label", "suggested_label", "neighbour_label"):
        label = out[column].to_numpy(np.int64)
        out[column] = np.where(label >= 0, learned[np.maximum(label, 0)], -1)  # -1: no class (neighbours.cleanse)
    out["reason"] = out["reason"].astype(str).str.replace(
        r"^(\w+):(\d+)", lambda m: f"{m.group(1)}:{learned[int(m.group(2))]}", regex=True)
    return out


def _weakest(strengths: list[judges.Strength]) -> dict:
    """The judge's figures for the whole run: every figure of its weakest round (the lowest relabel precision,
    an unmeasured one lowest of all; then the lowest val accuracy), so a precision is told with its own counts
    (before: round 3's 0.907 beside round 1's 86 relabels), and relabels allowed only if every round allowed
    them."""
    return {**_weakest_strength(strengths).metrics(), "relabels_allowed": all(s.relabels_allowed for s in strengths)}


def _weakest_strength(strengths: list[judges.Strength]) -> judges.Strength:
    """The weakest round's judge: the lowest relabel precision, an unmeasured one lowest of all; then the lowest
    val accuracy."""
    return min(strengths, key=lambda s: (s.relabel_precision is not None, s.relabel_precision or 0.0, s.val_accuracy))


def _gated(final: pd.DataFrame, strengths: list[judges.Strength]) -> pd.DataFrame:
    """The final decisions with every relabel a drop when some round's judge was not trusted to relabel (the
    first such round's refusal as the reason): the run's verdict is its weakest round's (:func:`_weakest`), and
    before, round 1's 358 relabels shipped while the metrics said relabels were not allowed."""
    refused = next((s for s in strengths if not s.relabels_allowed), None)
    return final if refused is None else judges.gate_relabels(final, refused)


def _balancer(params: dict, *, classes: int):
    """Balanced augmented copies of a round's cleaned images, for the next round's training only."""
    policy = (params.get("balance") or {}).get("policy") or {}

    def augment(images: np.ndarray, labels: np.ndarray, *, round: int) -> tuple[np.ndarray, np.ndarray]:
        made = balanced_augment(images, labels, policy=policy, seed=params["seed"] + round, num_classes=classes)
        return made.images, made.labels

    return augment


def _counts(table: pd.DataFrame) -> dict:
    """Decisions and reasons (by rule, the part before ':'), every one listed so that metrics diff cleanly."""
    rules = table["reason"].str.split(":").str[0]
    return {"decisions": {d: int((table["decision"] == d).sum()) for d in DECISIONS},
            "reasons": {r: int((rules == r).sum()) for r in REASONS}}


if __name__ == "__main__":
    run(main)
