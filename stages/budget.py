"""budget: how much of the cleaners' decisions the pruned variant applies (issue 18 item 4). The label
decisions of confident-learn, embedding-clean and data-valuation (those in pruned.cleaners) are ranked by
how sure their cleaner is and cut at budget.fractions of the train images; each cut, plus none, the quality/duplicate
drops alone (filters) and all, is scored by a linear probe on the represent embedding, fitted on the
cut's kept train images and judged (budget.score: log-loss or accuracy) on the trusted split when ingest
read one, else on val. Writes the
winner's decisions to data/budget/decisions.parquet (what the variants stage applies) and the comparison
to metrics/budget.json. budget.check: the winner, unless none, is checked against none by two
trainings of train.model (the train section's) judged on the same split (winnow.budget_check.check_budget): a label
cleaning ships only if that model gets more judge images right with it; when it does not, the filters alone are
checked by one more training and, like a winning filters, ship unless they get fewer right than none (a tie
ships them), unless the probe already scored them more than a tie below none (then they are not checked);
else pruned applies nothing. none is trained once, or is the represent stage's judge when
that one was trained alike (source judge, the same train section and seed, as its checkpoint records them, judged
on val, no train copy of a val image and no val image left out).
dedup's leak drops (train copies of val, test or trusted images) ship whatever the budget chooses: they are no
cleaning to weigh but the splits' integrity, which no judge sees (a copy of a test image flatters the test
score), so no probe or check trains on them and pruned drops them even when none wins.
budget.enabled false: every decision, unjudged (the behaviour before budgets)."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import time

import numpy as np
import pandas as pd
import torch

from winnow.budget import LABEL_CLEANERS, candidates, choose_budget, read_cleanings, with_leaks
from winnow.budget_check import check_augmentation, check_budget
from winnow.budget_choice import gap_words
from winnow.budget_leaks import eligible, leak_drops, refuse_emptying_leaks, say_leaks
from winnow.budget_ties import say_edge_ties
from winnow.checkpoints import check_finite, load
from winnow.configs import budget_settings, model_check_training
from winnow.decision_files import stamped
from winnow.decision_inputs import JUDGE_MODEL, cleaner_files, represent_files
from winnow.errors import WinnowError, listed
from winnow.imageset import read_imageset
from winnow.flag_cuts import check_grouped_at
from winnow.judge_val import picture_copies, ridge_rows
from winnow.judged_rows import check_grouped
from winnow.probe import choose_l2
from winnow.file_rows import unchanged_in_place
from winnow.represent import LEARNT_SPLITS
from winnow.represent import options as represent_options
from winnow.represent import read_representation
from winnow.stage import check_outputs, load_params, run, together, write_json, write_table
from winnow.stage_reads import read_table
from winnow.torch_runtime import reproducible
from winnow.training import TrainConfig, fit, predict_proba
from winnow.trusted_labels import trusted_doubt
from winnow.origin_checks import DEGRADE
from winnow.variants import baseline_rows
from winnow.decision_rows import cleaner_decisions

REPRESENT_IN, GROUPS_IN = "data/represent", "data/dedup/groups.parquet"
OUT, METRICS_OUT = "data/budget/decisions.parquet", "metrics/budget.json"


def main() -> None:
    start = time.perf_counter()
    params = load_params()
    p = budget_settings(params)
    check_outputs(stage="budget", files=[OUT, METRICS_OUT])
    cleaners = params["pruned"]["cleaners"]
    read_from = cleaner_files(cleaners)  # before they are read: a file rewritten meanwhile is no pass of the variants
    data = read_imageset(DEGRADE)
    filters, ranked = read_cleanings(cleaners, data, params=params)  # flags cut under params.yaml's settings
    # read once for the leak drops and the judge's groups below; the leaks whatever pruned.cleaners says: without
    # dedup among them, its leak drops were once left out of pruned while dedup and the report said they were dropped
    groups = read_table(GROUPS_IN, written_by="dedup", columns=("id", "group", "split", "kept", "reason"),
                        rows_of=(DEGRADE, data.manifest["id"]), booleans=("kept",), complete=("group",))
    # before: with dedup not among pruned.cleaners (nor any label cleaner, whose reader checks it), groups of pixels
    # degrade changed since chose the leak drops unchecked
    check_grouped(groups, manifest=data.manifest, path=GROUPS_IN)
    check_grouped_at(groups, params=params, path=GROUPS_IN)  # and made with params.yaml's dedup settings
    leaks = leak_drops(cleaner_decisions(groups=groups))
    baseline = baseline_rows(data.manifest)
    refuse_emptying_leaks(baseline, leaks, groups=groups, classes=data.classes)
    summary = {"enabled": p["enabled"], "cleaners": list(cleaners), "train_images": len(baseline), "leak_drops": len(leaks),
               "label_decisions": {"images": int(ranked["id"].nunique()),
                                   **{c: int((ranked["stage"] == c).sum()) for c in LABEL_CLEANERS if c in cleaners}}}
    if not p["enabled"]:
        everything = candidates(filters, ranked, train_images=len(baseline), fractions=[])[-1]
        with together():  # all outputs or none: a failed write (a full disk) leaves the last run's
            _write_decisions(everything.decisions, leaks=leaks, manifest=data.manifest, cleaners=cleaners, settings=p,
                             read_from=read_from, represented={})  # off: no embedding read, no judge
            write_json(METRICS_OUT, summary | {"winner": everything.name, "candidates": {}})
        print(f"budget: off (budget.enabled false): pruned applies every decision ({len(everything.decisions)})")
        say_leaks(everything.decisions, leaks)
        return

    splits = data.manifest["split"].to_numpy()
    judge_split = "trusted" if (splits == "trusted").any() else "val"
    ridge_split = "val" if (splits == "val").any() else judge_split
    group_of = groups.set_index("id")["group"].loc[data.manifest["id"]].to_numpy()
    is_judge = splits == judge_split
    # a picture whose copies in the judge split carry different labels is left out: before, the first copy in file
    # order was judged and the rest dropped as repeats, so half of a set labelling 100 pictures two ways judged
    # on the wrong label, unsaid
    repeats, conflicts = picture_copies(group_of, data.labels, among=is_judge)
    is_judge &= ~conflicts
    if conflicts.any():
        pictures = pd.unique(group_of[conflicts])
        first = data.manifest["id"].to_numpy()[conflicts][~pd.Series(group_of[conflicts]).duplicated().to_numpy()]
        print(f"warning: budget: {len(pictures)} picture(s) of the {judge_split} split carry different labels in "
              f"their copies (dedup's groups), first {listed(map(repr, first), at_most=3)}: their "
              f"{int(conflicts.sum())} images are left out of the judge; give each picture one label"
              + (" in ingest.trusted_path" if judge_split == "trusted" else ""))
    # a picture repeated in the judge split counts once: a label book of 6 pictures 30 times over passed
    # min_judge_images as 180 images and chose a cleaning, each copy weighed as another picture
    is_judge &= ~repeats
    if repeats.any():  # before: less those labelled two ways (above): 'holds 250 images of 200' of 450 and 300
        print(f"budget: the {judge_split} split holds {int((is_judge | repeats | conflicts).sum())} images of "
              f"{int(is_judge.sum()) + len(pd.unique(group_of[conflicts]))} distinct pictures (dedup's groups): each "
              f"picture is judged once{', those labelled two ways not at all' if conflicts.any() else ''}")
    if not (is_judge | conflicts).any():
        raise WinnowError("budget: the val split is empty and there is no trusted split: the cleanings are judged on "
                          "held-out labels; set ingest.val_fraction above 0 or give ingest.trusted_path")
    labels = data.labels
    given = baseline["label"].to_numpy(np.int64)
    # train copies of judge images would flatter every candidate that keeps them: no probe learns from them
    judged_groups = groups.loc[groups["split"] == judge_split, "group"]
    copies = set(groups.loc[groups["group"].isin(judged_groups) & (groups["split"] == "train"), "id"])
    exclude = baseline["id"].isin(copies | set(leaks["id"])).to_numpy()
    # a judge image of a class no train image the probes learn from has (degrade's class_removal) judges no cleaning:
    # no probe learns its class, and its log-loss (some 20 nats each) outweighed the rest. Before: with class 'left'
    # removed from train, its 300 of 900 val images chose top30% (120 wrong relabels beside 120 fixes, 502 right) over
    # top15% (the fixes, 568 right). Nor one whose train images all copy judge pictures (dedup.drop_leaks false keeps
    # them): before, a trusted set holding every train 'left' picture judged on 500 'left' images no probe learnt
    # (none chosen at 171 of 700 right, log-loss 14.3), and one holding every train picture ended in "probe: features
    # (0, 2) and 0 labels do not pair up"
    learnt_labels = given[~exclude]  # the labels the probes learn from
    untrained = is_judge & ~np.isin(labels, learnt_labels)
    is_judge &= ~untrained
    if untrained.any():
        lacking = sorted(set(labels[untrained].tolist()))
        absent, copied = ([repr(data.classes[c]) for c in lacking if (c in given) == kind] for kind in (False, True))
        kinds = ([f"class(es) no train image has ({listed(absent, at_most=3)})"] if absent else []) + (
            [f"class(es) whose every train image copies a {judge_split} picture ({listed(copied, at_most=3)}: "
             "dedup.drop_leaks false keeps such copies in train, and no probe learns from one)"] if copied else [])
        print(f"budget: {int(untrained.sum())} image(s) of the {judge_split} split are of {' or '.join(kinds)}: left "
              "out of the judge, as no probe or model learns them")
    # a class the judge split lacks cannot show what its label cleaning does (a one-class trusted set scored 240
    # wrong relabels of the other classes as a gain), nor can a handful of judge images show any (a tiny
    # trusted set could ship a cleaning on one image more right): ship the filters, which need no judge
    unjudged = [data.classes[c] for c in sorted(set(learnt_labels.tolist()) - set(labels[is_judge].tolist()))]
    judged = int(is_judge.sum())
    too_few = judged < p["min_judge_images"]
    if unjudged or too_few:
        shipped = candidates(filters, ranked, train_images=len(baseline), fractions=[])
        shipped = next((c for c in shipped if c.name == "filters" and eligible(c, baseline, data.classes, leaks)),
                       shipped[0])
        with together():
            _write_decisions(shipped.decisions, leaks=leaks, manifest=data.manifest, cleaners=cleaners, settings=p,
                             read_from=read_from, represented={})  # the filters: unjudged
            write_json(METRICS_OUT, summary | {
                "judge": {"split": judge_split, "images": judged, "repeats_left_out": int(repeats.sum()),
                          "conflicts_left_out": int(conflicts.sum()), "untrained_left_out": int(untrained.sum()),
                          "classes_without_images": unjudged,
                          "min_images": p["min_judge_images"], "too_few_images": too_few},
                "score": p["score"], "l2": None, "l2_chosen_on": None, "ridge": None, "tie_se": p["tie_se"],
                "copies_of_judge_images": None, "winner": shipped.name, "model_check": None, "filters_check": None,
                "candidates": {}})
        # before: a trusted split of 180 images, 6 pictures 30 times over, was told to hold at least 100 images, and
        # (after the line saying it holds 180 images of 6 pictures) that it held 6 images
        left = (" to judge by (each picture once, labelled one way, of a class train has: lines above)"
                if (repeats | conflicts | untrained).any() else "")
        why, give = ((f"holds no image{' to judge by' if left else ''} of class(es) {', '.join(map(repr, unjudged))}",
                      f"images of every class{left}")
                     if unjudged else (f"holds {judged} images{' to judge by' if left else ''}, fewer than the "
                                       f"{p['min_judge_images']} that tell a cleaning from noise "
                                       "(budget.min_judge_images)",
                                       f"at least {p['min_judge_images']} images{left}, or lower "
                                       "budget.min_judge_images to judge on fewer"))
        # before: "pruned applies none (the quality and duplicate drops need no judge)" where none were applied
        what = ("filters (the quality and duplicate drops need no judge)" if shipped.name == "filters" else
                "none (no quality or duplicate drop it could apply)")
        print(f"warning: budget: the {judge_split} split {why}, so no label cleaning can be judged: pruned applies "
              f"{what}; give the split {give}")
        say_leaks(shipped.decisions, leaks)
        return
    # before they are read, as the cleaners' files (before: unrecorded, and after represent reran on other params,
    # variants run alone applied the cut chosen on the old embedding, exit 0)
    represented = represent_files()
    train_x = read_representation(REPRESENT_IN, baseline["id"], data=data, params=params)
    # the ridge (and trusted_doubt's val) reads each val picture once, none of a class or a picture the probes learn
    # from: before, one val picture 600 times over weighed as 600, and val copies of train images dedup.drop_leaks
    # false kept flattered every ridge
    ridge = ({"rows": is_judge, "repeats": repeats, "conflicts": conflicts, "untrained": untrained}
             if judge_split == "val" else {"rows": is_judge} if ridge_split != "val" else
             _ridge_val(data, group_of, learnt=data.manifest["id"].isin(baseline["id"][~exclude]).to_numpy()))
    if not ridge["rows"].any():
        ridge_split, ridge["rows"] = judge_split, is_judge
    ridge_x = read_representation(REPRESENT_IN, data.manifest["id"][ridge["rows"]], data=data, params=params)
    judge_x = read_representation(REPRESENT_IN, data.manifest["id"][is_judge], data=data, params=params)
    judge_labels = labels[is_judge]
    # the train section's thread count, as for every prediction: the probes repeat bit for bit with it
    with reproducible(threads=params["train"].get("threads"), device=torch.device("cpu"), training=False):
        l2, _ = choose_l2(train_x[~exclude], learnt_labels, ridge_x, labels[ridge["rows"]],
                          num_classes=len(data.classes))
        budget = choose_budget(filters=filters, ranked=ranked, baseline=baseline, train_features=train_x,
                               judge_features=judge_x, judge_labels=judge_labels,
                               classes=data.classes, l2=l2, fractions=p["fractions"], tie_se=p["tie_se"],
                               score=p["score"], exclude=exclude, leaks=leaks)
        # before: a trusted set with its class order reversed judged every candidate (4 of 300 right, against about
        # 0.90 on val) and chose one, and nothing said its labels were nonsense
        doubt = (trusted_doubt(train_x[~exclude], learnt_labels, l2=l2, judge_features=judge_x,
                               judge_labels=judge_labels, val_features=ridge_x, val_labels=labels[ridge["rows"]],
                               classes=data.classes) if judge_split == "trusted" and ridge_split == "val" else None)
    checked = filters_checked = None  # the model checks' metrics blocks (of the winner, of the filters alone)
    if p["check"] and budget.winner != "none":
        # the trainings read the train images from the memory map one after another, minutes apart: an images.npy
        # rewritten in place meanwhile (cp over it) is refused in one line. Before, the winner trained on other pixels
        # than none, and the stage exited 0 with their verdict
        with unchanged_in_place(data.images):
            config = TrainConfig.from_params(params["train"])
            judge_images = data.images[is_judge]
            policy, augment = check_augmentation(params)  # as the variants train, but for a searched policy

            def fit_and_predict(images: np.ndarray, train_labels: np.ndarray) -> np.ndarray:
                trained = fit(images, train_labels, judge_images, judge_labels, config=config,
                              num_classes=len(data.classes), seed=params["seed"], progress=False, policy=policy)
                return predict_proba(trained, judge_images).argmax(1)

            # none's training is the represent judge's when that was trained alike (the default on MNIST-5k): the
            # same model, the same train images and labels, val, seed and threads give the same weights (the judge
            # trains without augmentation). Before: val copies labelled two ways, left out of the judge, let it stand
            # in though it chose its epoch on all of val and the winner's training on val without them
            judge = represent_options(params.get("represent"), train=params["train"])
            reuse = (judge.source == "judge" and judge.judge == config and policy is None and judge_split == "val"
                     and not exclude.any() and not repeats.any() and not conflicts.any() and not untrained.any())
            none_hits = None
            if reuse:
                # trained_on: the labels it learnt must be the train and val labels now (before: after a relabel,
                # only config and seed were compared, and the old labels' judge stood in for none)
                learnt = data.manifest["split"].isin(LEARNT_SPLITS).to_numpy()
                judge_read = represent_files(embedding=False, judge=True)  # recorded below where it stands in
                judge_model = load(JUDGE_MODEL, written_by="represent", classes=data.classes,
                                   image_shape=data.images.shape[1:],
                                   trained_on=lambda: (data.manifest["id"].to_numpy()[learnt], labels[learnt]))[0]
                # the judge as trained, not as params.yaml says now: the stage run alone (`dvc repro -s budget`, or
                # by hand) after a train section or seed edit would have judged the winner against a none of the old
                # settings
                reuse = judge_model.config == config and judge_model.seed == params["seed"]
            if reuse:
                represented |= judge_read
                judged = predict_proba(judge_model, judge_images)
                # argmax reads a row of NaN as class 0, as evaluate, balance and gan-synthesize refuse it: before, a
                # models/represent.pt of NaN weights (edited by hand) stood in for none, right only on the judge
                # images of class 0, and the winner was measured better than that, exit 0
                check_finite(judged, data.manifest["id"].to_numpy()[is_judge], path=JUDGE_MODEL,
                             what=f"{judge_split} images", written_by="represent")
                none_hits = (judged.argmax(1) == judge_labels).astype(np.float64)
            is_filters = budget.winner == "filters"
            then = ("" if is_filters or budget.filters is None else
                    f"; if {budget.winner} is not measured better, the filters alone by one more training")
            print(f"budget: checking {budget.winner} against none by {'one training' if reuse else 'two trainings'} "
                  f"of {config.model} ({config.epochs} epochs at most, augmentation {augment})"
                  f"{'; none is the represent judge' if reuse else ''}{then}", flush=True)
            budget, check, filters_check = check_budget(
                budget, baseline, none_hits=none_hits, train_images=data.images,
                train_rows=np.flatnonzero(splits == "train"), judge_images=judge_images, judge_labels=judge_labels,
                fit_and_predict=fit_and_predict, exclude=exclude)
            trained = {"model": config.model, "epochs": config.epochs, "augment": augment,
                       "none_trained_by": "represent" if reuse else "budget"}
            checked = trained | check.metrics(filters=is_filters)
            if filters_check is not None:
                filters_checked = trained | filters_check.metrics(filters=True)
    with together():
        # what the model check trained with, where it ran: the variants stage refuses these decisions once the train
        # section or seed changed (the stage run alone, `dvc repro -s variants`)
        _write_decisions(budget.decisions, leaks=leaks, manifest=data.manifest, cleaners=cleaners, settings=p,
                         checked_with=None if checked is None else model_check_training(params), read_from=read_from,
                         represented=represented)
        write_json(METRICS_OUT, summary | {
            # before: the images of a class train lacks left the judge unrecorded (judge images 200 of 300 val)
            "judge": {"split": judge_split, "images": int(is_judge.sum()), "repeats_left_out": int(repeats.sum()),
                      "conflicts_left_out": int(conflicts.sum()), "untrained_left_out": int(untrained.sum())},
            "score": p["score"], "l2": l2, "l2_chosen_on": ridge_split, "tie_se": p["tie_se"],
            # the images of l2_chosen_on the ridge was chosen on (and the trusted labels checked by), and the val
            # images left out, by kind
            "ridge": {"images": int(ridge["rows"].sum()),
                      **{f"val_{k}_left_out": int(ridge[k].sum()) if k in ridge else 0 for k in RIDGE_LEFT_OUT}},
            "copies_of_judge_images": len(copies),
            "winner": budget.winner,
            "model_check": checked,
            "filters_check": filters_checked,
            "candidates": {row["candidate"]: {k: v for k, v in row.items() if k not in ("candidate", "chosen")}
                           for row in budget.table},
        })
    for row in budget.table:
        score = ("not judged" if row["correct"] is None else
                 f"{row['correct']} right ({row['accuracy']:.4f}), log-loss {row['log_loss']:.4f}")
        print(f"budget: {row['candidate']:>8}: {row['label_images']} label-decided images, {row['dropped']} dropped, "
              f"{row['relabelled']} relabelled: {score}{' <- chosen' if row['chosen'] else ''}")
    for row in budget.table:
        if row["note"]:
            print(f"warning: budget: {row['candidate']} is {row['note']}")
    # before: a cut whose edge fell among images of equal confidence took those first in id order, and nothing said so
    for line in say_edge_ties(budget.table):
        print(line)
    if doubt:
        print(doubt)
    if judge_split == "trusted" and ridge_split == "val":
        # the trusted labels are checked class by class against what val shows (trusted_doubt): before, a class val
        # lacks went unchecked unsaid, and its trusted images labelled as another class passed as checked
        unchecked = sorted(set(judge_labels.tolist()) - set(labels[ridge["rows"]].tolist()))
        if unchecked:
            names = listed((repr(data.classes[k]) for k in unchecked), at_most=3)
            print(f"budget: the trusted labels of class(es) {names} are not checked against val, which holds no image "
                  "of them to check by")
    if checked is not None:
        print(_check_line(checked, filters_checked, shipped=budget.winner, applied=len(budget.decisions),
                          filters_held=budget.filters_held_back))
    say_leaks(budget.decisions, leaks)
    print(f"budget: {budget.winner} chosen on the {judge_split} split ({int(is_judge.sum())} images) "
          f"in {time.perf_counter() - start:.1f}s")


RIDGE_LEFT_OUT = ("copies", "repeats", "conflicts", "untrained")


def _ridge_val(data, group_of: np.ndarray, *, learnt: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`winnow.judge_val.ridge_rows` of ``data`` (data/degrade), each kind it leaves out said in one line,
    as the label cleaners say theirs: the val images a probe fitted on the train images ``learnt`` (bool ``(N,)``) is
    measured on, where the trusted split judges."""
    ridge = ridge_rows(data.manifest["split"].to_numpy(), data.labels, group_of, learnt=learnt)
    ids = data.manifest["id"].to_numpy()
    why = {"copies": ("warning: ", "copy a train image the probes learn from (dedup's groups, first {}: "
                                   "dedup.drop_leaks false keeps such copies in train): left out of {}, which they "
                                   "would flatter"),
           "repeats": ("", "repeat a picture of the val split (dedup's groups, first {}): each picture counts once "
                           "in {}"),
           "conflicts": ("warning: ", "are copies of one picture carrying different labels (dedup's groups, first {}): "
                                      "left out of {}; give each picture one label"),
           "untrained": ("", "are of a class no train image has (first {}): left out of {}, as no probe learns it")}
    for kind, (warn, line) in why.items():
        if ridge[kind].any():
            print(f"{warn}budget: {int(ridge[kind].sum())} val image(s) " + line.format(
                repr(ids[ridge[kind]][0]), "choosing the probes' ridge and checking the trusted split's labels"))
    if not ridge["rows"].any():
        print("warning: budget: no val image is left to choose the probes' ridge on (lines above): it is chosen on the "
              "trusted split, and the trusted split's labels are not checked against val")
    return ridge


def _write_decisions(decisions: pd.DataFrame, *, leaks: pd.DataFrame, manifest: pd.DataFrame, cleaners: list[str],
                     settings: dict, represented: dict, checked_with: dict | None = None,
                     read_from: dict | None = None) -> None:
    """The decisions file of every branch: ``decisions`` with dedup's leak drops, stamped with the labels, pixels and
    train ids they were decided on, the ``cleaners`` (pruned.cleaners) and cleaner files (``read_from``) they were
    chosen among, the budget ``settings`` they were chosen by, the represent files they were judged by
    (``represented``, :func:`winnow.decision_inputs.represent_files`; empty where none was read) and what the model
    check trained with (``checked_with``, None where it did not run) (:func:`winnow.decision_files.stamped`), which the
    variants stage checks."""
    write_table(OUT, stamped(with_leaks(decisions, leaks), manifest=manifest, cleaners=cleaners, settings=settings,
                             checked_with=checked_with, read_from=read_from, represented=represented))


def _check_line(check: dict, filters: dict | None, *, shipped: str, applied: int, filters_held: bool = False) -> str:
    """The model checks' line from their metrics blocks (``check``; ``filters``, the filters' alone, or None): what
    each training got right and what ships (``shipped``, with ``applied`` decisions); a warning when the probe's
    winner does not. ``filters_held``: the probe scored the filters more than a tie below none
    (:attr:`winnow.budget.Budget.filters_held_back`), so they were not checked alone."""
    name = check["candidate"]
    line = (f"{'' if shipped == name else 'warning: '}budget: {check['model']} trainings: none {check['none_correct']} "
            f"right, {name} {check['winner_correct']} of {check['judged']} ({gap_words(check['gap_images'])}, SE "
            f"{check['gap_se']:.1f}): ")
    if name == "filters":
        return line + _filters_verdict(check, applied=applied)
    if check["holds"]:
        return line + f"{name} stands"
    line += f"{name} not measured better, so its label decisions are held back"
    if filters is None:
        # before: ", pruned applies none" alone, though the filters were judged and not checked alone
        return line + ", pruned applies none" + (" (the probe scored the filters more than a tie below none, so they "
                                                 "are not checked alone)" if filters_held else "")
    return line + (f"; filters {filters['winner_correct']} of {filters['judged']} ({gap_words(filters['gap_images'])}, "
                   f"SE {filters['gap_se']:.1f}): "
                   + _filters_verdict(filters, applied=applied))


def _filters_verdict(check: dict, *, applied: int) -> str:
    """What the filters' check block says ships: the filters unless their model got fewer judge images right."""
    return (f"no fewer right than none, pruned applies the filters ({applied} decisions)" if check["ships"] else
            "fewer right than none, pruned applies none")


if __name__ == "__main__":
    run(main)
