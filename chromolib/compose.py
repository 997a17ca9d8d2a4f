"""Metaphase spreads whose true outlines are known: the BioImLab spreads, or spreads composed here.

Two sources give the same :class:`Spread` (an 8-bit gray image, the true outlines as
``outlines.Outlines``, one full-image mask per chromosome), so a segmenter is scored on either
with ``segmentation.instance_metrics(seg.labels, spread.masks)``:

- ``read_spread(folder, name)``: one spread of a ``bioimlab-spreads`` folder
  (``images/<name>.jpg`` + ``annotations/<name>.json``, as ``chromolib data get`` writes it);
  ``spread_names`` lists them and ``held_out_names`` gives the held-out ones of the split that the
  segmentation benchmarks and the U-Net's training use (``segmentation.split_by_case``, 70/30 by
  case, seed 0), so a segmenter is never scored on its own training spreads.
- ``compose_spread(crops, masks, ...)``: a spread laid out from single-chromosome crops and their
  masks (the crops of ONE cell, dark on light as the project stores crops: synthetic chromosomes
  or real Pki-3 G-band crops), each turned by a random angle and put at a random place, apart
  from a few pairs that touch or lie across each other, with a nucleus-like blob and a few specks
  of debris. ``stain="qband"`` renders it bright on dark (the crops inverted), ``"gband"`` dark on
  light. ``synthetic_spread(seed)`` composes one from a synthetic cell (``synthetic.make_cell``).
  Composed spreads are a test bed with exact truth; they are not real spreads, and results on
  them are reported apart from the real ones.

Conventions as in ``segmentation.py``: images are (h, w), row 0 at the top; bounding boxes are
(x, y, w, h) px; angles in degrees, counter-clockwise as seen on the screen. Sizes default to the
BioImLab spreads' resolution (768 x 576 px, chromosomes about 14 px wide).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .images import read_image, to_gray
from .outlines import Outlines, masks_to_polygons, polygon_mask, read_labelme
from .rotation import rotate_image
from .segmentation import split_by_case

__all__ = ["Spread", "spread_names", "held_out_names", "read_spread", "crop_mask", "compose_spread",
           "synthetic_spread", "TOUCH", "OVERLAP"]

TOUCH, OVERLAP = "touching", "overlapping"
SPREAD_SHAPE = (576, 768)  # (h, w) px: the BioImLab spreads


@dataclass
class Spread:
    """One spread and its truth.

    ``image``: uint8 (h, w) gray, as stored (Q-band: bright on dark). ``outlines``: the true
    polygons (``outlines.Outlines``; labels "chr" for real spreads, the chromosome type for
    composed ones). ``masks[i]``: boolean (h, w) mask of chromosome i (masks of chromosomes lying
    across each other overlap). Composed spreads also hold ``pairs`` (i, j, ``TOUCH`` or
    ``OVERLAP``) and ``extras`` (kind "nucleus" or "debris", bounding box x, y, w, h): what is
    not a chromosome. ``path``: the image file, where there is one."""
    name: str
    image: np.ndarray
    outlines: Outlines
    masks: list[np.ndarray]
    pairs: list[tuple[int, int, str]] = field(default_factory=list)
    extras: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=list)
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.masks)


# ----------------------------------------------------------------------------- real spreads
def spread_names(folder: str | Path) -> list[str]:
    """The spreads of a ``bioimlab-spreads`` folder: stems of ``annotations/*.json``, sorted.
    Raises FileNotFoundError when there is none."""
    names = sorted(p.stem for p in (Path(folder) / "annotations").glob("*.json"))
    if not names:
        raise FileNotFoundError(f"no labelme files under {Path(folder) / 'annotations'}")
    return names


def held_out_names(folder: str | Path, train_fraction: float = 0.7, seed: int = 0) -> list[str]:
    """The held-out spreads of ``folder``: ``segmentation.split_by_case`` of all its spreads, the
    split of ``benchmarks/segmentation.py`` and ``benchmarks/train_unet.py`` (defaults as there)."""
    return split_by_case(spread_names(folder), train_fraction, seed)[1]


def read_spread(folder: str | Path, name: str) -> Spread:
    """Spread ``name`` of a ``bioimlab-spreads`` folder with its labelme outlines as truth."""
    o = read_labelme(Path(folder) / "annotations" / f"{name}.json")
    gray = to_gray(read_image(o.image_path))
    if gray.shape != tuple(o.shape):
        raise ValueError(f"{o.path}: outlines for a {o.shape[1]} x {o.shape[0]} px image, "
                         f"{o.image_path.name} is {gray.shape[1]} x {gray.shape[0]} px")
    return Spread(name, gray, o, [polygon_mask(p, gray.shape) for p in o.polygons], path=o.image_path)


# ----------------------------------------------------------------------------- composing
def crop_mask(crop: np.ndarray, level: int = 30) -> np.ndarray:
    """The chromosome of a dark-on-light crop (background near white): pixels darker than the
    median of the crop's border by ``level`` gray levels, holes filled, the largest 8-connected
    piece kept. Boolean, the crop's shape."""
    g = np.asarray(crop, np.uint8)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    m = (g < float(np.median(border)) - level).astype(np.uint8)
    n, lab, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return np.zeros(m.shape, bool)
    keep = (lab == 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    filled = np.pad(keep, 1)
    cv2.floodFill(filled, None, (0, 0), 2)
    return (filled[1:-1, 1:-1] != 2)


def _rotate(darkness: np.ndarray, mask: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Darkness (0 = background) and mask turned ``angle`` degrees counter-clockwise on a canvas
    grown so that nothing is cut, then cut tight to the mask."""
    d = rotate_image(darkness.astype(np.float32), angle, fill=0)
    m = rotate_image(mask.astype(np.uint8), angle, fill=0, interpolation=cv2.INTER_NEAREST).astype(bool)
    ys, xs = np.nonzero(m)
    if not len(ys):
        return d[:1, :1] * 0, m[:1, :1]
    sl = np.s_[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return np.where(m, d, 0)[sl], m[sl]


def _paste(canvas: np.ndarray, piece: np.ndarray, y: int, x: int) -> None:
    """canvas[y:, x:] = max(canvas, piece) (darkness: the darker pixel wins where pieces overlap)."""
    h, w = piece.shape
    np.maximum(canvas[y:y + h, x:x + w], piece, out=canvas[y:y + h, x:x + w])


def _group(parts: list[tuple[np.ndarray, np.ndarray]], kind: str | None,
           rng: np.random.Generator) -> tuple[list[tuple[int, int]], tuple[int, int]] | None:
    """Offsets (y, x) of one to two rotated parts inside a group canvas and the canvas (h, w):
    one part alone; two parts touching (the second slid towards the first from a random side
    until it touches, without overlapping); or two parts lying across each other (overlapping
    by 3-40 % of the smaller mask). None when no such layout was found."""
    if kind is None:
        return [(0, 0)], parts[0][1].shape
    (_, ma), (_, mb) = parts
    ha, wa = ma.shape
    hb, wb = mb.shape
    H, W = ha + 2 * hb + 4, wa + 2 * wb + 4
    ya, xa = hb + 2, wb + 2
    A = np.zeros((H, W), bool)
    A[ya:ya + ha, xa:xa + wa] = ma
    near = cv2.dilate(A.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    small = min(int(ma.sum()), int(mb.sum()))
    cy, cx = ya + ha / 2 - hb / 2, xa + wa / 2 - wb / 2  # b centred on a
    for _ in range(50):
        if kind == OVERLAP:
            ys, xs = np.nonzero(ma)
            k = int(rng.integers(len(ys)))
            by, bx = int(round(ya + ys[k] - hb / 2)), int(round(xa + xs[k] - wb / 2))
            inter = int((A[by:by + hb, bx:bx + wb] & mb).sum())
            if 0.03 * small <= inter <= 0.4 * small:
                return [(ya, xa), (by, bx)], (H, W)
            continue
        phi = rng.uniform(0, 2 * np.pi)
        uy, ux = np.sin(phi), np.cos(phi)
        reach = int(np.hypot(H, W) / 2)
        for t in range(reach, -1, -1):  # from far towards a: stop at the first contact
            by, bx = int(round(cy + t * uy)), int(round(cx + t * ux))
            if not (0 <= by <= H - hb and 0 <= bx <= W - wb):
                continue
            window = near[by:by + hb, bx:bx + wb]
            if (window & mb).any():
                if not (A[by:by + hb, bx:bx + wb] & mb).any():
                    return [(ya, xa), (by, bx)], (H, W)
                break
    return None


def compose_spread(crops: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None,
                   shape: tuple[int, int] = SPREAD_SHAPE, stain: str = "qband", n_touching: int = 2,
                   n_overlapping: int = 2, nucleus: bool = True, n_debris: int = 3, gap: int = 3,
                   labels: Sequence[str] | None = None, seed: int = 0, name: str = "composed") -> Spread:
    """A spread laid out from the single-chromosome crops of one cell, with its truth.

    ``crops``: uint8 gray, dark chromosome on a light background (synthetic or Pki-3 crops);
    ``masks``: the chromosome in each (boolean, the crop's shape; default ``crop_mask``). Each
    crop is turned by a uniform random angle; ``n_touching`` pairs are laid touching (no pixel
    shared, contact along at least one pixel) and ``n_overlapping`` pairs across each other,
    every other chromosome at least ``gap`` px from all others, at random places; a crop that
    does not fit is left out (``len(result) < len(crops)``: make ``shape`` larger). ``nucleus``
    adds a round textured blob about 80 px across, ``n_debris`` specks of 10-40 px^2 (neither
    in the truth; both in ``extras``). ``stain``: "qband" renders bright on dark (the crops
    inverted), "gband" dark on light. ``labels``: a name per crop for the outlines (default
    "chr"). Deterministic for a ``seed``."""
    if stain not in ("qband", "gband"):
        raise ValueError(f"stain {stain!r}: qband or gband")
    rng = np.random.default_rng(seed)
    H, W = shape
    crops = [np.asarray(to_gray(c), np.uint8) for c in crops]
    masks = [crop_mask(c) for c in crops] if masks is None else [np.asarray(m, bool) for m in masks]
    labels = ["chr"] * len(crops) if labels is None else [str(x) for x in labels]
    if not (len(crops) == len(masks) == len(labels)):
        raise ValueError(f"{len(crops)} crops, {len(masks)} masks and {len(labels)} labels")
    parts = []
    for c, m in zip(crops, masks):
        border = np.concatenate([c[0], c[-1], c[:, 0], c[:, -1]])
        dark = np.clip(float(np.median(border)) - c.astype(np.float32), 0, 255)  # background 0
        parts.append(_rotate(dark, m, float(rng.uniform(0, 360))))
    order = [int(i) for i in rng.permutation(len(parts)) if parts[i][1].any()]
    groups: list[tuple[list[int], str | None]] = []
    for kind, n in ((OVERLAP, n_overlapping), (TOUCH, n_touching)):
        for _ in range(n):
            if len(order) >= 2:
                groups.append(([order.pop(), order.pop()], kind))
    groups += [([i], None) for i in order]

    darkness = np.zeros((H, W), np.float32)
    occupied = np.zeros((H, W), bool)
    extras: list[tuple[str, tuple[int, int, int, int]]] = []
    if nucleus:
        r = int(rng.integers(36, 46))
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        blob = (yy / r) ** 2 + (xx / (r * rng.uniform(0.85, 1.0))) ** 2 <= 1
        tex = cv2.GaussianBlur(rng.normal(0, 1, blob.shape).astype(np.float32), (0, 0), 3)
        level = rng.uniform(110, 150) + 25 * tex / max(float(tex.std()), 1e-6)
        y, x = int(rng.integers(0, H - blob.shape[0])), int(rng.integers(0, W - blob.shape[1]))
        _paste(darkness, np.where(blob, np.clip(level, 40, 200), 0).astype(np.float32), y, x)
        occupied[y:y + blob.shape[0], x:x + blob.shape[1]] |= blob
        extras.append(("nucleus", (x, y, blob.shape[1], blob.shape[0])))

    full_masks: dict[int, np.ndarray] = {}
    pairs: list[tuple[int, int, str]] = []
    k = np.ones((2 * gap + 1, 2 * gap + 1), np.uint8)
    for members, kind in groups:
        layout = _group([parts[i] for i in members], kind, rng)
        if layout is None:  # no such pair found: lay them out one by one
            groups.extend(([i], None) for i in members)
            continue
        offsets, (gh, gw) = layout
        gmask = np.zeros((gh, gw), bool)
        for i, (oy, ox) in zip(members, offsets):
            mh, mw = parts[i][1].shape
            gmask[oy:oy + mh, ox:ox + mw] |= parts[i][1]
        ys, xs = np.nonzero(gmask)
        y0, x0 = ys.min(), xs.min()
        gmask = gmask[y0:ys.max() + 1, x0:xs.max() + 1]
        gh, gw = gmask.shape
        if gh >= H or gw >= W:
            continue
        halo = cv2.dilate(np.pad(gmask, gap).astype(np.uint8), k).astype(bool)
        for _ in range(200):
            y, x = int(rng.integers(0, H - gh + 1)), int(rng.integers(0, W - gw + 1))
            py, px = y - gap, x - gap
            sy0, sx0 = max(py, 0), max(px, 0)
            window = occupied[sy0:py + halo.shape[0], sx0:px + halo.shape[1]]
            if not (window & halo[sy0 - py:sy0 - py + window.shape[0], sx0 - px:sx0 - px + window.shape[1]]).any():
                break
        else:
            continue  # no room left for this group
        for i, (oy, ox) in zip(members, offsets):
            d, m = parts[i]
            ty, tx = y + oy - y0, x + ox - x0
            _paste(darkness, d, ty, tx)
            full = np.zeros((H, W), bool)
            full[ty:ty + m.shape[0], tx:tx + m.shape[1]] = m
            full_masks[i] = full
            occupied |= full
        if kind is not None:
            pairs.append((members[0], members[1], kind))

    for _ in range(n_debris):
        r = float(rng.uniform(1.8, 3.5))
        for _ in range(50):
            y, x = int(rng.integers(8, H - 8)), int(rng.integers(8, W - 8))
            if not occupied[y - 6:y + 7, x - 6:x + 7].any():
                cv2.circle(darkness, (x, y), int(round(r)), float(rng.uniform(100, 180)), -1, cv2.LINE_AA)
                occupied[y - 4:y + 5, x - 4:x + 5] = True
                extras.append(("debris", (x - int(r), y - int(r), 2 * int(r) + 1, 2 * int(r) + 1)))
                break

    darkness = cv2.GaussianBlur(darkness, (0, 0), 0.6) + rng.normal(0, 2.5, (H, W)).astype(np.float32)
    if stain == "qband":
        image = np.clip(12 + darkness, 0, 255)
    else:
        image = np.clip(238 - darkness, 0, 255)
    kept = sorted(full_masks)  # chromosome numbers in crop order
    index = {i: n for n, i in enumerate(kept)}
    out_masks = [full_masks[i] for i in kept]
    polygons = [masks_to_polygons(m.astype(np.int32))[0] for m in out_masks]
    outlines = Outlines(Path(f"{name}.json"), Path(f"{name}.png"), (H, W), polygons, [labels[i] for i in kept])
    return Spread(name, image.round().astype(np.uint8), outlines, out_masks,
                  [(index[a], index[b], kind) for a, b, kind in pairs], extras)


def synthetic_spread(seed: int = 0, scale: float = 0.75, stain: str = "qband", **kw) -> Spread:
    """A spread composed (``compose_spread``) from the 46 chromosomes of one synthetic cell
    (``synthetic.make_cell``; ``scale`` 0.75 gives chromosomes about as large as on the BioImLab
    spreads); the outlines are labelled with the chromosome types. Deterministic for a ``seed``."""
    from .synthetic import make_cell

    cell = make_cell(f"syn{seed:04d}", np.random.default_rng([int(seed), 7]), scale=scale)
    return compose_spread([c.image for c in cell], labels=[c.chromosome for c in cell], stain=stain, seed=seed,
                          name=f"composed_{seed:03d}", **kw)
