"""compute.knn: faiss finds the neighbours numpy finds (winnow.cosine_index, winnow.neighbours.nearest)."""


import numpy as np
import pytest

from conftest import require_faiss
from winnow import cosine_index
from winnow.cosine_index import cosine_pairs, faiss_nearest, unit_rows
from winnow.errors import WinnowError
from winnow.neighbours import Space, evidence, nearest, vote


@pytest.fixture
def faiss_installed():
    require_faiss()


def self_space(features: np.ndarray, labels: np.ndarray) -> Space:
    rows = np.arange(len(features))
    return Space(rows, features, rows, features, labels)


def test_faiss_finds_the_numpy_neighbours_in_the_numpy_order(faiss_installed, rng):
    # continuous features: no two similarities tie, so the order is defined and must match
    features = rng.normal(size=(600, 24)).astype(np.float32)
    labels = rng.integers(0, 5, 600)
    space = self_space(features, labels)
    sims, index = nearest(space, k=10, knn="numpy")
    faiss_sims, faiss_index = nearest(space, k=10, knn="faiss")
    np.testing.assert_array_equal(faiss_index, index)
    np.testing.assert_allclose(faiss_sims, sims, atol=1e-6)  # another order of summation: the last bits differ
    assert not (index == np.arange(600)[:, None]).any()  # never its own neighbour
    np.testing.assert_array_equal(vote(space, k=10, num_classes=5, knn="faiss"), vote(space, k=10, num_classes=5))


def test_queries_against_references_leave_out_only_the_query_itself(faiss_installed, rng):
    # val images judged among train images, two of which share a val image's position (the embeddings'
    # folds): that one reference is masked, the rest searched as usual
    features = rng.normal(size=(300, 16)).astype(np.float32)
    queries = np.arange(250, 300)
    references = np.arange(0, 260)
    space = Space(queries, features[queries], references, features[references], rng.integers(0, 3, 260))
    sims, index = nearest(space, k=7, knn="numpy")
    faiss_sims, faiss_index = nearest(space, k=7, knn="faiss")
    np.testing.assert_array_equal(faiss_index, index)
    np.testing.assert_allclose(faiss_sims, sims, atol=1e-6)
    assert not (references[index] == queries[:, None]).any()
    numpy_found = evidence(space, rng.integers(0, 3, 50), k=7, num_classes=3)
    faiss_found = evidence(space, numpy_found["neighbour_label"].to_numpy(), k=7, num_classes=3, knn="faiss")
    assert faiss_found["position"].tolist() == queries.tolist()


def test_among_exact_copies_the_order_may_differ_but_not_what_is_found(faiss_installed, rng):
    # every image three times: a row's copies tie at similarity 1 and each backend keeps its own order of
    # a tie, so the tolerance is exactly this: the same similarities, and the same images up to which
    # copy of an image stands in a tied place
    base = rng.normal(size=(80, 12)).astype(np.float32)
    features = np.concatenate([base, base, base])
    original = np.arange(240) % 80
    space = self_space(features, original % 4)
    sims, index = nearest(space, k=5, knn="numpy")
    faiss_sims, faiss_index = nearest(space, k=5, knn="faiss")
    np.testing.assert_allclose(faiss_sims, sims, atol=1e-6)
    np.testing.assert_array_equal(np.sort(original[faiss_index], axis=1), np.sort(original[index], axis=1))
    assert (original[faiss_index[:, :2]] == original[:, None]).all()  # its two copies come first


def test_duplicate_pairs_are_the_same_with_either_backend(faiss_installed, rng):
    sources = rng.normal(size=(200, 32)).astype(np.float32)
    copies = sources[:40] + rng.normal(scale=0.05, size=(40, 32)).astype(np.float32)
    features = np.concatenate([sources, copies, sources[:10]])  # jittered and exact copies
    expected = cosine_pairs(features, radius=0.05, k=10, backend="numpy")
    assert len(expected) >= 50
    np.testing.assert_array_equal(cosine_pairs(features, radius=0.05, k=10, backend="faiss"), expected)


@pytest.mark.parametrize("backend", ["numpy", "faiss"])
def test_radius_zero_pairs_every_exact_copy_on_either_backend(faiss_installed, rng, backend):
    # before: 30 embeddings three times each made 50 groups with numpy and 52 with faiss, not 30: a copy's
    # float32 similarity came out at 1.0000001 or a hair under 1
    sources = rng.normal(size=(30, 512)).astype(np.float32)
    features = np.concatenate([sources, sources, sources])
    pairs = cosine_pairs(features, radius=0.0, k=10, backend=backend)
    expected = sorted((i + a * 30, i + b * 30) for i in range(30) for a, b in ((0, 1), (0, 2), (1, 2)))
    assert pairs.tolist() == [list(pair) for pair in expected]


def test_ivf_searching_every_cell_is_the_exact_search(faiss_installed, rng):
    unit = unit_rows(rng.normal(size=(2000, 16)))
    exact_sims, exact = faiss_nearest(unit, unit, k=5, exclude=np.arange(2000))
    nlist = min(round(4 * np.sqrt(2000)), 2000 // 39)
    sims, index = faiss_nearest(unit, unit, k=5, exclude=np.arange(2000), ivf=True, nprobe=nlist)
    np.testing.assert_array_equal(index, exact)
    np.testing.assert_allclose(sims, exact_sims, atol=1e-6)


def test_ivf_on_fewer_rows_than_two_cells_need_is_exact_and_says_nothing_raw(faiss_installed, rng, capfd):
    # before: faiss printed "WARNING clustering 20 points to 1 centroids: please provide at least 39 training points"
    unit = unit_rows(rng.normal(size=(20, 8)))
    exact_sims, exact = faiss_nearest(unit, unit, k=3, exclude=np.arange(20))
    sims, index = faiss_nearest(unit, unit, k=3, exclude=np.arange(20), ivf=True)
    np.testing.assert_array_equal(index, exact)
    np.testing.assert_array_equal(sims, exact_sims)
    assert capfd.readouterr().err == ""


def test_faiss_asked_for_but_missing_is_one_line_naming_the_parameter(monkeypatch, rng):
    monkeypatch.setattr(cosine_index, "_faiss", lambda: None)
    features = rng.normal(size=(20, 4)).astype(np.float32)
    with pytest.raises(WinnowError, match=r"^compute.knn: faiss asked for but faiss is not installed: pip install "
                                          r"faiss-cpu \(make setup installs it\), or set compute.knn: numpy$"):
        nearest(self_space(features, np.zeros(20, np.int64)), k=3, knn="faiss")
    assert cosine_index.resolve("auto") == "numpy"  # auto falls back without a word


@pytest.mark.parametrize(("stage", "section"), [("represent", {"represent": {"source": "judge", "knn_k": 1}}),
                                                ("embedding_clean", {"embedding_clean": {"embedding": "judge"}})])
def test_faiss_asked_for_but_missing_stops_a_stage_before_its_model_trains(tmp_path, monkeypatch, stage, section):
    # found by probing: represent trained its judge (20 epochs; selfsup minutes on CIFAR) and only then said faiss
    # was missing
    import sys

    import pandas as pd
    from hostile_harness import ROOT, default_params, make_project
    from winnow import training
    from winnow.imageset import write_imageset

    params = default_params()
    params["compute"]["knn"] = "faiss"
    for name, values in section.items():
        params[name] = {**params[name], **values}
    project = make_project(tmp_path / "project", params)
    manifest = pd.DataFrame({"id": [f"i{k}" for k in range(6)], "split": ["train"] * 4 + ["val", "test"],
                             "label": [0, 1] * 3, "source": "t", "orig_h": 8, "orig_w": 8, "orig_mode": "L"})
    write_imageset(project / "data/degrade", np.zeros((6, 8, 8, 1), np.uint8), manifest, ["a", "b"])
    monkeypatch.chdir(project)
    monkeypatch.setattr(cosine_index, "_faiss", lambda: None)
    monkeypatch.setattr(training, "fit", lambda *a, **k: pytest.fail("a model trained before the faiss check"))
    monkeypatch.syspath_prepend(str(ROOT / "stages"))
    sys.modules.pop(stage, None)
    main = __import__(stage).main
    with pytest.raises(WinnowError, match=r"^compute.knn: faiss asked for but faiss is not installed"):
        main()
