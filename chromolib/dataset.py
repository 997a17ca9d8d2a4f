"""Polarity data set construction (formula II of METHOD.md).

A *specimen* is one segmented chromosome at a known angle: the upright chromosome (short arm
p up) was rotated counter-clockwise by ``angle`` degrees. The pipeline rotates it to vertical
by ``theta*`` (rotation.py); the total rotation ``angle + theta*`` is then about 0 (p up,
label ``up`` = 1) or about 180 degrees (p down, label ``down`` = 0). So the label follows from
geometry and nobody has to click.

The set is written as PNG files plus ``manifest.csv`` (one row per chromosome), split 7:3 by
cell (all chromosomes of one metaphase on the same side; where cell names say which case they
come from, ``CASE.N`` as in Pki-3, all cells of a case on the same side) and stratified by label.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np
import pandas as pd
import torch
from .progress import progress_bar

from .rotation import background_is_white, to_gray, upright

__all__ = [
    "UP", "DOWN", "LABELS", "Specimen", "polarity_label", "canonical_gray", "build_polarity_set",
    "split_by_cell", "case_of", "square_resize", "load_images", "normalisation_stats", "PolarityTensors",
    "AUGMENTATIONS", "robust_augment", "to_device", "SHIFTS",
    "read_manifest",
]

UP, DOWN = 1, 0
LABELS = {DOWN: "down", UP: "up"}
MANIFEST = "manifest.csv"


@dataclass(frozen=True)
class Specimen:
    """One chromosome crop at a known angle (degrees counter-clockwise from p up)."""
    image: np.ndarray
    cell: str
    chromosome: str
    angle: float
    source: str = ""
    bent: bool | None = None  # known for synthetic chromosomes


def polarity_label(true_angle: float, applied_angle: float) -> int:
    """``UP`` (1) if the chromosome ends with p up after rotating by ``applied_angle``, else ``DOWN`` (0)."""
    return UP if np.cos(np.radians(true_angle + applied_angle)) > 0 else DOWN


def canonical_gray(image: np.ndarray) -> np.ndarray:
    """Gray uint8, dark chromosome on white: bright-on-black (Q-band) input is inverted."""
    g = to_gray(image)
    return g if background_is_white(g) else 255 - g


def build_polarity_set(specimens: Iterable[Specimen], out_dir: str | Path, method: str = "hull",
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


def square_resize(gray: np.ndarray, size: int, fill: int = 255) -> np.ndarray:
    """Pad to a square with ``fill`` (keeping the aspect ratio and centring), then resize."""
    g = np.asarray(gray)
    h, w = g.shape[:2]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    sq = cv2.copyMakeBorder(g, top, side - h - top, left, side - w - left, cv2.BORDER_CONSTANT, value=fill)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(sq, (size, size), interpolation=interp)


def load_images(root: str | Path, files: Iterable[str], size: int, progress: bool = False) -> np.ndarray:
    """Read PNGs (relative to ``root``) into a uint8 array (N, size, size), dark on white."""
    root = Path(root)
    files = list(files)
    out = np.empty((len(files), size, size), dtype=np.uint8)
    for i, f in enumerate(progress_bar(files, progress, desc="load")):
        img = cv2.imread(str(root / f), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise FileNotFoundError(f"cannot read image {root / f}")
        out[i] = square_resize(canonical_gray(img), size)
    return out


def normalisation_stats(images: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of uint8 images scaled to [0, 1] (training split only)."""
    x = np.asarray(images, dtype=np.float64) / 255.0
    return float(x.mean()), float(x.std())


AUGMENTATIONS = ("none", "flip", "robust")


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    r = max(1, int(np.ceil(2.5 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    return k / k.sum()


def to_device(t: torch.Tensor, dev: torch.device) -> torch.Tensor:
    """A small CPU tensor (random numbers, indices) to ``dev`` without stalling the GPU.

    A plain ``.to("cuda")`` waits until the GPU has finished all queued work, so a per-step
    copy would drain the queue every step. From pinned memory the copy is asynchronous."""
    if dev.type != "cuda" or t.device.type == "cuda":
        return t.to(dev)
    return t.pin_memory().to(dev, non_blocking=True)


def robust_augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Make a batch (N, H, W) in [0, 1], dark on white, look like another laboratory's images.

    Per image: scale 0.75-1.25 and a tilt of up to 4 degrees (the rotation step's error),
    Gaussian blur sigma 0-1.5 px (band sharpness, resolution), contrast 0.6-1.4 of the
    chromosome's darkness, gamma 0.6-1.6, and a little noise. None of these changes polarity.
    """
    n, h, w = x.shape
    dev = x.device
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=generator)  # noqa: E731  (CPU)
    scale, tilt = u(0.75, 1.25), torch.deg2rad(u(-4.0, 4.0))
    cos, sin = torch.cos(tilt) / scale, torch.sin(tilt) / scale
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros(n)], 1),
                         torch.stack([sin, cos, torch.zeros(n)], 1)], 1)
    theta = to_device(theta, dev)
    grid = torch.nn.functional.affine_grid(theta, (n, 1, h, w), align_corners=False)
    # white outside the image: sample (1 - x) with zero padding
    x = 1 - torch.nn.functional.grid_sample(1 - x[:, None], grid, align_corners=False, padding_mode="zeros")[:, 0]
    sigmas = torch.tensor([0.0, 0.6, 1.0, 1.5])
    pick = torch.randint(0, len(sigmas), (n,), generator=generator)  # decided on the CPU: no device sync
    for i, sigma in enumerate(sigmas.tolist()):
        sel = (pick == i).nonzero()[:, 0]
        if sigma == 0 or not len(sel):
            continue
        sel = to_device(sel, dev)
        k = to_device(_gaussian_kernel(sigma), dev)
        r = len(k) // 2
        y = torch.nn.functional.pad(1 - x[sel][:, None], (r, r, r, r))
        y = torch.nn.functional.conv2d(y, k.view(1, 1, 1, -1))
        y = torch.nn.functional.conv2d(y, k.view(1, 1, -1, 1))
        x[sel] = 1 - y[:, 0]
    contrast, gamma, noise = (to_device(u(0.6, 1.4), dev), to_device(u(0.6, 1.6), dev), to_device(u(0.0, 0.03), dev))
    dark = (1 - x) * contrast[:, None, None]
    x = (1 - dark).clamp(0, 1) ** gamma[:, None, None]
    x = x + noise[:, None, None] * to_device(torch.randn(x.shape, generator=generator), dev)
    return x.clamp(0, 1)


class PolarityTensors(torch.utils.data.Dataset):
    """In-memory images + labels; returns normalised 3-channel float tensors.

    ``train=True`` applies ``augment``: ``"flip"`` is the method's augmentation, a horizontal
    flip with probability 0.5 (it does not change polarity); ``"robust"`` adds scale, tilt,
    blur, contrast, gamma and noise for images from other laboratories; ``"none"`` nothing.
    Random state comes from ``generator`` so a run is seeded.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, mean: float, std: float,
                 train: bool = False, augment: str = "flip"):
        if augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}, not {augment!r}")
        self.images = torch.as_tensor(np.ascontiguousarray(images), dtype=torch.uint8)
        self.labels = torch.as_tensor(np.array(labels), dtype=torch.long)
        self.mean, self.std, self.train, self.augment = float(mean), float(std), train, augment

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
        if self.train and self.augment != "none":
            flip = to_device(torch.rand(len(index), generator=generator) < 0.5, x.device)
            x = torch.where(flip[:, None, None], x.flip(-1), x)  # no boolean indexing: no device sync
            if self.augment == "robust":
                x = robust_augment(x, generator)
        x = (x - self.mean) / self.std
        return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous(), self.labels[index]

    def __getitem__(self, i: int):
        x, y = self.batch(torch.tensor([i]))
        return x[0], y[0]


def _shift_resolution(x: np.ndarray, factor: float) -> np.ndarray:
    n, h, w = x.shape
    small = [cv2.resize(i, (max(4, int(w * factor)), max(4, int(h * factor))), interpolation=cv2.INTER_AREA) for i in x]
    return np.stack([cv2.resize(i, (w, h), interpolation=cv2.INTER_LINEAR) for i in small])


def _shift_darkness(x: np.ndarray, contrast: float = 1.0, gamma: float = 1.0) -> np.ndarray:
    f = x.astype(np.float64) / 255.0
    f = np.clip(1 - (1 - f) * contrast, 0, 1) ** gamma
    return np.round(255 * f).astype(np.uint8)


#: Deterministic "another laboratory" versions of a test set (uint8, N x H x W, dark on white).
SHIFTS = {
    "as recorded": lambda x: x,
    "half resolution": lambda x: _shift_resolution(x, 0.5),
    "blurred (sigma 1.5 px)": lambda x: np.stack([cv2.GaussianBlur(i, (0, 0), 1.5) for i in x]),
    "low contrast (x0.6)": lambda x: _shift_darkness(x, contrast=0.6),
    "high contrast (x1.4)": lambda x: _shift_darkness(x, contrast=1.4),
    "gamma 1.6 (lighter bands)": lambda x: _shift_darkness(x, gamma=1.6),
    "gamma 0.6 (darker)": lambda x: _shift_darkness(x, gamma=0.6),
}
