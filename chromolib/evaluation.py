"""Evaluation: polarity metrics (confusion matrix with "up" as the positive class, accuracy
with its 95 % interval, the comparison with the patent's published result, the McNemar test),
the review threshold, and the rotation errors of each method on chromosomes at known angles.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .images import canonical_gray
from .karyotype import TYPES, karyotype_order
from .polarity_set import DOWN, UP
from .progress import progress_bar
from .rotation import DEFAULT_MASK, METHODS, angle_error, find_angle, foreground_mask, largest_component, rotate_to_angle
from .specimens import KaryogramSpecimens

__all__ = ["PATENT", "confusion", "wilson_interval", "polarity_metrics", "comparison_table", "error_rate_by_type",
           "mcnemar", "mcnemar_runs", "accuracy", "type_metrics", "type_confusion", "roc_curve", "reliability", "fit_temperature", "confidence", "choose_threshold", "rotation_errors", "rotation_consistency",
           "summarise_rotation", "method_agreement"]

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


def accuracy(correct) -> dict:
    """Share right, with its Wilson 95 % interval, from one boolean per item."""
    c = np.asarray(correct, dtype=bool)
    lo, hi = wilson_interval(int(c.sum()), len(c))
    return {"n": int(len(c)), "correct": int(c.sum()), "accuracy": _ratio(int(c.sum()), len(c)),
            "accuracy_ci95": [lo, hi]}


def type_metrics(predictions: pd.DataFrame) -> dict:
    """Type accuracy per chromosome (``pred``) and after the cell's assignment (``assigned``),
    each with its interval, and the share of cells whose every chromosome is right; from
    ``predictions`` with columns ``cell``, ``chromosome``, ``pred``, ``assigned``."""
    truth = predictions.chromosome.astype(str)
    out = {}
    for col in ("pred", "assigned"):
        ok = predictions[col].astype(str) == truth
        out[col] = {**accuracy(ok), "cells_all_right": float(ok.groupby(predictions.cell.astype(str)).all().mean())}
    return {**out["assigned"], "per_chromosome": out["pred"], "assigned": out["assigned"]}


def type_confusion(predictions: pd.DataFrame, column: str = "assigned") -> pd.DataFrame:
    """24 x 24 counts: rows the true type, columns the predicted one (``column``), in karyogram order."""
    table = pd.crosstab(predictions.chromosome.astype(str), predictions[column].astype(str))
    return table.reindex(index=list(TYPES), columns=list(TYPES), fill_value=0).rename_axis(index="true",
                                                                                           columns="predicted")


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
    column when the runs carry one (``runs.reference_runs`` adds it)."""
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


def mcnemar_runs(a: pd.DataFrame, b: pd.DataFrame, pred: str = "pred", truth: str = "label") -> dict:
    """``mcnemar`` of two runs' predictions tables (``predictions.csv``) on the chromosomes they
    share, matched by ``file``: ``a`` right (column ``pred`` equals ``truth``) against ``b`` right.
    For type runs: ``truth="chromosome"``, ``pred`` "pred" (the network) or "assigned" (the cell)."""
    both = a.merge(b, on="file", suffixes=("_a", "_b"), validate="one_to_one")
    right = [(both[f"{pred}_{s}"].astype(str) == both[f"{truth}_{s}"].astype(str)).to_numpy() for s in "ab"]
    return mcnemar(*right)


def roc_curve(labels, prob_up) -> tuple[np.ndarray, np.ndarray, float]:
    """False and true positive rates ("up" positive) at every threshold on P(up), and the area
    under the curve (the chance that a random "up" chromosome gets a higher P(up) than a random
    "down" one; ties count half)."""
    y = np.asarray(labels, dtype=int)
    p = np.asarray(prob_up, dtype=float)
    order = np.argsort(-p, kind="mergesort")
    y, p = y[order], p[order]
    last = np.r_[np.nonzero(np.diff(p))[0], len(p) - 1]  # the last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    pos, neg = max(int(y.sum()), 1), max(int(len(y) - y.sum()), 1)
    tpr, fpr = np.r_[0.0, tp / pos], np.r_[0.0, fp / neg]
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


def reliability(labels, prob_up, bins: int = 10) -> pd.DataFrame:
    """Calibration by bins of confidence max(p, 1 - p): per bin the number of chromosomes, the
    mean confidence and the share right; and the expected calibration error (``.attrs["ece"]``,
    the count-weighted mean |share right - confidence|)."""
    p = np.asarray(prob_up, dtype=float)
    conf = np.maximum(p, 1 - p)
    right = (p >= 0.5).astype(int) == np.asarray(labels, dtype=int)
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    df = pd.DataFrame({"bin": which, "confidence": conf, "right": right}).groupby("bin").agg(
        n=("right", "size"), confidence=("confidence", "mean"), accuracy=("right", "mean"))
    df["low"], df["high"] = edges[df.index], edges[df.index + 1]
    df.attrs["ece"] = float((df.n * (df.accuracy - df.confidence).abs()).sum() / max(df.n.sum(), 1))
    return df


def fit_temperature(logits: np.ndarray, labels) -> float:
    """Temperature scaling (Guo et al. 2017): the T > 0 that minimises the cross-entropy of
    softmax(logits / T) on held-aside labelled images (never the test cells). It changes no
    prediction, only how sure they claim to be."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=int)
    if not len(y):
        return 1.0
    z = z - z.max(1, keepdims=True)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 801))
    nll = [float(-(z[np.arange(len(y)), y] / t - np.log(np.exp(z / t).sum(1))).mean()) for t in grid]
    return float(grid[int(np.argmin(nll))])


def confidence(prob_up) -> np.ndarray:
    """The network's confidence in its answer, max(p, 1 - p), for P(up) = p."""
    p = np.asarray(prob_up, dtype=float)
    return np.maximum(p, 1 - p)


def choose_threshold(predictions: pd.DataFrame, target_error: float = 0.005, seed: int = 0) -> dict:
    """Pick the review threshold on half of the held-out cells, report it on the other half.

    ``predictions``: columns ``cell``, ``label``, ``prob_up`` (the probabilities ``orient``
    applies the threshold to), or ``cell``, ``confidence`` and ``wrong`` (any other decision,
    such as type). The threshold is the lowest confidence at which the chromosomes kept (not
    flagged) of the choosing half have at most ``target_error`` errors. Also returns the
    accuracy-against-flagged-fraction curve of the reporting half.
    """
    df = predictions.copy()
    if "confidence" not in df:
        df["confidence"] = confidence(df.prob_up)
        df["wrong"] = (df.prob_up >= 0.5).astype(int) != df.label
    low = min(0.5, float(df.confidence.min())) if len(df) else 0.5
    cells = np.array(sorted(df.cell.astype(str).unique()))
    np.random.default_rng(seed).shuffle(cells)
    choose = df.cell.astype(str).isin(set(cells[: len(cells) // 2]))
    a, b = df[choose], df[~choose]
    threshold = low
    for t in np.unique(np.concatenate([[low], a.confidence.to_numpy()])):
        kept = a[a.confidence >= t]
        if len(kept) and kept.wrong.mean() <= target_error:
            threshold = float(t)
            break
    curve = []
    for t in np.linspace(low, 1.0, 51):
        kept = b[b.confidence >= t]
        curve.append({"threshold": round(float(t), 3), "flagged_fraction": 1 - len(kept) / max(len(b), 1),
                      "accuracy_kept": 1 - kept.wrong.mean() if len(kept) else float("nan")})
    kept = b[b.confidence >= threshold]
    return {"threshold": threshold, "target_error": target_error, "n_choose": int(len(a)), "n_report": int(len(b)),
            "report_flagged_fraction": 1 - len(kept) / max(len(b), 1),
            "report_accuracy_kept": float(1 - kept.wrong.mean()) if len(kept) else float("nan"),
            "report_accuracy_all": float(1 - b.wrong.mean()) if len(b) else float("nan"), "curve": curve}


def _timed_angle(mask: np.ndarray, method: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    angle = find_angle(mask, method)
    return angle, (time.perf_counter() - t0) * 1e3


def rotation_errors(specimens, methods=METHODS, progress: bool = False, threshold: str = DEFAULT_MASK) -> pd.DataFrame:
    """Angle error and time of each rotation method on chromosomes at known angles.

    One row per (chromosome, method): source, chromosome, bent, method, angle (applied,
    degrees counter-clockwise), error (degrees from vertical), ms (time to find the angle from
    the mask, mask extraction excluded so methods are compared on the same input), mask_ms
    (time to extract that mask, ``threshold`` as in ``rotation.foreground_mask``).
    """
    rows = []
    for sp in progress_bar(specimens, progress, desc="rotation methods"):
        t0 = time.perf_counter()
        mask, _ = largest_component(foreground_mask(canonical_gray(sp.image), "white", threshold))
        mask_ms = (time.perf_counter() - t0) * 1e3
        for m in methods:
            applied, ms = _timed_angle(mask, m)
            rows.append(dict(source=sp.source, chromosome=sp.chromosome, bent=sp.bent, method=m,
                             angle=applied, error=angle_error(sp.angle, applied), ms=ms, mask_ms=mask_ms))
    return pd.DataFrame(rows)


def rotation_consistency(root: str | Path, seed: int = 0, max_cells: int | None = None,
                         methods=METHODS) -> pd.DataFrame:
    """Rotation on crops whose true angle is unknown (e.g. Q-band crops at metaphase angles):
    find theta1 on the crop, rotate it by a known random alpha, find theta2; a consistent
    method has theta2 = theta1 - alpha (mod 180). ``error`` is the departure from that.

    Each crop of ``root`` is taken as it is (``KaryogramSpecimens(..., rotate=False)``)."""
    crops = KaryogramSpecimens(root, seed=seed, max_cells=max_cells, rotate=False)
    rng = np.random.default_rng(seed)
    rows = []
    for sp in crops:
        alpha = float(rng.uniform(0, 360))
        m1, _ = largest_component(foreground_mask(sp.image, "white"))
        m2, _ = largest_component(foreground_mask(rotate_to_angle(sp.image, alpha), "white"))
        if not m1.any() or not m2.any():
            continue
        for m in methods:
            theta1, ms = _timed_angle(m1, m)
            theta2 = find_angle(m2, m)
            rows.append(dict(source=sp.source, chromosome=sp.chromosome, bent=None, method=m, angle=theta2,
                             error=angle_error(alpha, theta2 - theta1), ms=ms))
    return pd.DataFrame(rows)


def method_agreement(errors: pd.DataFrame, a: str = "sweep", b: str = "hull", within: float = 1.0) -> float:
    """Share of chromosomes on which methods ``a`` and ``b`` choose angles within ``within``
    degrees of each other (angles compared modulo 180)."""
    wide = errors.pivot_table(index="source", columns="method", values="angle")
    d = (wide[a] - wide[b]) % 180
    return float((np.minimum(d, 180 - d) <= within).mean())


def summarise_rotation(errors: pd.DataFrame, within: float = 1.5) -> pd.DataFrame:
    """Per method: median and 95th-percentile error, share within ``within`` degrees, ms per chromosome."""
    g = errors.groupby("method", sort=False)
    return pd.DataFrame({
        "n": g.size(),
        "median error (deg)": g.error.median().round(3),
        "95th pct error (deg)": g.error.quantile(0.95).round(3),
        f"within {within} deg (%)": (100 * g.error.apply(lambda e: (e <= within).mean())).round(1),
        "ms per chromosome": g.ms.mean().round(3),
    })
