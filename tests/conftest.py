import numpy as np
import pandas as pd
import pytest


def make_manifest(n: int, *, labels=None, split="train") -> pd.DataFrame:
    return pd.DataFrame({
        "id": [f"img-{i}" for i in range(n)],
        "split": split,
        "label": np.zeros(n, np.int64) if labels is None else labels,
        "source": "test",
        "orig_h": 8,
        "orig_w": 8,
        "orig_mode": "L",
    })


@pytest.fixture
def rng():
    return np.random.default_rng(0)
