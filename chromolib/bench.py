"""Training speed: a plain reference loop against the fast path, side by side in one run.

(a) *reference*: what a tutorial writes - a ``Dataset`` that reads and decodes each PNG,
    resizes it and applies torchvision-style transforms, a ``DataLoader`` with a few
    workers, fp32, a host synchronisation (``loss.item()``) every step;
(b) *fast*: the path ``training.train`` takes - the whole data set decoded once into a uint8
    tensor on the device, flip and normalisation there on whole batches, bf16 autocast and
    channels-last on CUDA, no per-step synchronisation (optionally ``torch.compile``).

Both train the same architecture from the same initialisation with the same optimiser
(SGD momentum 0.9, weight decay 5e-4, lr 0.01) and batch size for the same number of steps.

``compare_accuracy`` trains both through the whole schedule and scores them on the held-out
images, so the speed is shown not to cost accuracy; ``profile_fast`` says where a fast step's
time goes (``torch.profiler``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import torch
from torch import nn

from .evaluation import mcnemar, wilson_interval
from .images import canonical_gray
from .model import build_model
from .polarity_set import PolarityTensors, load_split, read_manifest, square_resize
from .progress import progress_bar
from .repro import device as pick_device
from .repro import environment
from .training import TrainConfig, make_optimizer, memory_format, predict, prepare_for_device, train, train_step

__all__ = ["FileDataset", "BenchResult", "bench_reference", "bench_fast", "run_bench", "train_reference",
           "compare_accuracy", "profile_fast", "ablation", "PAPER_IMAGE_STEPS"]

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
        img = cv2.imread(str(self.root / self.files[i]), cv2.IMREAD_UNCHANGED)  # as a tutorial reads: no checks
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


def _reference_setup(root, cfg: TrainConfig, workers: int, stats: dict, drop_last: bool):
    """The tutorial's pieces: a DataLoader over the PNG files, the model, SGD and its schedule."""
    dev = pick_device(cfg.device)
    tr = read_manifest(root).query("split == 'train'")
    ds = FileDataset(root, tr.file, tr.label, cfg.image_size, stats["mean"], stats["std"])
    # a final batch of one image cannot train BatchNorm
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, num_workers=workers,
                                         pin_memory=dev.type == "cuda", persistent_workers=workers > 0,
                                         drop_last=drop_last or len(ds) % cfg.batch_size == 1)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.arch, cfg.weights).to(dev)
    opt, sched = make_optimizer(model, cfg)
    return dev, loader, model, opt, sched


def _reference_step(model, opt, x, y, dev) -> float:
    x, y = x.to(dev), y.to(dev)
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()  # what a tutorial prints: a host synchronisation every step


def bench_reference(root, cfg: TrainConfig, steps: int, warmup: int, workers: int, stats: dict) -> BenchResult:
    dev, loader, model, opt, _ = _reference_setup(root, cfg, workers, stats, drop_last=True)
    model.train()
    done, t0 = 0, None
    while done < warmup + steps:
        for x, y in loader:
            if done == warmup:
                _reset(dev)
                t0 = time.perf_counter()
            _reference_step(model, opt, x, y, dev)
            done += 1
            if done >= warmup + steps:
                break
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    secs = time.perf_counter() - t0
    return BenchResult("reference", steps * cfg.batch_size / secs, steps, secs, _peak(dev))


def _fast_setup(train_set: PolarityTensors, cfg: TrainConfig):
    dev = pick_device(cfg.device)
    train_set = train_set.to(dev)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.arch, cfg.weights)
    net = prepare_for_device(model, dev, cfg)
    opt, _ = make_optimizer(model, cfg)
    g = torch.Generator().manual_seed(cfg.seed)
    layout = memory_format(dev, cfg.layout)

    def step():
        idx = torch.randint(0, len(train_set), (cfg.batch_size,), generator=g)
        x, y = train_set.batch(idx, generator=g)
        train_step(net, opt, nn.functional.cross_entropy, x.contiguous(memory_format=layout), y, dev, cfg.precision)

    net.train()
    return dev, step


def bench_fast(train_set: PolarityTensors, cfg: TrainConfig, steps: int, warmup: int) -> BenchResult:
    dev, step = _fast_setup(train_set, cfg)
    for _ in range(warmup):
        step()
    _reset(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    secs = time.perf_counter() - t0
    return BenchResult("fast", steps * cfg.batch_size / secs, steps, secs, _peak(dev))


def profile_fast(train_set: PolarityTensors, cfg: TrainConfig, steps: int = 10, warmup: int = 3,
                 rows: int = 25) -> str:
    """Where the fast path's time goes: ``torch.profiler`` over ``steps`` training steps, the
    operators with the most self time (on the GPU where there is one) as a text table."""
    from torch.profiler import ProfilerActivity, profile

    dev, step = _fast_setup(train_set, cfg)
    for _ in range(warmup):
        step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
    sort = "self_cuda_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    return (f"torch.profiler, {steps} fast-path steps of {cfg.arch} at {cfg.image_size} px, batch "
            f"{cfg.batch_size}, on {dev}; sorted by {sort}\n"
            + prof.key_averages().table(sort_by=sort, row_limit=rows))


def ablation(train_set: PolarityTensors, cfg: TrainConfig, steps: int, warmup: int) -> list[dict]:
    """The fast path with its speed settings added one at a time (fp32 contiguous; bf16;
    channels-last; ``cfg.compile`` if set), timed one after the other in this process."""
    settings = [("fp32", "contiguous", "none"), ("bf16", "contiguous", "none"), ("bf16", "channels_last", "none")]
    if cfg.compile != "none":
        settings.append(("bf16", "channels_last", cfg.compile))
    rows = []
    for precision, layout, mode in settings:
        r = bench_fast(train_set, replace(cfg, precision=precision, layout=layout, compile=mode), steps, warmup)
        rows.append({"precision": precision, "layout": layout, "compile": mode,
                     "images_per_s": round(r.images_per_s, 1), "peak_memory_mb": r.peak_memory_mb})
    for row in rows:
        row["speed-up"] = round(row["images_per_s"] / rows[0]["images_per_s"], 2)
    return rows


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


def train_reference(root, cfg: TrainConfig, workers: int, stats: dict, progress: bool = False) -> nn.Module:
    """The whole schedule (``cfg.epochs``, lr steps) with the reference loop; the trained model."""
    dev, loader, model, opt, sched = _reference_setup(root, cfg, workers, stats, drop_last=False)
    for _ in progress_bar(range(cfg.epochs), progress, desc="reference loop"):
        model.train()
        for x, y in loader:
            _reference_step(model, opt, x, y, dev)
        sched.step()
    return model


def _score(name: str, model, test_set: PolarityTensors, precision: str, seconds: float) -> dict:
    correct = predict(model, test_set, precision=precision).argmax(1) == test_set.labels.numpy()
    lo, hi = wilson_interval(int(correct.sum()), len(correct))
    return {"name": name, "accuracy": float(correct.mean()), "accuracy_ci95": [lo, hi],
            "train_seconds": round(seconds, 1), "correct": correct}


def compare_accuracy(root, cfg: TrainConfig, workers: int = 4, progress: bool = False) -> dict:
    """Train with both loops through the profile's whole schedule, score both on the held-out
    images (the same ``predict``), and test the difference (exact McNemar)."""
    train_set, test_set, stats = load_split(root, cfg.image_size, augment=cfg.augment)
    t0 = time.perf_counter()
    ref = train_reference(root, cfg, workers, stats, progress)
    ref = _score("reference", ref, test_set, "fp32", time.perf_counter() - t0)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.arch, cfg.weights)
    t0 = time.perf_counter()
    train(model, train_set, cfg, progress=progress)
    fast = _score("fast", model, test_set, cfg.precision, time.perf_counter() - t0)
    test = mcnemar(ref.pop("correct"), fast.pop("correct"))
    return {"config": {k: v for k, v in vars(cfg).items()}, "n_train": len(train_set), "n_test": len(test_set),
            "reference": ref, "fast": fast, "mcnemar": test,
            "train_time_ratio": round(ref["train_seconds"] / fast["train_seconds"], 2),
            "environment": environment(pick_device(cfg.device))}
