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


def test_roc_reliability_and_saliency_plots_draw_their_data():
    from chromolib.evaluation import reliability, roc_curve

    ax = plots.roc({"a": roc_curve([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3])})
    assert "AUC 1.0000" in ax.get_legend().get_texts()[0].get_text()
    t = reliability([1, 1, 0, 0], [0.9, 0.6, 0.2, 0.7], bins=5)
    ax = plots.reliability_diagram({"net": t})
    x, y = ax.lines[0].get_data()
    assert np.allclose(x, 100 * t.confidence) and np.allclose(y, 100 * t.accuracy)
    fig = plots.saliency_row([np.zeros((8, 4))] * 2, [np.ones((8, 4)), np.zeros((8, 4))], ["a", "b"])
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]


def test_rate_intervals_carry_the_wilson_interval_and_the_counts():
    from chromolib.evaluation import wilson_interval

    r = plots.rate_intervals(pd.Series([2, 0], index=["1", "X"]), pd.Series([18, 5], index=["1", "X"]))
    lo, hi = wilson_interval(2, 18)
    assert list(r.k) == [2, 0] and list(r.n) == [18, 5]
    assert np.isclose(r.loc["1", "rate"], 100 * 2 / 18) and np.isclose(r.loc["1", "lo"], 100 * lo)
    assert np.isclose(r.loc["1", "hi"], 100 * hi) and r.loc["X", "lo"] == 0 and r.loc["X", "hi"] > 30


def test_rate_bars_draw_intervals_and_say_what_each_bar_rests_on():
    r = plots.rate_intervals(pd.Series([2, 0, 1], index=["1", "2", "X"]), pd.Series([18, 5, 4], index=["1", "2", "X"]))
    ax = plots.rate_bars(r, "error (%)")
    assert [round(p.get_height(), 3) for p in ax.patches] == [round(v, 3) for v in r.rate]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1: 2/18", "2: 0/5", "X: 1/4"]
    bars = ax.containers[-1]  # the error bars
    (segments,) = bars.lines[2]
    tops = [seg[1][1] for seg in segments.get_segments()]
    assert np.allclose(tops, r.hi)


def test_error_rates_by_type_count_errors_per_type_in_karyogram_order():
    pred = pd.DataFrame({"label": [1, 0, 1, 1, 0, 1], "pred": [1, 1, 0, 1, 0, 1],
                         "chromosome": ["X", "10", "10", "2", "2", "2"]})
    r = plots.error_rates_by_type(pred)
    assert list(r.index) == ["2", "10", "X"] and list(r.k) == [0, 2, 0] and list(r.n) == [3, 2, 1]


def test_median_error_by_type_and_probability_histogram_plot_their_data():
    errors = pd.DataFrame({"chromosome": ["X", "1", "1", "X"], "method": ["hull", "hull", "sweep", "sweep"],
                           "error": [2.0, 1.0, 3.0, 4.0]})
    ax = plots.median_error_by_type(errors)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "X"]
    assert [list(line.get_ydata()) for line in ax.lines] == [[1.0, 2.0], [3.0, 4.0]]
    pred = pd.DataFrame({"label": [1, 1, 0], "prob_up": [0.9, 0.95, 0.2]})
    ax = plots.probability_histogram(pred, bins=10)
    assert sum(p.get_height() for p in ax.patches) == 3 and ax.get_yscale() == "log"
