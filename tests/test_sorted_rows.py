"""winnow.sorted_rows: the statistics the quality scores read off sorted rows are numpy's own, bit for bit."""

import numpy as np
import pytest

from winnow.sorted_rows import changes, largest_equal_share, sorted_percentiles


@pytest.mark.parametrize("width", [1, 2, 3, 16, 784, 1024])
def test_sorted_percentiles_are_np_percentile_bit_for_bit(width):
    rng = np.random.default_rng(width)
    levels = np.sqrt(rng.integers(0, 256, (64, width)).astype(np.float32)) / 255  # ties, as brightness has
    for rows in (np.sort(levels, axis=1), np.sort(rng.random((64, width), dtype=np.float32), axis=1),
                 np.sort(rng.random((5, width)), axis=1)):
        for percentiles in ([99.0, 75.0], [0.0, 100.0], [5.0, 50.0], [100.0, 0.0], [33.3, 66.7], [99.9]):
            expected = np.percentile(rows.copy(), percentiles, axis=1, overwrite_input=True)
            got = sorted_percentiles(rows, percentiles)
            assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes(), (width, percentiles)


def test_runs_and_distinct_values_of_sorted_rows():
    rows = np.array([[1, 1, 2, 2, 2, 5], [3, 3, 3, 3, 3, 3], [0, 1, 2, 3, 4, 5]], np.float32)
    np.testing.assert_array_equal(largest_equal_share(rows), [0.5, 1.0, 1 / 6])
    np.testing.assert_array_equal(largest_equal_share(rows, changes(rows)), [0.5, 1.0, 1 / 6])
    np.testing.assert_array_equal(np.count_nonzero(changes(rows), axis=1), [3, 1, 6])
