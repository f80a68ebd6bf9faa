"""augment-search: the augmentation policy chosen on the val split (issue 19): every candidate of
augment_search (TrivialAugment / RandAugment over op subsets, ops per image and magnitudes) scored by a
short training of train.model on pruned's train images with that policy on the fly, by its best val
accuracy (method: train), or by one such model's accuracy on the val images the policy augmented
(method: density, Fast AutoAugment's density matching). Writes data/augment-search/policy.json (the
winner; balance's copies use it, and train.augment: searched) and metrics/augment_search.json (the score
table, no augmentation first, the images sampled and the seconds spent). Off (augment_search.enabled: false): stand-ins."""

import time
from dataclasses import replace

from winnow.stage import check_outputs, clear_skipped, load_params, run, together, write_json, write_skipped

DEFAULTS = {"enabled": False, "method": "train", "epochs": 6, "max_images": 2000, "kinds": ["trivial", "rand"],
            "ns": [2], "magnitudes": [0.3, 0.6], "fill": "border",
            "op_sets": [["shear", "translate", "rotate", "crop"], ["shear", "translate", "rotate", "crop", "noise",
                                                                      "brightness", "contrast", "cutout"]]}
FOLDERS = ("data/augment-search",)
METRICS = "metrics/augment_search.json"
SKIPPED = "augment_search.enabled is false: balance uses balance.policy"


def main() -> None:
    params = load_params()
    section = {**DEFAULTS, **(params.get("augment_search") or {})}
    if not section["enabled"]:
        # checked first and landed as one: never a stand-in policy beside the last search's table
        check_outputs(stage="augment-search", folders=FOLDERS, files=[METRICS])
        with together():
            write_skipped(SKIPPED, folders=FOLDERS)
            write_json(METRICS, {"skipped": SKIPPED})
        print(f"augment-search: skipped: {SKIPPED}")
        return
    # imported here: torch takes seconds to import, and the default run skips the search
    from winnow.augment_search import SEARCHED, candidates, density_scorer, rand_ns, search, short_training_scorer
    from winnow.training import TrainConfig
    from winnow.variants import load_variant

    check_outputs(stage="augment-search", folders=FOLDERS, files=[METRICS])
    started = time.perf_counter()
    if "rand" in section["kinds"]:
        for ops in section["op_sets"]:
            too_many = rand_ns(ops, section["ns"])[1]
            if too_many:
                print(f"warning: augment-search: rand with n {', '.join(map(str, too_many))} left out for op set "
                      f"[{', '.join(ops)}] ({len(ops)} op{'s' if len(ops) > 1 else ''})")
    policies = candidates(op_sets=section["op_sets"], kinds=section["kinds"], ns=section["ns"],
                          magnitudes=section["magnitudes"], fill=section["fill"])  # none: refused here
    clear_skipped(folders=FOLDERS)
    config = replace(TrainConfig.from_params(params["train"]), epochs=section["epochs"], patience=None)
    train, val = load_variant("pruned")
    scorer = density_scorer if section["method"] == "density" else short_training_scorer
    score = scorer(train.images, train.labels, val.images, val.labels, config=config, num_classes=len(train.classes),
                   seed=params["seed"], max_images=section["max_images"])
    # the stratified sample each candidate trains on: max_images exactly, or all when there are not more
    sampled = len(train.labels) if section["max_images"] is None else min(section["max_images"], len(train.labels))
    result = search(policies, score=score)
    seconds = round(time.perf_counter() - started, 1)
    best = max(row["score"] for row in result.table[1:])
    with together():  # the policy balance reads and the table that shows why land as one
        write_json(SEARCHED, {"policy": result.policy.to_params(), "val_accuracy": best,
                              "no_augmentation_val_accuracy": result.table[0]["score"]})
        write_json(METRICS, {"chosen": result.policy.to_params(), "val_accuracy": best,
                             "no_augmentation_val_accuracy": result.table[0]["score"], "candidates": len(policies),
                             "method": section["method"], "epochs": section["epochs"],
                             "max_images": section["max_images"], "images": sampled, "seconds": seconds,
                             "table": result.table})
    print(f"augment-search ({section['method']}): {len(policies)} candidates in {seconds:.0f} s; chose "
          f"{result.policy.to_params()} (val accuracy {best:.4f}, {result.table[0]['score']:.4f} without augmentation)")
    if best <= result.table[0]["score"]:  # balance needs a policy for its copies; training on the fly does not
        print(f"warning: augment-search: no policy beat training without augmentation on val ({best:.4f} against "
              f"{result.table[0]['score']:.4f}); balance still uses the best for its copies, but with "
              "train.augment: searched every variant would train on a policy that did not help: consider "
              "train.augment: none")


if __name__ == "__main__":
    run(main)
