"""confident-learn: K-fold out-of-sample probabilities for the train images that survived threshold and
dedup, from linear probes on the represent embedding (judge: probe) or from CNNs (judge: cnn); cleanlab's
label issues; one keep | drop | relabel decision per image, relabels only where the judge's relabel
precision, measured on flips planted in val, clears relabel_min_precision; metrics."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

from pathlib import Path

import numpy as np
import pandas as pd

from winnow import judges
from winnow import labels as cl
from winnow.decided_at import CONFIDENT_LEARN_DEFAULTS, DECIDED_AT, decided_at, decided_on
from winnow.errors import WinnowError, named_then_counted
from winnow.groundtruth import LABEL_KINDS, planted
from winnow.judge_val import measured_val
from winnow.judged_rows import in_id_order, read_judged, with_digests
from winnow.out_of_sample import cross_val_pred_probs, probe_pred_probs, too_small_to_judge
from winnow.represent import read_representation
from winnow.stage import atomic_path, check_outputs, load_params, run, together, write_json, write_table
from winnow.schedule import patience_unreachable
from winnow.training import TrainConfig

REPRESENT_IN = "data/represent"
OUT = Path("data/confident-learn")
METRICS_OUT = "metrics/confident_learn.json"
# the confident_learn section of params.yaml; "train" overrides the train section for the CNN folds
NAMED = 5  # small classes a warning names one by one
DEFAULTS = CONFIDENT_LEARN_DEFAULTS


def main() -> None:
    params = load_params()
    p = {**DEFAULTS, **(params.get("confident_learn") or {})}
    check_outputs(stage="confident-learn", files=[OUT / "pred_probs.npy", OUT / "pred_ids.json",
                                                  OUT / "label_issues.parquet", OUT / "noise_matrix.csv", METRICS_OUT])
    config = TrainConfig.from_params(params["train"], overrides=p.get("train"), overrides_from="confident_learn.train")
    data, considered, conflict, truth = read_judged(cleaners=params["pruned"]["cleaners"], params=params)
    left_out = int(((data.manifest["split"] == "train").to_numpy() & ~considered).sum())
    considered, unjudged = _without_small_classes(data, considered, folds=p["folds"])
    in_order = in_id_order(data.manifest, considered)  # the same decisions whatever the row order
    train = data.select(in_order)
    ids, given = train.manifest["id"].to_numpy(), train.labels
    # val images of a class no judge learns (unjudged, or emptied by threshold and dedup) would also pull the
    # probe's ridge strength towards uniform probabilities
    learned = np.unique(given)
    # each val picture once, and none a judged train image copies (dedup.drop_leaks false)
    val, val_left_out = measured_val(data, learned, stage="confident_learn", judged=train.manifest["id"])

    embedded = decided_on("confident_learn", params)  # the embedding's files, before its probe reads them
    if p["judge"] == "probe":
        judged = probe_pred_probs(read_representation(REPRESENT_IN, ids, data=data, params=params), given,
                                  val_features=read_representation(REPRESENT_IN, val.manifest["id"], data=data,
                                                                   params=params),
                                  val_labels=val.labels, classes=data.classes, folds=p["folds"],
                                  repeats=p["repeats"], seed=params["seed"])
    else:
        unstoppable = patience_unreachable(config)  # once, not once a fold: before, never said
        if unstoppable:
            print(f"warning: confident-learn: {unstoppable}", flush=True)
        judged = cross_val_pred_probs(train.images, given, val_images=val.images, val_labels=val.labels,
                                      config=config, classes=data.classes, folds=p["folds"],
                                      repeats=p["repeats"], seed=params["seed"], progress=True)
    pred_probs, find_options = judged.pred_probs, {k: p[k] for k in ("filter_by", "rank_by", "frac_noise")}
    is_issue, quality = cl.find_issues(given, pred_probs, **find_options)
    issues = cl.decide(ids, given, pred_probs, is_issue=is_issue, label_quality=quality, conflict=conflict[in_order],
                       action=p["action"], relabel_threshold=p["relabel_threshold"])
    strength = cl.relabel_strength(val.labels, judged.val_probs, val_accuracy=judged.val_accuracy,
                                   seed=params["seed"], min_precision=p["relabel_min_precision"],
                                   relabel_threshold=p["relabel_threshold"], judged_on=p["relabel_judged_on"],
                                   classes=learned, **find_options)
    trusted = judges.gate_relabels(issues, strength)
    # before: with val lacking a class (an imagefolder without its val/ folder) relabels to and from it shipped
    # under a precision that never saw them
    unmeasured = judges.unmeasured_classes(learned, val.labels)
    issues = judges.gate_unmeasured(trusted, unmeasured, classes=data.classes)
    noise = cl.noise_estimate(given, pred_probs)

    # a blocked relabel's reason is its own, then "; untrusted_relabel (...)": it counts under its own
    own_reason = issues["reason"].str.split("; ").str[0]
    metrics = {
        "judge": {"kind": p["judge"], "l2": judged.l2, **strength.metrics(),
                  "relabels_blocked": judges.blocked(issues),
                  "classes_without_val_images": [data.classes[c] for c in unmeasured], **val_left_out},
        "considered": len(train), "left_out": left_out,
        "unjudged": {"classes": unjudged, "images": sum(unjudged.values())},
        "accuracy_vs_given": float(np.mean(pred_probs.argmax(1) == given)),
        "noise_rate": noise["noise_rate"],
        "issues": int(issues["is_issue"].sum()),
        "decisions": {d: int((issues["decision"] == d).sum()) for d in cl.DECISIONS},
        "reasons": {r: int((own_reason == r).sum()) for r in cl.REASONS},
        "label_conflicts": {"considered": int(conflict[considered].sum()), "flagged": int((own_reason == "label_conflict").sum())},
    }
    if planted(truth, LABEL_KINDS):  # no planted label noise: nothing to score against, so no truth entry
        metrics["truth"] = cl.score_against_truth(issues, truth)
    with together():  # all outputs or none: a failed write (a full disk) leaves the last run's
        with atomic_path(OUT / "pred_probs.npy") as tmp:
            np.save(tmp, pred_probs)
        write_json(OUT / "pred_ids.json", ids.tolist())
        decided = with_digests(issues, manifest=data.manifest)
        # held to params.yaml by its readers: before, decisions of settings since edited were read as current
        # and to the embedding its probe read: before, decisions made on an embedding since rewritten were read
        decided.attrs = {DECIDED_AT: decided_at("confident_learn", params), **embedded}
        write_table(OUT / "label_issues.parquet", decided)
        # P(given label = row | true label = column), as cleanlab estimates it: a K x K table beside the
        # decisions, not in the metrics file, where its K^2 entries would be dvc exp show's first columns
        # ("given/true" as the first column's name: no class name holds a slash, so it never collides)
        noise_matrix = pd.DataFrame(noise["noise_matrix"], columns=data.classes,
                                    index=pd.Index(data.classes, name="given/true"))
        write_table(OUT / "noise_matrix.csv", noise_matrix.reset_index())
        write_json(METRICS_OUT, metrics)
    print(f"confident-learn: {metrics['issues']} issues among {len(train)} train images; "
          + ", ".join(f"{d} {n}" for d, n in metrics["decisions"].items())
          + f"; the {p['judge']} judge is right on {judged.val_accuracy:.1%} of val images, relabel precision "
          + f"{strength.precision_text} on {strength.planted} flips planted in val")
    if not strength.relabels_allowed and metrics["judge"]["relabels_blocked"]:
        print(f"confident-learn: {metrics['judge']['relabels_blocked']} relabel(s) became drops: "
              f"{strength.refusal()}")
    for warning in (cl.frac_noise_warning(given, pred_probs, found=int(is_issue.sum()), **find_options),
                    judges.unmeasured_warning("confident-learn", unmeasured, classes=data.classes,
                                              dropped=int((issues["decision"] != trusted["decision"]).sum())),
                    judges.weak_judge_warning("confident-learn", judged.val_accuracy, cleaner="confident_learn",
                                              strength=strength),
                    judges.coin_flip_relabels_warning("confident-learn", strength,
                                                      relabels=metrics["decisions"]["relabel"],
                                                      cleaner="confident_learn"),
                    # val_images: those val_accuracy is over (val of the learned classes). Before, every val image:
                    # 200 of a class no train image has made 8 of 10 right read as significantly below train's 100%
                    judges.label_echo_warning("confident-learn", train_agreement=metrics["accuracy_vs_given"],
                                              train_images=len(given), val_agreement=judged.val_accuracy,
                                              val_images=len(val))):
        if warning:
            print(warning)


def _without_small_classes(data, considered: np.ndarray, *, folds: int) -> tuple[np.ndarray, dict[str, int]]:
    """``considered`` less the train images of classes too small for ``folds`` folds, and those classes'
    ``{name: images}``; each such class is named in a warning. A rare class does not stop the stage (it
    stopped the whole pipeline even where confident_learn was not among pruned.cleaners): its images are
    kept as they are, unjudged."""
    rows = np.flatnonzero(considered)
    labels = data.labels[rows]
    small = too_small_to_judge(labels, folds=folds, classes=data.classes)
    if not small:
        return considered, small
    skipped = np.isin(labels, [data.classes.index(name) for name in small])
    judgeable = len(np.unique(labels[~skipped]))
    # a class that threshold and dedup thinned was once named as if it had only what they left: "add images"
    in_train = np.bincount(data.labels[(data.manifest["split"] == "train").to_numpy()], minlength=len(data.classes))
    # a long tail of rare classes stays one readable line
    named = named_then_counted([f"{name!r} ({n} image{'s' if n > 1 else ''}" + (
        f" of its {in_train[data.classes.index(name)]} train images: threshold and dedup left out the rest)"
        if in_train[data.classes.index(name)] > n else ")") for name, n in small.items()], most=NAMED,
        noun=("class", "classes"))
    if judgeable < 2:
        # the fold count at which the second-largest class is judged: its size, if 2 or more (folds cannot go lower).
        # Before, "or lower confident_learn.folds" also where that class held one image, which no fold count judges
        second = int(np.sort(np.bincount(labels))[-2]) if len(np.unique(labels)) > 1 else 0
        lower = f" or lower confident_learn.folds to {second}" if 2 <= second < folds else ""
        raise WinnowError(f"confident_learn: label issues need two classes of at least confident_learn.folds "
                          f"({folds}) train images; {judgeable} ha{'s' if judgeable == 1 else 've'} that many, fewer "
                          f"in {named}: add images"
                          f"{lower}")
    kept = considered.copy()
    kept[rows[skipped]] = False
    fewest = min(small.values())
    lower = f", or lower confident_learn.folds to {fewest}" if fewest >= 2 else ""
    print(f"warning: confident-learn: fewer train images than confident_learn.folds ({folds}) in {named}: kept "
          f"unjudged, since out-of-sample judging needs other images of the class; add images{lower}")
    return kept, small


if __name__ == "__main__":
    run(main)
