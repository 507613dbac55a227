import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")  # tests draw figures without a display


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
