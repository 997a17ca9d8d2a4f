"""A learned axis: a small CNN that reads a chromosome's long axis from its gray crop (issue 15).

The geometric axes of ``rotation.py`` follow the outline or the mass of the region; the
karyogram's vertical is a person's choice, which for bent or splayed chromosomes is neither.
This module trains a network to imitate that choice and measures it beside them
(``benchmarks/learned_axis.py``).

Conventions (as in ``rotation.py``): degrees, positive = counter-clockwise on screen. A crop
whose upright (p up) chromosome was turned counter-clockwise by ``a`` has its long axis at
``a``; an axis is a direction modulo 180 degrees, so the network regresses the doubled angle
``(cos 2a, sin 2a)`` (``encode``), which is the same for ``a`` and ``a + 180``. The angle that
brings the crop to vertical - what every rotation method returns - is ``theta = -a`` modulo
180 (``theta_from_axis``).

* ``network_view``: what the network reads: canonical gray, cropped tight around the largest
  object (2 px margin), padded with white to a square (aspect kept) and resized (64 px);
* ``axis_net``: a VGG-like stack of 3 x 3 convolutions (about 0.3 M parameters at 64 px, about
  40 M multiply-adds an image), flattened into a small head with two outputs;
* ``polarity_split``: the Pki-3 split of the shipped polarity model (7:3 by case, seed 0), so
  that the axis network never sees a cell held out there;
* ``train_axis``: crops turned by random angles on the fly, loss ``1 - cos`` of the doubled angle
  error, AdamW with a cosine over a wall-clock (or step) budget;
* ``AxisModel``: the trained network as a rotation method, ``angle(gray) -> theta`` in [0, 180),
  optionally averaged over four exact views (mirror and quarter turns: ``tta``).

With ``AxisConfig(full=True)`` the same network regresses the direction of the short arm over
360 degrees instead, ``(cos a, sin a)`` (``encode_direction``): axis and polarity at once, the
alternative to the two steps of rotation and polarity (``AxisModel.directions``).

torch is imported inside the functions that need it, so importing this module is cheap.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .images import canonical_gray, read_image
from .preprocess import fit_resize
from .progress import progress_bar
from .rotation import (crop_to_foreground, foreground_mask, hull_angle, largest_component, rotate_image,
                       rotate_to_angle)

__all__ = [
    "encode",
    "decode",
    "encode_direction",
    "decode_direction",
    "theta_from_axis",
    "network_view",
    "turned_views",
    "view_transforms",
    "axis_net",
    "axis_loss",
    "AxisConfig",
    "AxisModel",
    "train_axis",
    "polarity_split",
    "training_crops",
]


# --- the target: the doubled angle -------------------------------------------------------------


def _mod180(angle) -> np.ndarray:
    """Degrees in [0, 180): a tiny negative angle's ``% 180`` rounds to 180.0 itself."""
    r = np.asarray(angle, dtype=np.float64) % 180.0
    return np.where(r >= 180.0, 0.0, r)


def encode(angle) -> np.ndarray:
    """``(cos 2a, sin 2a)`` of axis angles ``a`` (degrees): shape (..., 2), the same for ``a`` and
    ``a + 180``."""
    a = np.radians(2.0 * np.asarray(angle, dtype=np.float64))
    return np.stack([np.cos(a), np.sin(a)], axis=-1)


def decode(vector) -> np.ndarray:
    """Axis angles in [0, 180) degrees of doubled-angle vectors (..., 2) (any length but zero)."""
    v = np.asarray(vector, dtype=np.float64)
    return _mod180(np.degrees(np.arctan2(v[..., 1], v[..., 0]) / 2.0))


def encode_direction(angle) -> np.ndarray:
    """``(cos a, sin a)`` of directions ``a`` (degrees, the short arm's, p up = 0): shape (..., 2)."""
    a = np.radians(np.asarray(angle, dtype=np.float64))
    return np.stack([np.cos(a), np.sin(a)], axis=-1)


def decode_direction(vector) -> np.ndarray:
    """Directions in [0, 360) degrees of vectors (..., 2) (any length but zero)."""
    v = np.asarray(vector, dtype=np.float64)
    r = np.degrees(np.arctan2(v[..., 1], v[..., 0])) % 360.0
    return np.where(r >= 360.0, 0.0, r)


def theta_from_axis(axis) -> np.ndarray:
    """The rotation method's answer for an axis at ``axis`` degrees: the counter-clockwise turn in
    [0, 180) that makes it vertical (``-axis`` modulo 180)."""
    return _mod180(-np.asarray(axis, dtype=np.float64))


# --- what the network reads ----------------------------------------------------------------------


def network_view(gray: np.ndarray, size: int = 64) -> np.ndarray:
    """A crop as the network reads it: canonical gray (dark on white), cropped to the largest
    object of its outline mask with a 2-pixel margin (pieces of neighbours and loose margins go),
    padded with white to a square keeping the aspect, resized to ``size`` px (``tall_view`` in a
    square frame); uint8."""
    return tall_view(gray, size, size)


def turned_views(crops: Sequence[np.ndarray], index, angles, mirror, size: int = 64) -> np.ndarray:
    """Training inputs: p-up crop ``crops[i]`` (canonical gray), mirrored left-right where
    ``mirror`` (it stays p up), turned counter-clockwise by ``angles`` degrees on a canvas grown
    to fit and filled with the background (white), then ``network_view``; uint8 (N, size, size).
    Each one's axis is at its angle: the target is ``encode(angles)``."""
    out = np.empty((len(index), size, size), np.uint8)
    for k, (i, a, m) in enumerate(zip(index, angles, mirror)):
        g = crops[i][:, ::-1] if m else crops[i]
        out[k] = network_view(rotate_image(np.ascontiguousarray(g), float(a), fill=255), size)
    return out


def view_transforms(x: np.ndarray) -> list[np.ndarray]:
    """Four exact views of square images (N, S, S) for test-time averaging: as they are, mirrored
    left-right, turned a quarter counter-clockwise, and that mirrored. Their doubled-angle
    outputs map back to the original's with ``_VIEW_BACK``."""
    q = np.rot90(x, 1, axes=(-2, -1))
    return [x, x[..., ::-1], q, q[..., ::-1]]


def _view_back(z: np.ndarray, k: int) -> np.ndarray:
    """The doubled-angle vectors ``z`` (N, 2) read on view ``k`` of ``view_transforms`` as vectors
    of the original: a mirror turns axis ``a`` into ``-a`` (conjugate), a quarter turn into
    ``a + 90`` (negate)."""
    c, s = z[:, 0], z[:, 1]
    return np.stack([(c, s), (c, -s), (-c, -s), (-c, s)][k], axis=1)


# --- the network ----------------------------------------------------------------------------------


def axis_net(size: int = 64, channels: Sequence[int] = (16, 32, 64, 96), hidden: int = 64):
    """A plain CNN: one 3 x 3 convolution at full resolution, then for each further entry of
    ``channels`` two 3 x 3 convolutions (batch norm, ReLU), each stage halving the resolution with
    a max-pool; the last map (``size / 2**len(channels)`` px square) flattened into ``hidden``
    units and two outputs, the doubled angle (not normalised). Input (N, 1, size, size): darkness
    in [0, 1] (background 0). 0.31 M parameters with the defaults."""
    from torch import nn

    if size % 2 ** len(channels):
        raise ValueError(f"size {size} must be a multiple of {2 ** len(channels)} for {len(channels)} stages")

    def conv(cin: int, cout: int) -> list:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    layers, cin = conv(1, channels[0]) + [nn.MaxPool2d(2)], channels[0]
    for cout in channels[1:]:
        layers += conv(cin, cout) + conv(cout, cout) + [nn.MaxPool2d(2)]
        cin = cout
    side = size // 2 ** len(channels)
    layers += [nn.Flatten(), nn.Linear(cin * side * side, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 2)]
    return nn.Sequential(*layers)


def _as_input(x: np.ndarray):
    """uint8 (N, S, S) dark-on-white views -> float tensor (N, 1, S, S) of darkness in [0, 1]."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(x))
    return (1.0 - t.float().div_(255.0)).unsqueeze(1)


def axis_loss(output, target):
    """Mean ``1 - cos`` of the angle between the normalised outputs and the targets (N, 2): of the
    doubled angle error, 0 when right, 2 at 90 degrees off (of the direction error for a direction
    network: 2 at 180 degrees off)."""
    import torch.nn.functional as F

    return (1.0 - (F.normalize(output, dim=1) * target).sum(dim=1)).mean()


# --- the trained network as a rotation method ----------------------------------------------------


class AxisModel:
    """A trained axis network used like ``rotation.hull_angle``, but on the gray crop (no mask):
    ``angle(gray)`` is the counter-clockwise turn in [0, 180) that makes the chromosome vertical.
    ``tta``: average the doubled angle over the four exact views of ``view_transforms``."""

    def __init__(self, net, size: int = 64, channels: Sequence[int] = (16, 32, 64, 96), hidden: int = 64,
                 tta: bool = False, info: dict | None = None, full: bool = False):
        self.net, self.size, self.channels, self.hidden = net.eval(), int(size), tuple(channels), int(hidden)
        self.tta, self.info, self.full = bool(tta), dict(info or {}), bool(full)
        if self.full and self.tta:
            raise ValueError("the four-view average is for the doubled angle: a direction network reads one view")

    def vectors(self, views: np.ndarray) -> np.ndarray:
        """Unit doubled-angle vectors (N, 2) of uint8 network views (N, size, size)."""
        import torch

        transforms = view_transforms(views) if self.tta else [views]
        z = np.zeros((len(views), 2))
        with torch.inference_mode():
            for k, v in enumerate(transforms):
                out = self.net(_as_input(v)).double().numpy()
                out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
                z += _view_back(out, k)
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

    def axes(self, grays: Iterable[np.ndarray]) -> np.ndarray:
        """The long axis of every crop, degrees in [0, 180) (one batch)."""
        if self.full:
            return _mod180(self.directions(grays))
        views = np.stack([network_view(g, self.size) for g in grays])
        return decode(self.vectors(views))

    def directions(self, grays: Iterable[np.ndarray]) -> np.ndarray:
        """A direction network's (``full``) short-arm direction of every crop, degrees in [0, 360): the
        crop is its p-up chromosome turned counter-clockwise by that much."""
        if not self.full:
            raise ValueError("this network reads the axis only (modulo 180 degrees): train it with full=True")
        views = np.stack([network_view(g, self.size) for g in grays])
        return decode_direction(self.vectors(views))

    def angles(self, grays: Iterable[np.ndarray]) -> np.ndarray:
        """The rotation method's answer for every crop (one batch, e.g. a cell): degrees in [0, 180)."""
        return theta_from_axis(self.axes(grays))

    def angle(self, gray: np.ndarray) -> float:
        """The counter-clockwise turn in [0, 180) degrees that makes the chromosome in ``gray`` vertical."""
        return float(self.angles([gray])[0])

    def with_tta(self, tta: bool = True) -> "AxisModel":
        """The same network, with or without the four-view average."""
        return AxisModel(self.net, self.size, self.channels, self.hidden, tta, self.info, self.full)

    def parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def save(self, path: str | Path) -> Path:
        """Weights and what rebuilds the network, in one torch file."""
        import torch

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": self.net.state_dict(), "size": self.size, "channels": list(self.channels),
                    "hidden": self.hidden, "tta": self.tta, "info": json.dumps(self.info), "full": self.full}, path)
        return path

    @classmethod
    def load(cls, path: str | Path, tta: bool | None = None) -> "AxisModel":
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)
        net = axis_net(state["size"], state["channels"], state["hidden"])
        net.load_state_dict(state["model"])
        return cls(net, state["size"], state["channels"], state["hidden"],
                   state["tta"] if tta is None else tta, json.loads(state["info"]), bool(state.get("full", False)))


# --- training ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AxisConfig:
    """How ``train_axis`` trains. ``minutes``: wall-clock budget of the loop (data making
    included); ``max_steps``: stop after this many steps (None: time only); the learning rate
    warms up over ``warmup`` steps, then follows a cosine to zero over the budget (the larger of
    the time and step fractions), so a run ends annealed whichever limit it meets first."""
    minutes: float = 12.0
    max_steps: int | None = None
    size: int = 64
    channels: tuple = (16, 32, 64, 96)
    hidden: int = 64
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup: int = 50
    mirror: bool = True
    full: bool = False  # the short arm's direction over 360 degrees (axis and polarity), not the axis
    seed: int = 0
    log_every: int = 50

    def with_(self, **kw) -> "AxisConfig":
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


def _lr(cfg: "AxisConfig | ResidualConfig", step: int, seconds: float) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = seconds / (60.0 * cfg.minutes) if cfg.minutes and cfg.minutes > 0 else 0.0
    if cfg.max_steps:
        frac = max(frac, step / cfg.max_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(max(frac, 0.0), 1.0)))


def _start(crops, config):
    """What ``train_axis`` and ``train_residual`` do first: refuse no crops or no budget, make the
    crops canonical gray, seed torch and numpy from ``config.seed``; the crops and the numpy generator."""
    import torch

    if not len(crops):
        raise ValueError("no crops to train on")
    if not config.minutes and not config.max_steps:
        raise ValueError("give a budget: minutes > 0 or max_steps")
    crops = [np.ascontiguousarray(canonical_gray(c)) for c in crops]
    torch.manual_seed(config.seed)
    return crops, np.random.default_rng(config.seed)


def _fit(net, opt, config, batch_loss, desc: str, progress: bool) -> tuple[pd.DataFrame, int, float]:
    """The loop ``train_axis`` and ``train_residual`` share: until ``config.minutes`` of wall-clock
    time or ``config.max_steps`` steps, set the learning rate (``_lr``: warm-up, then a cosine over
    the budget), take ``batch_loss()`` (a fresh random batch's loss) and step; every
    ``config.log_every`` steps a history row (step, seconds, lr, mean loss since the last row).
    Returns the history, the steps taken and the seconds spent."""
    budget = 60.0 * config.minutes if config.minutes else math.inf
    by_time = bool(config.minutes)  # the bar counts seconds of the budget, else steps
    bar = progress_bar(total=round(budget) if by_time else config.max_steps, enabled=progress, desc=desc,
                       unit="s" if by_time else "step")
    history, losses, step, t0 = [], [], 0, time.perf_counter()
    net.train()
    while True:
        spent = time.perf_counter() - t0
        if spent >= budget or (config.max_steps is not None and step >= config.max_steps):
            break
        lr = _lr(config, step, spent)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = batch_loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        spent = time.perf_counter() - t0
        if step % config.log_every == 0:
            history.append({"step": step, "seconds": round(spent, 1), "lr": lr, "loss": float(np.mean(losses))})
            bar.set_postfix(step=step, loss=f"{history[-1]['loss']:.4f}")
            losses = []
        bar.update(min(round(spent), bar.total) - bar.n if by_time else 1)
    bar.close()
    if losses:
        history.append({"step": step, "seconds": round(time.perf_counter() - t0, 1), "lr": lr,
                        "loss": float(np.mean(losses))})
    return pd.DataFrame(history, columns=["step", "seconds", "lr", "loss"]), step, time.perf_counter() - t0


def train_axis(crops: Sequence[np.ndarray], config: AxisConfig = AxisConfig(), progress: bool = True,
               ) -> tuple[AxisModel, pd.DataFrame]:
    """Train ``axis_net`` on p-up crops (canonical gray uint8, kept as they are in memory), each
    batch turned by fresh random angles in [0, 360) (``turned_views``: the angle is the target),
    until ``config.minutes`` of wall-clock time or ``config.max_steps`` steps. Returns the model
    and the history (step, seconds, lr, mean loss since the last row). The data order and angles
    come from ``config.seed``; where the time budget stops a run depends on the machine."""
    import torch

    crops, rng = _start(crops, config)
    net = axis_net(config.size, config.channels, config.hidden)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def batch_loss():
        index = rng.integers(0, len(crops), config.batch_size)
        angles = rng.uniform(0.0, 360.0, config.batch_size)
        mirror = rng.random(config.batch_size) < 0.5 if config.mirror else np.zeros(config.batch_size, bool)
        x = _as_input(turned_views(crops, index, angles, mirror, config.size))
        target = encode_direction(angles) if config.full else encode(angles)
        return axis_loss(net(x), torch.from_numpy(target).float())

    history, step, seconds = _fit(net, opt, config, batch_loss, "train axis", progress)
    info = {**asdict(config), "steps": step, "train_seconds": round(seconds, 1),
            "n_crops": len(crops), "threads": torch.get_num_threads(), "torch": torch.__version__}
    model = AxisModel(net, config.size, config.channels, config.hidden, info=info, full=config.full)
    model.info["parameters"] = model.parameters()
    return model, history


# --- the data: Pki-3's training side ------------------------------------------------------------


def polarity_split(root: str | Path, seed: int = 0, max_cells: int | None = None,
                   progress: bool = False) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """The split of the shipped polarity model over a karyogram set of p-up crops (Pki-3), and
    every crop (canonical gray uint8, in row order, read once).

    The data set is rebuilt as chromolib 0.1 built it: every crop turned by its seeded angle
    (``KaryogramSpecimens(root, seed)``), labelled up/down after the hull's rotation on Otsu's
    mask; then ``polarity_set.split_by_cell`` (7:3 by case, seed ``seed``). The same as
    ``held_out_cells`` of ``benchmarks/rotation.py``. Returns ``labels.csv`` with ``label`` and
    ``split`` ("train"/"test") columns, and the crops."""
    from .polarity_set import polarity_label, split_by_cell
    from .specimens import KaryogramSpecimens

    specimens = KaryogramSpecimens(root, seed=seed, max_cells=max_cells)
    df = specimens.labels.copy()
    df["cell"] = df["cell"].astype(str)
    crops, labels = [], []
    rows = zip(df.file, specimens.angles)
    for file, angle in progress_bar(rows, progress, total=len(df), desc="split"):
        gray = canonical_gray(read_image(Path(root) / file))
        turned = rotate_to_angle(gray, float(angle), threshold="otsu")
        mask, _ = largest_component(foreground_mask(turned, "white", "otsu"))
        labels.append(polarity_label(float(angle), hull_angle(mask)))
        crops.append(gray)
    df["label"] = labels
    df["split"] = split_by_cell(df, seed=seed).to_numpy()
    return df, crops


def training_crops(labels: pd.DataFrame, crops: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The crops of the rows on the training side (``split == "train"``) of ``polarity_split``."""
    return [crops[i] for i in np.flatnonzero(labels["split"].to_numpy() == "train")]


# --- a learned correction after the hull: the residual tilt --------------------------------------
#
# The square network above must find the axis at any angle from 64 px. The residual network only
# reads what the hull left: the crop already turned to (nearly) vertical, in the polarity network's
# tall frame, where the bands have three times the pixels; it regresses the remaining tilt in
# degrees, and starts from the shipped polarity network (which already reads chromosomes in that
# frame). The method: turn by the hull's angle, read the tilt ``e`` of the result, turn by
# ``hull - e`` instead.


def tall_view(gray: np.ndarray, height: int = 96, width: int = 32) -> np.ndarray:
    """A (nearly) vertical crop as the residual network reads it: canonical gray, cropped to the
    largest object of its outline mask (2 px margin), fitted into ``height x width`` keeping its
    shape (``preprocess.fit_resize``); uint8."""
    g = canonical_gray(gray)
    mask, _ = largest_component(foreground_mask(g, "white"))
    if mask.any():
        g = crop_to_foreground(g, mask, margin=2, fill=255)
    return fit_resize(g, height, width)


def tilted_views(crops: Sequence[np.ndarray], index, tilts, mirror, upside_down, height: int = 96,
                 width: int = 32) -> np.ndarray:
    """Training inputs of the residual network: p-up crop ``crops[i]`` mirrored and/or turned
    upside down (neither changes where its axis points), then turned counter-clockwise by
    ``tilts`` degrees (white fill) and ``tall_view``; the target is the tilt."""
    out = np.empty((len(index), height, width), np.uint8)
    for k, (i, t, m, u) in enumerate(zip(index, tilts, mirror, upside_down)):
        g = crops[i][::-1 if u else 1, ::-1 if m else 1]
        out[k] = tall_view(rotate_image(np.ascontiguousarray(g), float(t), fill=255), height, width)
    return out


def _tall_input(views: np.ndarray, mean: float, std: float):
    """uint8 (N, H, W) dark-on-white views -> the polarity network's input (N, 3, H, W)."""
    import torch

    x = (torch.from_numpy(np.ascontiguousarray(views)).float().div_(255.0) - mean) / std
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


#: degrees per unit of the residual network's output (the regression target is tilt / SCALE)
TILT_SCALE = 10.0


class ResidualAxis:
    """The hull on the outline mask, corrected by a network that reads the tilt the hull left.

    ``angles(grays)`` (one batch, e.g. a cell) returns for every crop the counter-clockwise turn
    in [0, 180) that makes it vertical, like every rotation method. ``tta``: the tilt averaged over
    the view, its mirror image and both upside down (a mirror image's tilt is the opposite, an
    upside-down one's the same turned by 180: the opposite too, and the view turned half a turn
    keeps it)."""

    def __init__(self, net, mean: float, std: float, height: int = 96, width: int = 32, tta: bool = False,
                 info: dict | None = None):
        self.net, self.mean, self.std = net.eval(), float(mean), float(std)
        self.height, self.width, self.tta, self.info = int(height), int(width), bool(tta), dict(info or {})

    def tilts(self, views: np.ndarray) -> np.ndarray:
        """The tilt (degrees, counter-clockwise) of every tall view (N, H, W)."""
        import torch

        if not len(views):
            return np.zeros(0)
        x = _tall_input(views, self.mean, self.std)
        with torch.inference_mode():
            t = self.net(x)[:, 0].double()
            if self.tta:
                t = (t - self.net(x.flip(-1))[:, 0] - self.net(x.flip(-2))[:, 0]
                     + self.net(x.flip(-1).flip(-2))[:, 0]) / 4
        return TILT_SCALE * t.numpy()

    def angles(self, grays: Iterable[np.ndarray]) -> np.ndarray:
        """The rotation method's answer for every crop: degrees in [0, 180)."""
        grays = [canonical_gray(g) for g in grays]
        hull, views = [], []
        for g in grays:
            mask, _ = largest_component(foreground_mask(g, "white"))
            a = hull_angle(mask) if mask.any() else 0.0
            hull.append(a)
            views.append(tall_view(rotate_image(g, a, fill=255), self.height, self.width))
        if not grays:
            return np.zeros(0)
        return _mod180(np.asarray(hull) - self.tilts(np.stack(views)))

    def angle(self, gray: np.ndarray) -> float:
        return float(self.angles([gray])[0])

    def with_tta(self, tta: bool = True) -> "ResidualAxis":
        return ResidualAxis(self.net, self.mean, self.std, self.height, self.width, tta, self.info)

    def save(self, path: str | Path) -> Path:
        import torch

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": self.net.state_dict(), "mean": self.mean, "std": self.std, "height": self.height,
                    "width": self.width, "tta": self.tta, "info": json.dumps(self.info)}, path)
        return path

    @classmethod
    def load(cls, path: str | Path, tta: bool | None = None) -> "ResidualAxis":
        import torch
        from .model import basic_resnet

        state = torch.load(path, map_location="cpu", weights_only=True)
        net = basic_resnet("resnet18", 1)
        net.load_state_dict(state["model"])
        return cls(net, state["mean"], state["std"], state["height"], state["width"],
                   state["tta"] if tta is None else tta, json.loads(state["info"]))


@dataclass(frozen=True)
class ResidualConfig:
    """How ``train_residual`` trains: tilts drawn half from N(0, ``near``) and half uniform in
    +-``far`` degrees (the hull's errors: most within a few degrees, bent chromosomes far out);
    AdamW, warm-up then a cosine to zero over the budget (``_lr``, as ``train_axis``)."""
    minutes: float = 12.0
    max_steps: int | None = None
    height: int = 96
    width: int = 32
    near: float = 3.0
    far: float = 30.0
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 50
    seed: int = 0
    log_every: int = 50


def train_residual(crops: Sequence[np.ndarray], config: ResidualConfig = ResidualConfig(), init=None,
                   progress: bool = True) -> tuple[ResidualAxis, pd.DataFrame]:
    """Train the residual network on p-up crops (training cases only): each batch mirrored, turned
    upside down and tilted at random (``tilted_views``), smooth-L1 loss on tilt / ``TILT_SCALE``
    (within 1 degree: quadratic). ``init``: a ``TrainedModel`` (the shipped polarity model) whose
    ResNet18 backbone and input normalisation to start from; None: from scratch, normalisation
    from the crops. Returns the model and the history (step, seconds, lr, loss)."""
    import torch
    from .model import basic_resnet

    crops, rng = _start(crops, config)
    net = basic_resnet("resnet18", 1)
    if init is not None:
        state = {k: v for k, v in init.model.state_dict().items() if not k.startswith("fc.")}
        net.load_state_dict(state, strict=False)
        mean, std = float(init.mean), float(init.std)
    else:
        sample = tilted_views(crops, range(min(len(crops), 256)), np.zeros(256), np.zeros(256, bool),
                              np.zeros(256, bool), config.height, config.width) / 255.0
        mean, std = float(sample.mean()), float(sample.std())
    with torch.no_grad():  # start at "no tilt"
        net.fc.weight.zero_()
        net.fc.bias.zero_()
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = torch.nn.SmoothL1Loss(beta=1.0 / TILT_SCALE)
    b = config.batch_size

    def batch_loss():
        index = rng.integers(0, len(crops), b)
        near = rng.random(b) < 0.5
        tilts = np.where(near, rng.normal(0.0, config.near, b), rng.uniform(-config.far, config.far, b))
        views = tilted_views(crops, index, tilts, rng.random(b) < 0.5, rng.random(b) < 0.5, config.height,
                             config.width)
        out = net(_tall_input(views, mean, std))[:, 0]
        return loss_fn(out, torch.from_numpy(tilts / TILT_SCALE).float())

    history, step, seconds = _fit(net, opt, config, batch_loss, "train residual", progress)
    info = {**asdict(config), "steps": step, "train_seconds": round(seconds, 1),
            "n_crops": len(crops), "init": "shipped polarity network" if init is not None else "scratch",
            "threads": torch.get_num_threads(), "torch": torch.__version__}
    return ResidualAxis(net, mean, std, config.height, config.width, info=info), history
