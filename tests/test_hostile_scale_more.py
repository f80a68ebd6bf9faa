"""Hostile intermediates at scale, continued: data larger than a batch, or larger than memory, through the
memory-mapped imageset, the streamed device rows and the per-image stages.

Each case builds its input, runs the real code (a stage script where the user meets it) and asserts the one
line a user must see, or the exact outcome derived independently of the code, and that nothing partial was
left behind.
"""

from fractions import Fraction

import imagehash
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from hostile_harness import make_project, refused_line, tiny_degraded, undamaged_params
from winnow import thumbnails
from winnow.device_rows import STATS_BYTES, StreamedRows, channel_stats
from winnow.imageset import ImageSetError, pixel_digest, write_imageset
from winnow.phash import phash64
from winnow.quality import score_table
from winnow.thumbnails import BLOCK_BYTES, Looks, pair_correlation


# -- train.stream: the channel statistics of a streamed set ------------------------------------------------

@pytest.mark.hostile("intermediates")
def test_streamed_channel_stats_read_bounded_batches_and_give_the_exact_values(tmp_path, rng):
    # before: 4,096 rows a batch whatever their size, each turned into float64 twice (the scaled pixels and their
    # squares): 108 MiB of 96x96 RGB images streamed from a memory map took a 2 GiB peak (6 GiB a batch at 224x224)
    images = rng.integers(0, 256, (600, 96, 96, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    mapped = np.load(tmp_path / "images.npy", mmap_mode="r")

    class Counted(StreamedRows):
        rows: list[int] = []

        def __getitem__(self, index):
            batch = super().__getitem__(index)
            self.rows.append(len(batch))
            return batch

    mean, std = channel_stats(Counted(mapped, torch.device("cpu")))
    row_int64_bytes = 8 * 96 * 96 * 3
    # every row once, in batches of tens of MiB of int64 sums, not one 132 MiB batch turned into float64 twice
    assert sum(Counted.rows) == 600 and max(Counted.rows) * row_int64_bytes <= min(STATS_BYTES, 64 << 20)
    # the definition, in exact arithmetic: the mean of the pixels / 255 and their unbiased (n - 1) std
    pixels = images.reshape(-1, 3).astype(np.int64)
    n = len(pixels)
    for c in range(3):
        total, squares = int(pixels[:, c].sum()), int((pixels[:, c] ** 2).sum())
        exact_mean = Fraction(total, n * 255)
        exact_var = (Fraction(squares, 255 * 255) - n * exact_mean ** 2) / (n - 1)
        assert mean[c].item() == np.float32(float(exact_mean))
        assert std[c].item() == np.float32(np.sqrt(float(exact_var)))


# -- an imageset of images without pixels ------------------------------------------------------------------

@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("shape", [(30, 0, 8, 1), (30, 8, 0, 3)])
def test_score_refuses_images_of_no_pixels(tmp_path, shape):
    # before: IndexError traceback from np.percentile (the brightness percentiles of no pixels); write_imageset
    # of such images ended in a TypeError from the memoryview of a zero-sized batch
    project = make_project(tmp_path / "project", undamaged_params())
    tiny_degraded(project, score=undamaged_params()["score"])
    # a hand-made imageset whose manifest agrees with its pixels: the digests are of these (no) pixels
    images = np.zeros(shape, np.uint8)
    np.save(project / "data/degrade/images.npy", images)
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet").assign(digest=pixel_digest(images))
    manifest.to_parquet(project / "data/degrade/manifest.parquet", index=False)
    (project / "data/score/scores.parquet").unlink()
    line = refused_line(project, "score")
    assert line == (f"error: data/degrade/images.npy: images must be at least 1x1 pixels, got shape {shape}; "
                    "rerun the degrade stage (dvc repro degrade)")
    with pytest.raises(ImageSetError) as err:
        write_imageset(tmp_path / "written", images, manifest, ["a", "b", "c"])
    assert str(err.value) == f"{tmp_path / 'written'}: images must be at least 1x1 pixels, got shape {shape}"
    assert not (tmp_path / "written").exists() and [p.name for p in tmp_path.iterdir()] == ["project"]


# -- dedup's thumbnails of wide images ---------------------------------------------------------------------

@pytest.mark.hostile("intermediates")
def test_long_thumbnails_are_correlated_in_blocks_of_bounded_bytes_with_the_numbers_of_one_block(rng, monkeypatch):
    # before: 16,384 pairs a block whatever the thumbnails' length; 8x2048 images have 8x2048-cell thumbnails
    # (the grid keeps 16 cells on the shorter edge), so a block gathered 1 GiB a side: 125 MiB of thumbnails of
    # 2,000 such images took a 3 GiB peak to correlate 40,000 pairs
    images = rng.integers(0, 256, (300, 8, 2048, 1), dtype=np.uint8)
    looks = Looks.of(images, flip=True)
    assert looks.whole.shape == (300, 8 * 2048)

    class Gathers(np.ndarray):
        rows: list[int] = []

        def __getitem__(self, index):
            if isinstance(index, np.ndarray):
                Gathers.rows.append(len(index))
            return np.asarray(super().__getitem__(index))

    pairs = rng.integers(0, 300, (257, 2))  # a block of 256 (16 MiB of 64 KiB thumbnails), then one pair alone
    found = pair_correlation(looks.whole.view(Gathers), pairs, mirror=looks.grid)
    # each side of a block holds at most 16 MiB of thumbnails, not all 257 of them
    assert max(Gathers.rows) * 8 * 2048 * 4 <= min(BLOCK_BYTES, 16 << 20)
    # the same numbers as all the pairs in one block, the lone last pair too
    monkeypatch.setattr(thumbnails, "BLOCK_BYTES", 1 << 40)
    Gathers.rows.clear()
    whole = pair_correlation(looks.whole.view(Gathers), pairs, mirror=looks.grid)
    assert Gathers.rows == [257, 257]
    assert np.array_equal(found, whole)


# -- the pHash of tall images ------------------------------------------------------------------------------

@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("shape", [(200, 7, 1), (40, 20, 3), (33, 31, 3), (1000, 500, 1), (7, 200, 1), (64, 64, 3)])
def test_phash_of_tall_images_equals_imagehash_under_the_installed_pillow(rng, shape):
    # before: Pillow 13 (requirements.lock) resizes a tall image vertical pass first, rounding after each pass, and
    # phash64 always went horizontal first: 17 of 20 random 200x7 images, 2 of 5 33x31 ones, hashed apart from
    # imagehash.phash, which the score table's phash column promises to equal bit for bit
    images = rng.integers(0, 256, (12, *shape), dtype=np.uint8)
    expected = [int(str(imagehash.phash(Image.fromarray(img[..., 0] if shape[2] == 1 else img))), 16)
                for img in images]
    assert phash64(images).tolist() == expected
    assert phash64(images, batch_size=5).tolist() == expected
    manifest = pd.DataFrame({"id": [f"i{k}" for k in range(12)], "digest": "d", "orig_h": shape[0],
                             "orig_w": shape[1]})
    assert score_table(images, manifest)["phash"].tolist() == expected  # what the score stage writes


# -- train.stream: a pass over a memory-mapped set ---------------------------------------------------------

def _resident_file_kib() -> int:
    """Pages of files mapped into this process and resident (Linux ``RssFile``)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("RssFile:"))


@pytest.mark.hostile("intermediates")
def test_a_streamed_pass_over_a_memory_map_leaves_its_pages_to_the_page_cache(tmp_path, rng):
    # before: StreamedRows (represent's embedding and predictions under train.stream, the channel stats) read each
    # batch through the map and never let it go: a pass kept the whole file mapped into the process, which is what
    # streaming a set too large for memory was to avoid (the per-image stages release theirs: winnow.engine)
    images = rng.integers(0, 256, (3000, 64, 64, 3), dtype=np.uint8)  # 36 MiB
    np.save(tmp_path / "images.npy", images)
    mapped = np.load(tmp_path / "images.npy", mmap_mode="r")
    rows = StreamedRows(mapped, torch.device("cpu"))
    before = _resident_file_kib()
    batches = [rows[start:start + 256] for start in range(0, len(rows), 256)]
    channel_stats(rows)
    grown = _resident_file_kib() - before
    assert grown < 4 * 1024  # of the 36 MiB read twice, under 4 MiB stay mapped in: a page per batch edge at most
    assert torch.equal(torch.cat(batches), torch.from_numpy(images).permute(0, 3, 1, 2))  # every row, as stored
