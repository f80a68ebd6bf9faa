"""ingest: read the configured source, carve splits, add the trusted split (ingest.trusted_path) when given,
write the imageset data/ingest, rejected.csv (files set aside, with the reason) and oriented.csv (images
turned upright by their EXIF orientation)."""

import pandas as pd

from winnow.errors import WinnowError
from winnow.imageset import write_imageset
from winnow.ingest import to_imageset, with_trusted
from winnow.sources import load_source, load_trusted
from winnow.stage import load_params, run, write_json, write_table

OUT = "data/ingest"
SEE = "see data/ingest/rejected.csv for each file and its reason"


def main() -> None:
    params = load_params()
    p = params["ingest"]
    loaded = load_source(p["source"], path=p.get("path"), size=p.get("size"), download=p.get("download", False),
                         classes=p.get("classes"))
    trusted = None
    if p.get("trusted_path") is not None:
        trusted = load_trusted(p["trusted_path"], classes=loaded.classes, size=p.get("size"))
        loaded.rejected += trusted.rejected
        loaded.oriented += trusted.oriented
    rejected = pd.DataFrame(loaded.rejected, columns=["path", "reason"])
    total = len(loaded.images) + len(rejected)
    if total and len(rejected) / total > p["max_reject_fraction"]:
        write_table(f"{OUT}/rejected.csv", rejected)  # the one output a failed ingest leaves: where to look
        raise WinnowError(
            f"ingest: {len(rejected)} of {total} files could not be read, above ingest.max_reject_fraction="
            f"{p['max_reject_fraction']}; {SEE}"
        )
    try:
        images, manifest = to_imageset(loaded, size=p.get("size"), val_fraction=p["val_fraction"],
                                       test_fraction=p["test_fraction"], seed=params["seed"])
    except WinnowError as err:
        if rejected.empty:
            raise
        write_table(f"{OUT}/rejected.csv", rejected)  # a class may be empty because its files were set aside
        raise WinnowError(f"{err} ({len(rejected)} files were set aside: {SEE})") from None
    if trusted is not None:
        images, manifest = with_trusted(images, manifest, trusted, size=p.get("size"))
    write_imageset(OUT, images, manifest, loaded.classes)
    write_table(f"{OUT}/rejected.csv", rejected)
    write_table(f"{OUT}/oriented.csv", pd.DataFrame(loaded.oriented, columns=["id", "exif_orientation"]))
    counts = manifest.groupby("split").size().to_dict()
    write_json("metrics/ingest.json", {"images": len(manifest), "rejected": len(rejected), "split": counts,
                                       "classes": len(loaded.classes), "exif_oriented": len(loaded.oriented)})
    print(f"ingest: {len(manifest)} images from {p['source']} ({counts}), {len(rejected)} rejected, "
          f"{len(loaded.oriented)} turned upright by their EXIF orientation")


if __name__ == "__main__":
    run(main)
