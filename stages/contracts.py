"""contracts: check the data contracts in contracts/*.yaml (Great Expectations suites).

    python stages/contracts.py            the ingest and scores contracts (stage contracts): the ingested
                                          imageset and the quality scores, before anything trains;
                                          metrics/contracts.json, Data Docs in reports/contracts/inputs/
    python stages/contracts.py VARIANT    the variant contract on one training variant (stage
                                          variant-contract@VARIANT, run right before train@VARIANT, so the
                                          augmented and balanced variants, made after the baseline is
                                          trained, are checked like the others); metrics/contracts/VARIANT.json,
                                          Data Docs in reports/contracts/VARIANT/

With contracts.mode enforce, a failure of the ingest or scores contract, or of a variant named in
contracts.enforce_variants, stops the stage with one line per failed expectation, and with it the
training that depends on it (every variant for ingest/scores, that variant for its own contract); every
other failure (and every failure in warn mode) is printed as a warning."""

import sys
from pathlib import Path

import pandas as pd

from winnow.contract_tables import ingest_table, measurements, variant_table, with_digests
from winnow.contracts import SUITES_DIR, Batch, check_settings, load_suite, validate
from winnow.errors import WinnowError
from winnow.imageset import read_imageset
from winnow.stage import load_params, read_table, run, write_json
from winnow.variants import WRITTEN_BY

INGEST, DEGRADE, VARIANTS = Path("data/ingest"), Path("data/degrade"), Path("data/variants")
SCORES = Path("data/score/scores.parquet")
# what the rates need of each cleaner's output: (file, the stage writing it, the columns measurements reads)
CLEANER_OUTPUTS = {"flags": (Path("data/threshold/flags.parquet"), "threshold", ("id", "any")),
                   "groups": (Path("data/dedup/groups.parquet"), "dedup", ("id", "group", "split")),
                   "label_issues": (Path("data/confident-learn/label_issues.parquet"), "confident-learn",
                                    ("id", "given_label", "is_issue"))}
ROW_COLUMNS = ("id", "origin", "label", "action")  # what the variant rates read of rows.parquet
METRICS, DOCS = Path("metrics/contracts.json"), Path("reports/contracts")


def main() -> None:
    params = load_params()
    settings = check_settings(params.get("contracts"))
    ingested = read_imageset(INGEST)
    if len(sys.argv) > 1:
        check_variant(sys.argv[1], settings=settings, ingested=ingested)
    else:
        check_inputs(params, settings=settings, ingested=ingested)


def check_inputs(params: dict, *, settings: dict, ingested) -> None:
    """The ingest and scores contracts (params.yaml has checked that every enforced variant gets trained)."""
    classes = ingested.classes
    from_data = {"max_label": len(classes) - 1, "image_size": (params.get("ingest") or {}).get("size")}
    suites = [_suite(name, settings["bounds"] | from_data) for name in ("ingest", "scores")]
    batches = [Batch(suites[0], "ingest", ingest_table(ingested.manifest, image_shape=ingested.images.shape,
                                                       num_classes=len(classes))),
               Batch(suites[1], "scores", read_table(SCORES, written_by="score"))]
    results = validate(batches, docs_dir=DOCS / "inputs")
    write_json(METRICS, {"mode": settings["mode"], "enforce_variants": settings["enforce_variants"],
                         "suites": {suite.name: _counts(results, suite=suite.name) for suite in suites}})
    _conclude(results, enforced=settings["mode"] == "enforce", docs=DOCS / "inputs")


def check_variant(name: str, *, settings: dict, ingested) -> None:
    """The variant contract on ``data/variants/<name>``: its rates over the kept train images."""
    rows = read_table(VARIANTS / name / "rows.parquet", written_by=WRITTEN_BY.get(name, "variants"),
                      columns=ROW_COLUMNS)
    suite = _suite("variant", settings["bounds"])
    found = {key: read_table(path, written_by=stage, columns=columns, missing_ok=True)
             for key, (path, stage, columns) in CLEANER_OUTPUTS.items()}
    for key, table in found.items():
        if table is None:
            print(f"contracts: {CLEANER_OUTPUTS[key][0]} not found; what it measures counts as not measured")
    manifests = {"ingest": ingested.manifest, "degrade": read_imageset(DEGRADE).manifest}
    if (VARIANTS / name / "extra").is_dir():
        manifests["extra"] = read_imageset(VARIANTS / name / "extra").manifest
    rows = with_digests(rows, manifests=manifests)
    num_classes = len(ingested.classes)
    rates = variant_table(name, rows, measured=measurements(manifests["degrade"], **found), num_classes=num_classes)
    docs = DOCS / name
    results = validate([Batch(suite, name, rates)], docs_dir=docs)
    enforced = settings["mode"] == "enforce" and name in settings["enforce_variants"]
    row = rates.iloc[0].drop("variant")
    write_json(Path("metrics/contracts") / f"{name}.json", {
        "variant": name, "mode": settings["mode"], "enforced": enforced, **_counts(results, suite="variant"),
        **{key: None if pd.isna(value) else value for key, value in row.items()}})
    _conclude(results, enforced=enforced, docs=docs)


def _suite(name: str, parameters: dict):
    suite = load_suite(f"{SUITES_DIR}/{name}.yaml", parameters=parameters)
    for line in suite.left_out:
        print(f"contracts: {line}")
    return suite


def _counts(results, *, suite: str) -> dict:
    """passed / failed counts of one suite, and its failure lines (what a reader needs without Data Docs)."""
    mine = [r for r in results if r.suite == suite]
    return {"passed": sum(r.success for r in mine), "failed": sum(not r.success for r in mine),
            "failures": [r.line() for r in mine if not r.success]}


def _conclude(results, *, enforced: bool, docs: Path) -> None:
    """Warnings for failures that do not stop; one line each and exit 1 for failures that do."""
    failed = [r.line() for r in results if not r.success]
    tables = dict.fromkeys(r.table for r in results)
    print("contracts: " + ", ".join(f"{t} {sum(r.success for r in results if r.table == t)}/"
                                    f"{sum(r.table == t for r in results)} passed" for t in tables))
    if not enforced:
        for line in failed:
            print(f"warning: {line}")
        return
    if failed:
        for line in failed:
            print(f"contract failed: {line}", file=sys.stderr)
        raise WinnowError(f"contracts: {len(failed)} contract failure(s) in enforce mode (lines above; "
                          f"Data Docs in {docs}/index.html)")


if __name__ == "__main__":
    run(main, reads_arguments=True)
