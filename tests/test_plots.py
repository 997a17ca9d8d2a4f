"""Figures the chapters show draw what they are given."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from chromolib import plots  # noqa: E402


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


def test_review_curve_and_bar_by_type_plot_their_data():
    review = {"curve": [{"flagged_fraction": 0.0, "accuracy_kept": 0.9}, {"flagged_fraction": 0.2, "accuracy_kept": 0.99}],
              "report_flagged_fraction": 0.2}
    ax = plots.review_curve(review)
    x, y = ax.lines[0].get_data()
    assert np.allclose(x, [0, 20]) and np.allclose(y, [90, 99])
    ax = plots.bar_by_type(pd.Series([1.0, 3.0], index=["1", "X"]), "errors (%)")
    assert [p.get_height() for p in ax.patches] == [1.0, 3.0]
