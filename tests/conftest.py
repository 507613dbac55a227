import os

import matplotlib
import numpy as np
import pytest
from hypothesis import settings

matplotlib.use("Agg")  # tests draw figures without a display

# Property tests draw the same examples on every run, so that CI is reproducible; set
# LITTLEBOOK_HYPOTHESIS=explore to draw new random examples (or pass --hypothesis-seed=N).
settings.register_profile("reproducible", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("LITTLEBOOK_HYPOTHESIS", "reproducible"))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
