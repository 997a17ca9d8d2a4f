"""Tests of chromolib.evaluation: confusion with "up" positive, metrics, the patent comparison."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from chromolib.evaluation import PATENT, comparison_table, confusion, mcnemar, polarity_metrics, wilson_interval


def test_confusion_counts_up_as_positive():
    y_true = [1, 1, 1, 1, 0, 0, 0]
    y_pred = [1, 1, 0, 0, 1, 0, 0]
    assert confusion(y_true, y_pred) == {"TP": 2, "FP": 1, "TN": 2, "FN": 2}
    # swapping the roles of the classes swaps TP/TN and FP/FN
    swapped = confusion(1 - np.array(y_true), 1 - np.array(y_pred))
    assert swapped == {"TP": 2, "FP": 2, "TN": 2, "FN": 1}


def test_confusion_accepts_arrays_of_other_dtypes():
    c = confusion(np.array([1.0, 0.0, 1.0]), np.array([True, False, False]))
    assert c == {"TP": 1, "FP": 0, "TN": 1, "FN": 1}


def test_confusion_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        confusion([1, 0, 1], [1, 0])


def test_polarity_metrics_reproduce_the_patent_numbers():
    m = polarity_metrics(PATENT)
    assert m["n"] == 1347
    assert round(m["accuracy"], 4) == 0.9636
    assert m["sensitivity"] == pytest.approx(0.955, abs=1e-3)
    assert m["specificity"] == pytest.approx(0.973, abs=1e-3)
    assert m["precision"] == pytest.approx(0.976, abs=1e-3)
    lo, hi = m["accuracy_ci95"]
    assert lo < m["accuracy"] < hi
    assert 0.008 <= m["accuracy"] - lo <= 0.013     # about +-1 point
    assert 0.006 <= hi - m["accuracy"] <= 0.012
    assert {k: m[k] for k in ("TP", "FP", "TN", "FN")} == PATENT


def test_polarity_metrics_from_a_hand_made_example():
    m = polarity_metrics({"TP": 3, "FP": 1, "TN": 4, "FN": 2})
    assert m["n"] == 10
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["sensitivity"] == pytest.approx(3 / 5)
    assert m["specificity"] == pytest.approx(4 / 5)
    assert m["precision"] == pytest.approx(3 / 4)


def test_polarity_metrics_empty_denominators_are_nan():
    m = polarity_metrics({"TP": 0, "FP": 0, "TN": 5, "FN": 0})
    assert m["accuracy"] == 1.0 and m["specificity"] == 1.0
    assert math.isnan(m["sensitivity"]) and math.isnan(m["precision"])


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-3)
    lo, hi = wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.7225, abs=1e-3)
    lo, hi = wilson_interval(50, 100)
    assert (lo + hi) / 2 == pytest.approx(0.5) and hi - lo == pytest.approx(0.1924, abs=1e-3)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_wilson_interval_narrows_with_more_data():
    w_small = np.diff(wilson_interval(90, 100))[0]
    w_large = np.diff(wilson_interval(900, 1000))[0]
    assert w_large < w_small / 2.5


def test_comparison_table_patent_first_then_one_row_per_run():
    runs = {"run a": {"TP": 40, "FP": 5, "TN": 45, "FN": 10},
            "run b": polarity_metrics({"TP": 10, "FP": 0, "TN": 10, "FN": 0})}
    t = comparison_table(runs)
    assert len(t) == 3
    assert "patent" in t.index[0]
    assert list(t.index[1:]) == ["run a", "run b"]
    assert t.iloc[0]["accuracy"] == pytest.approx(96.36)
    assert int(t.iloc[0]["n"]) == 1347
    assert t.loc["run a", "accuracy"] == pytest.approx(85.0)
    assert t.loc["run a", "sensitivity"] == pytest.approx(80.0)
    assert t.loc["run b", "accuracy"] == pytest.approx(100.0)
    assert list(t.columns) == ["n", "TP", "FP", "TN", "FN", "accuracy", "accuracy 95% CI",
                               "sensitivity", "specificity", "precision"]
    assert t.iloc[0]["accuracy 95% CI"].startswith("95.") and t.iloc[0]["accuracy 95% CI"].endswith("%")


def test_comparison_table_without_runs_has_only_the_patent():
    t = comparison_table({})
    assert len(t) == 1 and "patent" in t.index[0]


def test_error_rate_by_type_is_in_karyogram_order():
    import pandas as pd

    from chromolib.evaluation import error_rate_by_type

    preds = pd.DataFrame({"chromosome": ["X", "2", "10", "2", "X", "10"],
                          "label": [1, 1, 0, 0, 1, 1], "pred": [0, 1, 0, 1, 1, 1]})
    rate = error_rate_by_type(preds)
    assert list(rate.index) == ["2", "10", "X"]
    assert rate.to_dict() == {"2": 50.0, "10": 0.0, "X": 50.0}


def test_mcnemar_counts_disagreements_and_gives_the_exact_binomial_p_value():
    from chromolib.evaluation import mcnemar

    a = [True] * 90 + [True] * 8 + [False] * 2
    b = [True] * 90 + [False] * 8 + [True] * 2
    r = mcnemar(a, b)
    assert (r["only_a_right"], r["only_b_right"]) == (8, 2)
    # two-sided: 2 * P(X <= 2), X ~ Binomial(10, 0.5) = 2 * 56 / 1024
    assert r["p_value"] == pytest.approx(112 / 1024)
    assert mcnemar(a, a)["p_value"] == 1.0
    assert mcnemar([True] * 5 + [False] * 5, [False] * 5 + [True] * 5)["p_value"] == 1.0
    with pytest.raises(ValueError, match="shape"):
        mcnemar([True], [True, False])


def test_choose_threshold_flags_the_uncertain_ones():
    import pandas as pd

    from chromolib.evaluation import choose_threshold

    rng = np.random.default_rng(0)
    n = 400
    label = rng.integers(0, 2, n)
    conf = rng.uniform(0.5, 1.0, n)
    wrong = conf < 0.6  # only the unsure ones are wrong
    prob_up = np.where(label == 1, conf, 1 - conf)
    prob_up = np.where(wrong, 1 - prob_up, prob_up)
    df = pd.DataFrame({"cell": [f"c{i % 40}" for i in range(n)], "label": label, "prob_up": prob_up})
    r = choose_threshold(df, target_error=0.0)
    assert 0.55 <= r["threshold"] <= 0.65
    assert r["report_accuracy_kept"] > 0.99 and 0.1 < r["report_flagged_fraction"] < 0.3
    assert r["report_accuracy_all"] < r["report_accuracy_kept"]


def test_method_agreement_compares_angles_modulo_180():
    import pandas as pd

    from chromolib.evaluation import method_agreement

    rows = [("a", "sweep", 179.6), ("a", "hull", 0.3),      # 0.7 deg apart across the wrap
            ("b", "sweep", 10.0), ("b", "hull", 12.5),      # 2.5 deg apart
            ("c", "sweep", 90.0), ("c", "hull", 90.9)]
    errors = pd.DataFrame(rows, columns=["source", "method", "angle"])
    assert method_agreement(errors) == 2 / 3
    assert method_agreement(errors, within=3.0) == 1.0


def test_fit_temperature_recovers_an_overconfident_network():
    from chromolib.evaluation import fit_temperature

    rng = np.random.default_rng(0)
    margin = rng.normal(1.0, 1.5, 4000)  # calibrated logit margins (T = 1)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-margin))).astype(int)
    logits = np.stack([np.zeros_like(margin), margin], 1) * 3.0  # the same network, 3 times too sure
    assert fit_temperature(logits, labels) == pytest.approx(3.0, rel=0.15)
    assert fit_temperature(logits / 3.0, labels) == pytest.approx(1.0, rel=0.15)


def test_roc_auc_is_the_chance_that_an_up_outranks_a_down():
    from chromolib.evaluation import roc_curve

    labels = [1, 1, 0, 1, 0, 0]
    p = [0.9, 0.8, 0.7, 0.6, 0.2, 0.1]
    fpr, tpr, auc = roc_curve(labels, p)
    pairs = [(a, b) for a, la in zip(p, labels) for b, lb in zip(p, labels) if la == 1 and lb == 0]
    assert auc == pytest.approx(np.mean([a > b for a, b in pairs]))  # 8 of 9
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1 and (np.diff(fpr) >= 0).all()
    assert roc_curve([1, 0], [0.5, 0.5])[2] == pytest.approx(0.5)  # a tie counts half


def test_reliability_bins_and_calibration_error():
    from chromolib.evaluation import reliability

    # 10 chromosomes at confidence 0.95, 9 right; 10 at 0.65, 5 right
    p = [0.95] * 10 + [0.35] * 10
    labels = [1] * 9 + [0] + [0] * 5 + [1] * 5
    r = reliability(labels, p, bins=5)
    assert list(r.n) == [10, 10] and list(r.accuracy) == [0.5, 0.9]
    assert r.attrs["ece"] == pytest.approx((10 * 0.15 + 10 * 0.05) / 20)


def test_review_threshold_for_any_decision_from_confidence_and_wrong():
    import pandas as pd

    from chromolib.evaluation import choose_threshold

    rng = np.random.default_rng(0)
    conf = rng.uniform(0.05, 1, 2000)
    wrong = rng.uniform(0, 1, 2000) > conf  # the less sure, the more often wrong
    df = pd.DataFrame({"cell": np.arange(2000) % 40, "confidence": conf, "wrong": wrong})
    r = choose_threshold(df, target_error=0.02)
    kept = df[df.confidence >= r["threshold"]]
    assert 0.5 < r["threshold"] < 1 and kept.wrong.mean() < 0.05
    assert r["curve"][0]["threshold"] == pytest.approx(conf.min(), abs=1e-3)  # the curve starts below 0.5


def test_mcnemar_runs_matches_chromosomes_by_file_and_scores_each_run_on_its_own_truth():
    from chromolib.evaluation import mcnemar_runs

    a = pd.DataFrame({"file": ["x", "y", "z", "w"], "label": [1, 0, 1, 0], "pred": [1, 1, 1, 0]})
    b = pd.DataFrame({"file": ["w", "z", "y", "x"], "label": [0, 1, 1, 1], "pred": [1, 1, 1, 0]})  # y: its own label
    assert mcnemar_runs(a, b) == mcnemar([True, False, True, True], [False, True, True, False])
    types = pd.DataFrame({"file": ["x", "y"], "chromosome": ["1", "X"], "pred": ["1", "Y"], "assigned": ["1", "X"]})
    assert mcnemar_runs(types, types, pred="assigned", truth="chromosome")["only_a_right"] == 0
    assert mcnemar_runs(types, types.assign(pred=["2", "X"]), truth="chromosome") == mcnemar([True, False], [False, True])
