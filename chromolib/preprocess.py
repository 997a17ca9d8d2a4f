"""What a network reads: upright crops padded or scaled into its input frame (numpy and OpenCV only).

Kept apart from ``polarity_set`` (which imports torch) so that ``chromolib orient`` with the
shipped models (``torchfree``) prepares its input exactly as training did without importing
torch; ``polarity_set`` re-exports every name here.
"""
from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from .images import canonical_gray

__all__ = ["CELL_MEDIAN_SHARE", "fit_resize", "square_resize", "cell_scaled", "network_input", "NetworkReader"]


def fit_resize(gray: np.ndarray, height: int, width: int, fill: int = 255) -> np.ndarray:
    """Pad to the aspect ratio ``height : width`` with ``fill`` (centred, the chromosome's own
    shape kept), then resize to ``height x width`` pixels."""
    g = np.asarray(gray)
    h, w = g.shape[:2]
    if h * width >= w * height:  # taller than the target: widen
        new_h, new_w = h, max(w, int(round(h * width / height)))
    else:
        new_h, new_w = max(h, int(round(w * height / width))), w
    top, left = (new_h - h) // 2, (new_w - w) // 2
    padded = cv2.copyMakeBorder(g, top, new_h - h - top, left, new_w - w - left, cv2.BORDER_CONSTANT, value=fill)
    interp = cv2.INTER_AREA if new_h > height else cv2.INTER_LINEAR
    return cv2.resize(padded, (width, height), interpolation=interp)


def square_resize(gray: np.ndarray, size: int, fill: int = 255) -> np.ndarray:
    """Pad to a square with ``fill`` (keeping the aspect ratio and centring), then resize."""
    return fit_resize(gray, size, size, fill)


#: With one scale per cell, the cell's median chromosome length takes this share of the frame's
#: height (the longest, chromosome 1, about twice the median, then takes about 0.85 of it).
CELL_MEDIAN_SHARE = 0.42


def cell_scaled(gray: np.ndarray, scale: float, height: int, width: int, fill: int = 255) -> np.ndarray:
    """Resize by ``scale`` (shrunk further only if it would not fit), centred on a ``height x
    width`` frame of ``fill``: lengths stay comparable between crops of one scale."""
    h, w = gray.shape[:2]
    s = min(scale, height / h, width / w)
    new_h, new_w = max(1, int(round(h * s))), max(1, int(round(w * s)))
    small = cv2.resize(gray, (new_w, new_h), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    out = np.full((height, width), fill, np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top:top + new_h, left:left + new_w] = small
    return out


def network_input(grays: Iterable[np.ndarray], size: int, width: int = 0, cells=None) -> np.ndarray:
    """Upright crops (any depth, either background) as the network reads them: canonical gray,
    padded with white to ``size`` x ``width`` (a square when ``width`` is 0, as in the method;
    a tall frame keeps more pixels on a chromosome, about 3 times as long as wide) and resized;
    uint8 (N, size, width or size).

    ``cells`` (one name per crop): instead of each crop filling the frame, one scale per cell,
    chosen so that the cell's median crop height is ``CELL_MEDIAN_SHARE`` of the frame: the
    network then sees how long a chromosome is beside its cell-mates (for type)."""
    grays = [canonical_gray(g) for g in grays]
    w = width or size
    out = np.empty((len(grays), size, w), dtype=np.uint8)
    if cells is None:
        for i, g in enumerate(grays):
            out[i] = fit_resize(g, size, w)
        return out
    cells = np.asarray([str(c) for c in cells])
    if len(cells) != len(grays):
        raise ValueError(f"{len(cells)} cell names for {len(grays)} crops")
    heights = np.array([g.shape[0] for g in grays], dtype=float)
    for c in np.unique(cells):
        idx = np.flatnonzero(cells == c)
        scale = CELL_MEDIAN_SHARE * size / max(float(np.median(heights[idx])), 1.0)
        for i in idx:
            out[i] = cell_scaled(grays[i], scale, size, w)
    return out


class NetworkReader:
    """What a trained network's run ``config`` says about reading crops, shared by the torch model
    (``runs.TrainedModel``) and the numpy one (``torchfree.NumpyModel``): its input frame, its
    target, how crops become its input, and the probabilities of upright crops. A subclass has
    ``config`` and gives ``tensors(images)`` and ``predict(tensors)``."""
    config: dict

    @property
    def size(self) -> tuple[int, int]:
        """Input (height, width) in pixels."""
        return int(self.config["image_size"]), int(self.config.get("width") or self.config["image_size"])

    @property
    def target(self) -> str:
        """What the network tells: ``"polarity"`` or ``"type"``."""
        return self.config.get("target", "polarity")

    def network_input(self, crops: list[np.ndarray], cells=None) -> np.ndarray:
        """Upright crops as this network reads them (one scale per cell where it was trained so;
        without ``cells`` the crops count as one cell)."""
        if self.config.get("scale", "fit") == "cell":
            cells = ["cell"] * len(crops) if cells is None else cells
            return network_input(crops, *self.size, cells=cells)
        return network_input(crops, *self.size)

    def prob_up(self, crops: list[np.ndarray]) -> np.ndarray:
        """P(up) for upright crops (any depth, either background)."""
        return self.predict(self.tensors(self.network_input(crops)))[:, 1]

    def type_probs(self, crops: list[np.ndarray], cells=None) -> np.ndarray:
        """(N, 24) type probabilities (columns ``karyotype.TYPES``) for upright crops; ``cells``
        names each crop's cell (default: all one cell)."""
        if self.target != "type":
            raise ValueError("this is a polarity model, not a type model")
        return self.predict(self.tensors(self.network_input(crops, cells)))
