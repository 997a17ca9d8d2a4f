"""Where the polarity network looks: occlusion sensitivity (Zeiler and Fergus 2014).

A white patch (the background) is slid over the chromosome; where covering it lowers the
probability of the right answer most, the network relied on what was there. Model-agnostic,
no gradients: it asks the network the question it answers, with a piece of the image missing.
"""
from __future__ import annotations

import numpy as np

__all__ = ["occlusion"]


def occlusion(trained, images: np.ndarray, labels, patch: int = 8, stride: int = 4) -> np.ndarray:
    """Sensitivity maps (N, H, W) for uint8 network inputs ``images`` (N, H, W, dark on white):
    at each pixel, the mean drop of P(true label) over the patches that covered it (a
    ``runs.TrainedModel``, or anything with ``tensors`` and ``predict``). Positive: the
    network needed that part to be right."""
    images = np.asarray(images)
    n, h, w = images.shape
    ys = list(range(0, max(h - patch, 0) + 1, stride))
    xs = list(range(0, max(w - patch, 0) + 1, stride))
    maps = np.zeros((n, h, w))
    for i, (img, label) in enumerate(zip(images, labels)):
        batch = np.repeat(img[None], len(ys) * len(xs) + 1, axis=0)
        for k, (y, x) in enumerate((y, x) for y in ys for x in xs):
            batch[k + 1, y:y + patch, x:x + patch] = 255
        p = trained.predict(trained.tensors(batch))[:, int(label)]
        total, count = np.zeros((h, w)), np.zeros((h, w))
        for k, (y, x) in enumerate((y, x) for y in ys for x in xs):
            total[y:y + patch, x:x + patch] += p[0] - p[k + 1]
            count[y:y + patch, x:x + patch] += 1
        maps[i] = total / np.maximum(count, 1)
    return maps
