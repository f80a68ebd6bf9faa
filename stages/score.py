"""score: seven quality scores, the pixel digest and the 64-bit pHash of every image in data/degrade."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import numpy as np

from winnow.engine import Engine
from winnow.imageset import read_imageset
from winnow.quality import score_table
from winnow.stage import check_outputs, load_params, run, write_table
from winnow.stage_reads import rerun_error

IN, OUT = "data/degrade", "data/score/scores.parquet"
MAX_SIDE = 2**31 - 1  # the largest side PNG, TIFF and Pillow store (a signed 32-bit count)


def main() -> None:
    params = load_params()
    check_outputs(stage="score", files=[OUT])  # before scoring: a read-only data/ threw the work away at the end
    imageset = read_imageset(IN)
    if not len(imageset):  # the quantiles of the size fences have nothing to take
        raise rerun_error(IN, "holds no images, so there is nothing to score", written_by="degrade")
    # the size scores take logs of the original sizes: before, a size of 0 or NaN ended in "orig_h and orig_w must
    # be 30 positive sizes" (NaN after a RuntimeWarning), naming neither the file nor the image
    manifest = imageset.manifest
    sizes = manifest[["orig_h", "orig_w"]].to_numpy(np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        whole = (sizes >= 1) & (sizes == np.round(sizes)) & np.isfinite(sizes)
    unsized = np.flatnonzero(~whole.all(axis=1))
    if len(unsized):
        first = manifest.iloc[unsized[0]]
        raise rerun_error(f"{IN}/manifest.parquet", f"{len(unsized)} image(s) without a whole original size of at "
                          f"least 1 pixel, first {first['id']!r} ({first['orig_h']} x {first['orig_w']})",
                          written_by="degrade")
    # and none past the side an image file holds: 1e20 ended in a RuntimeWarning (a cast to int64) and "orig_h and
    # orig_w must be 30 positive sizes", naming neither the file nor the image
    huge = np.flatnonzero((sizes > MAX_SIDE).any(axis=1))
    if len(huge):
        first = manifest.iloc[huge[0]]
        raise rerun_error(f"{IN}/manifest.parquet", f"{len(huge)} image(s) of an original size past {MAX_SIDE:,} "
                          f"pixels a side, more than an image file holds, first {first['id']!r} ({first['orig_h']} x "
                          f"{first['orig_w']})", written_by="degrade")
    table = score_table(imageset.images, imageset.manifest, engine=Engine.from_params(params), **params["score"])
    write_table(OUT, table)
    print(f"score: {len(table)} images scored")


if __name__ == "__main__":
    run(main)
