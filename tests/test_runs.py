"""Run folders (chromolib.runs): same seed, same split, same metrics; a killed run resumed gives
the uninterrupted result; a damaged checkpoint is named; committed runs are labelled."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from chromolib.evaluation import comparison_table
from chromolib.polarity_set import prepare_dataset, read_manifest
from chromolib.runs import evaluate_shifts, load_trained, reference_runs, run_setup, train_run
from chromolib.training import PROFILES

#: the configuration of the session's tiny run (conftest.TINY_RUN_ARGS)
TINY = PROFILES["tiny"].with_(epochs=2, seed=0, device="cpu")


def _metrics(run_dir):
    m = json.loads((run_dir / "metrics.json").read_text())
    return {k: m[k] for k in ("TP", "FP", "TN", "FN", "accuracy")}


def test_same_seed_same_split(tiny_run, tmp_path):
    again = prepare_dataset("", tmp_path / "ds", n_cells=2, seed=0, progress=False)
    first = read_manifest(tiny_run.dataset)
    assert again.drop(columns="file").equals(first.drop(columns="file")) and (again.file == first.file).all()


def test_same_seed_same_metrics_and_a_killed_run_resumed_matches(tiny_run, tmp_path):
    # killed after one epoch, then resumed: the result of the uninterrupted (CLI) run
    train_run(tiny_run.dataset, TINY, tmp_path / "run", progress=False, stop_after=1)
    assert len(pd.read_csv(tmp_path / "run" / "history.csv")) == 1
    train_run(tiny_run.dataset, TINY, tmp_path / "run", progress=False, resume=True)
    assert _metrics(tmp_path / "run") == _metrics(tiny_run.run)
    h1 = pd.read_csv(tiny_run.run / "history.csv")
    h3 = pd.read_csv(tmp_path / "run" / "history.csv")
    assert (h1.train_loss == h3.train_loss).all()
    p1 = pd.read_csv(tiny_run.run / "predictions.csv")
    p3 = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert (p1.prob_up == p3.prob_up).all()
    # the speed figure covers all epochs, also those of the killed call
    m3 = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m3["train_steps_seconds_total"] == round(h3.train_seconds.sum(), 2)
    assert m3["train_steps_seconds_total"] <= m3["train_seconds_total"]


def test_lab_shift_evaluation_reproduces_the_run_on_unshifted_images(tiny_run):
    from chromolib.augment import SHIFTS

    table = evaluate_shifts(tiny_run.run)
    assert list(table.index) == list(SHIFTS)
    m = _metrics(tiny_run.run)
    assert table.loc["as recorded", "accuracy %"] == round(100 * m["accuracy"], 2)
    assert (table.n == m["TP"] + m["FP"] + m["TN"] + m["FN"]).all()


def test_a_damaged_checkpoint_is_named_with_what_to_do(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run.run, run)
    data = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="checkpoint.pt is damaged") as exc:
        load_trained(run)
    assert "chromolib train" in str(exc.value)


def test_reference_runs_label_network_size_epochs_precision_and_device(tmp_path):
    for name, cfg, env in (
            ("a-gpu", {"arch": "resnet101", "image_size": 224, "epochs": 100, "precision": "auto"},
             {"device": "cuda", "gpu": "NVIDIA H200"}),
            ("b-cpu", {"arch": "resnet18", "image_size": 64, "epochs": 8, "precision": "bf16", "augment": "robust"},
             {"device": "cpu"})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps({"TP": 1, "FP": 2, "TN": 3, "FN": 4, "epochs_done": cfg["epochs"],
                                                                  "environment": env}))
        (tmp_path / name / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "bench").mkdir()  # a folder without metrics.json is not a run
    runs = reference_runs(tmp_path)
    assert list(runs) == ["a-gpu", "b-cpu"]
    assert runs["a-gpu"]["setup"] == "resnet101, 224 px, 100 ep, NVIDIA H200"
    assert runs["b-cpu"]["setup"] == "resnet18, 64 px, 8 ep, robust augmentation, bf16, cpu" and runs["b-cpu"]["TN"] == 3
    table = comparison_table(runs)
    assert list(table.index) == ["patent (private data, ResNet101)", "a-gpu", "b-cpu"]
    assert table.columns[0] == "setup" and table.loc["b-cpu", "setup"] == "resnet18, 64 px, 8 ep, robust augmentation, bf16, cpu"


def test_run_setup_names_only_what_differs_from_the_method():
    cfg = {"arch": "resnet101", "image_size": 224, "epochs": 100, "augment": "flip", "precision": "auto"}
    assert run_setup(cfg, {"epochs_done": 60, "environment": {"device": "cpu"}}) == "resnet101, 224 px, 60 ep, cpu"
    assert run_setup({}, {}) == "?"


def test_a_validation_share_of_the_training_cases_calibrates_the_run(tmp_path):
    ds = tmp_path / "ds"
    manifest = prepare_dataset("", ds, n_cells=5, seed=2, progress=False)
    cfg = PROFILES["tiny"].with_(epochs=1, seed=0, device="cpu", validation=0.3, tta=True, width=16)
    run = train_run(ds, cfg, tmp_path / "run", progress=False)
    cal = run.metrics["calibration"]
    assert cal["temperature"] > 0 and cal["n_val"] > 0 and cal["val_cells"] >= 1
    n_train_all = int((manifest.split == "train").sum())
    assert run.metrics["normalisation"]["n_train"] + cal["n_val"] == n_train_all  # kept aside, not trained on
    assert run.metrics["n"] == int((manifest.split == "test").sum())
    trained = load_trained(tmp_path / "run")
    assert trained.temperature == cal["temperature"] and trained.size == (32, 16)
    p = trained.predict(trained.test_set(ds))[:, 1]
    assert np.allclose(p, run.predictions.prob_up, atol=1e-5)


def test_run_setup_names_the_levers_beyond_the_method():
    cfg = {"arch": "resnet18", "image_size": 96, "width": 32, "epochs": 24, "augment": "flip", "tilt": 12.0,
           "tta": True, "precision": "auto"}
    setup = run_setup(cfg, {"epochs_done": 24, "environment": {"device": "cpu"}, "calibration": {"temperature": 1.3}})
    assert setup == "resnet18, 96 x 32 px, 24 ep, tilt 12 deg, flip TTA, calibrated, cpu"


def test_a_type_run_reports_per_chromosome_and_assigned_accuracy(tiny_type_run, tiny_run):
    from chromolib.karyotype import TYPES
    from chromolib.runs import load_run

    run = load_run(tiny_type_run)
    m, p = run.metrics, run.predictions
    assert run.config["target"] == "type" and run.config["scale"] == "cell"
    assert list(p.columns) == ["file", "cell", "chromosome", "pred", "prob", "assigned", "prob_assigned"]
    assert set(p.pred) | set(p.assigned) <= set(TYPES)
    assert m["n"] == len(p) == m["per_chromosome"]["n"]
    assert m["accuracy"] == pytest.approx((p.assigned == p.chromosome).mean())
    assert m["per_chromosome"]["accuracy"] == pytest.approx((p.pred == p.chromosome).mean())
    # the assignment holds per cell: at most three of a type (two and the costly extra copy)
    assert p.groupby(["cell", "assigned"]).size().max() <= 3
    trained = load_trained(tiny_type_run)
    probs = trained.type_probs([np.full((30, 10), 255, np.uint8)] * 3, cells=["a"] * 3)
    assert probs.shape == (3, len(TYPES)) and np.allclose(probs.sum(1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="polarity model"):
        load_trained(tiny_run.run).type_probs([np.zeros((5, 5), np.uint8)])
    assert run_setup(run.config, m).startswith("type (cell scale), resnet18, 32 x 40 px")
