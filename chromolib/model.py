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
from torch import nn

__all__ = ["build_model", "replace_head", "BASIC_RESNETS", "basic_resnet", "resnet_features"]

#: torchvision's ResNets of basic blocks: blocks per stage
BASIC_RESNETS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


def _head(model: nn.Module) -> tuple[nn.Module, str, nn.Linear]:
    """The last fully connected layer: its parent module, its name there, the layer."""
    for attr in ("fc", "classifier", "head", "heads"):
        layer = getattr(model, attr, None)
        if isinstance(layer, nn.Linear):
            return model, attr, layer
        if isinstance(layer, nn.Sequential):
            for i in range(len(layer) - 1, -1, -1):
                if isinstance(layer[i], nn.Linear):
                    return layer, str(i), layer[i]
    raise ValueError(f"do not know where the classification layer of {type(model).__name__} is")


def replace_head(model: nn.Module, num_classes: int = 2) -> nn.Module:
    """Replace the last fully connected layer by ``in_features x num_classes`` (2048 x 2 for ResNet101)."""
    parent, name, layer = _head(model)
    setattr(parent, name, nn.Linear(layer.in_features, num_classes))
    return model


def build_model(arch: str = "resnet101", weights: str | None = None, num_classes: int = 2) -> nn.Module:
    """A torchvision classifier by name with a ``num_classes`` head.

    ``weights``: ``None``/``""`` -> random initialisation; an existing file -> a state dict
    (of the backbone with its original head, or of this model with the new head); anything
    else -> a torchvision weights name such as ``"IMAGENET1K_V2"`` (downloaded by torchvision).
    """
    import torchvision  # here, not at the top: importing it costs about a second of start-up

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
        model = replace_head(torchvision.models.get_model(arch, weights=None), num_classes)
        head = {n for n, p in model.named_parameters() if any(p is q for q in _head(model)[2].parameters())}
        own = model.state_dict()
        # the head of another task (ImageNet's 1000 classes, type's 24 for polarity's 2) starts afresh
        other_head = {k for k in head if k in state and state[k].shape != own[k].shape}
        model.load_state_dict({k: v for k, v in state.items() if k not in other_head} | {k: own[k] for k in other_head})
        return model
    try:
        model = torchvision.models.get_model(arch, weights=weights)
    except Exception as exc:  # offline: say so and fall back to random initialisation
        warnings.warn(f"could not load torchvision weights {weights!r} for {arch} ({exc}); "
                      f"starting from random initialisation", stacklevel=2)
        model = torchvision.models.get_model(arch, weights=None)
    return replace_head(model, num_classes)


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class _BasicResNet(nn.Module):
    def __init__(self, blocks: tuple[int, ...], num_classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (n, cout) in enumerate(zip(blocks, (64, 128, 256, 512))):
            stride = 1 if i == 0 else 2
            layer = [_BasicBlock(cin, cout, stride)] + [_BasicBlock(cout, cout, 1) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
            cin = cout
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def basic_resnet(arch: str, num_classes: int = 2) -> nn.Module:
    """torchvision's ``resnet18``/``resnet34`` layout (same state-dict keys, same outputs), built
    without importing torchvision: ``chromolib orient`` loads the shipped model about a second
    sooner. Untrained (load a state dict); training uses ``build_model``."""
    if arch not in BASIC_RESNETS:
        raise ValueError(f"basic_resnet builds {', '.join(BASIC_RESNETS)}, not {arch!r}")
    return _BasicResNet(BASIC_RESNETS[arch], num_classes)


def resnet_features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A torchvision ResNet's pooled features (N, fc.in_features): everything but its ``fc``. What
    the training-time wrappers with heads of their own read (GRiCoL's branches, the type head of
    the objective ``type-aux``)."""
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    x = net.layer4(net.layer3(net.layer2(net.layer1(x))))
    return torch.flatten(net.avgpool(x), 1)
