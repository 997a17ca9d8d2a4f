"""Augmentation on whole batches on the device, and fixed "another laboratory" shifts of a test set.

``PolarityTensors`` (``polarity_set.py``) applies the method's flip and, with ``augment="robust"``,
``robust_augment``; ``SHIFTS`` are the deterministic changes the lab-shift evaluation applies.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

__all__ = ["AUGMENTATIONS", "to_device", "tilt_batch", "robust_augment", "SHIFTS"]

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


def tilt_batch(x: torch.Tensor, max_degrees: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rotate each image of a batch (N, H, W) in [0, 1], dark on white, by its own random angle
    in [-max_degrees, max_degrees] about the centre (white where it uncovers). Non-square
    images rotate in pixel space (the normalised grid is corrected for the aspect ratio)."""
    n, h, w = x.shape
    a = torch.deg2rad((torch.rand(n, generator=generator) * 2 - 1) * max_degrees)
    cos, sin, zero = torch.cos(a), torch.sin(a), torch.zeros(n)
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], 1), torch.stack([sin * w / h, cos, zero], 1)], 1)
    grid = torch.nn.functional.affine_grid(to_device(theta, x.device), (n, 1, h, w), align_corners=False)
    return 1 - torch.nn.functional.grid_sample(1 - x[:, None], grid, align_corners=False, padding_mode="zeros")[:, 0]


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
