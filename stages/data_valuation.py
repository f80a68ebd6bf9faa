"""data-valuation: what each train image that survived threshold and dedup does to a model judged on the
val split (issue 23, 001 §3.2): kNN-Shapley and TracIn on a linear layer, both on the represent stage's
embedding (winnow.valuation); an image both value reliably below zero is dropped. Decisions with the
other cleaners' columns (plus the values and ``harm``, the budget's confidence) and metrics.

The train images of a class with fewer than MIN_CLASS_VAL val images (not counting those with an all-zero
representation, which kNN-Shapley ranks nothing by) are valued with the rest (they stay in
every variant, so they shape the others' values) but decided nothing: they get no row, so every variant keeps
them, and a warning names the class. Not a refusal: a thin val split of one class says nothing against the
others' values, and keeping is what a cleaner does when it has no evidence. A val split too thin for every class
is refused, as an empty one is."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from winnow import judges
from winnow import labels as cl
from winnow.decided_at import DECIDED_AT, VALUATION_DEFAULTS, decided_at, decided_on
from winnow.errors import WinnowError
from winnow.groundtruth import LABEL_KINDS, planted
from winnow.imageset import more_val
from winnow.judge_val import learned_val, once_per_picture, val_of_other_classes
from winnow.judged_rows import in_id_order, read_judged, with_digests
from winnow.metrics import largest_class_share
from winnow.neighbours import silent_rows
from winnow.represent import read_representation
from winnow.stage import check_outputs, load_params, run, together, write_json, write_table
from winnow.stage_reads import read_table
from winnow.torch_runtime import pick_device, reproducible
from winnow.valuation import MIN_CLASS_VAL, Values, decide, knn_shapley, thin_classes, tracin

REPRESENT_IN = "data/represent"
OUT, METRICS_OUT = Path("data/data-valuation"), "metrics/data_valuation.json"
# the data_valuation section of params.yaml
DEFAULTS = VALUATION_DEFAULTS
SHOWN = 10  # most harmful and most helpful images listed in the metrics


def main() -> None:
    start = time.perf_counter()
    params = load_params()
    p = {**DEFAULTS, **(params.get("data_valuation") or {})}
    tracin_options = {**DEFAULTS["tracin"], **(p["tracin"] or {})}
    check_outputs(stage="data-valuation", files=[OUT / "decisions.parquet", METRICS_OUT])
    # settings first, then files, as balance: before, a device the host lacks was named only after every input was read
    # and the features computed, and a missing input was named in its place
    device = pick_device(p["device"], option="data_valuation.device")
    data, considered, _, truth = read_judged(cleaners=params["pruned"]["cleaners"], params=params)
    # in id order: TracIn deals its minibatches by position (kNN-Shapley averages a tie over its orders), so before,
    # data/degrade's rows reversed (ids, labels and embedding unchanged) moved harm by up to 0.17 and a drop
    train = data.select(in_id_order(data.manifest, considered))
    ids, given = train.manifest["id"].to_numpy(), train.labels
    # val images of a class no train image has are misjudged whatever the train set holds: with class 7 removed,
    # the val 7s predicted as 9 valued 339 of 350 clean 9s below zero and dropped them
    val = learned_val(data, np.unique(given))
    unlearned = int((data.manifest["split"] == "val").sum()) - len(val)
    groups = read_table("data/dedup/groups.parquet", written_by="dedup", columns=("id", "group"), missing_ok=True)
    # each val picture once: its copies would count as many draws of the val split in every standard error
    read_val = np.bincount(val.labels, minlength=len(data.classes))  # per class, copies included
    val, repeats, conflicts = once_per_picture(val, groups)
    if len(repeats):
        print(f"data-valuation: {len(repeats)} val image(s) repeat a picture of the val split (dedup's groups, first "
              f"{repeats[0]!r}): each picture values the train images once")
    if len(conflicts):
        print(f"warning: data-valuation: {len(conflicts)} val image(s) are copies of one picture carrying different "
              f"labels (dedup's groups, first {conflicts[0]!r}): left out of the valuation; give each picture one label")
    embedded = decided_on("data_valuation", params)  # the embedding's files, before they are read
    features = read_representation(REPRESENT_IN, ids, data=data, params=params)
    val_features = read_representation(REPRESENT_IN, val.manifest["id"], data=data, params=params)
    silent = silent_rows(val_features)  # before: their k "nearest" were the first train images by id
    if silent.any() and not silent.all():  # all of them: every class is thin (below), which its line says
        print(f"data-valuation: {int(silent.sum())} val image(s) have an all-zero representation (first "
              f"{val.manifest['id'].iloc[int(np.argmax(silent))]!r}), as near to every train image as to any other: "
              "kNN-Shapley ranks no train image by them (TracIn does)")
    left_out = int(((data.manifest["split"] == "train").to_numpy() & ~considered).sum())
    # a val image kNN-Shapley ranks nothing by measures no class: a class whose val images all have all-zero rows is
    # thin too. Before, a class whose 3 val images had them had each of its 30 correct train images valued at or below
    # zero by kNN-Shapley (no val image of its class to value one above it), and 21 of them dropped under combine both
    # (27 under either). All of them silent: every class is thin, as with most of them. Before, knn_shapley refused
    # that one, and stopped the default dvc repro where data_valuation is among no pruned.cleaners (3 of 4 silent went
    # on)
    unranked = silent
    unranked_of = np.bincount(val.labels[unranked], minlength=len(data.classes))
    copies_of = read_val - np.bincount(val.labels, minlength=len(data.classes))
    # an empty val split: refused by the estimators
    thin = thin_classes(given, val.labels[~unranked]) if len(val) else {}
    if (thin and len(thin) == len(np.unique(given))) or not len(val):
        if unlearned and not len(val) + len(repeats) + len(conflicts):
            # before: "the val split's 0 image(s)" and "no train or no val images ... (set ingest.val_fraction above
            # 0)" of a val split of 20 images whose class folders were named apart from train's
            why = (f"{val_of_other_classes(data, np.unique(given), what='with train images')}, and a value is "
                   "measured against val images of the valued image's class; give val images of the train classes "
                   "(an imagefolder's val/ folders named as train/'s)")
        else:
            # all of it counted, and the images of other classes named: before, "the val split's 1 image(s)" and
            # "raise ingest.val_fraction" of a val split of 21, 20 of them in class folders named apart from train's
            aside = [f"{unlearned} are of classes no train image has"] if unlearned else []
            aside += [f"{len(repeats)} repeat a picture counted once"] if len(repeats) else []
            aside += [f"{len(conflicts)} are copies of a picture labelled two ways"] if len(conflicts) else []
            aside += [f"{int(unranked.sum())} have an all-zero representation"] if unranked.any() else []
            why = (f"the val split's {len(val) + unlearned + len(repeats) + len(conflicts)} image(s) hold fewer than "
                   f"{MIN_CLASS_VAL} of every class with train images"
                   + (f" ({'; '.join(aside)})" if aside else "")
                   + ", and a value is measured against val images of the valued image's class; give the val split "
                   f"at least {MIN_CLASS_VAL} images of each class"
                   # more val images would be all-zero rows too (before: the val fraction alone was advised)
                   + (" that the representation answers" if unranked.any() else "") + " ("
                   + ("val images of the train classes: an imagefolder's val/ folders named as train/'s" if unlearned
                      else more_val(data.manifest))
                   + ("; see represent.source" if unranked.any() else "") + ")")
        if "data_valuation" not in params["pruned"]["cleaners"]:
            # its decisions go nowhere: a small legal data set once stopped the default dvc repro here
            _write_undecided(considered=len(ids), left_out=left_out, why=why, start=start, manifest=data.manifest,
                             params=params)
            print(f"warning: data-valuation: {why}. data_valuation is not among pruned.cleaners, so it values no "
                  "image and the pipeline goes on")
            return
        if (data.manifest["split"] == "val").any():  # an empty one: the estimators refuse it, naming both splits
            raise WinnowError(f"data-valuation: {why}")
    # one thread: the products are small ((N, D) by (D, K)), so more threads only synchronise (the SGD steps
    # took 5 s on torch's 2 shared threads, under 1 s on one), and one gives the same sums on every machine
    with reproducible(threads=1, device=device, training=False):
        values = {
            "knn_shapley": knn_shapley(features, given, val_features, val.labels, k=p["knn_k"],
                                       batch_size=p["batch_size"], device=device, progress=True),
            "tracin": tracin(features, given, val_features, val.labels, num_classes=len(data.classes),
                             **tracin_options, val_batch_size=p["batch_size"], seed=params["seed"], device=device,
                             progress=True),
        }
    valued = ~np.isin(given, list(thin))
    values = {name: v.take(valued) for name, v in values.items()}
    table = decide(ids[valued], given[valued], values, bound=p["bound"], combine=p["combine"])
    with together():  # all outputs or none: a failed write (a full disk) leaves the last run's
        write_table(OUT / "decisions.parquet", _recorded(table, manifest=data.manifest, params=params,
                                                         embedded=embedded))
        metrics = summary(table, values, classes=data.classes, bound=p["bound"], left_out=left_out)
        metrics |= {"bound": p["bound"], "combine": p["combine"], "device": device.type, "val_left_out": unlearned,
                    "val_repeats_left_out": len(repeats), "val_conflicts_left_out": len(conflicts),
                    "undecided": {"images": int((~valued).sum()), "min_class_val": MIN_CLASS_VAL,
                                  # each picture once, its other copies (if any) counted apart: before, only the
                                  # pictures were, and the report's recount of the class's val images refused the run
                                  "classes": {data.classes[c]: {"val_images": k,
                                                                **({"copied_val_images": int(copies_of[c])}
                                                                   if copies_of[c] else {}),
                                                                **({"silent_val_images": int(unranked_of[c])}
                                                                   if unranked_of[c] else {}),
                                                                "train_images": int((given == c).sum())}
                                              for c, k in thin.items()}}}
        if planted(truth, LABEL_KINDS):  # no planted label noise: nothing to score against, so no truth entry
            metrics["truth"] = cl.score_against_truth(table, truth)
        metrics["seconds"] = round(time.perf_counter() - start, 2)
        write_json(METRICS_OUT, metrics)
    if unlearned:
        print(f"data-valuation: {unlearned} val image(s) of class(es) with no train image left to value are left out "
              "of the judging")
    # knn_k wider than a class: its images cannot carry their own val images' votes, so no one image changes one.
    # Before, clean separable classes (320 images, knn_k 10), where no image hurts, were told to lower knn_k too; and
    # the line named knn_k against every train image, not the class it outgrew, so knn_k lowered still above it was
    # warned again with nothing to say how far
    classes, counts = np.unique(table["given_label"], return_counts=True)
    smallest = int(np.argmin(counts)) if len(table) else None
    if (not metrics["values"]["knn_shapley"]["negative"] and p["combine"] == "both" and smallest is not None
            and p["knn_k"] > counts[smallest]):
        # a class of one image: knn_k takes nothing below 1 (before: "the 1 train images ... to 1 or below")
        fewest = counts[smallest]
        print(f"warning: data-valuation: kNN-Shapley valued no train image below zero (data_valuation.knn_k "
              f"{p['knn_k']} is wider than the {fewest} train image{'s' if fewest > 1 else ''} of class "
              f"{data.classes[classes[smallest]]!r}: a vote that wide changes with no one image), so under combine "
              f"both nothing can be dropped; lower data_valuation.knn_k to {fewest}{' or below' if fewest > 1 else ''}")
    # before: in features that cannot tell a rare class from the largest, every one of its correct images was
    # valued harmful and dropped beside "TracIn probe 0.969 accurate on val" (the largest class's share), unwarned
    share, accuracy = largest_class_share(val.labels), values["tracin"].val_accuracy
    if len(table) and not judges.beats_largest_class(accuracy, share=share, images=len(val)):
        print(judges.largest_class_warning(
            "data-valuation", "its TracIn probe", accuracy, share=share, images=len(val), cleaner="data_valuation",
            so=f"its values say which class is larger more than which label is wrong ({metrics['flagged']} drop(s))"))
    if thin:
        print("warning: data-valuation: class(es) "
              # a class's copies of one picture said apart: before, "'b' (1 val image(s)) have fewer than 2" of a
              # class of 20 val images, all one picture, and the advice to give it 2 read as met already
              + ", ".join(f"{data.classes[c]!r} ({k} val image(s)"
                          + (f", {copies_of[c]} more left out as copies of a picture (dedup's groups)"
                             if copies_of[c] else "")
                          + (f", {unranked_of[c]} more with an all-zero representation, which kNN-Shapley ranks "
                             "nothing by" if unranked_of[c] else "") + ")" for c, k in thin.items())
              + f" have fewer than {MIN_CLASS_VAL} val images, so their {int((~valued).sum())} train image(s) are "
              "left undecided and kept (a value is measured against val images of the image's class); give the val "
              f"split at least {MIN_CLASS_VAL} images of each class"
              # more val images of a class the representation answers none of would be all-zero rows too
              + (" that the representation answers (see represent.source)" if unranked_of[list(thin)].any() else ""))
    print(f"data-valuation: {metrics['flagged']} of {len(table)} train images valued reliably below zero by "
          f"{'both estimators' if p['combine'] == 'both' else 'either estimator'} (bound {p['bound']} SE) on "
          f"{len(val)} val images; TracIn probe {values['tracin'].val_accuracy:.3f} accurate on val; "
          f"{metrics['seconds']:.1f}s on {device.type}")


def _write_undecided(*, considered: int, left_out: int, why: str, start: float, manifest: pd.DataFrame,
                     params: dict) -> None:
    """No decision and metrics that say why: an empty decisions table, every train image kept; ``considered``
    train images were left to value, ``left_out`` were taken out by threshold and dedup first; ``manifest``:
    data/degrade's, whose digests the table's columns carry as every run's do."""
    nothing = Values(mean=np.zeros(0), se=np.zeros(0))
    table = decide(np.zeros(0, object), np.zeros(0, np.int64), {"knn_shapley": nothing, "tracin": nothing})
    with together():
        write_table(OUT / "decisions.parquet", _recorded(table, manifest=manifest, params=params))
        # before: "left_out": 0 whatever threshold and dedup took out (3 flagged of 60 read as none)
        write_json(METRICS_OUT, {"considered": 0, "left_out": left_out, "flagged": 0,
                                 "decisions": {"keep": 0, "drop": 0}, "values": {}, "most_harmful": [],
                                 "most_helpful": [],
                                 "undecided": {"images": considered, "why": why},
                                 "seconds": round(time.perf_counter() - start, 2)})


def _recorded(table: pd.DataFrame, *, manifest: pd.DataFrame, params: dict, embedded: dict | None = None
              ) -> pd.DataFrame:
    """The decisions ``table`` as the stage writes it: with data/degrade's (``manifest``) digests, and the settings of
    params.yaml (``params``) it decided under, which its readers hold to params.yaml (:mod:`winnow.decided_at`), and
    ``embedded``, the embedding's files it valued on (:func:`winnow.decided_at.decided_on`; None: no value decided
    anything, as where every image is left undecided, which no embedding moves)."""
    recorded = with_digests(table, manifest=manifest)
    recorded.attrs = {DECIDED_AT: decided_at("data_valuation", params), **(embedded or {})}
    return recorded


def summary(table, values, *, classes: list[str], bound: float, left_out: int) -> dict:
    """The metrics: per estimator the spread of its values and how many are negative and reliably so (more
    than ``bound`` standard errors below zero), the decisions, and the most harmful and most helpful images (id, given label, values)."""
    order = np.argsort(-table["harm"].to_numpy(), kind="stable")

    def listed(rows) -> list[dict]:
        return [{"id": str(row.id), "label": classes[row.given_label], "harm": round(float(row.harm), 4),
                 "knn_shapley": float(row.knn_shapley), "tracin": float(row.tracin)}
                for row in table.iloc[rows].itertuples()]

    return {
        "considered": len(table), "left_out": left_out,
        "flagged": int((table["decision"] == "drop").sum()),
        "decisions": {d: int((table["decision"] == d).sum()) for d in ("keep", "drop")},
        "values": {name: {"mean": float(v.mean.mean()), "min": float(v.mean.min()), "max": float(v.mean.max()),
                          "negative": int((v.mean < 0).sum()), "reliably_negative": int((v.t() < -bound).sum()),
                          **({"val_accuracy": v.val_accuracy} if v.val_accuracy is not None else {})}
                   for name, v in values.items()},
        "most_harmful": listed(order[:SHOWN]),
        "most_helpful": listed(order[::-1][:SHOWN]),
    }


if __name__ == "__main__":
    torch.set_grad_enabled(False)  # closed-form gradients only
    run(main)
