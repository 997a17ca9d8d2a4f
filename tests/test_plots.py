"""Figures the chapters show draw what they are given, and committed runs are labelled."""
import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from chromolib import plots  # noqa: E402
from chromolib.pipeline import reference_runs  # noqa: E402


def _counts(tp, fp, tn, fn):
    return {"TP": tp, "FP": fp, "TN": tn, "FN": fn}


def test_confusion_heatmap_puts_truth_in_rows_and_up_first():
    ax = plots.confusion_heatmap(_counts(5, 1, 7, 2), title="x")
    assert [t.get_text() for t in ax.texts] == ["5", "2", "1", "7"]   # up row: TP FN; down row: FP TN
    assert ax.get_ylabel() == "true" and ax.get_title() == "x"


def test_confusion_grid_wraps_rows_and_hides_spare_axes():
    runs = {f"run {i}": _counts(i, 1, 2, 3) for i in range(6)}
    fig = plots.confusion_grid(runs, columns=4)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(fig.axes) == 8 and len(visible) == 6
    assert [ax.get_title() for ax in visible] == list(runs)
    assert visible[5].texts[0].get_text() == "5"


def test_reference_runs_label_network_size_epochs_precision_and_device(tmp_path):
    for name, cfg, env in (
            ("a-gpu", {"arch": "resnet101", "image_size": 224, "epochs": 100, "precision": "auto"},
             {"device": "cuda", "gpu": "NVIDIA H200"}),
            ("b-cpu", {"arch": "resnet18", "image_size": 64, "epochs": 8, "precision": "bf16", "augment": "robust"},
             {"device": "cpu"})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps({**_counts(1, 2, 3, 4), "epochs_done": cfg["epochs"],
                                                                  "environment": env}))
        (tmp_path / name / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "bench").mkdir()  # a folder without metrics.json is not a run
    runs = reference_runs(tmp_path)
    assert list(runs) == ["a-gpu", "b-cpu"]
    assert runs["a-gpu"]["setup"] == "resnet101, 224 px, 100 ep, NVIDIA H200"
    assert runs["b-cpu"]["setup"] == "resnet18, 64 px, 8 ep, robust augmentation, bf16, cpu" and runs["b-cpu"]["TN"] == 3
    from chromolib.evaluation import comparison_table

    table = comparison_table(runs)
    assert list(table.index) == ["patent (private data, ResNet101)", "a-gpu", "b-cpu"]
    assert table.columns[0] == "setup" and table.loc["b-cpu", "setup"] == "resnet18, 64 px, 8 ep, robust augmentation, bf16, cpu"


def test_review_curve_and_bar_by_type_plot_their_data():
    review = {"curve": [{"flagged_fraction": 0.0, "accuracy_kept": 0.9}, {"flagged_fraction": 0.2, "accuracy_kept": 0.99}],
              "report_flagged_fraction": 0.2}
    ax = plots.review_curve(review)
    x, y = ax.lines[0].get_data()
    assert np.allclose(x, [0, 20]) and np.allclose(y, [90, 99])
    ax = plots.bar_by_type(pd.Series([1.0, 3.0], index=["1", "X"]), "errors (%)")
    assert [p.get_height() for p in ax.patches] == [1.0, 3.0]


def test_run_setup_names_only_what_differs_from_the_method():
    from chromolib.pipeline import run_setup

    cfg = {"arch": "resnet101", "image_size": 224, "epochs": 100, "augment": "flip", "precision": "auto"}
    assert run_setup(cfg, {"epochs_done": 60, "environment": {"device": "cpu"}}) == "resnet101, 224 px, 60 ep, cpu"
    assert run_setup({}, {}) == "?"
