"""Figures the chapters show: D(theta) curves, galleries, the confusion matrix, training curves."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

__all__ = ["review_curve", "bar_by_type", "projection_curves", "gallery", "confusion_heatmap", "confusion_grid", "training_curves", "error_distribution",
           "median_error_by_type", "rate_intervals", "rate_bars", "error_rates_by_type", "probability_histogram", "type_confusion",
           "sheets"]


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


def type_confusion(table: pd.DataFrame, ax=None, title: str | None = None):
    """The 24 x 24 type confusion (``evaluation.type_confusion``) as shares of each true type
    (rows sum to 1), on a log colour scale so that the rare confusions show; the diagonal is
    each type's accuracy."""
    from matplotlib.colors import LogNorm

    ax = ax or plt.subplots(figsize=(7.2, 6.2))[1]
    shares = table.div(table.sum(1).replace(0, 1), axis=0)
    sns.heatmap(shares.where(shares > 0), cmap="viridis", norm=LogNorm(vmin=1e-3, vmax=1), square=True,
                cbar_kws={"label": "share of the true type"}, ax=ax, linewidths=0.2, linecolor="white")
    ax.set(xlabel="predicted type", ylabel="true type")
    ax.tick_params(labelsize=7)
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


def median_error_by_type(errors: pd.DataFrame, ax=None):
    """Median rotation error (degrees) per chromosome type, one line per method
    (``evaluation.rotation_errors`` rows: chromosome, method, error), types in karyogram order."""
    from .karyotype import karyotype_order

    by_type = errors.pivot_table(index="chromosome", columns="method", values="error", aggfunc="median")
    by_type = by_type.reindex(karyotype_order(by_type.index))
    ax = ax or plt.subplots(figsize=(8, 3))[1]
    for method in by_type.columns:
        ax.plot(range(len(by_type)), by_type[method].to_numpy(), marker="o", label=method)
    ax.set_xticks(range(len(by_type)), [str(t) for t in by_type.index])
    ax.set(xlabel="chromosome", ylabel="median error (degrees)")
    ax.legend(title="method")
    ax.grid(alpha=0.3)
    return ax


def rate_intervals(hits: pd.Series, totals: pd.Series) -> pd.DataFrame:
    """Per row: ``k`` of ``n``, the rate in percent and its Wilson 95 % interval (``lo``, ``hi``, percent),
    for rates from small counts that must not be shown bare."""
    from .evaluation import wilson_interval

    k, n = hits.astype(int), totals.astype(int).reindex(hits.index)
    bounds = [wilson_interval(int(a), int(b)) for a, b in zip(k, n)]
    return pd.DataFrame({"k": k, "n": n, "rate": 100 * k / n.where(n > 0),
                         "lo": [100 * lo for lo, _ in bounds], "hi": [100 * hi for _, hi in bounds]}, index=hits.index)


def rate_bars(rates: pd.DataFrame, ylabel: str, ax=None, color: str = "tab:red"):
    """Bars of ``rates.rate`` (percent) with their 95 % intervals as error bars (``rate_intervals``
    columns), one bar per row in the given order, labelled ``name: k/n`` (vertical)."""
    ax = ax or plt.subplots(figsize=(8, 3.4))[1]
    x = np.arange(len(rates))
    rate = rates["rate"].to_numpy(dtype=float)
    err = np.vstack([rate - rates["lo"].to_numpy(dtype=float), rates["hi"].to_numpy(dtype=float) - rate])
    ax.bar(x, rate, color=color, alpha=0.75)
    ax.errorbar(x, rate, yerr=np.clip(err, 0, None), fmt="none", ecolor="black", elinewidth=1, capsize=2)
    ax.set_xticks(x, [f"{i}: {k}/{n}" for i, k, n in zip(rates.index, rates["k"], rates["n"])], fontsize=7,
                  rotation=90)
    ax.set(ylabel=ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    return ax


def error_rates_by_type(predictions: pd.DataFrame) -> pd.DataFrame:
    """Wrong predictions (``label`` vs ``pred``) per chromosome type, karyogram order, as
    ``rate_intervals`` (k errors of n, percent, Wilson 95 % interval)."""
    from .karyotype import karyotype_order

    wrong = (predictions.label != predictions.pred).groupby(predictions.chromosome.astype(str))
    order = karyotype_order(wrong.size().index)
    return rate_intervals(wrong.sum().reindex(order), wrong.size().reindex(order))


def probability_histogram(predictions: pd.DataFrame, ax=None, bins: int = 40):
    """Histogram of the predicted probability of up (``prob_up``), one per true ``label``, log counts."""
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    for lab, name in ((1, "up"), (0, "down")):
        ax.hist(predictions.prob_up[predictions.label == lab], bins=bins, range=(0, 1), alpha=0.6, label=f"true {name}")
    ax.set(xlabel="predicted probability of up", ylabel="chromosomes", yscale="log")
    ax.legend()
    return ax


def roc(curves: dict, ax=None):
    """ROC curves ``{name: (fpr, tpr, auc)}`` ("up" positive), the AUC in the legend."""
    ax = ax or plt.subplots(figsize=(4.2, 4))[1]
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.4f})")
    ax.plot([0, 1], [0, 1], color="0.7", ls=":", lw=1)
    ax.set(xlabel="false positive rate (down called up)", ylabel="true positive rate (up called up)",
           xlim=(0, 1), ylim=(0, 1.01), aspect="equal")
    ax.legend(fontsize="small", loc="lower right")
    return ax


def reliability_diagram(tables: dict, ax=None):
    """Share right against stated confidence per bin, ``{name: evaluation.reliability(...)}``;
    the diagonal is a perfectly calibrated network; ECE in the legend."""
    ax = ax or plt.subplots(figsize=(4.2, 4))[1]
    for name, t in tables.items():
        ax.plot(100 * t.confidence, 100 * t.accuracy, "o-", label=f"{name} (ECE {100 * t.attrs['ece']:.2f} %)")
    ax.plot([50, 100], [50, 100], color="0.7", ls=":", lw=1)
    ax.set(xlabel="stated confidence (%)", ylabel="share right (%)", xlim=(50, 100), ylim=(40, 101))
    ax.legend(fontsize="small", loc="lower right")
    return ax


def saliency_row(images, maps, titles, height: float = 2.2):
    """Network inputs (gray) with their occlusion maps over them (red: needed for the right answer)."""
    n = len(images)
    fig, axes = plt.subplots(1, n, figsize=(n * height * 0.55, height), squeeze=False)
    top = max(float(np.abs(np.asarray(maps)).max()), 1e-6)
    for ax, img, m, title in zip(axes[0], images, maps, titles):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.imshow(np.clip(m, 0, None), cmap="Reds", alpha=0.55, vmin=0, vmax=top)
        ax.set_title(title, fontsize=7)
        ax.axis("off")
    fig.tight_layout()
    return fig


def sheets(images: dict, width: float = 11.0):
    """Karyogram sheets (``{title: gray image}``) one above the other, at one scale."""
    fig, axes = plt.subplots(len(images), 1, figsize=(width, 0.9 * width * sum(i.shape[0] / i.shape[1] for i in
                                                                                   images.values()) + 0.4 * len(images)),
                             squeeze=False)
    for ax, (title, img) in zip(axes[:, 0], images.items()):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig
