"""Same seed, same split, same metrics; a killed run resumed gives the uninterrupted result."""
import json

import pandas as pd

from chromolib.pipeline import prepare_dataset, train_run
from chromolib.training import PROFILES


def _metrics(run_dir):
    m = json.loads((run_dir / "metrics.json").read_text())
    return {k: m[k] for k in ("TP", "FP", "TN", "FN", "accuracy")}


def test_same_seed_same_split_same_metrics_and_resume_matches(tmp_path):
    a = prepare_dataset("", tmp_path / "a", n_cells=2, seed=5, progress=False)
    b = prepare_dataset("", tmp_path / "b", n_cells=2, seed=5, progress=False)
    assert a.drop(columns="file").equals(b.drop(columns="file")) and (a.file == b.file).all()
    cfg = PROFILES["tiny"].with_(epochs=3, seed=5, device="cpu")
    train_run(tmp_path / "a", cfg, tmp_path / "run1", progress=False)
    train_run(tmp_path / "a", cfg, tmp_path / "run2", progress=False)
    assert _metrics(tmp_path / "run1") == _metrics(tmp_path / "run2")
    # killed after one epoch, then resumed
    train_run(tmp_path / "a", cfg, tmp_path / "run3", progress=False, stop_after=1)
    assert len(pd.read_csv(tmp_path / "run3" / "history.csv")) == 1
    train_run(tmp_path / "a", cfg, tmp_path / "run3", progress=False, resume=True)
    assert _metrics(tmp_path / "run3") == _metrics(tmp_path / "run1")
    h1 = pd.read_csv(tmp_path / "run1" / "history.csv")
    h3 = pd.read_csv(tmp_path / "run3" / "history.csv")
    assert (h1.train_loss == h3.train_loss).all()
    p1 = pd.read_csv(tmp_path / "run1" / "predictions.csv")
    p3 = pd.read_csv(tmp_path / "run3" / "predictions.csv")
    assert (p1.prob_up == p3.prob_up).all()
    # the speed figure covers all epochs, also those of the killed call
    m3 = json.loads((tmp_path / "run3" / "metrics.json").read_text())
    assert m3["train_steps_seconds_total"] == round(h3.train_seconds.sum(), 2)
    assert m3["train_steps_seconds_total"] <= m3["train_seconds_total"]
    n_train = m3["normalisation"]["n_train"]
    assert abs(m3["train_images_per_s"] - n_train * 3 / h3.train_seconds.sum()) < 0.1


def test_lab_shift_evaluation_reproduces_the_run_on_unshifted_images(tmp_path):
    from chromolib.dataset import SHIFTS
    from chromolib.pipeline import evaluate_shifts

    prepare_dataset("", tmp_path / "ds", n_cells=2, seed=1, progress=False)
    train_run(tmp_path / "ds", PROFILES["tiny"].with_(seed=1, device="cpu"), tmp_path / "run", progress=False)
    table = evaluate_shifts(tmp_path / "run")
    assert list(table.index) == list(SHIFTS)
    m = _metrics(tmp_path / "run")
    assert table.loc["as recorded", "accuracy %"] == round(100 * m["accuracy"], 2)
    assert (table.n == m["TP"] + m["FP"] + m["TN"] + m["FN"]).all()
