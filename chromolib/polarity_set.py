"""The polarity data set (formula II): rotate, label, split, and the tensors a network reads.

Every specimen (``specimens.py``) is rotated to vertical by ``theta*`` (``rotation.py``); the
total rotation ``angle + theta*`` is then about 0 (p up, label ``up`` = 1) or about 180
degrees (p down, label ``down`` = 0). So the label follows from geometry and nobody has to
click.

The set is written as PNG files plus ``manifest.csv`` (one row per chromosome), split 7:3 by
cell (all chromosomes of one metaphase on the same side; where cell names say which case they
come from, ``CASE.N`` as in Pki-3, all cells of a case on the same side) and stratified by
label. A data set folder holds ``manifest.csv``, ``images/`` and ``params.json``; it is reused
when asked again with the same parameters, so chapters can be run alone or in order.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np
import pandas as pd
import torch

from .augment import AUGMENTATIONS, robust_augment, tilt_batch, to_device
from .images import canonical_gray, read_image
from .karyotype import TYPES
from .preprocess import CELL_MEDIAN_SHARE, cell_scaled, fit_resize, network_input, square_resize
from .progress import progress_bar
from .rotation import DEFAULT_MASK, DEFAULT_METHOD, upright
from .specimens import KaryogramSpecimens, Specimen, specimens_from

__all__ = [
    "UP", "DOWN", "LABELS", "polarity_label", "build_polarity_set", "prepare_dataset", "split_by_cell", "with_validation", "case_of",
    "read_manifest", "CELL_MEDIAN_SHARE", "cell_scaled", "target_labels", "fit_resize", "square_resize", "network_input", "split_tensors", "load_images", "normalisation_stats", "PolarityTensors",
    "load_split", "test_tensors",
]

UP, DOWN = 1, 0
LABELS = {DOWN: "down", UP: "up"}
MANIFEST = "manifest.csv"


def polarity_label(true_angle: float, applied_angle: float) -> int:
    """``UP`` (1) if the chromosome ends with p up after rotating by ``applied_angle``, else ``DOWN`` (0)."""
    return UP if np.cos(np.radians(true_angle + applied_angle)) > 0 else DOWN


def build_polarity_set(specimens: Iterable[Specimen], out_dir: str | Path, method: str = DEFAULT_METHOD,
                       train_fraction: float = 0.7, seed: int = 0, progress: bool = True,
                       total: int | None = None) -> pd.DataFrame:
    """Rotate every specimen to vertical, label it, write PNGs and ``manifest.csv``.

    Returns the manifest with columns ``file, cell, chromosome, source, angle_true,
    angle_applied, label, split``. ``file`` is relative to ``out_dir``.
    """
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, sp in enumerate(progress_bar(specimens, progress, total=total, desc="rotate + label")):
        img, applied = upright(canonical_gray(sp.image), method=method, background="white")
        name = f"images/{i:06d}.png"
        cv2.imwrite(str(out / name), img)
        rows.append(dict(file=name, cell=str(sp.cell), chromosome=str(sp.chromosome), source=sp.source,
                         angle_true=round(float(sp.angle), 4), angle_applied=round(float(applied), 4),
                         label=polarity_label(sp.angle, applied)))
    if not rows:
        raise ValueError("no specimens: nothing to build a data set from")
    df = pd.DataFrame(rows)
    df["split"] = split_by_cell(df, train_fraction=train_fraction, seed=seed)
    df.to_csv(out / MANIFEST, index=False)
    return df


def case_of(cell: str) -> str:
    """The case (patient/slide) a cell belongs to: Pki-3 names cells CASE.N (e.g. 97002023.12)."""
    return str(cell).split(".")[0]


def with_validation(df: pd.DataFrame, validation: float, seed: int = 0) -> pd.DataFrame:
    """The manifest with a share ``validation`` of the training cases (whole cases, seed
    ``seed + 1``) marked ``"val"``: the cells a run keeps aside to fit its temperature
    (``TrainConfig.validation``, ``TrainConfig.seed``). The test split is untouched."""
    df = df.copy()
    if validation:
        tr = df.split == "train"
        df.loc[tr, "split"] = split_by_cell(df[tr], 1 - validation, seed=seed + 1).map({"train": "train",
                                                                                       "test": "val"})
    return df


def split_by_cell(df: pd.DataFrame, train_fraction: float = 0.7, seed: int = 0) -> pd.Series:
    """'train'/'test' per row, keeping every case whole (so every cell too: cells of one
    patient never sit on both sides), about ``train_fraction`` of the chromosomes in train,
    label proportions kept close on both sides (greedy, seeded)."""
    rng = np.random.default_rng(seed)
    group = df["cell"].astype(str).map(case_of)
    groups = np.array(sorted(group.unique()))
    rng.shuffle(groups)
    counts = df.groupby(group)["label"].agg(["size", "sum"])
    target_n = train_fraction * len(df)
    target_up = train_fraction * int(df["label"].sum())
    n = up = 0
    side = {}
    for c in groups:
        size, ups = int(counts.loc[c, "size"]), int(counts.loc[c, "sum"])
        # put the group in train if that brings both counts closer to their targets
        before = abs(n - target_n) + abs(up - target_up)
        after = abs(n + size - target_n) + abs(up + ups - target_up)
        if after < before:
            side[c] = "train"
            n, up = n + size, up + ups
        else:
            side[c] = "test"
    if len(groups) >= 2 and len(set(side.values())) == 1:  # tiny sets: keep both sides non-empty
        side[groups[-1]] = "test" if side[groups[-1]] == "train" else "train"
    return group.map(side).rename("split")


def read_manifest(root: str | Path) -> pd.DataFrame:
    """Read ``manifest.csv`` from a data set folder, with a clear error if it is missing."""
    path = Path(root) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: build the data set first (chapter 2, or "
                                f"`chromolib dataset OUT_DIR`)")
    return pd.read_csv(path, dtype={"cell": str, "chromosome": str})


def load_images(root: str | Path, files: Iterable[str], size: int, progress: bool = False,
                width: int = 0, cells=None) -> np.ndarray:
    """Read images (relative to ``root``) into a uint8 array (N, size, width or size), dark on
    white; with ``cells``, one scale per cell (``network_input``)."""
    root = Path(root)
    files = list(files)
    return network_input([read_image(root / f) for f in progress_bar(files, progress, desc="load")], size, width,
                         cells)


def target_labels(manifest: pd.DataFrame, target: str = "polarity") -> np.ndarray:
    """The class of each row: polarity ``label`` (down 0, up 1), or for ``"type"`` the index of
    ``chromosome`` in ``karyotype.TYPES`` (a type outside them is an error naming it)."""
    if target == "polarity":
        return manifest["label"].to_numpy(dtype=int)
    if target != "type":
        raise ValueError(f"target must be polarity or type, not {target!r}")
    index = {t: i for i, t in enumerate(TYPES)}
    chrom = manifest["chromosome"].astype(str)
    unknown = sorted(set(chrom) - set(index))
    if unknown:
        raise ValueError(f"chromosome types {unknown[:5]} are not among the 24 ({', '.join(TYPES)}): a type model "
                         f"needs labelled crops (labels.csv with a chromosome column)")
    return chrom.map(index).to_numpy(dtype=int)


def normalisation_stats(images: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of uint8 images scaled to [0, 1] (training split only)."""
    x = np.asarray(images, dtype=np.float64) / 255.0
    return float(x.mean()), float(x.std())


class PolarityTensors(torch.utils.data.Dataset):
    """In-memory images + labels; returns normalised 3-channel float tensors.

    ``train=True`` applies ``augment``: ``"flip"`` is the method's augmentation, a horizontal
    flip with probability 0.5 (it does not change polarity); ``"robust"`` adds scale, tilt,
    blur, contrast, gamma and noise for images from other laboratories; ``"none"`` nothing;
    and, unless ``augment`` is ``"none"``, a random tilt of up to ``tilt`` degrees either way
    (the rotation step's own error); ``vflip`` adds an upside-down flip with probability 0.5
    (for type), and ``swap`` gives such a flipped image the other polarity label (for polarity:
    a chromosome upside down is the same chromosome p down). Random state comes from
    ``generator`` so a run is seeded.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, mean: float, std: float,
                 train: bool = False, augment: str = "flip", tilt: float = 0.0, vflip: bool = False,
                 swap: bool = False):
        if augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}, not {augment!r}")
        self.images = torch.as_tensor(np.ascontiguousarray(images), dtype=torch.uint8)
        self.labels = torch.as_tensor(np.array(labels), dtype=torch.long)
        self.mean, self.std, self.train, self.augment = float(mean), float(std), train, augment
        self.tilt, self.vflip, self.swap = float(tilt), bool(vflip), bool(swap)

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device) -> "PolarityTensors":
        """The same data set with its tensors on ``device`` (decoded once, kept there)."""
        other = PolarityTensors.__new__(PolarityTensors)
        other.__dict__.update(self.__dict__)
        other.images, other.labels = self.images.to(device), self.labels.to(device)
        return other

    def batch(self, index: torch.Tensor, generator: torch.Generator | None = None):
        """A whole batch at once (the fast path used by training.py): uint8 -> float on the
        data set's device, augmented and normalised there. Random numbers come from the CPU
        ``generator`` so results do not depend on the device."""
        index = to_device(index, self.images.device)
        x = self.images[index].float().div_(255.0)
        y = self.labels[index]
        if self.train and self.augment != "none":
            flip = to_device(torch.rand(len(index), generator=generator) < 0.5, x.device)
            x = torch.where(flip[:, None, None], x.flip(-1), x)  # no boolean indexing: no device sync
            if self.vflip:  # upside down too: type does not change, polarity does (swap)
                flip = to_device(torch.rand(len(index), generator=generator) < 0.5, x.device)
                x = torch.where(flip[:, None, None], x.flip(-2), x)
                if self.swap:  # the polarity label; a type label beside it (type-aux) stays
                    y = torch.where(flip, 1 - y, y) if y.dim() == 1 else torch.stack(
                        [torch.where(flip, 1 - y[:, 0], y[:, 0]), y[:, 1]], 1)
            if self.augment == "robust":
                x = robust_augment(x, generator)
            if self.tilt:
                x = tilt_batch(x, self.tilt, generator)
        x = (x - self.mean) / self.std
        return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous(), y

    def __getitem__(self, i: int):
        x, y = self.batch(torch.tensor([i]))
        return x[0], y[0]

    def views(self, index, generator: torch.Generator | None = None) -> np.ndarray:
        """The images at ``index`` as the network sees them (augmented when ``train``), back in
        uint8 gray (N, H, W) for display: the normalisation undone."""
        x, _ = self.batch(torch.as_tensor(index), generator)
        return ((x[:, 0].cpu().numpy() * self.std + self.mean) * 255).clip(0, 255).round().astype(np.uint8)


def prepare_dataset(data: str | Path | None, out_dir: str | Path, n_cells: int = 30, seed: int = 0,
                    method: str = DEFAULT_METHOD, max_cells: int | None = None, progress: bool = True,
                    as_cut: bool = False) -> pd.DataFrame:
    """Build (or reuse) the polarity data set in ``out_dir``.

    ``data``: empty/None -> ``n_cells`` synthetic metaphases; a folder with ``labels.csv`` of
    p-up crops -> the karyogram polarity benchmark on those (``max_cells`` whole cells at most).
    ``as_cut``: the crops are taken at the angles they were cut at, not turned by a known angle
    (crops from a metaphase such as BioImLab Q-band): a data set for type only, whose polarity
    labels mean nothing.
    """
    out = Path(out_dir)
    params = {"data": str(Path(data).resolve()) if data else "", "n_cells": n_cells if not data else None,
              "seed": seed, "method": method, "mask": DEFAULT_MASK,
              "max_cells": max_cells if data else None}
    if as_cut:
        if not data:
            raise ValueError("as_cut needs a data folder of crops (labels.csv with file,cell,chromosome)")
        params["as_cut"] = True
    stamp = out / "params.json"
    if stamp.exists() and (out / MANIFEST).exists() and json.loads(stamp.read_text()) == params:
        return read_manifest(out)
    specimens = (KaryogramSpecimens(data, seed=seed, max_cells=max_cells, rotate=False) if as_cut
                 else specimens_from(data, n_cells, seed, max_cells))
    df = build_polarity_set(specimens, out, method=method, seed=seed, progress=progress)
    stamp.write_text(json.dumps(params, indent=2))
    return df


def load_split(root: str | Path, size: int, manifest: pd.DataFrame | None = None, progress: bool = False,
               augment: str = "flip", width: int = 0, tilt: float = 0.0, target: str = "polarity",
               scale: str = "fit", turn: bool = False, aux_type: bool = False
               ) -> tuple[PolarityTensors, PolarityTensors, dict]:
    """Train and test tensors at ``size`` (x ``width``) px, normalised with the TRAINING split's
    mean/std, labelled for ``target`` (polarity or type; type also flips upside down in
    training, and so does polarity with ``turn``, its label swapped); ``scale`` ``"cell"``: one scale per cell. Rows of any other ``split`` (e.g.
    ``"val"``) are left out. ``aux_type``: the training labels are (N, 2), polarity and type
    (the objective ``type-aux``)."""
    df = read_manifest(root) if manifest is None else manifest
    tr, te = df[df.split == "train"], df[df.split == "test"]
    x_tr = load_images(root, tr.file, size, progress=progress, width=width, cells=_cells(tr, scale))
    mean, std = normalisation_stats(x_tr)
    stats = {"mean": mean, "std": std, "n_train": len(tr), "n_test": len(te)}
    labels = target_labels(tr, target)
    if aux_type:
        try:
            labels = np.stack([labels, target_labels(tr, "type")], 1)
        except ValueError as exc:
            raise ValueError(f"{root}: {exc}; or train polarity without the type as auxiliary target "
                             f"(--objective plain)") from None
    return (PolarityTensors(x_tr, labels, mean, std, train=True, augment=augment, tilt=tilt,
                            vflip=target == "type" or turn, swap=target == "polarity"),
            split_tensors(root, df, "test", size, mean, std, width, target, scale), stats)


def _cells(part: pd.DataFrame, scale: str):
    if scale not in ("fit", "cell"):
        raise ValueError(f"scale must be fit or cell, not {scale!r}")
    return part.cell.astype(str).to_numpy() if scale == "cell" else None


def split_tensors(root: str | Path, manifest: pd.DataFrame, split: str, size: int, mean: float, std: float,
                  width: int = 0, target: str = "polarity", scale: str = "fit") -> PolarityTensors:
    """The rows of one ``split`` for evaluation, normalised with given (a run's training) statistics."""
    part = manifest[manifest.split == split]
    return PolarityTensors(load_images(root, part.file, size, width=width, cells=_cells(part, scale)),
                           target_labels(part, target), mean, std)


def test_tensors(root: str | Path, size: int, mean: float, std: float,
                 manifest: pd.DataFrame | None = None, width: int = 0, target: str = "polarity",
                 scale: str = "fit") -> PolarityTensors:
    """The test split at ``size`` (x ``width``) px, normalised with given (a run's training) statistics."""
    return split_tensors(root, read_manifest(root) if manifest is None else manifest, "test", size, mean, std, width,
                         target, scale)
