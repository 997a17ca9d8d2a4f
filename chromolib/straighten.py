"""Straightening a bent chromosome for display: its body unrolled along the medial axis.

A bent chromosome stands on the karyogram sheet as an arc or a hook, and its bands no longer
line up with its homologue's. ``straighten`` samples the image along the lines normal to the
chromosome's medial axis (``rotation.medial_path``, smoothed and carried out to the tips), one
row per pixel of arc length, so the axis becomes a vertical line and the bands horizontal.

It is for reading the sheet, not for measuring: rotation, polarity and type are decided on the
unstraightened crop, which is kept beside the straightened one (``chromolib orient --straighten``
writes both). A chromosome that is nearly straight (``bend`` under ``MIN_BEND``) is returned as
it is; a pixel is kept only where the part of the axis it was sampled from is the nearest part,
so the inner side of a tight hook does not pick up the other arm.
"""
from __future__ import annotations

import cv2
import numpy as np

from .images import canonical_gray
from .rotation import foreground_mask, largest_component, medial_path

__all__ = ["MIN_BEND", "MIN_ASPECT", "axis_curve", "bend", "straighten"]

#: below this ``bend`` (1 - chord / arc length of the axis: 0.015 is a turn of about 35 degrees
#: between the two ends of an evenly curved chromosome) the crop is left as it is
MIN_BEND = 0.015
#: nor is one whose axis is under this many times its greatest width: a small chromosome whose
#: chromatids part in an X has a skeleton that runs corner to corner, not a bend to undo
MIN_ASPECT = 3.0


def axis_curve(mask: np.ndarray, smooth: float = 2.0) -> np.ndarray:
    """The chromosome's axis as (y, x) points one pixel of arc length apart, from its upper tip to
    its lower one: the medial path, smoothed (Gaussian of ``smooth`` px along its length) and
    carried straight on from each end to the edge of the mask. Empty for a mask whose skeleton
    is shorter than 5 px."""
    m = np.asarray(mask, dtype=bool)
    path = medial_path(m).astype(np.float64)
    if len(path) < 5:
        return np.zeros((0, 2))
    if path[0, 0] > path[-1, 0]:
        path = path[::-1]
    path = _resample(path)
    if smooth > 0 and len(path) > 3:
        k = np.arange(-int(3 * smooth), int(3 * smooth) + 1)
        w = np.exp(-0.5 * (k / smooth) ** 2)
        w /= w.sum()
        padded = np.pad(path, ((len(k) // 2, len(k) // 2), (0, 0)), mode="edge")
        path = np.stack([np.convolve(padded[:, j], w, mode="valid") for j in range(2)], axis=1)
    head = _extend(m, path[0], path[0] - path[min(4, len(path) - 1)])
    tail = _extend(m, path[-1], path[-1] - path[max(len(path) - 5, 0)])
    return _resample(np.concatenate([head[::-1], path, tail]))


def bend(mask: np.ndarray) -> float:
    """1 - chord / arc length of the chromosome's axis (``axis_curve``): 0 for a straight one,
    about 0.1 for a quarter circle, 0.36 for a half circle."""
    return _arc_and_bend(axis_curve(mask))[1]


def _arc_and_bend(curve: np.ndarray) -> tuple[float, float]:
    """The arc length of a curve of (y, x) points and its bend, 1 - chord / arc (0 for fewer than
    two points or no length)."""
    if len(curve) < 2:
        return 0.0, 0.0
    arc = float(np.hypot(*np.diff(curve, axis=0).T).sum())
    return arc, (1.0 - float(np.hypot(*(curve[-1] - curve[0]))) / arc if arc > 0 else 0.0)


def straighten(image: np.ndarray, mask: np.ndarray | None = None, min_bend: float = MIN_BEND,
               min_aspect: float = MIN_ASPECT, margin: int = 2) -> np.ndarray:
    """The chromosome of a single-chromosome crop (dark on white, as ``orient`` writes them),
    straightened along its axis, its upper tip at the top; the crop itself (canonical gray) when
    its ``bend`` is under ``min_bend``, its axis is under ``min_aspect`` times its greatest width,
    or it has no usable axis. ``mask``: the chromosome's
    pixels (default: the outline of the largest object, as the rotation step sees it)."""
    gray = canonical_gray(image)
    if mask is None:
        mask, _ = largest_component(foreground_mask(gray, "white"))
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return gray
    curve = axis_curve(mask)
    if len(curve) < 5:
        return gray
    arc, bent = _arc_and_bend(curve)
    if arc <= 0 or bent < min_bend:
        return gray
    dist = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    if arc < min_aspect * 2 * float(dist.max()):
        return gray
    half = int(np.ceil(1.3 * dist.max())) + margin
    tangent = np.gradient(curve, axis=0)
    tangent /= np.maximum(np.hypot(tangent[:, 0], tangent[:, 1]), 1e-9)[:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)  # (y, x): +x for an axis running down
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    ys = curve[:, 0, None] + offsets[None, :] * normal[:, 0, None]
    xs = curve[:, 1, None] + offsets[None, :] * normal[:, 1, None]
    out = cv2.remap(gray.astype(np.float32), xs.astype(np.float32), ys.astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    inside = cv2.remap(mask.astype(np.float32), xs.astype(np.float32), ys.astype(np.float32), cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0) >= 0.5
    # keep a sample only where its own stretch of the axis is (about) the nearest: not the other arm of a hook
    d2 = (ys.reshape(-1, 1) - curve[None, :, 0]) ** 2 + (xs.reshape(-1, 1) - curve[None, :, 1]) ** 2
    nearest = np.argmin(d2, axis=1).reshape(ys.shape)
    own = np.abs(nearest - np.arange(len(curve))[:, None]) <= half
    keep = inside & own
    out = np.where(keep, out, 255.0)
    rows, cols = np.nonzero(keep)
    if rows.size == 0:
        return gray
    y0, y1 = max(rows.min() - margin, 0), min(rows.max() + margin + 1, out.shape[0])
    x0, x1 = max(cols.min() - margin, 0), min(cols.max() + margin + 1, out.shape[1])
    return np.clip(np.rint(out[y0:y1, x0:x1]), 0, 255).astype(np.uint8)


def _resample(path: np.ndarray) -> np.ndarray:
    """The polyline ``path`` at points one unit of arc length apart (its ends kept)."""
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
    if s[-1] <= 0:
        return path[:1]
    at = np.linspace(0.0, s[-1], max(int(np.ceil(s[-1])) + 1, 2))
    return np.stack([np.interp(at, s, path[:, 0]), np.interp(at, s, path[:, 1])], axis=1)


def _extend(mask: np.ndarray, end: np.ndarray, direction: np.ndarray, step: float = 0.5) -> np.ndarray:
    """Points from ``end`` on along ``direction`` while they stay inside ``mask``, one px apart."""
    norm = float(np.hypot(*direction))
    if norm < 1e-9:
        return np.zeros((0, 2))
    d = direction / norm
    h, w = mask.shape
    pts, t = [], step
    while True:
        y, x = end + t * d
        iy, ix = int(round(y)), int(round(x))
        if not (0 <= iy < h and 0 <= ix < w and mask[iy, ix]):
            break
        pts.append((y, x))
        t += step
    return np.array(pts[1::2] if len(pts) > 1 else pts).reshape(-1, 2)
