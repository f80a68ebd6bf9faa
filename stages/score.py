"""score: seven quality scores, the pixel digest and the 64-bit pHash of every image in data/degrade."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

from winnow.engine import Engine
from winnow.imageset import read_imageset
from winnow.quality import score_table
from winnow.stage import check_outputs, load_params, run, write_table
from winnow.stage_reads import check_original_sizes, rerun_error

IN, OUT = "data/degrade", "data/score/scores.parquet"


def main() -> None:
    params = load_params()
    check_outputs(stage="score", files=[OUT])  # before scoring: a read-only data/ threw the work away at the end
    imageset = read_imageset(IN)
    if not len(imageset):  # the quantiles of the size fences have nothing to take
        raise rerun_error(IN, "holds no images, so there is nothing to score", written_by="degrade")
    # the size scores take logs of the original sizes: each image's whole size, within what an image file holds
    check_original_sizes(imageset.manifest, path=f"{IN}/manifest.parquet", written_by="degrade")
    table = score_table(imageset.images, imageset.manifest, engine=Engine.from_params(params), **params["score"])
    write_table(OUT, table)
    print(f"score: {len(table)} images scored")


if __name__ == "__main__":
    run(main)
