"""Figures the chapters show: D(theta) curves, galleries, the confusion matrix, training curves."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

__all__ = ["review_curve", "bar_by_type", "projection_curves", "gallery", "confusion_heatmap", "confusion_grid", "training_curves", "error_distribution"]


def projection_curves(curves: Sequence[tuple[str, np.ndarray, np.ndarray, float]], ax=None):
    """D(theta) for several chromosomes: (name, angles, distances, chosen angle)."""
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    for name, angles, dist, best in curves:
        line, = ax.plot(angles, dist, label=name)
        ax.axvline(best, color=line.get_color(), ls=":", lw=1)
    ax.set(xlabel=r"rotation $\theta$ (degrees, counter-clockwise)", ylabel=r"$D(\theta)$ (pixels)",
           xlim=(0, 180))
    ax.legend(fontsize="small", ncol=2)
    return ax


def gallery(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int = 8,
            height: float = 2.0, cmap: str = "gray", suptitle: str | None = None):
    """Images side by side at their own aspect ratio (gray, 0..255)."""
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * height * 0.6, nrows * height), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap, vmin=0, vmax=255)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def confusion_heatmap(counts: dict, ax=None, title: str | None = None):
    """2 x 2 confusion matrix, rows = truth, columns = prediction, "up" the positive class."""
    ax = ax or plt.subplots(figsize=(3.6, 3.0))[1]
    m = np.array([[counts["TP"], counts["FN"]], [counts["FP"], counts["TN"]]])
    sns.heatmap(pd.DataFrame(m, index=["up", "down"], columns=["up", "down"]), annot=True, fmt="d",
                cmap="Blues", cbar=False, ax=ax, annot_kws={"fontsize": 12})
    ax.set(xlabel="predicted", ylabel="true")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def confusion_grid(runs: dict, columns: int = 4):
    """One confusion matrix per run (``{title: counts}``), ``columns`` to a row."""
    n = len(runs)
    cols = max(1, min(columns, n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), squeeze=False)
    for ax, (title, counts) in zip(axes.flat, runs.items()):
        confusion_heatmap(counts, ax=ax, title=title)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def training_curves(history: pd.DataFrame):
    """Loss and accuracy per epoch (train, and test when recorded)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(history.epoch, history.train_loss, "o-", label="train")
    if "val_loss" in history:
        a.plot(history.epoch, history.val_loss, "s-", label="held-out")
    a.set(xlabel="epoch", ylabel="cross-entropy", yscale="log")
    b.plot(history.epoch, 100 * history.train_acc, "o-", label="train")
    if "val_acc" in history:
        b.plot(history.epoch, 100 * history.val_acc, "s-", label="held-out")
    b.set(xlabel="epoch", ylabel="accuracy (%)")
    for ax in (a, b):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def error_distribution(errors: pd.DataFrame, ax=None):
    """Empirical CDF of angle errors (degrees), one line per method (columns)."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    for col in errors.columns:
        e = np.sort(errors[col].to_numpy())
        ax.plot(e, np.arange(1, len(e) + 1) / len(e), label=col)
    ax.set(xscale="symlog", xlabel="angle error (degrees)", ylabel="fraction of chromosomes", ylim=(0, 1.01))
    ax.set_xlim(left=0)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def review_curve(review: dict, ax=None):
    """Accuracy of the chromosomes not flagged against the share flagged for review
    (``review.json`` of a run, from ``orient.choose_threshold``), the chosen threshold dotted."""
    ax = ax or plt.subplots(figsize=(6, 3.2))[1]
    curve = pd.DataFrame(review["curve"]).dropna()
    ax.plot(100 * curve.flagged_fraction, 100 * curve.accuracy_kept, "o-", ms=3)
    ax.axvline(100 * review["report_flagged_fraction"], color="gray", ls=":", label="chosen threshold")
    ax.set(xlabel="chromosomes flagged for review (%)", ylabel="accuracy of the rest (%)")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def bar_by_type(values: pd.Series, ylabel: str, ax=None, color: str = "tab:red"):
    """One bar per chromosome type (index in karyogram order)."""
    ax = ax or plt.subplots(figsize=(8, 2.6))[1]
    ax.bar(values.index, values.values, color=color)
    ax.set(xlabel="chromosome", ylabel=ylabel)
    return ax
