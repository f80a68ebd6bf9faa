"""dedup: exact and near-duplicate groups of data/degrade (pixel digest, pHash from data/score), one
train image kept per group, label conflicts and train/val/test leakage flagged. Writes
data/dedup/groups.parquet and metrics/dedup.json (with precision/recall/F1 when degrade planted
duplicates)."""

from winnow.dedup import dedup_images, dedup_metrics
from winnow.groundtruth import PERTURBATION_COLUMNS, QUALITY_ISSUES
from winnow.imageset import read_imageset
from winnow.stage import load_params, read_table, run, write_json, write_table

IMAGESET, SCORES, OUT = "data/degrade", "data/score/scores.parquet", "data/dedup/groups.parquet"
TRUTH_IN = "data/degrade/perturbations.parquet"


def main() -> None:
    p = load_params()["dedup"]
    imageset = read_imageset(IMAGESET)
    scores = read_table(SCORES, written_by="score", columns=("id", "phash", *QUALITY_ISSUES))
    perturbations = read_table(TRUTH_IN, written_by="degrade", columns=PERTURBATION_COLUMNS, missing_ok=True)
    min_correlation = p.get("min_correlation")
    table = dedup_images(imageset.manifest, imageset.images, scores, radius=p.get("radius"),
                         keep=p.get("keep", "best_quality"), drop_leaks=p.get("drop_leaks", True),
                         min_correlation=min_correlation)
    metrics = dedup_metrics(table, perturbations=perturbations)
    write_table(OUT, table)
    write_json("metrics/dedup.json", {"radius": p.get("radius"), "min_correlation": min_correlation,
                                      "keep": p.get("keep", "best_quality")} | metrics)
    print(f"dedup: {metrics['groups']} groups, {metrics['images_removed']} train images removed, "
          f"{metrics['conflicts']} label conflicts, {metrics['leak_groups']} groups reaching val/test")


if __name__ == "__main__":
    run(main)
