"""score: seven quality scores, the pixel digest and the 64-bit pHash of every image in data/degrade."""

import pandas as pd

from winnow.imageset import read_imageset
from winnow.quality import SCORES, phash64, score_images
from winnow.stage import load_params, run, write_table

IN, OUT = "data/degrade", "data/score/scores.parquet"


def main() -> None:
    p = load_params()["score"]
    imageset = read_imageset(IN)
    manifest = imageset.manifest
    scores = score_images(
        imageset.images,
        orig_h=manifest["orig_h"].to_numpy(),
        orig_w=manifest["orig_w"].to_numpy(),
        light_percentile=p["light_percentile"],
        dark_percentile=p["dark_percentile"],
        iqr_factor=p["iqr_factor"],
        min_relative_spread=p["min_relative_spread"],
        batch_size=p["batch_size"],
    )
    table = pd.DataFrame({"id": manifest["id"], **{name: scores[name] for name in SCORES},
                          "digest": manifest["digest"], "phash": phash64(imageset.images, batch_size=p["batch_size"])})
    write_table(OUT, table)
    print(f"score: {len(table)} images scored")


if __name__ == "__main__":
    run(main)
