"""Training the polarity classifier (formulas IV and V, the book's introduction).

Cross-entropy on the softmax of two outputs, SGD with momentum 0.9 and weight decay 5e-4,
learning rate 0.01 divided by 10 at 60 % and 90 % of the epochs (epochs 60 and 90 of 100),
batch 32. Every epoch's data order and flips come from a generator seeded by
``(seed, epoch)``, and a checkpoint is written after every epoch, so a killed run resumed
with ``resume=True`` continues exactly where it stopped.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from .progress import progress_bar, tqdm

from .gricol import GridLoss, GridReconstruction
from .model import resnet_features
from .torchfree import TTA_CHOICES, TTA_SWAP, TTA_VIEWS  # one home: the numpy path reads the same views
from .polarity_set import PolarityTensors
from .repro import device as pick_device

__all__ = ["TrainConfig", "PROFILES", "TARGETS", "SCALES", "OBJECTIVES", "TypeAuxiliary", "num_classes", "COMPILE_MODES", "lr_milestones", "config_table", "make_optimizer", "autocast", "logits",
           "memory_format", "prepare_for_device", "train_step", "train", "predict"]

#: ``TrainConfig.target``: what the network tells, and how many classes that is
TARGETS = {"polarity": 2, "type": 24}
#: ``TrainConfig.scale``: how a crop is put into the input frame (``polarity_set.network_input``)
SCALES = ("fit", "cell")
#: training objectives: plain cross-entropy, with GRiCoL's grid reconstruction (gricol.py), or (polarity)
#: with the chromosome's type as an auxiliary target (``TypeAuxiliary``)
OBJECTIVES = ("plain", "gricol", "type-aux")

#: ``TrainConfig.compile``: off, or a ``torch.compile`` mode ("reduce-overhead" adds CUDA graphs).
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; the defaults are the method's (the ``paper`` profile)."""
    arch: str = "resnet101"
    weights: str | None = None
    image_size: int = 224
    epochs: int = 100
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: tuple[float, ...] = (0.6, 0.9)
    gamma: float = 0.1
    augment: str = "flip"   # flip (the method) | robust (other laboratories) | none
    width: int = 0           # input width in px; 0: square (image_size x image_size), as in the method
    tilt: float = 0.0        # training images tilted at random by up to this many degrees either way
    tta: bool | str = False  # True: the image and its mirror image, logits averaged; "hv": the four flips (type);
    #                          "turn": the four flips, upside-down ones read with down and up swapped (polarity)
    turn: bool = False       # polarity: training images turned upside down at random, their label swapped
    validation: float = 0.0  # share of the training cases kept aside to fit the temperature (calibration)
    target: str = "polarity"  # polarity (2 classes: down, up) | type (24 classes, karyotype.TYPES)
    scale: str = "fit"       # fit: each crop fills the frame | cell: one scale per cell, so lengths compare (type)
    objective: str = "plain"  # plain: cross-entropy | gricol: + GRiCoL's grid reconstruction branches (gricol.py)
    #                           | type-aux: polarity, + the 24 types from a second head in training only
    aux_weight: float = 0.5  # type-aux: the weight of the type loss against the polarity loss
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU | fp32 | bf16
    layout: str = "auto"     # auto: channels-last on CUDA, contiguous on CPU | channels_last | contiguous
    compile: str = "none"    # none | a torch.compile mode (GPU: measure with `chromolib bench`)

    def with_(self, **changes) -> "TrainConfig":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


PROFILES = {
    # the method as published: ResNet101, 224 px, batch 32, 100 epochs, lr /10 at 60 and 90
    "paper": TrainConfig(),
    # minutes on a laptop CPU: a small ResNet at 64 px, same optimiser and schedule shape
    "quick": TrainConfig(arch="resnet18", image_size=64, epochs=8),
    # quick, made robust to other laboratories' resolution, blur, contrast and gamma
    "robust": TrainConfig(arch="resnet18", image_size=64, epochs=8, augment="robust"),
    # beyond the patent on a 2-core CPU, chosen lever by lever (benchmarks/polarity_levers.py):
    # a tall frame that keeps the chromosome's shape, tilts like the rotation step's errors, a
    # longer schedule, a temperature fitted on a tenth of the training cases, every image also
    # upside down with the other label, in training and at test time (results/pki3-cpu-notype against
    # results/pki3-cpu-noturn: 98.84 % against 98.50 %, McNemar 45 vs 17), and the chromosome's type
    # as an auxiliary target (results/pki3-cpu against results/pki3-cpu-notype: 99.03 % against
    # 98.84 %, McNemar 40 vs 24); at test time the image and it upside down (chosen over the four
    # flips on the kept-aside cells: results/orient/tta_views.txt, half the time)
    "cpu": TrainConfig(arch="resnet18", image_size=96, width=32, epochs=20, tilt=12.0, tta="vturn", turn=True,
                       validation=0.1, objective="type-aux"),
    # chromosome type (24 classes) on a 2-core CPU: the cpu profile's network, a frame a little wider
    # for bent chromosomes, one scale per cell (length is what tells 1 from 3 or 21 from 19), flips
    # both ways in training (type does not depend on polarity) and, at test time, the image and it
    # upside down (as good as the four flips on the kept-aside cells, half the time)
    "type": TrainConfig(arch="resnet18", image_size=96, width=40, epochs=12, tilt=6.0, tta="v", validation=0.1,
                        target="type", scale="cell"),
    # seconds: for tests
    "tiny": TrainConfig(arch="resnet18", image_size=32, epochs=1, batch_size=16),
}


def num_classes(config) -> int:
    """Outputs of the network a configuration (``TrainConfig`` or its dict) trains: 2 for polarity, 24 for type."""
    target = config.get("target", "polarity") if isinstance(config, dict) else config.target
    if target not in TARGETS:
        raise ValueError(f"target must be one of {tuple(TARGETS)}, not {target!r}")
    return TARGETS[target]


def lr_milestones(epochs: int, fractions=(0.6, 0.9)) -> list[int]:
    """Epochs after which the learning rate drops: [60, 90] for 100 epochs."""
    return sorted({max(1, int(round(f * epochs))) for f in fractions if round(f * epochs) < epochs})


def config_table(cfg: TrainConfig, model: nn.Module) -> pd.DataFrame:
    """The run's configuration for a reader: one row per setting, its value as text."""
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    rows = {
        "network": f"{cfg.arch}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters",
        "last layer": f"{head.in_features} x {head.out_features} fully connected",
        "initial weights": cfg.weights or "random",
        "target": f"{cfg.target} ({num_classes(cfg)} classes)" + {"gricol": ", GRiCoL grid reconstruction",
                                                                    "type-aux": f", type as auxiliary target (weight {cfg.aux_weight:g})"}.get(
            cfg.objective, ""),
        "input": f"{cfg.image_size} x {cfg.width or cfg.image_size} px, scale {cfg.scale}",
        "epochs, batch": f"{cfg.epochs}, {cfg.batch_size}",
        "optimiser": f"SGD, momentum {cfg.momentum}, weight decay {cfg.weight_decay:g}",
        "learning rate": f"{cfg.lr:g}, x{cfg.gamma:g} after epochs "
                         f"{', '.join(map(str, lr_milestones(cfg.epochs, cfg.milestones))) or '(none)'}",
        "augmentation": cfg.augment,
        "precision, layout, compile": f"{cfg.precision}, {cfg.layout}, {cfg.compile}",
        "seed, device": f"{cfg.seed}, {cfg.device}",
    }
    return pd.DataFrame({"value": rows}).rename_axis("setting")


def make_optimizer(model: nn.Module, cfg: TrainConfig):
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, lr_milestones(cfg.epochs, cfg.milestones),
                                                 gamma=cfg.gamma)
    return opt, sched


def autocast(dev: torch.device, precision: str = "auto"):
    """bf16 mixed precision where it pays (CUDA), fp32 elsewhere unless asked."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, not {precision!r}")
    use = precision == "bf16" or (precision == "auto" and dev.type == "cuda")
    return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use)


def memory_format(dev: torch.device, layout: str = "auto") -> torch.memory_format:
    """Channels-last where it pays (CUDA: faster bf16 convolutions), contiguous elsewhere unless asked."""
    if layout not in ("auto", "channels_last", "contiguous"):
        raise ValueError(f"layout must be auto, channels_last or contiguous, not {layout!r}")
    last = layout == "channels_last" or (layout == "auto" and dev.type == "cuda")
    return torch.channels_last if last else torch.contiguous_format


def prepare_for_device(model: nn.Module, dev: torch.device, cfg: TrainConfig) -> nn.Module:
    """Move the model to ``dev`` in the configured memory layout; compile it if asked.

    The returned module runs the steps; ``model`` itself keeps the (shared) weights for saving."""
    if cfg.compile not in COMPILE_MODES:
        raise ValueError(f"compile must be one of {COMPILE_MODES}, not {cfg.compile!r}")
    model.to(dev, memory_format=memory_format(dev, cfg.layout))
    return model if cfg.compile == "none" else torch.compile(model, mode=cfg.compile)


def train_step(net: nn.Module, opt, loss_fn, x: torch.Tensor, y: torch.Tensor, dev: torch.device,
               precision: str = "auto"):
    """One SGD step (formula V) on a batch already on ``dev``; returns the logits and the loss."""
    with autocast(dev, precision):
        out = net(x)
        loss = loss_fn(out.float(), y) if torch.is_tensor(out) else loss_fn(out, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return (out if torch.is_tensor(out) else out[0]), loss


class TypeAuxiliary(nn.Module):
    """The training-time wrapper of a torchvision ResNet ``net`` for the objective ``type-aux``:
    a second head on the same features tells the chromosome's type (24 classes). In training mode
    ``forward`` returns ``(polarity logits, type logits)``; in eval mode ``net(x)``, so the network
    saved and used afterwards is the plain polarity network."""

    def __init__(self, net: nn.Module, classes: int = TARGETS["type"]):
        super().__init__()
        self.net = net
        self.type_head = nn.Linear(net.fc.in_features, classes)

    def forward(self, x: torch.Tensor):
        if not self.training:
            return self.net(x)
        f = resnet_features(self.net, x)
        return self.net.fc(f), self.type_head(f)


class TypeAuxLoss:
    """Cross-entropy of polarity plus ``weight`` (``TrainConfig.aux_weight``) times that of type, on what
    ``TypeAuxiliary`` returns in training, ``(polarity logits, type logits)``; the labels are (N, 2):
    polarity, type."""

    def __init__(self, weight: float = TrainConfig.aux_weight):
        self.weight, self.ce = weight, nn.CrossEntropyLoss()

    def __call__(self, out, y: torch.Tensor) -> torch.Tensor:
        polarity, types = out
        return self.ce(polarity.float(), y[:, 0]) + self.weight * self.ce(types.float(), y[:, 1])


#: how a run's setup names its test-time views (``runs.run_setup``, ``book.run_summary``)
TTA_NAMES = {True: "flip TTA", "hv": "four-flip TTA", "turn": "four-flip TTA (upside down: down and up swapped)",
             "v": "upside-down TTA", "vturn": "upside-down TTA (down and up swapped)"}


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def _read_view(model: nn.Module, x: torch.Tensor, mirrored: bool, upside_down: bool, swap: bool) -> torch.Tensor:
    v = x.flip(-1) if mirrored else x
    z = model(v.flip(-2) if upside_down else v).float()
    return z.flip(1) if swap else z


@torch.no_grad()
def logits(model: nn.Module, data: PolarityTensors, batch_size: int = 512, device=None, progress: bool = False,
           precision: str = "auto", tta: bool = False) -> np.ndarray:
    """The network's outputs (N, classes) before the softmax; with ``tta`` the mean over the
    image and its mirror image (a horizontal flip does not change polarity or type); with
    ``tta="hv"`` over the four flips (for type, which does not depend on polarity either); with
    ``tta="turn"`` over the four flips for polarity, the two upside-down views' outputs read
    with down and up swapped (upside down, the p-up chromosome is p-down); ``"v"`` and
    ``"vturn"`` the same with the image and it upside down only (``torchfree.TTA_VIEWS``)."""
    if tta not in TTA_CHOICES:
        raise ValueError(f"tta must be one of {TTA_CHOICES}, not {tta!r}")
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    data = data.to(dev)  # decoded images once to the device; batches are made there
    out = []
    idx = torch.arange(len(data))
    for start in progress_bar(range(0, len(data), batch_size), progress, desc="predict"):
        x, _ = data.batch(idx[start:start + batch_size])
        with autocast(dev, precision):
            views = TTA_VIEWS[tta]
            z = sum(_read_view(model, x, mirrored, up, up and tta in TTA_SWAP) for mirrored, up in views) / len(views)
        out.append(z)
    return torch.cat(out).cpu().numpy() if out else np.zeros((0, 2), dtype=np.float32)


def predict(model: nn.Module, data: PolarityTensors, batch_size: int = 512, device=None, progress: bool = False,
            precision: str = "auto", tta: bool = False, temperature: float = 1.0) -> np.ndarray:
    """Probabilities (N, classes), for polarity column 0 = down, column 1 = up: the softmax of ``logits`` divided
    by ``temperature`` (1: the network's own; a fitted one calibrates them). The one
    prediction function of evaluation, the review threshold and ``orient``."""
    z = logits(model, data, batch_size, device, progress, precision, tta)
    return torch.softmax(torch.as_tensor(z) / temperature, dim=1).numpy()


def _evaluate(model, data, dev, precision="auto") -> tuple[float, float]:
    probs = predict(model, data, device=dev, precision=precision)
    y = data.labels.numpy()
    loss = float(nn.functional.nll_loss(torch.log(torch.as_tensor(probs).clamp_min(1e-12)),
                                        torch.as_tensor(y)))
    return loss, float((probs.argmax(1) == y).mean())


def train(model: nn.Module, train_set: PolarityTensors, cfg: TrainConfig, val_set: PolarityTensors | None = None,
          out_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
          stop_after: int | None = None) -> pd.DataFrame:
    """Train ``model`` in place; return the per-epoch history.

    With ``out_dir``: ``checkpoint.pt`` (model, optimiser, scheduler, history) after every
    epoch and ``history.csv``. ``resume=True`` continues from that checkpoint.
    ``stop_after`` ends after that many epochs of this call (to simulate a killed run).
    """
    if cfg.objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, not {cfg.objective!r}")
    if cfg.objective == "type-aux" and cfg.target != "polarity":
        raise ValueError(f"objective type-aux adds type to a polarity network; target is {cfg.target!r}")
    dev = pick_device(cfg.device)
    model.to(dev)
    # GRiCoL and type-aux train a wrapper around the network; the network alone is saved and used afterwards
    wrappers = {"gricol": GridReconstruction, "type-aux": TypeAuxiliary}
    trained = wrappers[cfg.objective](model).to(dev) if cfg.objective in wrappers else model
    opt, sched = make_optimizer(trained, cfg)
    history: list[dict] = []
    start_epoch = 0
    ckpt_path = Path(out_dir) / "checkpoint.pt" if out_dir else None
    if resume:
        if ckpt_path is None or not ckpt_path.exists():
            raise FileNotFoundError(f"cannot resume: no checkpoint at {ckpt_path}")
        state = torch.load(ckpt_path, map_location=dev, weights_only=False)
        if state["config"] != asdict(cfg):
            raise ValueError(f"cannot resume: {ckpt_path} was written with another configuration")
        model.load_state_dict(state["model"])
        if trained is not model:
            trained.load_state_dict(state["trained"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        history = state["history"]
        start_epoch = state["epoch"]
    if ckpt_path:
        ckpt_path.parent.mkdir(parents=True, exist_ok=True)
    # the fast path: the whole (small) data set lives on the device, augmentation and
    # normalisation run there on whole batches, bf16 autocast and channels-last on CUDA
    train_set = train_set.to(dev)
    net = prepare_for_device(trained, dev, cfg)
    layout = memory_format(dev, cfg.layout)
    loss_fn = {"gricol": GridLoss(cfg.epochs), "type-aux": TypeAuxLoss(cfg.aux_weight)}.get(cfg.objective, nn.CrossEntropyLoss())
    n = len(train_set)
    done_here = 0
    for epoch in range(start_epoch, cfg.epochs):
        if stop_after is not None and done_here >= stop_after:
            break
        g = _epoch_generator(cfg.seed, epoch)
        torch.manual_seed(cfg.seed * 100_003 + epoch)  # dropout etc. in other backbones
        order = torch.randperm(n, generator=g)
        if isinstance(loss_fn, GridLoss):
            loss_fn.epoch = epoch
        net.train()
        t0 = time.perf_counter()
        seen = 0
        total_loss = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev, dtype=torch.long)
        batches = [order[i:i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]
        if len(batches) > 1 and len(batches[-1]) < 2:  # BatchNorm cannot train on one image
            batches = batches[:-1]
        bar = progress_bar(batches, progress, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False)
        # the running loss on the bar reads the device: only where that stalls nothing (CPU)
        show_loss = not bar.disable and dev.type == "cpu"
        for step, idx in enumerate(bar):
            x, y = train_set.batch(idx, generator=g)
            out, loss = train_step(net, opt, loss_fn, x.contiguous(memory_format=layout), y, dev, cfg.precision)
            y = y if y.dim() == 1 else y[:, 0]  # type-aux: (polarity, type); accuracy is polarity's
            # accumulate on the device: no host synchronisation per step
            total_loss += loss.detach() * len(y)
            correct += (out.argmax(1) == y).sum()
            seen += len(y)
            if show_loss and step % 10 == 9:
                bar.set_postfix(loss=f"{float(total_loss) / seen:.3f}")
        total_loss, correct = float(total_loss), int(correct)  # the epoch's one synchronisation
        if not math.isfinite(total_loss):
            kept = f"; {ckpt_path} still holds epoch {epoch}" if ckpt_path and ckpt_path.exists() else ""
            raise FloatingPointError(
                f"training diverged in epoch {epoch + 1}: the mean loss is {total_loss}{kept}. Try "
                f"precision fp32 (--precision fp32) or a lower learning rate (--lr); bf16 on some CPUs "
                f"gives NaN on very small inputs (see tests/test_training.py)")
        row = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "train_loss": total_loss / seen,
               "train_acc": correct / seen, "train_seconds": time.perf_counter() - t0}
        sched.step()
        if val_set is not None and len(val_set):
            row["val_loss"], row["val_acc"] = _evaluate(net, val_set, dev, cfg.precision)
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        done_here += 1
        if progress:
            msg = f"epoch {row['epoch']:3d}  loss {row['train_loss']:.4f}  acc {row['train_acc']:.4f}"
            if "val_acc" in row:
                msg += f"  val_acc {row['val_acc']:.4f}"
            tqdm.write(msg + f"  ({row['seconds']:.1f} s)")
        if ckpt_path:
            tmp = ckpt_path.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                        **({"trained": trained.state_dict()} if trained is not model else {}),
                        "scheduler": sched.state_dict(), "epoch": epoch + 1, "history": history,
                        "config": asdict(cfg)}, tmp)
            tmp.replace(ckpt_path)
            pd.DataFrame(history).to_csv(Path(out_dir) / "history.csv", index=False)
    return pd.DataFrame(history)
