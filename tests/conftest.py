"""Shared small fixtures for the chromolib unit tests.

Everything written goes under pytest's temporary folders, never into the repository.
"""
from __future__ import annotations

import pytest
import torch

from chromolib.pipeline import LONG_TYPES

# The models in these tests are tiny (16-32 px inputs): one thread is faster than two and is
# not slowed down by anything else running on the machine.
torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _hypothesis_outside_the_repository(tmp_path_factory):
    """Hypothesis keeps a cache in ./.hypothesis by default; keep it in a temporary folder."""
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="session")
def long_types():
    return LONG_TYPES


@pytest.fixture(scope="session")
def specimens_3cells():
    """Three synthetic metaphases (138 chromosomes), deterministic."""
    from chromolib.data import synthetic_specimens

    return synthetic_specimens(3, seed=0)


@pytest.fixture(scope="session")
def polarity_set_3cells(tmp_path_factory, specimens_3cells):
    """(root, manifest) of a polarity data set built from ``specimens_3cells``."""
    from chromolib.dataset import build_polarity_set

    root = tmp_path_factory.mktemp("polarity3")
    df = build_polarity_set(specimens_3cells, root, progress=False)
    return root, df
