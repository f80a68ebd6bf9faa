"""variants: assemble the oracle, baseline and pruned data set versions as rows (which train images,
which labels, and why) from the imagesets and the decisions the budget stage chose among the cleaners'
(data/budget/decisions.parquet), with a person's verdicts (reviews/verdicts.csv, `winnow review import`) in
their place for the images they name; writes data/variants/<name>/rows.parquet and metrics/variants.json,
whose `review` entry counts the verdicts that confirmed and overruled the decisions. (augmented is written
by gan-synthesize; params `variants` chooses which versions are trained.)"""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

from winnow.configs import budget_settings, model_check_training
from winnow.decision_files import read_decisions
from winnow.groundtruth import PERTURBATION_COLUMNS, TRUTH
from winnow.imageset import read_imageset
from winnow.stage import check_outputs, load_params, run, together, write_json
from winnow.stage_reads import read_table
from winnow.origin_checks import DEGRADE, INGEST, check_same_classes, check_same_splits
from winnow.variants import (
    FROM_PRUNED, VARIANTS_DIR, baseline_rows, check_kept, oracle_rows, write_variant,
)
from winnow.decision_rows import apply_decisions
from winnow.verdicts import VERDICTS_FILE, read_verdicts, refuse_kept_leaks, verdicts_applied

DECISIONS_IN, TRUTH_IN = "data/budget/decisions.parquet", TRUTH

WRITTEN = ("oracle", "baseline", "pruned")
METRICS = "metrics/variants.json"


def main() -> None:
    params = load_params()
    folders = [f"{VARIANTS_DIR}/{name}" for name in WRITTEN]  # written into (write_variant): may be mount points
    check_outputs(stage="variants", folders=folders, files=[METRICS], into=folders)
    degraded = read_imageset(DEGRADE)
    ingested = read_imageset(INGEST)
    check_same_classes(degraded, ingested)
    # an id data/degrade lacks means decisions of another data version: refused, not silently ignored
    decisions = read_decisions(DECISIONS_IN, written_by="budget", num_classes=len(ingested.classes),
                               manifest=degraded.manifest, cleaners=params["pruned"]["cleaners"],
                               settings=budget_settings(params), training=model_check_training(params),
                               params=params)  # threshold's flags: cut under params.yaml's settings
    # oracle is data/ingest's train split, baseline data/degrade's: the images degrade removed, and the copies it added,
    # are logged there
    # a missing log is refused (degrade always writes one): before, read as no image removed or added, so an image
    # degrade removed (a copy it added) was refused as one ingest read anew since, the wrong cause and stage's rerun
    check_same_splits(degraded, ingested, log=read_table(TRUTH_IN, written_by="degrade", columns=PERTURBATION_COLUMNS))
    baseline = baseline_rows(degraded.manifest)
    digests = degraded.manifest.set_index("id")["digest"]
    verdicts = read_verdicts(VERDICTS_FILE, baseline=baseline, digests=digests, classes=ingested.classes)
    refuse_kept_leaks(verdicts, decisions, where=VERDICTS_FILE)
    decided = apply_decisions(baseline, decisions, warn=DECISIONS_IN)
    pruned, review = verdicts_applied(decided, verdicts, decisions=decisions, baseline=baseline,
                                      manifest=degraded.manifest, classes=ingested.classes,
                                      where=VERDICTS_FILE)
    written = dict(zip(WRITTEN, (oracle_rows(ingested.manifest), baseline, pruned)))
    trained = set(params.get("variants") or [])
    for name, rows in written.items():
        if name in trained or (name == "pruned" and trained & set(FROM_PRUNED)):
            check_kept(name, rows, before=baseline if name == "pruned" else None, classes=ingested.classes)
    summary = {}
    with together():  # oracle, baseline and pruned land as one: never pruned of one budget beside another's counts
        # pruned records the cleaners it applies (the report reads them so) and the pixels its decisions were made on
        # (its readers refuse it once data/degrade holds others)
        train_pixels = degraded.manifest.loc[degraded.manifest["split"] == "train", ["id", "digest"]]
        for name, rows in written.items():
            decided = name == "pruned"
            write_variant(name, rows, cleaners=params["pruned"]["cleaners"] if decided else None,
                          pixels=train_pixels if decided else None)
            counts = rows["action"].value_counts().to_dict()
            summary[name] = {"train_images": int((rows["action"] != "drop").sum()),
                             **{action: int(counts.get(action, 0)) for action in ("keep", "drop", "relabel")}}
            if name == "pruned":
                dropped = rows[rows["action"] != "keep"]
                summary[name]["by_stage"] = {f"{stage}.{action}": int(n) for (stage, action), n
                                             in dropped.groupby(["stage", "action"]).size().items()}
        write_json(METRICS, summary | {"review": review})
    print("variants: " + ", ".join(f"{n} {s['train_images']} train images" for n, s in summary.items())
          + (f"; {review['verdicts']} verdict(s) of a person: {review['confirmed']} confirmed, {review['overruled']} "
             f"overruled the decisions" if review["verdicts"] else ""))


if __name__ == "__main__":
    run(main)
