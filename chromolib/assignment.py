"""Type over the whole cell: a Hungarian assignment of a cell's chromosomes to its slots.

A normal cell holds two of each autosome 1..22, and XX or XY. A classifier that looks at one
chromosome at a time can call two chromosomes "4" and none "5"; over the cell that is
impossible. ``assign_cell`` gives every chromosome of a cell a type so that the summed
log-probability is as high as possible, subject to the slots of a normal cell - two per
autosome, and XX or XY, both tried, the better kept - plus one extra copy of every type at a
cost of ``EXTRA_COPY_COST`` nats (so a trisomy or 47,XXY can still be read when the network is
sure). Solved exactly with the Hungarian method (``scipy.optimize.linear_sum_assignment``), in
about a millisecond for a cell.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .karyotype import TYPES

__all__ = ["SEX_CHROMOSOMES", "normal_copies", "EXTRA_COPY_COST", "slots", "assign_cell", "assign_by_cell"]

#: The sex chromosomes of a normal cell: female XX, male XY.
SEX_CHROMOSOMES: dict[str, dict[str, int]] = {"XX": {"X": 2, "Y": 0}, "XY": {"X": 1, "Y": 1}}
#: The cost, in nats of log-probability, of reading one more copy of a type than a normal cell has.
EXTRA_COPY_COST = float(np.log(100.0))


def normal_copies(sex: str = "XY") -> dict[str, int]:
    """How many copies of each type a normal cell of that sex holds."""
    return {**{t: 2 for t in TYPES[:22]}, **SEX_CHROMOSOMES[sex]}


def slots(sex: str = "XY", extra_cost: float = EXTRA_COPY_COST) -> tuple[np.ndarray, np.ndarray]:
    """The slots of one cell: the type index of each slot and its extra cost (0 for a normal
    copy): a normal cell of that sex, and one extra copy of every type."""
    kind, cost = [], []
    for i, (t, n) in enumerate(normal_copies(sex).items()):
        kind += [i] * (n + 1)
        cost += [0.0] * n + [extra_cost]
    return np.array(kind), np.array(cost)


def assign_cell(probs: np.ndarray, extra_cost: float = EXTRA_COPY_COST) -> np.ndarray:
    """Type index (into ``karyotype.TYPES``) of each chromosome of ONE cell, from its (N, 24)
    probabilities, jointly over the cell, as a female and as a male cell, whichever costs less.
    With more chromosomes than slots (not one cell) each keeps its most probable type."""
    from scipy.optimize import linear_sum_assignment  # here: only the assignment needs scipy

    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(TYPES):
        raise ValueError(f"probabilities must be (N, {len(TYPES)}), not {p.shape}")
    nll = -np.log(np.clip(p, 1e-12, 1.0))
    best, best_cost = p.argmax(1), np.inf
    for sex in SEX_CHROMOSOMES:
        kind, extra = slots(sex, extra_cost)
        if len(p) == 0 or len(p) > len(kind):
            return best if len(p) else np.zeros(0, int)
        cost = nll[:, kind] + extra[None, :]
        rows, cols = linear_sum_assignment(cost)
        if cost[rows, cols].sum() < best_cost:
            best_cost = cost[rows, cols].sum()
            best = np.empty(len(p), dtype=int)
            best[rows] = kind[cols]
    return best


def assign_by_cell(probs: np.ndarray, cells, extra_cost: float = EXTRA_COPY_COST) -> np.ndarray:
    """``assign_cell`` on the rows of each cell (``cells``: one name per row)."""
    cells = pd.Series([str(c) for c in cells])
    out = np.empty(len(cells), dtype=int)
    for _, idx in cells.groupby(cells).groups.items():
        idx = np.asarray(idx)
        out[idx] = assign_cell(np.asarray(probs)[idx], extra_cost)
    return out
