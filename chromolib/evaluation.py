"""Evaluation: confusion matrix with "up" as the positive class, accuracy with its 95 %
interval, and the comparison with the patent's published result (METHOD.md section 5)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .dataset import DOWN, UP

__all__ = ["KARYOTYPE", "karyotype_order", "error_rate_by_type", "PATENT", "confusion", "wilson_interval", "polarity_metrics", "comparison_table",
           "mcnemar"]

#: The patent's test-set result (1347 chromosomes, "up" positive).
PATENT = {"TP": 686, "FP": 17, "TN": 612, "FN": 32}


def confusion(y_true, y_pred) -> dict:
    """TP / FP / TN / FN with ``UP`` (1) as the positive class."""
    t, p = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {t.shape} vs {p.shape}")
    return {"TP": int(((t == UP) & (p == UP)).sum()), "FP": int(((t == DOWN) & (p == UP)).sum()),
            "TN": int(((t == DOWN) & (p == DOWN)).sum()), "FN": int(((t == UP) & (p == DOWN)).sum())}


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def polarity_metrics(counts: dict) -> dict:
    """Accuracy (with Wilson 95 % interval), sensitivity, specificity, precision from counts."""
    tp, fp, tn, fn = (int(counts[k]) for k in ("TP", "FP", "TN", "FN"))
    n = tp + fp + tn + fn
    lo, hi = wilson_interval(tp + tn, n)
    return {"TP": tp, "FP": fp, "TN": tn, "FN": fn, "n": n, "accuracy": _ratio(tp + tn, n),
            "accuracy_ci95": [lo, hi], "sensitivity": _ratio(tp, tp + fn),
            "specificity": _ratio(tn, tn + fp), "precision": _ratio(tp, tp + fp)}


def comparison_table(runs: dict[str, dict]) -> pd.DataFrame:
    """The patent's row beside one row per run (``name -> counts or metrics``); a ``setup``
    column when the runs carry one (``pipeline.reference_runs`` adds it)."""
    rows = {"patent (private data, ResNet101)": polarity_metrics(PATENT)}
    rows.update({name: polarity_metrics(m) for name, m in runs.items()})
    df = pd.DataFrame(rows).T
    df["accuracy 95% CI"] = [f"{100 * a:.2f}-{100 * b:.2f} %" for a, b in df.pop("accuracy_ci95")]
    for col in ("accuracy", "sensitivity", "specificity", "precision"):
        df[col] = (100 * df[col].astype(float)).round(2)
    columns = ["n", "TP", "FP", "TN", "FN", "accuracy", "accuracy 95% CI", "sensitivity", "specificity", "precision"]
    if any("setup" in m for m in runs.values()):
        df["setup"] = ["ResNet101, 224 px, 100 ep"] + [m.get("setup", "") for m in runs.values()]
        columns = ["setup", *columns]
    return df[columns]


#: Chromosome types in karyogram order.
KARYOTYPE = (*map(str, range(1, 23)), "X", "Y")


def karyotype_order(types) -> list[str]:
    """The given chromosome types (strings), in karyogram order; unknown ones last."""
    present = {str(t) for t in types}
    return [t for t in KARYOTYPE if t in present] + sorted(present - set(KARYOTYPE))


def error_rate_by_type(predictions: pd.DataFrame) -> pd.Series:
    """Percentage of wrong predictions (``label`` vs ``pred``) per chromosome type, in karyogram order."""
    wrong = (predictions.label != predictions.pred).groupby(predictions.chromosome.astype(str)).mean()
    return (100 * wrong).reindex(karyotype_order(wrong.index)).rename("error %")


def mcnemar(correct_a, correct_b) -> dict:
    """Exact McNemar test of two classifiers scored on the same images.

    ``correct_a``/``correct_b``: per image, whether each got it right. Only the images on
    which they disagree count; ``p_value`` is the two-sided binomial probability of a split
    at least that uneven if both were equally accurate."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"correct_a and correct_b differ in shape: {a.shape} vs {b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n, k = only_a + only_b, min(only_a, only_b)
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n) if n else 1.0
    return {"only_a_right": only_a, "only_b_right": only_b, "p_value": p}
