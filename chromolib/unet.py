"""A small U-Net that cuts chromosomes out of a metaphase spread (the seed's FCN approach).

The network (:class:`UNet`, plain torch) labels every pixel of a spread as one of three
classes: background, chromosome INTERIOR, or chromosome BOUNDARY, a thin band (``band`` px)
just inside each annotated outline where it meets the background or another chromosome
(:func:`training_targets`; chromosomes lying ACROSS each other are one instance: which one lies
on top cannot be seen, and a label image holds one object per pixel). Two touching
chromosomes thus have two boundary bands between their interiors, so the interiors lie apart:
the instances are the connected components of the predicted interior, grown back over the
predicted foreground to the chromosome's extent (:func:`instances_from_probs`). The result is a
``segmentation.Segmentation`` with the classical segmenter's objects table (nuclei rejected and
clusters flagged by the same size and shape rules), so ``spread.py`` and the evaluation take it
unchanged.

Training (:func:`train_unet`) uses random crops of the training spreads with flips, quarter
turns and mild intensity changes, Adam and a class-weighted cross-entropy (boundary pixels are
rarer, and pixels where two chromosomes come within ``contact`` px of each other weigh more);
it runs for a time budget, checkpoints every epoch into a run folder and resumes from it.

Conventions as in ``segmentation.py``: images are (h, w) arrays, row 0 at the top; label images
int32, 0 = background; pixel parameters at the BioImLab spreads' resolution (768 x 576 px,
chromosomes about 14 px wide). Probabilities are float32 arrays (3, h, w) in class order
``CLASSES``. The network sees the spread bright on black (G-band spreads are inverted, as the
classical segmenter does), divided by its 99.5th percentile gray level.
"""
from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from .images import first_line, to_gray
from .outlines import polygon_mask
from .segmentation import Segmentation, _bright_on_dark, _shape, instance_metrics

__all__ = ["CLASSES", "BACKGROUND", "INTERIOR", "BOUNDARY", "SEGMENTER", "UNet", "UNetParams", "UNetConfig",
           "UNetSegmenter", "training_targets", "normalize", "predict_probs", "instances_from_probs",
           "segment_unet", "train_unet", "tune_params", "save_segmenter", "load_segmenter", "bf16_supported",
           "bright_gray", "model_card",
           "sample_batch", "weighted_loss"]

CLASSES = ("background", "interior", "boundary")
BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2
#: the segmenter that ships inside the package (``chromolib karyotype`` uses it when present)
SEGMENTER = Path(__file__).resolve().parent / "models" / "segmenter-qband.pt"
FORMAT = "chromolib-segmenter-1"
OBJECT_COLUMNS = ["object", "x", "y", "w", "h", "area", "solidity", "mean_intensity", "cluster",
                  "touches_border", "score"]
REJECTED_COLUMNS = ["x", "y", "w", "h", "area", "reason"]


# ----------------------------------------------------------------------------- network
def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """U-Net (Ronneberger et al. 2015) with ``levels`` resolutions: two 3 x 3 convolutions
    (batch norm, ReLU) per level, ``base`` x 2^k channels at level k, max-pooling down,
    transposed convolutions up, skip connections by concatenation, a 1 x 1 head giving
    ``classes`` logits per pixel. Input (n, 1, h, w) with h and w multiples of
    2^(levels - 1) (:func:`predict_probs` pads); output (n, classes, h, w).
    base 16, 4 levels: 482,483 parameters."""

    def __init__(self, base: int = 16, levels: int = 4, in_channels: int = 1, classes: int = 3):
        super().__init__()
        ch = [base * 2 ** k for k in range(levels)]
        self.levels = levels
        self.down = nn.ModuleList([_block(in_channels if k == 0 else ch[k - 1], ch[k]) for k in range(levels)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(ch[k], ch[k - 1], 2, stride=2) for k in range(levels - 1, 0, -1)])
        self.merge = nn.ModuleList([_block(2 * ch[k - 1], ch[k - 1]) for k in range(levels - 1, 0, -1)])
        self.head = nn.Conv2d(base, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for k, block in enumerate(self.down):
            x = block(x if k == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat([up(x), skips.pop()], 1))
        return self.head(x)


def bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (AVX512-BF16 / AMX): then bf16
    autocast is 2-3x faster than float32; elsewhere it is emulated and slower."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # an old or unusual build
        return False


def _use_bf16(precision: str, device: torch.device) -> bool:
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision {precision!r}: auto, bf16 or fp32")
    if precision == "auto":
        return device.type == "cuda" or bf16_supported()
    return precision == "bf16"


# ----------------------------------------------------------------------------- data
def bright_gray(image: np.ndarray) -> np.ndarray:
    """The spread as 8-bit gray, bright chromosomes on black (G-band inverted), as the network sees it."""
    return _bright_on_dark(to_gray(image))[0]


def normalize(gray: np.ndarray) -> np.ndarray:
    """Network input from an 8-bit bright-on-black spread: float32, gray / its 99.5th
    percentile (at least 32 gray levels), so that dim and bright spreads look alike."""
    g = np.asarray(gray, np.float32)
    return g / max(float(np.percentile(g, 99.5)), 32.0)


def training_targets(polygons: Sequence[np.ndarray], shape: tuple[int, int], band: int = 1, contact: int = 2,
                     crossing: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(classes, touching) for one spread from its outlines (polygons, (N, 2) x, y).

    Outlines that overlap by at least ``crossing`` x the smaller one's area (chromosomes lying
    across each other) are one instance: a crossing becomes one object (a cluster), which the
    network can learn, while which chromosome lies on top it cannot see. Other overlaps (the
    generous outlines of neighbours) go to the smaller outline, drawn on top. ``classes``
    (h, w) uint8: BOUNDARY for the pixels of an instance within ``band`` px of another
    instance or the background (not of the image border), INTERIOR for its other pixels,
    BACKGROUND elsewhere. ``touching`` (h, w) bool: pixels within ``contact`` px of two or more
    instances: where chromosomes touch, the pixels the loss weighs more."""
    H, W = shape[:2]
    n = len(polygons)
    masks = [polygon_mask(np.asarray(p, float), (H, W)) for p in polygons]
    areas = np.array([int(m.sum()) for m in masks])
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    boxes = [cv2.boundingRect(m.astype(np.uint8)) for m in masks]
    for i in range(n):
        for j in range(i + 1, n):
            (xi, yi, wi, hi), (xj, yj, wj, hj) = boxes[i], boxes[j]
            if min(wi, wj) == 0 or xi >= xj + wj or xj >= xi + wi or yi >= yj + hj or yj >= yi + hi:
                continue
            if (masks[i] & masks[j]).sum() >= crossing * max(1, min(areas[i], areas[j])):
                parent[root(i)] = root(j)
    labels = np.zeros((H, W), np.int32)
    for i in sorted(range(n), key=lambda i: (-areas[i], i)):  # smaller outlines on top
        labels[masks[i]] = root(i) + 1
    lab = labels.astype(np.float32)
    k3 = np.ones((3, 3), np.uint8)
    edge = (labels > 0) & ((cv2.dilate(lab, k3) != lab) | (cv2.erode(lab, k3) != lab))
    if band > 1:
        edge = (labels > 0) & cv2.dilate(edge.astype(np.uint8), np.ones((2 * band - 1,) * 2, np.uint8)).astype(bool)
    classes = np.where(labels > 0, INTERIOR, BACKGROUND).astype(np.uint8)
    classes[edge] = BOUNDARY
    near = np.zeros((H, W), np.uint8)
    k_contact = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * contact + 1,) * 2)
    for r in {root(i) for i in range(n) if areas[i]}:
        m = (labels == r + 1).astype(np.uint8)
        if m.any():
            near += cv2.dilate(m, k_contact)
    return classes, near >= 2


def _augment_intensity(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mild intensity changes of a normalized crop: gain 0.75-1.3, gamma 0.7-1.4, Gaussian
    noise of sd up to 0.03."""
    x = np.clip(x, 0, None) ** rng.uniform(0.7, 1.4) * rng.uniform(0.75, 1.3)
    return (x + rng.normal(0, rng.uniform(0, 0.03), x.shape)).astype(np.float32)


def sample_batch(inputs: Sequence[np.ndarray], classes: Sequence[np.ndarray], touching: Sequence[np.ndarray],
                 rng: np.random.Generator, batch_size: int = 8, crop: int = 256, on_chromosome: float = 0.9,
                 augment: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random training batch: (x (n, 1, crop, crop) float32, classes (n, crop, crop) int64,
    touching (n, crop, crop) bool). Each crop comes from a random spread; with probability
    ``on_chromosome`` it holds a random chromosome pixel (else anywhere); then a random flip and
    quarter turn and (``augment``) :func:`_augment_intensity`. Spreads smaller than ``crop`` are
    padded with background."""
    xs, ys, ts = [], [], []
    for _ in range(batch_size):
        i = int(rng.integers(len(inputs)))
        x, y, t = inputs[i], classes[i], touching[i]
        H, W = x.shape
        if H < crop or W < crop:
            ph, pw = max(crop - H, 0), max(crop - W, 0)
            x, y, t = (np.pad(a, ((0, ph), (0, pw))) for a in (x, y, t))
            H, W = x.shape
        if rng.random() < on_chromosome and (y > 0).any():
            ry, rx = np.nonzero(y)
            j = int(rng.integers(len(ry)))
            cy, cx = int(ry[j]), int(rx[j])
            top = int(np.clip(cy - rng.integers(crop), 0, H - crop))
            left = int(np.clip(cx - rng.integers(crop), 0, W - crop))
        else:
            top, left = int(rng.integers(H - crop + 1)), int(rng.integers(W - crop + 1))
        sl = np.s_[top:top + crop, left:left + crop]
        cx_, cy_, ct = x[sl], y[sl], t[sl]
        k = int(rng.integers(4))
        flip = bool(rng.integers(2))
        cx_, cy_, ct = (np.rot90(a, k) for a in (cx_, cy_, ct))
        if flip:
            cx_, cy_, ct = (a[:, ::-1] for a in (cx_, cy_, ct))
        if augment:
            cx_ = _augment_intensity(cx_, rng)
        xs.append(np.ascontiguousarray(cx_, np.float32))
        ys.append(np.ascontiguousarray(cy_, np.int64))
        ts.append(np.ascontiguousarray(ct, bool))
    return np.stack(xs)[:, None], np.stack(ys), np.stack(ts)


def weighted_loss(logits: torch.Tensor, classes: torch.Tensor, touching: torch.Tensor,
                  class_weights: Sequence[float], touch_weight: float) -> torch.Tensor:
    """Cross-entropy weighted per pixel: ``class_weights[class]`` x (1 + ``touch_weight`` where
    two chromosomes touch), normalised by the sum of the weights."""
    ce = F.cross_entropy(logits.float(), classes, reduction="none")
    w = torch.as_tensor(class_weights, dtype=torch.float32, device=logits.device)[classes]
    w = w * (1.0 + touch_weight * touching.float())
    return (w * ce).sum() / w.sum()


# ----------------------------------------------------------------------------- instances
@dataclass(frozen=True)
class UNetParams:
    """How instances are cut from the network's probabilities (px, px^2, probabilities).

    Foreground: p(background) < ``1 - fg_threshold``; seeds: 4-connected components of
    p(interior) > ``interior_threshold`` of at least ``min_seed_area``; each foreground pixel
    goes to its nearest seed in the same foreground component within ``grow_radius``;
    foreground left without a seed becomes an object of its own. Objects under ``min_area``
    or thinner than ``min_width`` (largest inscribed disc) are debris; nuclei and clusters by
    the classical segmenter's rules (same defaults, from
    the training outlines' areas). ``score`` (for AP) = mean foreground probability x
    solidity, halved for clusters and for objects without a seed. The thresholds are chosen on
    validation spreads of the training cases (:func:`tune_params`).
    """
    fg_threshold: float = 0.5
    interior_threshold: float = 0.5
    min_seed_area: int = 10
    grow_radius: float = 6.0
    min_area: int = 60
    min_width: float = 4.0
    nucleus_area: int = 3000
    nucleus_solidity: float = 0.85
    nucleus_roundness: float = 0.45
    nucleus_width: float = 40.0
    cluster_area: int = 1900
    cluster_solidity: float = 0.6
    cluster_min_area: int = 600


def _pixels_by_label(labels: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{label: (rows, cols)} of every nonzero label, in one pass (no per-label scan)."""
    flat = labels.ravel()
    idx = np.flatnonzero(flat)
    lab = flat[idx]
    order = np.argsort(lab, kind="stable")
    idx, lab = idx[order], lab[order]
    cuts = np.flatnonzero(np.diff(lab)) + 1
    W = labels.shape[1]
    return {int(ls[0]): (ix // W, ix % W) for ix, ls in zip(np.split(idx, cuts), np.split(lab, cuts)) if len(ls)}


def instances_from_probs(probs: np.ndarray, gray: np.ndarray | None = None,
                         params: UNetParams | None = None, **overrides) -> Segmentation:
    """Instances from the per-pixel probabilities ``probs`` (3, h, w) (see :class:`UNetParams`);
    ``gray`` (the bright-on-black spread) only for the objects' ``mean_intensity``.
    Returns a ``Segmentation`` (``params`` holds the ``UNetParams``)."""
    p = replace(params or UNetParams(), **overrides)
    probs = np.asarray(probs, np.float32)
    H, W = probs.shape[1:]
    fg_prob = 1.0 - probs[BACKGROUND]
    fg = fg_prob > p.fg_threshold
    seedmask = (probs[INTERIOR] > p.interior_threshold) & fg
    n, lab, st, _ = cv2.connectedComponentsWithStats(seedmask.astype(np.uint8), connectivity=4)
    keep = st[:, cv2.CC_STAT_AREA] >= p.min_seed_area
    keep[0] = False
    remap = np.zeros(n, np.int32)
    remap[keep] = np.arange(1, int(keep.sum()) + 1)
    seeds = remap[lab]
    n_seeds = int(keep.sum())
    labels = np.zeros((H, W), np.int32)
    if n_seeds:
        # every foreground pixel to its nearest seed pixel (Euclidean), if in the same foreground component
        _, comp = cv2.connectedComponents(fg.astype(np.uint8), connectivity=8)
        dist, near = cv2.distanceTransformWithLabels((seeds == 0).astype(np.uint8), cv2.DIST_L2, 5,
                                                     labelType=cv2.DIST_LABEL_PIXEL)
        at_seed = seeds > 0
        seed_of = np.zeros(int(near.max()) + 1, np.int32)
        comp_of = np.zeros(int(near.max()) + 1, np.int32)
        seed_of[near[at_seed]] = seeds[at_seed]
        comp_of[near[at_seed]] = comp[at_seed]
        ok = fg & (dist <= p.grow_radius) & (comp_of[near] == comp)
        labels[ok] = seed_of[near][ok]
    # foreground with no seed within reach: objects of their own
    rest = fg & (labels == 0)
    n_rest, lab_rest = cv2.connectedComponents(rest.astype(np.uint8), connectivity=8)
    if n_rest > 1:
        labels[rest] = lab_rest[rest] + n_seeds
    gray_ = None if gray is None else _bright_on_dark(to_gray(gray))[0]

    rows, rejected = [], []
    out = np.zeros((H, W), np.int32)
    nxt = 1
    for k, (ys, xs) in sorted(_pixels_by_label(labels).items()):
        y0, x0 = int(ys.min()), int(xs.min())
        bh, bw = int(ys.max()) - y0 + 1, int(xs.max()) - x0 + 1
        m = np.zeros((bh, bw), bool)
        m[ys - y0, xs - x0] = True
        area = len(ys)
        box = {"x": x0, "y": y0, "w": bw, "h": bh, "area": area}
        if area < p.min_area:
            rejected.append({**box, "reason": "debris"})
            continue
        sol, rnd, width = _shape(m)
        if width < p.min_width:  # a sliver (no chromosome is this thin)
            rejected.append({**box, "reason": "debris"})
            continue
        if width >= p.nucleus_width or (area >= p.nucleus_area and sol >= p.nucleus_solidity
                                        and rnd >= p.nucleus_roundness):
            rejected.append({**box, "reason": "nucleus"})
            continue
        out[ys, xs] = nxt
        cluster = area > p.cluster_area or (sol < p.cluster_solidity and area > p.cluster_min_area)
        score = float(fg_prob[ys, xs].mean()) * sol * (0.5 if cluster else 1.0) * (1.0 if k <= n_seeds else 0.5)
        rows.append({"object": nxt, **box, "solidity": sol,
                     "mean_intensity": float(gray_[ys, xs].mean()) if gray_ is not None else 0.0,
                     "cluster": bool(cluster),
                     "touches_border": bool(x0 == 0 or y0 == 0 or x0 + bw == W or y0 + bh == H), "score": score})
        nxt += 1
    return Segmentation(out, pd.DataFrame(rows, columns=OBJECT_COLUMNS),
                        pd.DataFrame(rejected, columns=REJECTED_COLUMNS), False, float(p.fg_threshold), p)


# ----------------------------------------------------------------------------- the segmenter
@dataclass
class UNetSegmenter:
    """A trained network with the instance parameters that go with it.

    ``config``: the architecture (base, levels) and how it was trained; ``info``: what the
    model card quotes (metrics, training time, data)."""
    model: UNet
    params: UNetParams = field(default_factory=UNetParams)
    config: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    precision: str = "auto"

    def probs(self, gray: np.ndarray) -> np.ndarray:
        return predict_probs(self.model, gray, self.precision)

    def __call__(self, image: np.ndarray, **overrides) -> Segmentation:
        return segment_unet(image, self, **overrides)


@torch.no_grad()
def predict_probs(model: UNet, gray: np.ndarray, precision: str = "auto") -> np.ndarray:
    """Per-pixel class probabilities (3, h, w) float32 of a bright-on-black 8-bit spread.
    The image is padded with black to a multiple of 2^(levels - 1) and cropped back."""
    model.eval()
    dev = next(model.parameters()).device
    x = normalize(gray)
    H, W = x.shape
    m = 2 ** (model.levels - 1)
    ph, pw = -H % m, -W % m
    t = torch.from_numpy(np.pad(x, ((0, ph), (0, pw))))[None, None].to(dev)
    t = t.contiguous(memory_format=torch.channels_last)
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=_use_bf16(precision, dev)):
        logits = model(t)
    return torch.softmax(logits.float(), 1)[0, :, :H, :W].cpu().numpy()


def segment_unet(image: np.ndarray, segmenter: UNetSegmenter | None = None, params: UNetParams | None = None,
                 **overrides) -> Segmentation:
    """Segment chromosomes in a spread (gray or colour, 8/16-bit; Q-band, or G-band inverted to
    bright on black) with a trained U-Net (default: the shipped one, :data:`SEGMENTER`).
    ``params`` (default: the segmenter's own, tuned on validation spreads) and ``overrides``
    set how instances are cut (:class:`UNetParams`)."""
    seg = segmenter if segmenter is not None else load_segmenter()
    gray, inverted = _bright_on_dark(to_gray(image))
    out = instances_from_probs(seg.probs(gray), gray, params or seg.params, **overrides)
    out.inverted = inverted
    return out


def save_segmenter(segmenter: UNetSegmenter, path: str | Path, half: bool = False) -> Path:
    """Write a segmenter as one file: the weights (float16 with ``half``: half the size, the
    same answers to within rounding), ``config``, ``params`` and ``info``."""
    path = Path(path)
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in segmenter.model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"format": FORMAT, "config": segmenter.config, "params": asdict(segmenter.params),
                "info": segmenter.info, "state": state}, tmp)
    tmp.replace(path)
    return path


_CACHE: dict = {}


def load_segmenter(path: str | Path = SEGMENTER, device: str = "cpu", precision: str = "auto") -> UNetSegmenter:
    """A segmenter written by :func:`save_segmenter` (default: the shipped one), in float32 on
    ``device``; the shipped one is loaded once per process."""
    path = Path(path)
    key = (str(path.resolve()), device, precision, path.stat().st_mtime_ns if path.exists() else 0)
    if key in _CACHE:
        return _CACHE[key]
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: no U-Net segmenter ships with this installation; train one "
                                f"(benchmarks/train_unet.py --ship) or use the classical segmenter")
    try:
        packed = torch.load(path, map_location="cpu", weights_only=True)
        if packed.get("format") != FORMAT:
            raise ValueError(f"format {packed.get('format')!r}, expected {FORMAT!r}")
        cfg = packed["config"]
        model = UNet(int(cfg.get("base", 16)), int(cfg.get("levels", 4)))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in packed["state"].items()})
        names = {f.name for f in fields(UNetParams)}
        params = UNetParams(**{k: v for k, v in packed["params"].items() if k in names})
    except Exception as exc:
        raise ValueError(f"{path} is damaged or not a chromolib segmenter ({first_line(exc)})") from None
    model = model.to(device).eval().to(memory_format=torch.channels_last)
    seg = UNetSegmenter(model, params, cfg, packed.get("info", {}), precision)
    _CACHE.clear()
    _CACHE[key] = seg
    return seg


# ----------------------------------------------------------------------------- training
@dataclass(frozen=True)
class UNetConfig:
    """How :func:`train_unet` trains. ``minutes``: wall-clock budget of the training loop
    (validation included; a resumed run counts the time already spent); ``max_steps``: stop
    earlier after this many steps (None: time only). The learning rate warms up over
    ``warmup`` steps and then follows a cosine to ``lr_floor`` x ``lr`` over the budget (the
    larger of the time and step fractions). ``class_weights`` (background, interior, boundary)
    and ``touch_weight`` (extra weight where two chromosomes touch) weigh the loss; ``band``,
    ``contact`` and ``crossing`` make the targets (:func:`training_targets`). ``precision``: auto = bfloat16
    autocast where the CPU supports it (or on CUDA), else fp32."""
    minutes: float = 30.0
    max_steps: int | None = None
    seed: int = 0
    base: int = 16
    levels: int = 4
    crop: int = 256
    batch_size: int = 8
    lr: float = 3e-3
    lr_floor: float = 0.03
    warmup: int = 30
    weight_decay: float = 1e-5
    class_weights: tuple = (1.0, 1.5, 3.0)
    touch_weight: float = 9.0
    band: int = 1
    contact: int = 2
    crossing: float = 0.1
    on_chromosome: float = 0.9
    steps_per_epoch: int = 50
    val_spreads: int = 4
    precision: str = "auto"
    device: str = "cpu"

    def with_(self, **kw) -> "UNetConfig":
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


HISTORY_COLUMNS = ["epoch", "step", "seconds", "lr", "loss", "val_f1", "val_ap50", "val_precision", "val_recall"]


def _lr(cfg: UNetConfig, step: int, seconds: float) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = seconds / (60.0 * cfg.minutes) if cfg.minutes > 0 else 1.0
    if cfg.max_steps:
        frac = max(frac, step / cfg.max_steps)
    frac = min(max(frac, 0.0), 1.0)
    return cfg.lr * (cfg.lr_floor + (1 - cfg.lr_floor) * 0.5 * (1 + math.cos(math.pi * frac)))


def _val_metrics(model: UNet, val: list, params: UNetParams, precision: str) -> dict:
    """Instance metrics (IoU 0.5) of the model on validation spreads [(gray, masks)]."""
    preds, truths, scores = [], [], []
    for gray, masks in val:
        s = instances_from_probs(predict_probs(model, gray, precision), gray, params)
        preds.append(s.labels)
        truths.append(masks)
        scores.append(s.objects.score.to_numpy())
    return instance_metrics(preds, truths, scores) if preds else {}


def train_unet(images: Sequence[np.ndarray], polygons: Sequence[Sequence[np.ndarray]], run_dir: str | Path,
               config: UNetConfig = UNetConfig(), val_images: Sequence[np.ndarray] = (),
               val_polygons: Sequence[Sequence[np.ndarray]] = (), log: Callable[[str], None] | None = print,
               resume: bool = True) -> UNetSegmenter:
    """Train a :class:`UNet` on spreads (``images``: gray or colour; ``polygons``: the outlines of
    each) for ``config.minutes`` of wall-clock time; return it as a ``UNetSegmenter`` with the
    default ``UNetParams`` (choose them with :func:`tune_params`).

    ``run_dir`` receives ``config.json``, ``checkpoint.pt`` (every epoch of
    ``steps_per_epoch`` steps: weights, optimizer, data generator state, step, time spent) and
    ``history.csv`` (``HISTORY_COLUMNS``: training loss per epoch and, with validation spreads,
    F1/AP50 at IoU 0.5 with the default parameters on the first ``config.val_spreads`` of them;
    the budget is checked after every step, so the last epoch's validation may overrun it). With ``resume`` a run folder holding a
    checkpoint goes on from it (a run whose budget is spent is returned as it is); the
    architecture must match."""
    torch_dev = torch.device(config.device)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    log = log or (lambda msg: None)
    grays = [_bright_on_dark(to_gray(im))[0] for im in images]
    inputs = [normalize(g) for g in grays]
    targets = [training_targets(p, g.shape, config.band, config.contact, config.crossing) for p, g in zip(polygons, grays)]
    classes, touching = [t[0] for t in targets], [t[1] for t in targets]
    val = [(_bright_on_dark(to_gray(im))[0], [polygon_mask(p, im.shape[:2]) for p in polys])
           for im, polys in zip(val_images, val_polygons)]

    torch.manual_seed(config.seed)
    model = UNet(config.base, config.levels).to(torch_dev).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)
    step, epoch, spent = 0, 0, 0.0
    history: list[dict] = []
    ckpt = run / "checkpoint.pt"
    if resume and ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        old = state["config"]
        if (old["base"], old["levels"]) != (config.base, config.levels):
            raise ValueError(f"{ckpt} holds a U-Net base {old['base']}, {old['levels']} levels; this run asks for "
                             f"base {config.base}, {config.levels} levels: use another run folder")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        step, epoch, spent = int(state["step"]), int(state["epoch"]), float(state["seconds"])
        history = list(state["history"])
        log(f"resumed {run} at epoch {epoch}, step {step}, {spent / 60:.1f} min spent")
    (run / "config.json").write_text(json.dumps({**asdict(config), "n_train": len(images), "n_val": len(val),
                                                 "parameters": sum(p.numel() for p in model.parameters()),
                                                 "torch": torch.__version__, "threads": torch.get_num_threads(),
                                                 "bf16": _use_bf16(config.precision, torch_dev)}, indent=2) + "\n")
    use_bf16 = _use_bf16(config.precision, torch_dev)
    budget = 60.0 * config.minutes

    def done() -> bool:
        return spent >= budget or (config.max_steps is not None and step >= config.max_steps)

    while not done():
        model.train()
        t0 = time.perf_counter()
        losses = []
        for _ in range(config.steps_per_epoch):
            lr = _lr(config, step, spent + time.perf_counter() - t0)
            for g in opt.param_groups:
                g["lr"] = lr
            x, y, t = sample_batch(inputs, classes, touching, rng, config.batch_size, config.crop,
                                   config.on_chromosome)
            xt = torch.from_numpy(x).to(torch_dev).contiguous(memory_format=torch.channels_last)
            with torch.autocast(torch_dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits = model(xt)
            loss = weighted_loss(logits, torch.from_numpy(y).to(torch_dev), torch.from_numpy(t).to(torch_dev),
                                 config.class_weights, config.touch_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
            if spent + time.perf_counter() - t0 >= budget or (config.max_steps is not None and step >= config.max_steps):
                break
        vm = _val_metrics(model, val[:config.val_spreads], UNetParams(), config.precision) if val else {}
        spent += time.perf_counter() - t0
        epoch += 1
        row = {"epoch": epoch, "step": step, "seconds": round(spent, 1), "lr": lr, "loss": float(np.mean(losses)),
               "val_f1": vm.get("f1", float("nan")), "val_ap50": vm.get("ap50", float("nan")),
               "val_precision": vm.get("precision", float("nan")), "val_recall": vm.get("recall", float("nan"))}
        history.append(row)
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(), "step": step, "epoch": epoch, "seconds": spent,
                    "history": history, "config": asdict(config)}, tmp)
        tmp.replace(ckpt)
        _write_history(run / "history.csv", history)
        log(f"epoch {epoch}: step {step}, {spent / 60:.1f} min, lr {lr:.2e}, loss {row['loss']:.4f}"
            + (f", val F1 {row['val_f1']:.3f}, AP50 {row['val_ap50']:.3f}" if vm else ""))
    _write_history(run / "history.csv", history)
    model.eval()
    info = {"steps": step, "epochs": epoch, "train_seconds": round(spent, 1), "n_train": len(images),
            "n_val": len(val), "history": history[-1] if history else {}}
    return UNetSegmenter(model, UNetParams(), {**asdict(config), "parameters": sum(p.numel() for p in model.parameters())},
                         info, config.precision)


def _write_history(path: Path, history: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS)
        w.writeheader()
        w.writerows(history)


#: the values :func:`tune_params` tries for each threshold
TUNE_GRID = {"interior_threshold": (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8), "min_seed_area": (5, 10, 20, 30, 50, 80),
             "fg_threshold": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)}


def tune_params(probs: Sequence[np.ndarray], grays: Sequence[np.ndarray], truths: Sequence, base: UNetParams | None = None,
                grid: dict | None = None, rounds: int = 2) -> tuple[UNetParams, pd.DataFrame]:
    """Choose the instance thresholds on validation spreads by coordinate search: from ``base``,
    each threshold in turn takes the value of ``grid`` (default ``TUNE_GRID``) with the best F1
    at IoU 0.5 (ties: AP50, then the current value), the others fixed; ``rounds`` passes.
    Works on the cached probabilities. Returns (best params, one row per combination tried)."""
    base = base or UNetParams()
    grid = grid or TUNE_GRID
    tried: dict = {}

    def score(p: UNetParams) -> tuple[float, float]:
        key = tuple(getattr(p, k) for k in grid)
        if key not in tried:
            segs = [instances_from_probs(pr, g, p) for pr, g in zip(probs, grays)]
            m = instance_metrics([s.labels for s in segs], list(truths), [s.objects.score.to_numpy() for s in segs])
            tried[key] = {**dict(zip(grid, key)), **{k: m[k] for k in ("f1", "ap50", "precision", "recall",
                                                                        "merged", "split")}}
        return tried[key]["f1"], tried[key]["ap50"]

    best, best_score = base, score(base)
    for _ in range(rounds):
        for k, values in grid.items():
            for v in values:
                cand = replace(best, **{k: v})
                sc = score(cand)
                if sc > best_score:
                    best, best_score = cand, sc
    return best, pd.DataFrame(list(tried.values()))


def model_card(segmenter: UNetSegmenter, info: dict, shipped_metrics: dict, command: str, path: str | Path) -> str:
    """The model card (markdown) of a shipped segmenter: what it is, data, accuracy, limits.
    ``info``: the training record (``train_unet``'s, with the benchmark's ``test`` and
    ``classical_test`` metrics); ``shipped_metrics``: the shipped (float16) file's held-out metrics."""
    c, p = segmenter.config, segmenter.params
    t, ct = info.get("test", {}), info.get("classical_test", {})
    nan = float("nan")
    path = Path(path)
    size = path.stat().st_size / 1e6 if path.exists() else nan
    lines = [
        "# The U-Net segmenter that ships with chromolib",
        "",
        "`chromolib karyotype SPREAD... OUT_DIR` cuts the chromosomes out of a spread with this network when it is "
        "present and the spread is bright on black (`--segmenter auto`, the default); `--segmenter classical` takes "
        "the threshold + watershed segmenter, `--segmenter unet` this network for every spread.",
        "",
        "## What it is",
        f"- A U-Net (`chromolib.unet.UNet`, plain torch): {c.get('levels', 4)} levels, {c.get('base', 16)} channels "
        f"at full resolution, {c.get('parameters', 0):,} parameters. Per pixel: background / chromosome interior / "
        f"chromosome boundary (a {c.get('band', 1)} px band inside each outline where it meets the background or "
        f"another chromosome). Chromosomes lying across each other (overlapping by at least "
        f"{100 * c.get('crossing', 0.1):.0f} % of the smaller) are one object: which one lies on top cannot be seen.",
        f"- Instances: 4-connected components of p(interior) > {p.interior_threshold} (at least {p.min_seed_area} "
        f"px^2), grown over the foreground (p(background) < {1 - p.fg_threshold:.2f}) by up to {p.grow_radius:g} px; "
        f"objects under {p.min_area} px^2 are debris; nuclei and clusters by the classical segmenter's size and "
        f"shape rules. Thresholds chosen on {info.get('n_val', '?')} validation spreads of the training cases "
        f"(F1 {info.get('val_f1', nan):.3f} there).",
        f"- File: `chromolib/models/{path.name}`, {size:.2f} MB, float16 weights (held-out F1 "
        f"{shipped_metrics.get('f1', nan):.3f}; the float32 network: {t.get('f1', nan):.3f}).",
        f"- Made by: `{command}`.",
        "",
        "## Data",
        "- BioImLab Q-band metaphase spreads (768 x 576 px) with the labelme outlines of Wang et al. 2023 "
        "(annotations MPL-2.0; images: research use; see data/README.md).",
        f"- Split 70/30 by case (seed 0, as benchmarks/segmentation.py): {info.get('n_train', '?')} spreads trained "
        f"on, {info.get('n_val', '?')} for validation (training cases, 10 % by case, seed 1), "
        f"{t.get('n_images', '?')} held out.",
        f"- Training: random {c.get('crop', 256)} px crops, flips, quarter turns, mild gain/gamma/noise; Adam, lr "
        f"{c.get('lr', nan)} with a cosine over the time budget; cross-entropy weighted "
        f"{tuple(c.get('class_weights', ()))} (background, interior, boundary), x{1 + c.get('touch_weight', 0):g} "
        f"where two chromosomes touch; {info.get('steps', '?')} steps of {c.get('batch_size', 8)} crops in "
        f"{info.get('train_seconds', 0) / 60:.1f} min on a CPU, seed {c.get('seed', 0)}.",
        "",
        "## Accuracy (held-out spreads, IoU 0.5, each outline its own mask)",
        f"- U-Net: F1 {t.get('f1', nan):.3f}, precision {t.get('precision', nan):.3f}, recall "
        f"{t.get('recall', nan):.3f}, AP50 {100 * t.get('ap50', nan):.1f} %, mean IoU {t.get('mean_iou', nan):.3f}; "
        f"{t.get('merged', '?')} merged, {t.get('split', '?')} split, of {t.get('n_true', '?')} chromosomes; "
        f"{t.get('ms_per_image', nan):.0f} ms per spread wall-clock, {t.get('cpu_ms_per_image', nan):.0f} ms CPU time "
        f"(network and instances, {c.get('threads', '?')} CPU thread(s)).",
        f"- The classical segmenter on the same spreads: F1 {ct.get('f1', nan):.3f}, AP50 "
        f"{100 * ct.get('ap50', nan):.1f} %.",
        "- Published anchor: instance segmentation AP50 96.65 % on BioImLab (IEEE Access 2024; another split).",
        "",
        "## Known limits",
        "- One laboratory's Q-band spreads at one magnification (chromosomes about 14 px wide): other stains, "
        "resolutions or cameras can lower the accuracy. G-band spreads are inverted to bright on black, but the "
        "default (`auto`) gives them to the classical segmenter: the network never saw one.",
        "- Chromosomes lying across each other come out as ONE object, flagged as a cluster (left off the karyogram, "
        "`needs_review`): correct `outlines.json` in labelme and rerun with `--outlines`.",
        "- A research tool, not a medical device: a person checks the karyogram.",
        "",
    ]
    return "\n".join(lines)
