"""Shared fixtures for the chromolib tests.

Everything written goes under pytest's temporary folders, never into the repository. The tiny
data set and the tiny trained run are built ONCE per session, through the command line, and
shared by every test that needs one (tests must not change them: copy first).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from chromolib.karyotype import LONG_TYPES

# The models in these tests are tiny (16-32 px inputs): one thread is faster than two and is
# not slowed down by anything else running on the machine.
torch.set_num_threads(1)

#: what the session's tiny run is: `chromolib train DATASET RUN` with these options
TINY_RUN_ARGS = ["--profile", "tiny", "--epochs", "2", "--seed", "0", "--device", "cpu"]


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
    from chromolib.specimens import synthetic_specimens

    return synthetic_specimens(3, seed=0)


@pytest.fixture(scope="session")
def polarity_set_3cells(tmp_path_factory, specimens_3cells):
    """(root, manifest) of a polarity data set built from ``specimens_3cells``."""
    from chromolib.polarity_set import build_polarity_set

    root = tmp_path_factory.mktemp("polarity3")
    df = build_polarity_set(specimens_3cells, root, progress=False)
    return root, df


@dataclass(frozen=True)
class TinyRun:
    dataset: Path   # `chromolib dataset DATASET --cells 2`: 92 synthetic chromosomes, seed 0
    run: Path       # `chromolib train DATASET RUN` + TINY_RUN_ARGS (resnet18, 32 px, 2 epochs)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> TinyRun:
    """The session's one tiny data set and trained run, made by the command line."""
    from chromolib.cli import main

    base = tmp_path_factory.mktemp("tiny")
    ds, run = base / "dataset", base / "run"
    assert main(["dataset", str(ds), "--cells", "2", "--quiet"]) == 0
    assert main(["train", str(ds), str(run), *TINY_RUN_ARGS, "--quiet"]) == 0
    return TinyRun(ds, run)


#: the session's tiny type run: `chromolib train DATASET RUN` with these options, on tiny_run's data set
TINY_TYPE_ARGS = ["--profile", "type", "--size", "32", "--epochs", "1", "--seed", "0", "--device", "cpu"]


@pytest.fixture(scope="session")
def tiny_type_run(tiny_run, tmp_path_factory) -> Path:
    """A type run (24 classes, one scale per cell) on the tiny data set, made by the command line."""
    from chromolib.cli import main

    run = tmp_path_factory.mktemp("tiny-type") / "run"
    assert main(["train", str(tiny_run.dataset), str(run), *TINY_TYPE_ARGS, "--quiet"]) == 0
    return run
