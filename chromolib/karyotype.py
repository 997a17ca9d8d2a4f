"""The facts of the human karyotype that the generator, the evaluation and the sheet share.

One home for the 24 chromosome types, their order, the rows of a karyogram sheet, and the
textbook (ISCN-like) relative lengths and centromere indices.
"""
from __future__ import annotations

__all__ = ["TYPES", "RELATIVE_LENGTH", "CENTROMERE_INDEX", "KARYOGRAM_ROWS", "LONG_TYPES", "karyotype_order"]

#: (relative length = % of the haploid autosomal length, centromere index = p / (p + q)), in karyogram order.
_TABLE: dict[str, tuple[float, float]] = {
    "1": (8.44, 0.48), "2": (8.02, 0.39), "3": (6.83, 0.47), "4": (6.29, 0.28), "5": (6.08, 0.27),
    "6": (5.90, 0.39), "7": (5.36, 0.39), "8": (4.93, 0.34), "9": (4.80, 0.35), "10": (4.59, 0.33),
    "11": (4.61, 0.40), "12": (4.66, 0.30), "13": (3.74, 0.17), "14": (3.56, 0.19), "15": (3.46, 0.20),
    "16": (3.36, 0.41), "17": (3.25, 0.34), "18": (2.93, 0.31), "19": (2.67, 0.47), "20": (2.56, 0.45),
    "21": (1.90, 0.27), "22": (2.04, 0.30), "X": (5.12, 0.40), "Y": (1.90, 0.29),
}

#: The 24 chromosome types in karyogram order: "1" ... "22", "X", "Y".
TYPES: tuple[str, ...] = tuple(_TABLE)
RELATIVE_LENGTH: dict[str, float] = {t: v[0] for t, v in _TABLE.items()}
CENTROMERE_INDEX: dict[str, float] = {t: v[1] for t, v in _TABLE.items()}

#: The standard karyogram layout: rows 1-5; 6-12 and X; 13-18; 19-22 and Y.
KARYOGRAM_ROWS: tuple[tuple[str, ...], ...] = (
    ("1", "2", "3", "4", "5"), ("6", "7", "8", "9", "10", "11", "12", "X"),
    ("13", "14", "15", "16", "17", "18"), ("19", "20", "21", "22", "Y"))

#: Types long enough for the minimum-width direction to be their axis (chapter 1).
LONG_TYPES = frozenset([*TYPES[:12], "X"])


def karyotype_order(types) -> list[str]:
    """The given chromosome types (strings), in karyogram order; unknown ones last."""
    present = {str(t) for t in types}
    return [t for t in TYPES if t in present] + sorted(present - set(TYPES))
