"""augment-search: the augmentation policy chosen on the val split (issue 19): every candidate of
augment_search (TrivialAugment / RandAugment over op subsets, ops per image and magnitudes), and
balance.policy first (with_fixed: a tie keeps it), scored by a short training of train.model on pruned's
train images with that policy on the fly, by its best val accuracy (method: train), or by one such
model's accuracy on the val images the policy augmented
(method: density, Fast AutoAugment's density matching). Writes data/augment-search/policy.json (the
winner; balance's copies use it, and train.augment: searched) and metrics/augment_search.json (the score
table, no augmentation first, the images sampled and the seconds spent). Off (augment_search.enabled: false): stand-ins."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import time
from dataclasses import replace

from winnow.errors import WinnowError
from winnow.search_space import candidate_name, search_settings, search_training  # no numpy, no torch
from winnow.stage import check_outputs, load_params, run, together, write_json
from winnow.stand_ins import replacing_skipped, write_skipped

FOLDERS = ("data/augment-search",)
METRICS = "metrics/augment_search.json"
SKIPPED = "augment_search.enabled is false: balance uses balance.policy"


def main() -> None:
    params = load_params()
    section = search_settings(params)
    if not section["enabled"]:
        # checked first and landed as one: never a stand-in policy beside the last search's table
        check_outputs(stage="augment-search", folders=FOLDERS, files=[METRICS])
        with together():
            write_skipped(SKIPPED, folders=FOLDERS)
            write_json(METRICS, {"skipped": SKIPPED})
        print(f"augment-search: skipped: {SKIPPED}")
        return
    # imported here: torch takes seconds to import, and the default run skips the search
    from winnow.augment_search import (SEARCHED, candidates, challengers, density_scorer, policy_for, pruned_record,
                                       rand_ns, search, short_training_scorer)
    from winnow.balance_checks import leave_out_refused
    from winnow.imageset import more_val
    from winnow.metrics import largest_class_share, no_better_than_largest_class
    from winnow.training import TrainConfig
    from winnow.variants import check_made_among, load_variant, read_rows

    check_outputs(stage="augment-search", folders=FOLDERS, files=[METRICS], into=FOLDERS)  # its files go into it
    started = time.perf_counter()
    if "rand" in section["kinds"]:
        for ops in section["op_sets"]:
            too_many = rand_ns(ops, section["ns"])[1]
            if too_many:
                print(f"warning: augment-search: rand with n {', '.join(map(str, too_many))} left out for op set "
                      f"[{', '.join(ops)}] ({len(ops)} op{'s' if len(ops) > 1 else ''})")
    policies = candidates(op_sets=section["op_sets"], kinds=section["kinds"], ns=section["ns"],
                          magnitudes=section["magnitudes"], fill=section["fill"])  # none: refused here
    # the hand-set policy competes: a search whose short trainings picked a policy it never compared with the
    # fixed one shipped a policy that did worse than it on all three benchmark sets (benchmarks/results/augment.md)
    fixed = policy_for(params, "fixed") if section["with_fixed"] else None
    if fixed is not None:  # balance.policy first, without its own alikes; none left: refused by the params check
        policies = challengers(policies, fixed)
    config = replace(TrainConfig.from_params(params["train"]), epochs=section["epochs"], patience=None)
    train, val = load_variant("pruned")
    # pruned as params.yaml's pruned.cleaners make it now, as balance and gan-synthesize check it: before, after a
    # cleaner was added or taken out and the search run alone (dvc repro -s augment-search), balance's policy was
    # chosen on the old decisions' images, exit 0. After the load: before the pipeline ran, data/ingest is named first
    check_made_among(read_rows("pruned"), cleaners=params["pruned"]["cleaners"])
    check_val_classes(val.labels, val.classes, more=more_val(val.manifest))
    # the images the candidates train and are scored on, as loaded: balance and train refuse another (before: taken
    # of the files after the load, so a pruned rewritten meanwhile was recorded as the images searched on)
    chosen_on = pruned_record((train, val))
    # candidates whose copies balance and train@<v> refuse, left out before any is scored: before, one could win and
    # the pipeline stopped at balance after the search (trivial with cutout on MNIST), "raise augment_search.magnitudes"
    offered = len(policies) - (fixed is not None)
    policies, left_out = leave_out_refused(policies, train.images, seed=params["seed"], keep=fixed)
    if left_out:
        first = left_out[0]
        print(f"warning: augment-search: {len(left_out)} of {offered} candidates left out: balance and train "
              f"would refuse the copies {'they make' if len(left_out) > 1 else 'it makes'} (the first, "
              f"{candidate_name(first['policy'])}: {first['reason']}); metrics/augment_search.json's left_out names "
              f"{'each' if len(left_out) > 1 else 'it'}")
    scorer = density_scorer if section["method"] == "density" else short_training_scorer
    score = scorer(train.images, train.labels, val.images, val.labels, config=config, num_classes=len(train.classes),
                   seed=params["seed"], max_images=section["max_images"])
    # the stratified sample each candidate trains on: max_images exactly, or all when there are not more
    sampled = len(train.labels) if section["max_images"] is None else min(section["max_images"], len(train.labels))
    result = search(policies, score=score, incumbent=fixed is not None, tie_se=section["tie_se"])
    seconds = round(time.perf_counter() - started, 1)
    best = max(row["score"] for row in result.table[1:])
    chosen = result.table[policies.index(result.policy) + 1]["score"]
    # the candidates the winner was picked among by score (the challengers where balance.policy competes) at the best
    # of their scores: before, the first of challengers tied was tested against balance.policy, and nothing said so
    pool = [row["score"] for row in result.table[2 if result.incumbent is not None else 1:]]
    tied_at_best = sum(score == max(pool) for score in pool) if pool else 0
    # only now: a refusal or a fault before (an empty val split, a training that ran out of memory) used to leave
    # no data/augment-search beside the metrics of the last skipped run, which still said skipped; one while writing
    # puts the stand-ins back. The policy balance reads and the table that shows why land as one
    with replacing_skipped(folders=FOLDERS), together():
        # and the incumbent it was chosen against, the settings it searched under, what its trainings took of the seed
        # and train section and the images they took: balance and train refuse the policy once balance.policy,
        # augment_search, the seed, the train section or pruned changed
        write_json(SEARCHED, {"policy": result.policy.to_params(), "val_accuracy": chosen,
                              "no_augmentation_val_accuracy": result.table[0]["score"],
                              "fixed": None if fixed is None else fixed.to_params(), "searched_with": section,
                              "trained_with": search_training(params), "chosen_on": chosen_on})
        write_json(METRICS, {"chosen": result.policy.to_params(), "val_accuracy": chosen, "best_val_accuracy": best,
                             "no_augmentation_val_accuracy": result.table[0]["score"], "candidates": len(policies),
                             "left_out": left_out, "fixed": None if fixed is None else fixed.to_params(),
                             "chosen_is_fixed": result.policy == fixed, "against_fixed": result.incumbent,
                             "tied_at_best": tied_at_best,
                             "tie_se": section["tie_se"],
                             "method": section["method"], "epochs": section["epochs"],
                             "max_images": section["max_images"], "images": sampled, "seconds": seconds,
                             "table": result.table})
    scored = (f"val accuracy {chosen:.4f}, {result.table[0]['score']:.4f} without augmentation"
              if section["method"] == "train" else  # density trains no model with the policy
              f"accuracy {chosen:.4f} on the val images it augmented, {result.table[0]['score']:.4f} on val as it is")
    if result.incumbent is not None and result.incumbent["challenger"] is not None:
        against = result.incumbent
        which = ("the best other candidate" if tied_at_best < 2 else
                 f"the best other candidate (of {tied_at_best} tied at the best score, the one whose val images moved "
                 "most alike)")
        scored += (f"; {which} scored {against['gain'] * 100:+.1f} points against balance.policy "
                   f"(SE {against['gain_se'] * 100:.1f}): {'within' if against['kept'] else 'beyond'} "
                   f"{against['bar_se']:.2f} SE (tie_se {section['tie_se']:g} for one of {len(policies) - 1} "
                   f"challengers), so {'balance.policy stays' if against['kept'] else 'it replaces it'}")
    print(f"augment-search ({section['method']}): {len(policies)} candidates in {seconds:.0f} s; chose "
          f"{'balance.policy, ' if result.policy == fixed else ''}{result.policy.to_params()} ({scored})")
    # every short training no better than naming val's largest class (train.lr 3e-5 with one epoch: all ten scores
    # 0.098-0.100 against 0.100): the pick was made on noise, and before it shipped without a word. Density trains one
    # model, whose accuracy on val as it is says whether it learnt: its accuracy on the images a policy changed can pass
    # the largest class's share by chance (before: a model right on 0 of 2 val images scored 1.0 on their inverted
    # copies, and no warning)
    density = section["method"] == "density"
    top = result.table[0]["score"] if density else max(row["score"] for row in result.table)
    tied = sum(row["score"] == chosen for row in result.table[1:])  # the candidates at the chosen one's score
    # max_images only where the sample left train images out: before, "raise ... augment_search.max_images" under a
    # max_images of 2000 (or null) that already took all 19, which changes nothing
    raise_ = ("augment_search.epochs or augment_search.max_images" if sampled < len(train.labels)
              else "augment_search.epochs")
    if no_better_than_largest_class(top, val.labels):
        learnt = (f"the one model density matching trained did not learn: its val accuracy ({top:.4f})" if density
                  else f"no short training learnt: the best score ({top:.4f})")
        print(f"warning: augment-search: {learnt} is no better than naming the largest val class for every image "
              f"({largest_class_share(val.labels):.4f}), so the policy was chosen on noise; raise {raise_}, or check "
              "train.lr and train.weight_decay")
    elif result.incumbent is None and tied > 1:
        # without balance.policy to keep on a tie, search takes the first of the best: before, with_fixed false and
        # every candidate at one score, the first of the lists was "chosen" as if it had scored higher
        print(f"warning: augment-search: {tied} of {len(policies)} candidates tie at the best score ({chosen:.4f}), "
              f"so the first of them was chosen by its place in augment_search's lists, not by its score; raise "
              f"{raise_} to tell them apart, or set augment_search.with_fixed: true so that a tie keeps balance.policy")
    # density scores a policy by one unaugmented model's accuracy on val images the policy changed, which lies
    # below its accuracy on the plain val images almost always: the comparison says nothing of what training with
    # the policy does, and the warning fired on every density search
    if section["method"] == "train" and chosen <= result.table[0]["score"]:
        # balance needs a policy for its copies; training on the fly does not
        print(f"warning: augment-search: the chosen policy did not beat training without augmentation on val "
              f"({chosen:.4f} against {result.table[0]['score']:.4f}); balance still uses it for its copies, but with "
              "train.augment: searched every variant would train on a policy that did not help: consider "
              "train.augment: none")


def check_val_classes(val_labels, classes: list[str], *, more: str) -> None:
    """Refuse a val split of fewer than two classes (int ``(M,)`` ``val_labels``): every candidate is scored by
    accuracy on it, which the model that names its one class everywhere maximises, so every candidate ties at
    1.0 and the first wins by its place in the list (as a probe met it: 1.0000 for every candidate). ``more``: how
    to give the val split more images (:func:`winnow.imageset.more_val`)."""
    import numpy as np

    present = np.unique(np.asarray(val_labels, np.int64))
    if len(present) >= 2:
        return
    if not len(present):
        raise WinnowError("augment-search: pruned's val split holds no images, and a candidate is scored by its "
                          "accuracy on val: set ingest.val_fraction above 0, or augment_search.enabled: false")
    raise WinnowError(f"augment-search: pruned's val split holds images of one class only "
                      f"({classes[int(present[0])]!r}); a candidate is scored by its accuracy on val, which a model "
                      "naming that class everywhere maximises, so no policy can be told apart: give the val split "
                      f"images of at least 2 classes ({more}), or set augment_search.enabled: false")


if __name__ == "__main__":
    run(main)
