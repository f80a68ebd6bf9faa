"""score: seven quality scores, the pixel digest and the 64-bit pHash of every image in data/degrade."""

from winnow.engine import Engine
from winnow.imageset import read_imageset
from winnow.quality import score_table
from winnow.stage import check_outputs, load_params, rerun_error, run, write_table

IN, OUT = "data/degrade", "data/score/scores.parquet"


def main() -> None:
    params = load_params()
    check_outputs(stage="score", files=[OUT])  # before scoring: a read-only data/ threw the work away at the end
    imageset = read_imageset(IN)
    if not len(imageset):  # the quantiles of the size fences have nothing to take
        raise rerun_error(IN, "holds no images, so there is nothing to score", written_by="degrade")
    table = score_table(imageset.images, imageset.manifest, engine=Engine.from_params(params), **params["score"])
    write_table(OUT, table)
    print(f"score: {len(table)} images scored")


if __name__ == "__main__":
    run(main)
