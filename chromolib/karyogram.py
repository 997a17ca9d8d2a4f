"""The karyogram sheet: oriented chromosomes on one white page, in the standard rows by type.

Rows follow ``karyotype.KARYOGRAM_ROWS`` (1-5; 6-12 and X; 13-18; 19-22 and Y); chromosomes
of one type stand side by side (homologues together), each type labelled under its first copy.
"""
from __future__ import annotations

import cv2
import numpy as np

from .karyotype import KARYOGRAM_ROWS

__all__ = ["karyogram_sheet"]


def karyogram_sheet(images: list[np.ndarray], types: list[str] | None = None, height: int = 120) -> np.ndarray:
    """A white sheet of oriented chromosomes (dark on white): in karyogram rows by type when
    ``types`` are given, else in a grid in input order. Scale is shared, so lengths compare: the
    tallest chromosome is ``height`` px (never enlarged); each row is as tall as its tallest."""
    pad = 6
    if not images:
        return np.full((height, height), 255, np.uint8)
    tallest = max(i.shape[0] for i in images)
    s = min(1.0, height / tallest)
    scaled = [cv2.resize(i, (max(1, int(i.shape[1] * s)), max(1, int(i.shape[0] * s))), interpolation=cv2.INTER_AREA)
              for i in images]
    if types is None:
        groups = [list(range(k, min(k + 12, len(scaled)))) for k in range(0, len(scaled), 12)]
    else:
        groups = [[i for t in row for i in range(len(types)) if types[i] == t] for row in KARYOGRAM_ROWS]
        rest = [i for i in range(len(types)) if not any(types[i] in r for r in KARYOGRAM_ROWS)]
        if rest:
            groups.append(rest)
    rows = []
    for g in (g for g in groups if g):
        row_h = max(scaled[i].shape[0] for i in g) + 2 * pad + 14  # the row's tallest, its labels below
        width = sum(scaled[i].shape[1] + pad for i in g) + pad
        canvas = np.full((row_h, max(width, 50)), 255, np.uint8)
        x = pad
        prev_type = None
        for i in g:
            im = scaled[i]
            if types is not None and types[i] != prev_type:
                cv2.putText(canvas, types[i], (x, row_h - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 0, 1, cv2.LINE_AA)
                prev_type = types[i]
            y = row_h - 14 - im.shape[0]
            canvas[y:y + im.shape[0], x:x + im.shape[1]] = im
            x += im.shape[1] + pad
        rows.append(canvas)
    width = max(r.shape[1] for r in rows)
    return np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1])), constant_values=255) for r in rows])
