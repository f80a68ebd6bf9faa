"""Hostile inputs to the represent stage, probe 68: a user's rows that all but a few lie almost on one line, so
that float32 cosine cannot rank them (a size column and one empty file; multiples of one vector and one odd row; an
NDVI of either sign near 0 for one image, or for none), one row for all but a few different pictures (a
placeholder), a size column among more rows than the median is taken from, and a model of ours that collapsed
beside rows of zeros or to one row. In-process on test_represent's blobs (48 images of 12x12) or the checks alone:
no training."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from test_hostile_represent import N, ids, separable
from test_represent import blobs
from winnow import represent
from winnow.embedding_checks import checked
from winnow.errors import WinnowError


@pytest.mark.hostile("represent")
def test_a_size_column_that_points_all_rows_but_one_the_same_way_is_refused(tmp_path):
    # two features that part the classes beside each image's file size in bytes (20,000 to 80,000), and one image
    # listed at 0 bytes (an empty file). Before: the check measured every row from the first, so the one row apart
    # let the 47 others, cosine distances of about 1e-8 from one another, be stored: the 5-NN vote on val fell from
    # 100% (the two features alone) to 50%, a coin flip on two classes, without a word
    sizes = np.random.default_rng(0).integers(20_000, 80_000, N).astype(np.float64)
    sizes[7] = 0.0
    features = separable()
    pd.DataFrame({"id": ids(), "f0": features[:, 0], "f1": features[:, 1], "bytes": sizes}).to_parquet(
        tmp_path / "mine.parquet")
    options = represent.options({"source": "file", "file": str(tmp_path / "mine.parquet")})
    with pytest.raises(WinnowError) as refused:
        represent.embed_imageset(blobs(), options=options, seed=0, progress=False, model_out=tmp_path / "record.pt")
    assert re.fullmatch(re.escape(
        f"represent.file: {tmp_path}/mine.parquet: 47 of the 48 images' embeddings point almost the same way (cosine "
        "distance at most ") + r"\d\.\de-\d\d" + re.escape(
        " from their median's): a large offset common to them, which float32 cosine cannot rank neighbours under; "
        "subtract the mean embedding, or, if feature 2 (counted from 0) is a size, a count or a time rather than a "
        "feature, leave it out: it lies far from 0 for them and outweighs the rest"), str(refused.value)), refused.value
    assert not (tmp_path / "record.pt").exists()  # the record of where features came from: only once they pass


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("sign", [1.0, -1.0])  # -1: the median, of rows turned to one side, lies opposite them
def test_rows_all_but_one_a_multiple_of_one_vector_are_refused_as_such(tmp_path, sign):
    # 47 rows (1 + i / 48) times one vector, and img-5 apart. Before: the checks of rows on one line measured every
    # row from the first, so the one row apart let the 47 through, each with every other at cosine similarity 1:
    # their neighbours a tie, broken by row order
    values = (1 + np.arange(N) / N)[:, None] * np.array([1.0, 2.0, 3.0, 4.0]) * sign
    values[5] = [4.0, -3.0, 2.0, -1.0]
    np.save(tmp_path / "mine.npy", values)
    options = represent.options({"source": "file", "file": str(tmp_path / "mine.npy")})
    with pytest.raises(WinnowError) as refused:
        represent.embed_imageset(blobs(), options=options, seed=0, progress=False, model_out=tmp_path / "record.pt")
    assert re.fullmatch(re.escape(
        f"represent.file: {tmp_path}/mine.npy: 47 of the 48 images' embeddings point almost the same way (cosine "
        "distance at most ") + r"\d\.\de-\d\d" + re.escape(
        " from their median's): each a positive multiple of one vector, which cosine neighbours cannot tell apart"),
        str(refused.value)), refused.value
    assert not (tmp_path / "record.pt").exists()


@pytest.mark.hostile("represent")
def test_one_row_for_all_but_a_few_different_pictures_is_refused_as_a_placeholder(tmp_path):
    # an embedder that failed on 44 of the 48 images and wrote one row for each. Before: 'a large offset common to
    # them ...; subtract the mean embedding', which turns the placeholder into rows of zeros; copies of one picture
    # that share a row, which the placeholder check keeps, were refused alike
    values = np.tile(np.array([0.3, -1.2, 0.8, 2.0]), (N, 1))
    values[:4] = separable()[:4, [0, 1, 0, 1]] * [1.0, 1.0, -1.0, 2.0]
    np.save(tmp_path / "mine.npy", values)
    options = represent.options({"source": "file", "file": str(tmp_path / "mine.npy")})
    with pytest.raises(WinnowError) as refused:
        represent.embed_imageset(blobs(), options=options, seed=0, progress=False, model_out=tmp_path / "record.pt")
    assert str(refused.value) == (
        f"represent.file: {tmp_path}/mine.npy: 44 different pictures have one and the same embedding, first ids "
        "'img-4' and 'img-5': a placeholder for images the features could not be computed for? The cleaners would "
        "judge them by one another's labels; recompute those images' features")
    assert not (tmp_path / "record.pt").exists()


@pytest.mark.hostile("represent")
def test_a_size_column_among_more_rows_than_the_median_is_taken_from_is_refused():
    # 5,000 images, more than the 1,024 evenly spaced rows whose median the rows are measured from (the median of all
    # 50,000 rows of 2,048 features took 2.4 s, 16 s on a busy machine), 8 of them (one in 700) empty files: every
    # row but those 8 is measured
    rng = np.random.default_rng(0)
    values = np.column_stack([rng.normal(size=(5_000, 2)), rng.integers(20_000, 80_000, 5_000)]).astype(np.float64)
    values[::700, 2] = 0.0
    with pytest.raises(WinnowError) as refused:
        checked(values, np.arange(5_000), where="represent.file: mine.parquet", user=True, table=True)
    assert re.fullmatch(re.escape(
        "represent.file: mine.parquet: 4992 of the 5000 images' embeddings point almost the same way (cosine distance "
        "at most ") + r"\d\.\de-\d\d" + re.escape(
        " from their median's): a large offset common to them, which float32 cosine cannot rank neighbours under; "
        "subtract the mean embedding, or, if feature 2 (counted from 0) is a size, a count or a time rather than a "
        "feature, leave it out: it lies far from 0 for them and outweighs the rest"), str(refused.value)), refused.value


def _all_but_one_near_0():
    # an int16 NDVI scaled by 10,000 (as MODIS ships it), -1,969 to 8,956, near 0 for one image only
    return (np.random.default_rng(0).uniform(-0.2, 0.9, N) * 10_000).astype(np.int16)


def _every_one_far_from_0():
    # the NDVI of water (about -0.4) or of vegetation (about 0.6) scaled by 10,000, 3,038 or more from 0 for every image
    rng = np.random.default_rng(0)
    return (rng.choice([-0.4, 0.6], N) * 10_000 + rng.uniform(-1_000, 1_000, N)).astype(np.int16)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("index, on_the_line", [
    # before: the rows were measured from their median's direction alone, so the 8 of either sign let all 48 be
    # stored, each within 3e-6 of one line through 0: the 5-NN vote on val fell from 100% (the two features alone) to
    # 62.5%, the neighbours float32 noise
    (_all_but_one_near_0, 47),
    # before: 'every image's embedding lies on one line (each a positive or negative multiple of one vector ...)',
    # which the rows are not, naming no column and no way out
    (_every_one_far_from_0, 48),
], ids=["all-but-one", "every-one"])
def test_rows_on_one_line_through_0_for_a_large_feature_of_either_sign_name_it(tmp_path, index, on_the_line):
    # the NDVI column beside two features that part the classes
    features = separable()
    pd.DataFrame({"id": ids(), "f0": features[:, 0], "f1": features[:, 1], "ndvi": index()}).to_parquet(
        tmp_path / "mine.parquet")
    options = represent.options({"source": "file", "file": str(tmp_path / "mine.parquet")})
    with pytest.raises(WinnowError) as refused:
        represent.embed_imageset(blobs(), options=options, seed=0, progress=False, model_out=tmp_path / "record.pt")
    assert re.fullmatch(re.escape(
        f"represent.file: {tmp_path}/mine.parquet: {on_the_line} of the 48 images' embeddings lie almost on one line "
        "through 0 (cosine distance at most ") + r"\d\.\de-\d\d" + re.escape(
        " from their median's direction or its opposite): feature 2 (counted from 0), of either sign, is far larger "
        "than the rest and outweighs them, which float32 cosine cannot rank neighbours under; scale each feature to "
        "one range (divide it by its standard deviation)"), str(refused.value)), refused.value
    assert not (tmp_path / "record.pt").exists()


@pytest.mark.hostile("represent")
def test_a_model_that_collapsed_beside_rows_of_zeros_is_told_of_its_training():
    # a judge's features after its last ReLU: 45 images within 1e-5 of one point, 3 all zero. Before: a zero row
    # left every row unmeasured, so the collapsed features were stored
    rng = np.random.default_rng(0)
    features = (np.abs(rng.normal(size=8)) * 5 + rng.normal(size=(N, 8)) * 1e-5).astype(np.float32)
    features[[3, 11, 20]] = 0.0
    with pytest.raises(WinnowError) as refused:
        checked(features, np.arange(N), where="represent.judge", user=False)
    assert re.fullmatch(re.escape(
        "represent.judge: 45 of the 48 images' embeddings point almost the same way (cosine distance at most ")
        + r"\d\.\de-\d\d" + re.escape(
        " from their median's): float32 cosine cannot rank neighbours that close; its training diverged or collapsed: "
        "lower represent.judge.lr or choose another source"), str(refused.value)), refused.value


@pytest.mark.hostile("represent")
def test_a_model_that_wrote_one_row_for_all_but_a_few_images_is_told_a_distance_of_0():
    # 45 images given one and the same row by a collapsed judge, 3 apart. Before: 'cosine distance at most -2.2e-16',
    # a distance below 0, the rounding of a cosine of 1 left in the line
    rng = np.random.default_rng(1)
    features = np.tile(np.abs(rng.normal(size=8)), (N, 1)).astype(np.float32)
    features[[3, 11, 20]] = rng.normal(size=(3, 8))
    with pytest.raises(WinnowError) as refused:
        checked(features, np.arange(N), where="represent.judge", user=False)
    assert str(refused.value) == (
        "represent.judge: 45 of the 48 images' embeddings point almost the same way (cosine distance at most 0.0e+00 "
        "from their median's): float32 cosine cannot rank neighbours that close; its training diverged or collapsed: "
        "lower represent.judge.lr or choose another source")
