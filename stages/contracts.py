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

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.contract_tables import ingest_table, measurements, variant_table, with_digests
from winnow.contracts import SUITES_DIR, Batch, check_settings, load_suite, validate
from winnow.errors import WinnowError
from winnow.stage import load_params, run, write_json

INGEST, DEGRADE, VARIANTS = Path("data/ingest"), Path("data/degrade"), Path("data/variants")
SCORES = Path("data/score/scores.parquet")
CLEANER_OUTPUTS = {"flags": Path("data/threshold/flags.parquet"), "groups": Path("data/dedup/groups.parquet"),
                   "label_issues": Path("data/confident-learn/label_issues.parquet")}
METRICS, DOCS = Path("metrics/contracts.json"), Path("reports/contracts")


def main() -> None:
    params = load_params()
    settings = check_settings(params.get("contracts"))
    classes = json.loads((INGEST / "classes.json").read_text()) if (INGEST / "classes.json").is_file() else []
    if len(sys.argv) > 1:
        check_variant(sys.argv[1], settings=settings, num_classes=len(classes))
    else:
        check_inputs(params, variants=params.get("variants") or [], settings=settings, classes=classes)


def check_inputs(params: dict, *, variants: list[str], settings: dict, classes: list[str]) -> None:
    """The ingest and scores contracts; also checks that every enforced variant is one that gets trained."""
    unknown = sorted(set(settings["enforce_variants"]) - set(variants))
    if unknown:
        raise WinnowError(f"params.yaml contracts.enforce_variants: {unknown[0]!r} is not one of the trained "
                          f"variants {variants} (params.yaml variants); add it there or remove it here")
    from_data = {"max_label": len(classes) - 1, "image_size": (params.get("ingest") or {}).get("size")}
    suites = [_suite(name, settings["bounds"] | from_data) for name in ("ingest", "scores")]
    manifest = _table(INGEST / "manifest.parquet")
    shape = np.load(INGEST / "images.npy", mmap_mode="r").shape
    batches = [Batch(suites[0], "ingest", ingest_table(manifest, image_shape=shape, num_classes=len(classes))),
               Batch(suites[1], "scores", _table(SCORES))]
    results = validate(batches, docs_dir=DOCS / "inputs")
    write_json(METRICS, {"mode": settings["mode"], "enforce_variants": settings["enforce_variants"],
                         "suites": {suite.name: _counts(results, suite=suite.name) for suite in suites}})
    _conclude(results, enforced=settings["mode"] == "enforce", docs=DOCS / "inputs")


def check_variant(name: str, *, settings: dict, num_classes: int) -> None:
    """The variant contract on ``data/variants/<name>``: its rates over the kept train images."""
    rows_path = VARIANTS / name / "rows.parquet"
    if not rows_path.is_file():
        raise WinnowError(f"{rows_path}: not found, nothing to certify (the variants stage writes oracle, baseline "
                          "and pruned; gan-synthesize augmented; balance balanced)")
    suite = _suite("variant", settings["bounds"])
    found = {key: pd.read_parquet(path) if path.is_file() else None for key, path in CLEANER_OUTPUTS.items()}
    for key, table in found.items():
        if table is None:
            print(f"contracts: {CLEANER_OUTPUTS[key]} not found; what it measures counts as not measured")
    manifests = {"ingest": _table(INGEST / "manifest.parquet"), "degrade": _table(DEGRADE / "manifest.parquet")}
    extra = VARIANTS / name / "extra" / "manifest.parquet"
    if extra.is_file():
        manifests["extra"] = pd.read_parquet(extra)
    rows = with_digests(pd.read_parquet(rows_path), manifests=manifests)
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


def _table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise WinnowError(f"{path}: not found (run the stage that writes it)")
    return pd.read_parquet(path)


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
    run(main)
