"""variants: assemble the oracle, baseline and pruned data set versions as rows (which train images,
which labels, and why) from the imagesets and the cleaners' decision files; writes
data/variants/<name>/rows.parquet. (augmented is written by gan-synthesize; params `variants` chooses
which versions are trained.)"""

from pathlib import Path

import pandas as pd

from winnow.errors import WinnowError
from winnow.imageset import read_imageset
from winnow.stage import load_params, run, write_json
from winnow.variants import (
    DEGRADE, INGEST, apply_decisions, baseline_rows, cleaner_decisions, oracle_rows, write_variant,
)

DECISION_FILES = {"threshold": "data/threshold/flags.parquet", "dedup": "data/dedup/groups.parquet",
                  "confident_learn": "data/confident-learn/label_issues.parquet",
                  "embedding_clean": "data/embedding-clean/decisions.parquet"}
ARGUMENT = {"threshold": "flags", "dedup": "groups", "confident_learn": "label_issues",
            "embedding_clean": "neighbour_decisions"}


def main() -> None:
    cleaners = load_params()["pruned"]["cleaners"]
    degraded = read_imageset(DEGRADE).manifest
    missing = [c for c in cleaners if not Path(DECISION_FILES[c]).is_file()]
    if missing:
        raise WinnowError(f"pruned.cleaners: {missing[0]} has no decision file ({DECISION_FILES[missing[0]]}); run its stage")
    tables = {ARGUMENT[c]: pd.read_parquet(DECISION_FILES[c]) for c in cleaners}
    written = {
        "oracle": oracle_rows(read_imageset(INGEST).manifest),
        "baseline": baseline_rows(degraded),
        "pruned": apply_decisions(baseline_rows(degraded), cleaner_decisions(**tables)),
    }
    summary = {}
    for name, rows in written.items():
        write_variant(name, rows)
        counts = rows["action"].value_counts().to_dict()
        summary[name] = {"train_images": int((rows["action"] != "drop").sum()),
                         **{action: int(counts.get(action, 0)) for action in ("keep", "drop", "relabel")}}
        if name == "pruned":
            dropped = rows[rows["action"] != "keep"]
            summary[name]["by_stage"] = {f"{stage}.{action}": int(n) for (stage, action), n
                                         in dropped.groupby(["stage", "action"]).size().items()}
    write_json("metrics/variants.json", summary)
    print("variants: " + ", ".join(f"{n} {s['train_images']} train images" for n, s in summary.items()))


if __name__ == "__main__":
    run(main)
