"""Where chromosomes come from: the synthetic generator or a folder of real crops.

A *specimen* is one segmented chromosome at a known angle: the upright chromosome (short arm
p up) was rotated counter-clockwise by ``angle`` degrees.

Real data layout (see data/README.md): a folder with ``labels.csv`` (columns
``file,cell,chromosome,copy``; ``file`` relative to the folder), or a plain folder of images.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from .images import IMAGE_SUFFIXES, canonical_gray, read_image
from .rotation import rotate_to_angle

__all__ = ["Specimen", "specimens_from", "read_labels", "copy_cells", "synthetic_specimens", "karyogram_specimens",
           "KaryogramSpecimens"]


@dataclass(frozen=True)
class Specimen:
    """One chromosome crop at a known angle (degrees counter-clockwise from p up)."""
    image: np.ndarray
    cell: str
    chromosome: str
    angle: float
    source: str = ""
    bent: bool | None = None  # known for synthetic chromosomes


def read_labels(root: str | Path, max_cells: int | None = None, seed: int = 0) -> pd.DataFrame:
    """``labels.csv`` of a data folder (or, without one, every image below it, the sub-folder
    naming the cell); ``max_cells`` keeps a seeded random subset of whole cells."""
    root = Path(root)
    path = root / "labels.csv"
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist; pass data='' for the synthetic default")
    if not path.exists():
        df = _labels_from_folder(root)
        if df.empty:
            raise FileNotFoundError(f"{path} not found and no images under {root}: a data folder needs "
                                    f"labels.csv (file,cell,chromosome,copy) or image files (see data/README.md)")
    else:
        df = pd.read_csv(path, dtype=str)
    missing = {"file", "cell", "chromosome"} - set(df.columns)
    if missing:
        raise ValueError(f"{path} lacks the column(s) {sorted(missing)}; expected file,cell,chromosome,copy")
    if max_cells:
        cells = np.array(sorted(df["cell"].unique()))
        keep = np.random.default_rng(seed).choice(cells, size=min(max_cells, len(cells)), replace=False)
        df = df[df["cell"].isin(set(keep))]
    return df.reset_index(drop=True)


def copy_cells(root: str | Path, out: str | Path, max_cells: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Copy the cells that ``read_labels(root, max_cells, seed)`` picks, and a ``labels.csv`` of
    them in the same order, to ``out``: a small folder that gives the same data set with
    ``max_cells=None`` (e.g. to carry to another machine)."""
    import shutil

    root, out = Path(root), Path(out)
    df = read_labels(root, max_cells=max_cells, seed=seed)
    for f in df["file"]:
        (out / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f, out / f)
    df.to_csv(out / "labels.csv", index=False)
    return df


def _labels_from_folder(root: Path) -> pd.DataFrame:
    """A plain folder of p-up crops: every image below ``root``; the sub-folder names the cell
    (images directly in ``root`` are each a cell of their own); the type is unknown."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    rows = [{"file": str(p.relative_to(root)), "cell": str(p.parent.relative_to(root)) if p.parent != root else p.stem,
             "chromosome": "?", "copy": ""} for p in files]
    return pd.DataFrame(rows, columns=["file", "cell", "chromosome", "copy"])


def synthetic_specimens(n_cells: int, seed: int = 0, scale: float = 1.0) -> list[Specimen]:
    """The embedded default: ``n_cells`` synthetic metaphases (46 chromosomes each)."""
    from .synthetic import make_dataset

    return [Specimen(c.image, c.cell, c.chromosome, c.angle,
                     f"{c.cell}/chr{c.chromosome}_{c.copy}", bool(c.bent))
            for c in make_dataset(n_cells, seed=seed, scale=scale)]


class KaryogramSpecimens:
    """Real p-up crops from a karyogram set, each rotated by a seeded random angle in [0, 360):
    the karyogram polarity benchmark (the label follows from the known angle). Sized, so a
    progress bar knows the total; images are read one at a time while iterating.

    ``rotate=False`` yields every crop as it is (canonical gray, ``angle`` 0): for crops whose
    true angle is unknown, such as Q-band crops at metaphase angles."""

    def __init__(self, root: str | Path, seed: int = 0, max_cells: int | None = None, rotate: bool = True):
        self.root, self.rotate = Path(root), rotate
        self.labels = read_labels(self.root, max_cells=max_cells, seed=seed)
        self.angles = np.random.default_rng(seed).uniform(0.0, 360.0, size=len(self.labels))

    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self) -> Iterator[Specimen]:
        for row, angle in zip(self.labels.itertuples(index=False), self.angles):
            gray = canonical_gray(_read_listed(self.root, row.file))
            if not self.rotate:
                yield Specimen(gray, row.cell, row.chromosome, 0.0, row.file)
                continue
            yield Specimen(rotate_to_angle(gray, float(angle)), row.cell, row.chromosome, float(angle), row.file)


def karyogram_specimens(root: str | Path, seed: int = 0, max_cells: int | None = None) -> KaryogramSpecimens:
    """The karyogram polarity benchmark's specimens (see ``KaryogramSpecimens``)."""
    return KaryogramSpecimens(root, seed=seed, max_cells=max_cells)


def _read_listed(root: Path, file: str) -> np.ndarray:
    """An image listed in ``root/labels.csv``; the error names both files."""
    try:
        return read_image(root / file)
    except (FileNotFoundError, ValueError) as exc:
        raise FileNotFoundError(f"cannot read {root / file} (listed in {root / 'labels.csv'}): {exc}") from None


def specimens_from(data: str | Path | None, n_cells: int = 30, seed: int = 0, max_cells: int | None = None):
    """The chromosomes a chapter, a benchmark or a data set starts from: the karyogram polarity
    benchmark on ``data`` (a folder of p-up crops, ``max_cells`` whole cells at most) or, when
    ``data`` is empty, ``n_cells`` synthetic metaphases. A sized iterable of ``Specimen``."""
    if data:
        return karyogram_specimens(data, seed=seed, max_cells=max_cells)
    return synthetic_specimens(n_cells, seed=seed)
