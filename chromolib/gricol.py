"""GRiCoL, grid reconstruction learning (METHOD.md section 7), as a training objective for type.

The published model: the input (448 x 456) is cut into a 3 x 3 grid of overlapping tiles of half
its height and width (cuts at a quarter and a half of each side); one shared backbone encodes the
nine tiles and a down-sampled whole image. Each tile feature :math:`y_k` is gated,
:math:`v_k = \\sigma(w_k y_k + b_k) \\odot y_k`, and fused with its predecessor in the grid,
:math:`Y_k = W'_k (y_k + v_{k-1}) + b'_k`; the gated features are max-pooled into a global
:math:`Y_0`. Eleven linear classifiers (:math:`Y_0 \\dots Y_9` and the whole image) each get a
cross-entropy loss; tile :math:`k`'s is weighted :math:`\\min(1, e^{e - \\lambda} + k \\beta)` in
epoch :math:`e` (:math:`Y_0` with 10 for :math:`k`), :math:`\\beta = 0.1`, :math:`\\lambda = 150`.
At inference only the whole-image branch runs.

Scaled to a 2-core CPU (``TrainConfig(objective="gricol")``):

- the backbone is the run's own network (ResNet18), the whole image its own frame (96 x 40 for
  type), and the tiles are cut from that frame (48 x 20 each), not from an image at twice its
  resolution: one step costs about 3.25 plain steps instead of 10;
- :math:`\\lambda` is scaled with the schedule, ``RAMP_AT`` of the epochs (150 of GRiCoL's 200);
- the optimiser and schedule stay the run's (SGD, steps at 60 % and 90 %), so that GRiCoL differs
  from the plain run in its objective only.

Because only the whole-image branch runs at inference, the network ``train`` saves and every
later step loads is the plain backbone with its head: the gates, fusions and tile heads exist
during training only.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .model import resnet_features

__all__ = ["GRID", "BETA", "RAMP_AT", "tiles", "GridReconstruction", "branch_weights", "GridLoss"]

GRID = 3
BETA = 0.1
#: lambda as a share of the epochs (GRiCoL: 150 of 200)
RAMP_AT = 0.75


def tiles(x: torch.Tensor, grid: int = GRID) -> torch.Tensor:
    """(N, C, H, W) -> (grid * grid, N, C, H // 2, W // 2): overlapping tiles of half the height
    and width, row-major, starting at 0, a quarter and a half of each side (GRiCoL's cuts)."""
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    rows = [round(i * (x.shape[-2] - h) / (grid - 1)) for i in range(grid)]
    cols = [round(j * (x.shape[-1] - w) / (grid - 1)) for j in range(grid)]
    return torch.stack([x[..., r:r + h, c:c + w] for r in rows for c in cols])


class GridReconstruction(nn.Module):
    """The training-time wrapper of a torchvision ResNet ``net`` (whose ``fc`` is the whole-image
    classifier). In training mode ``forward`` returns ``(whole, branches)``: the whole image's
    logits and the ten branch logits (Y_0, Y_1..Y_9) stacked as (10, N, classes); in eval mode the
    whole image's logits only, exactly ``net(x)``."""

    def __init__(self, net: nn.Module, grid: int = GRID):
        super().__init__()
        self.net, self.grid = net, grid
        c, classes = net.fc.in_features, net.fc.out_features
        k = grid * grid
        self.gates = nn.ModuleList(nn.Linear(c, c) for _ in range(k))
        self.fusions = nn.ModuleList(nn.Linear(c, c) for _ in range(k))
        self.heads = nn.ModuleList(nn.Linear(c, classes) for _ in range(k + 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return resnet_features(self.net, x)

    def forward(self, x: torch.Tensor):
        if not self.training:
            return self.net(x)
        n = len(x)
        whole = self.features(x)
        t = tiles(x, self.grid)
        y = self.features(t.reshape(-1, *t.shape[2:])).view(len(t), n, -1)  # one pass for the nine tiles
        v = torch.stack([torch.sigmoid(g(y[k])) * y[k] for k, g in enumerate(self.gates)])
        prev = torch.cat([torch.zeros_like(v[:1]), v[:-1]])
        fused = [f(y[k] + prev[k]) for k, f in enumerate(self.fusions)]
        global_ = v.amax(0)
        branches = torch.stack([self.heads[0](global_)] + [h(f) for h, f in zip(self.heads[1:], fused)])
        return self.net.fc(whole), branches


def branch_weights(epoch: int, epochs: int, k: int = GRID * GRID, beta: float = BETA,
                   ramp_at: float = RAMP_AT) -> torch.Tensor:
    """The weights of Y_0, Y_1..Y_k in epoch ``epoch`` (0-based): min(1, exp(e - lambda) + w beta),
    w = k + 1 for Y_0 and w = 1..k for the tiles, lambda = ``ramp_at`` * ``epochs``."""
    ramp = math.exp(min(epoch - ramp_at * epochs, 50.0))
    w = torch.tensor([k + 1.0] + [float(i) for i in range(1, k + 1)])
    return torch.clamp(ramp + w * beta, max=1.0)


class GridLoss:
    """Cross-entropy of the whole image plus the weighted branch losses; ``epoch`` is set by the
    training loop. Called on ``(whole, branches)`` in training, on plain logits elsewhere."""

    def __init__(self, epochs: int):
        self.epochs, self.epoch = epochs, 0
        self.ce = nn.CrossEntropyLoss()

    def __call__(self, out, y: torch.Tensor) -> torch.Tensor:
        if torch.is_tensor(out):
            return self.ce(out.float(), y)
        whole, branches = out
        w = branch_weights(self.epoch, self.epochs).to(whole.device)
        return self.ce(whole.float(), y) + sum(wk * self.ce(b.float(), y) for wk, b in zip(w, branches))
