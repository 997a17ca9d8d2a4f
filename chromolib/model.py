"""The polarity classifier: a torchvision backbone with a 2-way head (formula III).

ResNet101 is the method's backbone; any torchvision classification model can be named.
Pretrained ImageNet weights cannot be downloaded offline, so ``weights`` defaults to ``None``
(random initialisation). Give a torchvision weights name (``"IMAGENET1K_V2"``, needs network
or a filled torch hub cache) or the path of a local ``.pth`` state dict.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torchvision
from torch import nn

__all__ = ["build_model", "replace_head"]


def replace_head(model: nn.Module, num_classes: int = 2) -> nn.Module:
    """Replace the last fully connected layer by ``in_features x num_classes`` (2048 x 2 for ResNet101)."""
    for attr in ("fc", "classifier", "head", "heads"):
        layer = getattr(model, attr, None)
        if layer is None:
            continue
        if isinstance(layer, nn.Linear):
            setattr(model, attr, nn.Linear(layer.in_features, num_classes))
            return model
        if isinstance(layer, nn.Sequential):
            for i in range(len(layer) - 1, -1, -1):
                if isinstance(layer[i], nn.Linear):
                    layer[i] = nn.Linear(layer[i].in_features, num_classes)
                    return model
    raise ValueError(f"do not know where the classification layer of {type(model).__name__} is")


def build_model(arch: str = "resnet101", weights: str | None = None, num_classes: int = 2) -> nn.Module:
    """A torchvision classifier by name with a ``num_classes`` head.

    ``weights``: ``None``/``""`` -> random initialisation; an existing file -> a state dict
    (of the backbone with its original head, or of this model with the new head); anything
    else -> a torchvision weights name such as ``"IMAGENET1K_V2"`` (downloaded by torchvision).
    """
    if arch not in torchvision.models.list_models(module=torchvision.models):
        raise ValueError(f"unknown torchvision classification model {arch!r}")
    if not weights:
        model = torchvision.models.get_model(arch, weights=None)
        return replace_head(model, num_classes)
    path = Path(weights)
    if path.suffix in (".pth", ".pt") or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"weights file {path} not found; pass weights=None to start from random")
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("model", state)
        model = torchvision.models.get_model(arch, weights=None)
        try:  # a backbone checkpoint with its ImageNet head
            model.load_state_dict(state)
            return replace_head(model, num_classes)
        except RuntimeError:
            model = replace_head(model, num_classes)
            model.load_state_dict(state)
            return model
    try:
        model = torchvision.models.get_model(arch, weights=weights)
    except Exception as exc:  # offline: say so and fall back to random initialisation
        warnings.warn(f"could not load torchvision weights {weights!r} for {arch} ({exc}); "
                      f"starting from random initialisation", stacklevel=2)
        model = torchvision.models.get_model(arch, weights=None)
    return replace_head(model, num_classes)
