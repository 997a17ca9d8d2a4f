"""Training speed: a plain reference loop against the fast path, side by side in one run.

(a) *reference*: what a tutorial writes - a ``Dataset`` that reads and decodes each PNG,
    resizes it and applies torchvision-style transforms, a ``DataLoader`` with a few
    workers, fp32, a host synchronisation (``loss.item()``) every step;
(b) *fast*: the path ``training.train`` takes - the whole data set decoded once into a uint8
    tensor on the device, flip and normalisation there on whole batches, bf16 autocast and
    channels-last on CUDA, no per-step synchronisation (optionally ``torch.compile``).

Both train the same architecture from the same initialisation with the same optimiser
(SGD momentum 0.9, weight decay 5e-4, lr 0.01) and batch size for the same number of steps.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import torch
from torch import nn

from .dataset import PolarityTensors, canonical_gray, read_manifest, square_resize
from .model import build_model
from .pipeline import load_split
from .repro import device as pick_device
from .repro import environment
from .training import TrainConfig, make_optimizer, prepare_for_device, train_step

__all__ = ["FileDataset", "BenchResult", "bench_reference", "bench_fast", "run_bench", "PAPER_IMAGE_STEPS"]

#: 100 epochs of the patent-sized training split (3,143 images).
PAPER_IMAGE_STEPS = 100 * 3143


class FileDataset(torch.utils.data.Dataset):
    """Reads, decodes, resizes and normalises one PNG per item (the reference way)."""

    def __init__(self, root, files, labels, size: int, mean: float, std: float, train: bool = True):
        self.root, self.files, self.labels = Path(root), list(files), list(labels)
        self.size, self.mean, self.std, self.train = size, mean, std, train

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        img = cv2.imread(str(self.root / self.files[i]), cv2.IMREAD_UNCHANGED)
        x = torch.from_numpy(square_resize(canonical_gray(img), self.size)).float() / 255.0
        if self.train and torch.rand(()) < 0.5:
            x = x.flip(-1)
        x = ((x - self.mean) / self.std).unsqueeze(0).expand(3, -1, -1).contiguous()
        return x, int(self.labels[i])


@dataclass
class BenchResult:
    name: str
    images_per_s: float
    steps: int
    seconds: float
    peak_memory_mb: float | None


def _peak(dev) -> float | None:
    return torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None


def _reset(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)


def bench_reference(root, cfg: TrainConfig, steps: int, warmup: int, workers: int, stats: dict) -> BenchResult:
    dev = pick_device(cfg.device)
    df = read_manifest(root)
    tr = df[df.split == "train"]
    ds = FileDataset(root, tr.file, tr.label, cfg.image_size, stats["mean"], stats["std"])
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, num_workers=workers,
                                         pin_memory=dev.type == "cuda", drop_last=True,
                                         persistent_workers=workers > 0)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.arch, cfg.weights).to(dev)
    opt, _ = make_optimizer(model, cfg)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    done, t0 = 0, None
    while done < warmup + steps:
        for x, y in loader:
            if done == warmup:
                _reset(dev)
                t0 = time.perf_counter()
            x, y = x.to(dev), y.to(dev)
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()  # what a tutorial prints: a host synchronisation every step
            done += 1
            if done >= warmup + steps:
                break
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    secs = time.perf_counter() - t0
    return BenchResult("reference", steps * cfg.batch_size / secs, steps, secs, _peak(dev))


def bench_fast(train_set: PolarityTensors, cfg: TrainConfig, steps: int, warmup: int) -> BenchResult:
    dev = pick_device(cfg.device)
    train_set = train_set.to(dev)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.arch, cfg.weights)
    net = prepare_for_device(model, dev, cfg)
    opt, _ = make_optimizer(model, cfg)
    loss_fn = nn.CrossEntropyLoss()
    memory_format = torch.channels_last if dev.type == "cuda" else torch.contiguous_format
    g = torch.Generator().manual_seed(cfg.seed)
    net.train()
    n = len(train_set)
    t0 = None
    for step in range(warmup + steps):
        if step == warmup:
            _reset(dev)
            t0 = time.perf_counter()
        idx = torch.randint(0, n, (cfg.batch_size,), generator=g)
        x, y = train_set.batch(idx, generator=g)
        train_step(net, opt, loss_fn, x.contiguous(memory_format=memory_format), y, dev, cfg.precision)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    secs = time.perf_counter() - t0
    return BenchResult("fast", steps * cfg.batch_size / secs, steps, secs, _peak(dev))


def run_bench(root, cfg: TrainConfig, steps: int = 50, warmup: int = 5, workers: int = 4) -> dict:
    """Both loops on the same data set folder, one after the other; a dict of the figures."""
    # decoded once: the fast path's tensors, and the normalisation for the reference transforms
    train_set, _, stats = load_split(root, cfg.image_size)
    ref = bench_reference(root, cfg, steps, warmup, workers, stats)
    fast = bench_fast(train_set, cfg, steps, warmup)
    return {"config": {k: v for k, v in vars(cfg).items()}, "steps": steps, "warmup": warmup, "workers": workers,
            "reference_images_per_s": round(ref.images_per_s, 1), "fast_images_per_s": round(fast.images_per_s, 1),
            "ratio": round(fast.images_per_s / ref.images_per_s, 2),
            "reference_peak_memory_mb": ref.peak_memory_mb, "fast_peak_memory_mb": fast.peak_memory_mb,
            "paper_schedule_seconds_projected": round(PAPER_IMAGE_STEPS / fast.images_per_s, 1),
            "environment": environment(pick_device(cfg.device))}
