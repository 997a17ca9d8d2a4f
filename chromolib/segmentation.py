"""Chromosomes out of a metaphase spread: a classical segmenter and the instance evaluation.

Conventions: images are (h, w) arrays, row 0 at the top, x to the right; bounding boxes are
(x, y, w, h) in pixels; label images are int32 with 0 = background and 1..n the objects.
Pixel parameters are at the BioImLab spreads' resolution (768 x 576, chromosomes about 14 px
wide and 500 px^2 in area on the median); scale them for other magnifications.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import pandas as pd

from .images import to_gray

__all__ = ["ClassicalParams", "Segmentation", "segment_classical", "InstanceMatch",
           "match_instances", "instance_metrics", "average_precision", "split_by_case", "spread_case"]


# ----------------------------------------------------------------------------- segmentation
@dataclass(frozen=True)
class ClassicalParams:
    """Parameters of :func:`segment_classical` (pixels, 8-bit gray levels).

    Defaults tuned by hand-run sweeps on the 96 TRAINING spreads of the BioImLab set (70/30
    split by case, seed 0; F1 at IoU 0.5): threshold_scale 1.0 -> 0.45 (annotated outlines are
    generous, F1 +0.05), split only non-convex or big objects and accept a split only with
    narrow contacts (``max_neck``), seeds from distance cores and bright cores (``seed_levels``)
    flooded on the gray image. ``seed_quantiles`` and ``landscape`` other than "gray" were
    worse and are kept for experiments. Nucleus and cluster limits come from the training
    outlines' areas (1st/99th percentile 127 / 1812 px^2, max 2682 px^2).
    """
    blur_sigma: float = 0.5          # Gaussian smoothing before thresholding (px)
    threshold_scale: float = 0.45    # foreground = gray > scale * Otsu threshold
    min_threshold: int = 10          # never threshold below this gray level
    open_radius: int = 1             # opening radius removing specks (px, 0 = off)
    hole_area: int = 40              # holes smaller than this are filled (px^2)
    min_area: int = 90               # smaller objects are debris (px^2)
    split_solidity: float = 0.85     # objects with solidity below this are split candidates
    split_area: int = 1500           # ... and so are objects above this area (px^2)
    seed_radii: tuple = (2.0, 3.0, 4.0, 5.0, 6.0)   # distance-core seeds: dist > r (px)
    seed_quantiles: tuple = ()       # bright-core seeds: gray > quantile of the object's gray
    seed_levels: tuple = (1.0, 1.4)  # bright-core seeds: gray > level x Otsu threshold
    min_seed_area: int = 4           # seeds smaller than this are dropped (px^2)
    min_piece_area: int = 120        # every piece of an accepted split is at least this (px^2)
    split_gain: float = 0.0          # an accepted split raises the solidity by at least this
    piece_penalty: float = 0.05      # subtracted from a split's score per extra piece
    max_neck: float = 0.5            # an accepted split's contacts are at most this x piece width
    landscape: str = "gray"          # watershed flooding image: gray, blur, dist, flat
    dist_scale: float = 10.0         # gray levels per px of distance for landscape "dist"
    recursive: int = 2               # pieces still looking like clusters are split again
    nucleus_area: int = 3000         # a convex, round object above this area is a nucleus (px^2)
    nucleus_solidity: float = 0.85   # ... "convex": solidity (area / hull area) above this
    nucleus_roundness: float = 0.45  # ... "round": minor / major axis above this
    nucleus_width: float = 40.0      # any object with an inscribed disc this wide is a nucleus (px)
    cluster_area: int = 1900         # objects above this area are flagged as clusters (px^2)
    cluster_solidity: float = 0.6    # ... or with solidity below this and area > cluster_min_area
    cluster_min_area: int = 600      # (px^2)


@dataclass
class Segmentation:
    """Result of a segmenter.

    ``labels`` (h, w) int32; ``objects`` one row per label 1..n: object, x, y, w, h (bbox, px),
    area (px^2), solidity, mean_intensity, cluster (looks like several chromosomes),
    touches_border, score (ranking score for AP: solidity, halved for clusters);
    ``rejected`` one row per removed component: area, reason ("debris" / "nucleus");
    ``params``: the segmenter's parameters (``ClassicalParams``, or ``unet.UNetParams`` for
    the U-Net segmenter, ``unet.segment_unet``, which fills the same tables).
    """
    labels: np.ndarray
    objects: pd.DataFrame
    rejected: pd.DataFrame
    inverted: bool = False
    threshold: float = 0.0
    params: ClassicalParams = field(default_factory=ClassicalParams)

    @property
    def n(self) -> int:
        return len(self.objects)

    @property
    def rejected_counts(self) -> dict:
        return self.rejected.reason.value_counts().to_dict() if len(self.rejected) else {}


def _bright_on_dark(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return bright-objects-on-black; G-band (light border, median above mid-gray) is inverted."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return (255 - gray, True) if float(np.median(border)) > 127 and float(np.median(gray)) > 127 \
        else (gray, False)


def _fill_small_holes(mask: np.ndarray, max_area: int) -> np.ndarray:
    """Fill holes (background components not touching the border) smaller than max_area."""
    inv = (~mask).astype(np.uint8)
    n, lab, st, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
    h, w = mask.shape
    small = (st[:, cv2.CC_STAT_AREA] < max_area) & (st[:, 0] > 0) & (st[:, 1] > 0) \
        & (st[:, 0] + st[:, 2] < w) & (st[:, 1] + st[:, 3] < h)
    small[0] = False
    return mask | small[lab]


def _shape(mask: np.ndarray) -> tuple[float, float, float]:
    """(solidity, minor/major axis ratio, max inscribed diameter) of a boolean mask crop."""
    m = mask.astype(np.uint8)
    cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pts = np.concatenate(cs)
    hull = cv2.contourArea(cv2.convexHull(pts))
    area = float(m.sum())
    solidity = min(1.0, area / hull) if hull > 0 else 1.0
    mu = cv2.moments(m, binaryImage=True)
    if mu["m00"] > 0:
        a, b, c = mu["mu20"] / mu["m00"], mu["mu11"] / mu["m00"], mu["mu02"] / mu["m00"]
        d = np.sqrt(max((a - c) ** 2 + 4 * b * b, 0.0))
        l1, l2 = (a + c + d) / 2, (a + c - d) / 2
        round_ = float(np.sqrt(max(l2, 0) / l1)) if l1 > 0 else 1.0
    else:
        round_ = 1.0
    width = 2.0 * float(cv2.distanceTransform(np.pad(m, 1), cv2.DIST_L2, 5).max())
    return solidity, round_, width


def _watershed(crop_gray: np.ndarray, m: np.ndarray, seeds: np.ndarray, min_seed_area: int) -> np.ndarray | None:
    """Marker watershed of a padded mask crop on the gray crop's edges; None if < 2 seeds."""
    n, lab, st, _ = cv2.connectedComponentsWithStats(seeds.astype(np.uint8), connectivity=8)
    keep = np.flatnonzero(st[1:, cv2.CC_STAT_AREA] >= min_seed_area) + 1
    if len(keep) < 2:
        return None
    markers = np.zeros(m.shape, np.int32)
    remap = np.zeros(n, np.int32)
    remap[keep] = np.arange(2, len(keep) + 2)
    markers = remap[lab]
    markers[m == 0] = 1
    ws = cv2.watershed(cv2.cvtColor(crop_gray, cv2.COLOR_GRAY2BGR), markers)
    out = np.where(ws >= 2, ws - 1, 0).astype(np.int32)
    line = (ws == -1) & (m > 0)
    if line.any():  # watershed lines inside the mask go to a neighbouring region
        grown = cv2.dilate(out.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int32)
        out[line] = grown[line]
    return out


def _pieces_score(pieces: np.ndarray, k: int) -> tuple[float, int, float]:
    """(area-weighted mean solidity, smallest piece area, largest neck ratio) of pieces 1..k.

    The neck ratio of two touching pieces is their contact length over the narrower piece's
    width (2 x its largest inscribed radius): small for two chromosomes touching at a point.
    """
    sols, areas, widths, dil = [], [], [], []
    k3 = np.ones((3, 3), np.uint8)
    for i in range(1, k + 1):
        pm = pieces == i
        a = int(pm.sum())
        if a == 0:
            return 0.0, 0, np.inf
        s, _, w = _shape(pm)
        sols.append(s)
        areas.append(a)
        widths.append(max(w, 1.0))
        dil.append(cv2.dilate(pm.astype(np.uint8), k3).astype(bool))
    neck = 0.0
    for i in range(k):
        for j in range(i + 1, k):
            contact = int((dil[i] & (pieces == j + 1)).sum())
            if contact:
                neck = max(neck, contact / min(widths[i], widths[j]))
    areas = np.array(areas, float)
    return float(np.dot(sols, areas) / areas.sum()), int(areas.min()), neck


def _split(crop_gray: np.ndarray, mask: np.ndarray, p: ClassicalParams, otsu: float) -> np.ndarray:
    """Split one component (crop) that looks like several chromosomes.

    Candidate seeds: cores of the distance transform (dist > r px, ``seed_radii``) and bright
    cores (gray > level x Otsu, ``seed_levels``); each gives a marker ``cv2.watershed`` flooded
    on the gray crop. Score = area-weighted solidity of the pieces - ``piece_penalty`` per extra
    piece; the best candidate wins if every piece has >= ``min_piece_area`` px^2, every contact
    is <= ``max_neck`` x the narrower piece's width, and the score beats the whole's solidity
    + ``split_gain``.
    Returns a label crop (0 outside the mask, 1..k inside).
    """
    m = np.pad(mask.astype(np.uint8), 1)
    g = np.pad(crop_gray, 1)
    base = _shape(mask)[0]
    dist = cv2.distanceTransform(m, cv2.DIST_L2, 5)
    cands = [dist > r for r in p.seed_radii]
    vals = g[m > 0]
    cands += [(g > np.quantile(vals, q)) & (m > 0) for q in p.seed_quantiles]
    cands += [(g > f * otsu) & (m > 0) for f in p.seed_levels]
    land = {"gray": g, "flat": np.zeros_like(g),
            "dist": np.clip(dist * p.dist_scale, 0, 255).astype(np.uint8),
            "blur": cv2.GaussianBlur(g, (0, 0), 2.0)}[p.landscape]
    best, best_score = None, base + p.split_gain
    for seeds in cands:
        pieces = _watershed(land, m, seeds, p.min_seed_area)
        if pieces is None:
            continue
        score, smallest, neck = _pieces_score(pieces, int(pieces.max()))
        score -= p.piece_penalty * (int(pieces.max()) - 1)
        if smallest >= p.min_piece_area and neck <= p.max_neck and score > best_score:
            best, best_score = pieces, score
    if best is None:
        return mask.astype(np.int32)
    return best[1:-1, 1:-1]


def _split_recursive(crop_gray: np.ndarray, mask: np.ndarray, p: ClassicalParams, otsu: float,
                     depth: int) -> np.ndarray:
    pieces = _split(crop_gray, mask, p, otsu)
    if depth <= 0 or pieces.max() < 2:
        return pieces
    out = np.zeros_like(pieces)
    nxt = 1
    for i in range(1, int(pieces.max()) + 1):
        pm = pieces == i
        sub = pm.astype(np.int32)
        if _shape(pm)[0] < p.split_solidity or pm.sum() > p.split_area:
            sub = _split_recursive(crop_gray, pm, p, otsu, depth - 1)
        for j in range(1, int(sub.max()) + 1):
            out[sub == j] = nxt
            nxt += 1
    return out


def segment_classical(image: np.ndarray, params: ClassicalParams | None = None, **overrides) -> Segmentation:
    """Segment chromosomes in a spread (gray or colour, 8/16-bit; Q-band or G-band).

    Steps: 8-bit gray (G-band, light border and median, inverted to bright-on-black),
    Gaussian blur, threshold ``max(min_threshold, threshold_scale * Otsu)``, opening, small
    holes filled, 8-connected components; components below ``min_area`` are debris, very wide
    or big convex round ones nuclei; non-convex or big components are split by a marker
    ``cv2.watershed`` (see :func:`_split`), recursively; pieces above ``cluster_area`` or very
    non-convex are flagged ``cluster``. ``score`` (solidity, halved for clusters) ranks the
    objects for AP. ``overrides`` replace fields of ``params``.
    """
    p = replace(params or ClassicalParams(), **overrides)
    gray, inverted = _bright_on_dark(to_gray(image))
    g = cv2.GaussianBlur(gray, (0, 0), p.blur_sigma) if p.blur_sigma > 0 else gray
    otsu, _ = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    t = max(float(p.min_threshold), p.threshold_scale * otsu)
    mask = g > t
    if p.open_radius > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * p.open_radius + 1,) * 2)
        mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, k).astype(bool)
    if p.hole_area > 0:
        mask = _fill_small_holes(mask, p.hole_area)
    n, lab, st, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    H, W = mask.shape
    labels = np.zeros((H, W), np.int32)
    rows, rejected = [], []
    nxt = 1
    for j in range(1, n):
        x, y, w, h, area = (int(v) for v in st[j])
        if area < p.min_area:
            rejected.append({"x": x, "y": y, "w": w, "h": h, "area": area, "reason": "debris"})
            continue
        comp = lab[y:y + h, x:x + w] == j
        sol, rnd, width = _shape(comp)
        if width >= p.nucleus_width or (area >= p.nucleus_area and sol >= p.nucleus_solidity
                                         and rnd >= p.nucleus_roundness):
            rejected.append({"x": x, "y": y, "w": w, "h": h, "area": area, "reason": "nucleus"})
            continue
        pieces = comp.astype(np.int32)
        if sol < p.split_solidity or area > p.split_area:
            pieces = _split_recursive(g[y:y + h, x:x + w], comp, p, otsu, p.recursive)
        for k in range(1, int(pieces.max()) + 1):
            pm = pieces == k
            a = int(pm.sum())
            if a < p.min_area:
                rejected.append({"x": x, "y": y, "w": w, "h": h, "area": a, "reason": "debris"})
                continue
            ys, xs = np.nonzero(pm)
            s, _, _ = _shape(pm)
            labels[y:y + h, x:x + w][pm] = nxt
            x0, y0 = x + int(xs.min()), y + int(ys.min())
            bw, bh = int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)
            cluster = a > p.cluster_area or (s < p.cluster_solidity and a > p.cluster_min_area)
            rows.append({"object": nxt, "x": x0, "y": y0, "w": bw, "h": bh, "area": a,
                         "solidity": s, "mean_intensity": float(gray[y:y + h, x:x + w][pm].mean()),
                         "cluster": bool(cluster),
                         "touches_border": bool(x0 == 0 or y0 == 0 or x0 + bw == W or y0 + bh == H),
                         "score": s * (0.5 if cluster else 1.0)})
            nxt += 1
    cols = ["object", "x", "y", "w", "h", "area", "solidity", "mean_intensity", "cluster",
            "touches_border", "score"]
    return Segmentation(labels, pd.DataFrame(rows, columns=cols),
                        pd.DataFrame(rejected, columns=["x", "y", "w", "h", "area", "reason"]),
                        inverted, float(t), p)


# ----------------------------------------------------------------------------- evaluation
@dataclass
class InstanceMatch:
    """Overlaps of predictions (label image objects 1..P) with true instances 0..T-1.

    ``inter[t, p]`` pixels shared by truth t and prediction p + 1; ``true_area`` (T,),
    ``pred_area`` (P,); ``iou`` (T, P); ``pairs`` matched (t, p) index pairs (0-based, p is
    label - 1), one-to-one, greedy by decreasing IoU, all with IoU >= the threshold.
    """
    inter: np.ndarray
    true_area: np.ndarray
    pred_area: np.ndarray
    iou: np.ndarray
    pairs: list[tuple[int, int]]
    threshold: float


def _true_masks(true) -> list[np.ndarray]:
    """List of boolean masks from a label image (2-D int) or a stack/list of boolean masks."""
    if isinstance(true, np.ndarray) and true.ndim == 2 and true.dtype != bool:
        return [true == i for i in range(1, int(true.max(initial=0)) + 1)]
    return [np.asarray(m, bool) for m in true]


def match_instances(pred_labels: np.ndarray, true, iou: float = 0.5) -> InstanceMatch:
    """Match predictions (label image) to truths (label image, or boolean masks that may overlap).

    Greedy one-to-one by decreasing IoU among pairs with IoU >= ``iou``; for ``iou`` >= 0.5 and
    non-overlapping predictions this equals the optimal (Hungarian) matching.
    """
    pred = np.asarray(pred_labels)
    P = int(pred.max(initial=0))
    masks = _true_masks(true)
    pred_area = np.bincount(pred.ravel(), minlength=P + 1)[1:].astype(np.int64)
    inter = np.zeros((len(masks), P), np.int64)
    for t, m in enumerate(masks):
        inter[t] = np.bincount(pred[m], minlength=P + 1)[1:P + 1]
    true_area = np.array([m.sum() for m in masks], np.int64)
    union = true_area[:, None] + pred_area[None, :] - inter
    ious = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    pairs, used_t, used_p = [], set(), set()
    cand = np.argwhere(ious >= iou)
    for t, p_ in sorted(cand.tolist(), key=lambda tp: -ious[tp[0], tp[1]]):
        if t not in used_t and p_ not in used_p:
            pairs.append((t, p_))
            used_t.add(t)
            used_p.add(p_)
    return InstanceMatch(inter, true_area, pred_area, ious, pairs, iou)


def average_precision(scores: np.ndarray, ious: np.ndarray, iou: float = 0.5) -> tuple[np.ndarray, int]:
    """COCO matching for AP: predictions in decreasing score order each take the unmatched truth
    with the highest IoU >= ``iou``. ``ious`` is (T, P). Returns (is_tp per prediction in the
    input order, number of truths)."""
    T, P = ious.shape
    tp = np.zeros(P, bool)
    free = np.ones(T, bool)
    for p_ in np.argsort(-np.asarray(scores, float), kind="stable"):
        if T == 0:
            break
        cand = np.where(free & (ious[:, p_] >= iou), ious[:, p_], -1.0)
        t = int(np.argmax(cand))
        if cand[t] >= 0:
            tp[p_], free[t] = True, False
    return tp, T


def _ap101(scores: np.ndarray, tp: np.ndarray, n_true: int) -> float:
    """COCO 101-point interpolated AP from pooled (score, is_tp) and the number of truths."""
    if n_true == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    tp = np.asarray(tp, bool)[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(~tp)
    rec = ctp / n_true
    prec = ctp / np.maximum(ctp + cfp, 1)
    prec = np.maximum.accumulate(prec[::-1])[::-1] if len(prec) else prec
    pts = np.linspace(0, 1, 101)
    idx = np.searchsorted(rec, pts, side="left")
    return float(np.mean([prec[i] if i < len(prec) else 0.0 for i in idx]))


def instance_metrics(pred_labels, true, scores=None, iou: float = 0.5, merge_cover: float = 0.5,
                     split_share: float = 0.2) -> dict:
    """Instance metrics of one image, or pooled over images when given lists.

    ``pred_labels`` label image(s); ``true`` label image(s) or lists of boolean masks;
    ``scores`` per prediction (index = label - 1) for AP (default: all 1, AP then equals
    precision x recall-style single point). Returns tp, fp, fn, precision, recall, f1,
    mean_iou (of the matched pairs), ap50 (COCO 101-point at ``iou``), n_pred, n_true,
    merged (predictions covering >= 2 truths, each with >= ``merge_cover`` of its area inside),
    split (truths with >= 2 predictions each holding >= ``split_share`` of the truth's area).
    """
    single = isinstance(pred_labels, np.ndarray)
    preds = [pred_labels] if single else list(pred_labels)
    trues = [true] if single else list(true)
    scs = [scores] if single else (list(scores) if scores is not None else [None] * len(preds))
    if not (len(preds) == len(trues) == len(scs)):
        raise ValueError("pred_labels, true and scores must have the same number of images")
    tp = fp = fn = merged = split = 0
    miou, all_s, all_tp, n_true = [], [], [], 0
    for pl, tr, sc in zip(preds, trues, scs):
        m = match_instances(pl, tr, iou)
        T, P = m.iou.shape
        s = np.ones(P) if sc is None else np.asarray(sc, float)
        if len(s) != P:
            raise ValueError(f"{len(s)} scores for {P} predictions")
        tp += len(m.pairs)
        fp += P - len(m.pairs)
        fn += T - len(m.pairs)
        miou += [m.iou[t, p_] for t, p_ in m.pairs]
        cover = m.inter / np.maximum(m.true_area[:, None], 1)
        merged += int(((cover >= merge_cover).sum(0) >= 2).sum())
        split += int(((cover >= split_share).sum(1) >= 2).sum())
        is_tp, _ = average_precision(s, m.iou, iou)
        all_s.append(s)
        all_tp.append(is_tp)
        n_true += T
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {"n_true": tp + fn, "n_pred": tp + fp, "tp": tp, "fp": fp, "fn": fn,
            "precision": prec, "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
            "mean_iou": float(np.mean(miou)) if miou else float("nan"),
            "ap50": _ap101(np.concatenate(all_s) if all_s else np.zeros(0),
                           np.concatenate(all_tp) if all_tp else np.zeros(0, bool), n_true),
            "merged": merged, "split": split}


# ----------------------------------------------------------------------------- splits
def spread_case(name: str) -> str:
    """Case of a spread: file stem without prefix up to the last '_' and trailing letters
    (``original_24a`` -> ``24``)."""
    stem = Path(str(name)).stem
    tail = stem.rsplit("_", 1)[-1]
    return re.sub(r"[A-Za-z]+$", "", tail) or stem


def split_by_case(names: Sequence[str], train_fraction: float = 0.7, seed: int = 0) -> tuple[list[str], list[str]]:
    """Split names into (train, test) with every case on one side; the cases are shuffled with
    ``numpy.random.default_rng(seed)`` and the first ``round(train_fraction * n_cases)`` train.
    Names keep their input order within each side."""
    cases = sorted({spread_case(n) for n in names}, key=lambda c: (len(c), c))
    perm = np.random.default_rng(seed).permutation(len(cases))
    train = {cases[i] for i in perm[:int(round(train_fraction * len(cases)))]}
    return [n for n in names if spread_case(n) in train], [n for n in names if spread_case(n) not in train]
