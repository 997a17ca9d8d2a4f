"""The book's pipeline in three calls, shared by the chapters and the command line.

``prepare_dataset``  chromosomes (synthetic or a real folder) -> upright, labelled, split set
``train_run``        a data set folder + TrainConfig -> a run folder (history, metrics, predictions)
``load_run``         read a run folder back (chapter 4)

A data set folder holds ``manifest.csv``, ``images/`` and ``params.json``; it is reused when
asked again with the same parameters, so chapters can be run alone or in order.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from . import data as data_mod
from .dataset import PolarityTensors, build_polarity_set, canonical_gray, load_images, normalisation_stats, read_manifest
from .rotation import angle_error, find_angle, foreground_mask, largest_component
from .evaluation import confusion, polarity_metrics
from .model import build_model
from .repro import device as pick_device
from .repro import environment, set_seed
from .training import TrainConfig, predict, train

__all__ = ["LONG_TYPES", "method_agreement", "load_trained", "test_tensors", "evaluate_shifts", "rotation_errors", "rotation_consistency", "summarise_rotation", "prepare_dataset", "load_split", "train_run", "evaluate_run", "load_run", "run_setup", "reference_runs", "Run"]


def rotation_errors(specimens, methods=("sweep", "hull", "moments"), progress: bool = False) -> pd.DataFrame:
    """Angle error and time of each rotation method on chromosomes at known angles.

    One row per (chromosome, method): source, chromosome, bent, method, angle (applied,
    degrees counter-clockwise), error (degrees from vertical), ms (time to find the angle from
    the mask, mask extraction excluded so methods are compared on the same input).
    """
    from .progress import progress_bar

    rows = []
    for sp in progress_bar(specimens, progress, desc="rotation methods"):
        mask, _ = largest_component(foreground_mask(canonical_gray(sp.image), "white"))
        for m in methods:
            t0 = time.perf_counter()
            applied = find_angle(mask, m)
            ms = (time.perf_counter() - t0) * 1e3
            rows.append(dict(source=sp.source, chromosome=sp.chromosome, bent=sp.bent, method=m,
                             angle=applied, error=angle_error(sp.angle, applied), ms=ms))
    return pd.DataFrame(rows)


def rotation_consistency(root: str | Path, seed: int = 0, max_cells: int | None = None,
                         methods=("sweep", "hull", "moments")) -> pd.DataFrame:
    """Rotation on crops whose true angle is unknown (e.g. Q-band crops at metaphase angles):
    find theta1 on the crop, rotate it by a known random alpha, find theta2; a consistent
    method has theta2 = theta1 - alpha (mod 180). ``error`` is the departure from that."""
    labels = data_mod.read_labels(root, max_cells=max_cells, seed=seed)
    rng = np.random.default_rng(seed)
    rows = []
    for row in labels.itertuples(index=False):
        img = cv2.imread(str(Path(root) / row.file), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise FileNotFoundError(f"cannot read {Path(root) / row.file}")
        gray = canonical_gray(img)
        alpha = float(rng.uniform(0, 360))
        turned = data_mod.rotate_to_angle(gray, alpha)
        m1, _ = largest_component(foreground_mask(gray, "white"))
        m2, _ = largest_component(foreground_mask(turned, "white"))
        if not m1.any() or not m2.any():
            continue
        for m in methods:
            t0 = time.perf_counter()
            theta1 = find_angle(m1, m)
            ms = (time.perf_counter() - t0) * 1e3
            theta2 = find_angle(m2, m)
            rows.append(dict(source=row.file, chromosome=str(row.chromosome), bent=None, method=m, angle=theta2,
                             error=angle_error(alpha, theta2 - theta1), ms=ms))
    return pd.DataFrame(rows)


#: Chromosome types long enough for the minimum-width direction to be their axis (chapter 1).
LONG_TYPES = frozenset([*map(str, range(1, 13)), "X"])


def method_agreement(errors: pd.DataFrame, a: str = "sweep", b: str = "hull", within: float = 1.0) -> float:
    """Share of chromosomes on which methods ``a`` and ``b`` choose angles within ``within``
    degrees of each other (angles compared modulo 180)."""
    wide = errors.pivot_table(index="source", columns="method", values="angle")
    d = (wide[a] - wide[b]) % 180
    return float((np.minimum(d, 180 - d) <= within).mean())


def summarise_rotation(errors: pd.DataFrame, within: float = 1.5) -> pd.DataFrame:
    """Per method: median and 95th-percentile error, share within ``within`` degrees, ms per chromosome."""
    g = errors.groupby("method", sort=False)
    return pd.DataFrame({
        "n": g.size(),
        "median error (deg)": g.error.median().round(3),
        "95th pct error (deg)": g.error.quantile(0.95).round(3),
        f"within {within} deg (%)": (100 * g.error.apply(lambda e: (e <= within).mean())).round(1),
        "ms per chromosome": g.ms.mean().round(3),
    })


def prepare_dataset(data: str | Path | None, out_dir: str | Path, n_cells: int = 30, seed: int = 0,
                    method: str = "hull", max_cells: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Build (or reuse) the polarity data set in ``out_dir``.

    ``data``: empty/None -> ``n_cells`` synthetic metaphases; a folder with ``labels.csv`` of
    p-up crops -> the karyogram polarity benchmark on those (``max_cells`` whole cells at most).
    """
    out = Path(out_dir)
    params = {"data": str(Path(data).resolve()) if data else "", "n_cells": n_cells if not data else None,
              "seed": seed, "method": method, "max_cells": max_cells if data else None}
    stamp = out / "params.json"
    if stamp.exists() and (out / "manifest.csv").exists() and json.loads(stamp.read_text()) == params:
        return read_manifest(out)
    if data:
        specimens = data_mod.karyogram_specimens(data, seed=seed, max_cells=max_cells)
    else:
        specimens = data_mod.synthetic_specimens(n_cells, seed=seed)
    df = build_polarity_set(specimens, out, method=method, seed=seed, progress=progress)
    stamp.write_text(json.dumps(params, indent=2))
    return df


def load_split(root: str | Path, size: int, manifest: pd.DataFrame | None = None,
               progress: bool = False, augment: str = "flip") -> tuple[PolarityTensors, PolarityTensors, dict]:
    """Train and test tensors at ``size`` px, normalised with the TRAINING split's mean/std."""
    df = read_manifest(root) if manifest is None else manifest
    tr, te = df[df.split == "train"], df[df.split == "test"]
    x_tr = load_images(root, tr.file, size, progress=progress)
    x_te = load_images(root, te.file, size, progress=progress)
    mean, std = normalisation_stats(x_tr)
    stats = {"mean": mean, "std": std, "n_train": len(tr), "n_test": len(te)}
    return (PolarityTensors(x_tr, tr.label.values, mean, std, train=True, augment=augment),
            PolarityTensors(x_te, te.label.values, mean, std, train=False), stats)


def test_tensors(root: str | Path, size: int, mean: float, std: float,
                 manifest: pd.DataFrame | None = None) -> PolarityTensors:
    """The test split at ``size`` px, normalised with given (a run's training) statistics."""
    df = read_manifest(root) if manifest is None else manifest
    te = df[df.split == "test"]
    return PolarityTensors(load_images(root, te.file, size), te.label.values, mean, std, train=False)


def load_trained(run_dir: str | Path, device: str | None = None) -> tuple[torch.nn.Module, dict, dict]:
    """A run folder's trained model (``checkpoint.pt``, in eval mode on ``device``, default the
    run's), its ``config.json`` and the training split's normalisation (from ``metrics.json``)."""
    run = Path(run_dir)
    for name in ("config.json", "metrics.json", "checkpoint.pt"):
        if not (run / name).exists():
            raise FileNotFoundError(f"{run / name} not found: {run} is not a trained run folder "
                                    f"(`chromolib train DATASET_DIR RUN_DIR`)")
    config = json.loads((run / "config.json").read_text())
    norm = json.loads((run / "metrics.json").read_text())["normalisation"]
    model = build_model(config["arch"], None)
    model.load_state_dict(torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)["model"])
    model.to(pick_device(device or config.get("device", "auto"))).eval()
    return model, config, norm


@dataclass
class Run:
    """What a training run leaves behind (all of it also on disk in the run folder)."""
    history: pd.DataFrame
    metrics: dict
    predictions: pd.DataFrame
    config: dict


def train_run(dataset_dir: str | Path, cfg: TrainConfig, out_dir: str | Path, resume: bool = False,
              progress: bool = True, stop_after: int | None = None) -> Run:
    """Train on the train split, evaluate on the test split, write everything to ``out_dir``.

    Files: ``history.csv``, ``metrics.json`` (TP/FP/TN/FN, accuracy, interval, timing,
    environment), ``predictions.csv`` (file, cell, label, prob_up, pred), ``config.json``,
    ``checkpoint.pt`` (weights; not for committing).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)
    dev = pick_device(cfg.device)
    df = read_manifest(dataset_dir)
    train_set, test_set, stats = load_split(dataset_dir, cfg.image_size, df, progress=progress,
                                                augment=cfg.augment)
    model = build_model(cfg.arch, cfg.weights)
    t0 = time.perf_counter()
    history = train(model, train_set, cfg, val_set=test_set, out_dir=out, resume=resume,
                    progress=progress, stop_after=stop_after)
    timing = {"epochs_done": int(len(history)), "train_seconds_this_call": round(time.perf_counter() - t0, 2),
              # all epochs, with the per-epoch evaluation; and the training steps alone
              "train_seconds_total": round(float(history["seconds"].sum()), 2) if len(history) else 0.0,
              "train_steps_seconds_total": round(float(history["train_seconds"].sum()), 2)
              if "train_seconds" in history else None}
    if timing["train_steps_seconds_total"]:
        timing["train_images_per_s"] = round(len(train_set) * len(history) / history["train_seconds"].sum(), 1)
    history.to_csv(out / "history.csv", index=False)
    (out / "config.json").write_text(json.dumps({**asdict(cfg), "dataset": str(Path(dataset_dir))},
                                                indent=2, default=str))
    return evaluate_run(out, dataset_dir, model=model, test_set=test_set,
                        extra={**timing, "normalisation": stats, "environment": environment(dev)})


def evaluate_run(run_dir: str | Path, dataset_dir: str | Path | None = None, model=None,
                 test_set: PolarityTensors | None = None, extra: dict | None = None) -> Run:
    """Predict the test split with the run's model; write ``predictions.csv`` and ``metrics.json``.

    Without ``model`` the run's trained model is loaded; the test images are normalised with
    the run's training statistics (the data set defaults to the one the run was trained on).
    """
    out = Path(run_dir)
    if model is None or test_set is None:
        loaded, config, norm = load_trained(out)
        model = loaded if model is None else model
    else:
        config = json.loads((out / "config.json").read_text())
    dataset_dir = Path(dataset_dir or config["dataset"])
    df = read_manifest(dataset_dir)
    if test_set is None:
        test_set = test_tensors(dataset_dir, int(config["image_size"]), norm["mean"], norm["std"], df)
    probs = predict(model, test_set)
    te = df[df.split == "test"].reset_index(drop=True)
    preds = te[["file", "cell", "chromosome", "label"]].copy()
    preds["prob_up"] = probs[:, 1].round(6)
    preds["pred"] = probs.argmax(1)
    old = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").exists() else {}
    metrics = {**old, **(extra or {}), **polarity_metrics(confusion(preds.label, preds.pred)),
               "evaluated_on": str(dataset_dir)}
    preds.to_csv(out / "predictions.csv", index=False)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    # the confidence threshold for `chromolib orient` (needs_review), chosen on half the held-out cells
    from .orient import choose_threshold

    (out / "review.json").write_text(json.dumps(choose_threshold(preds), indent=2))
    history = pd.read_csv(out / "history.csv") if (out / "history.csv").exists() else pd.DataFrame()
    return Run(history, metrics, preds, config)


def evaluate_shifts(run_dir: str | Path, shifts: dict | None = None) -> pd.DataFrame:
    """Accuracy of a trained run on its test split as recorded and under simulated changes of
    laboratory (resolution, blur, contrast, gamma): one row per shift."""
    from .dataset import SHIFTS

    model, config, norm = load_trained(run_dir)
    test_set = test_tensors(config["dataset"], int(config["image_size"]), norm["mean"], norm["std"])
    raw = test_set.images.numpy()
    rows = []
    for name, shift in (shifts or SHIFTS).items():
        shifted = PolarityTensors(shift(raw), test_set.labels.numpy(), test_set.mean, test_set.std)
        probs = predict(model, shifted)
        m = polarity_metrics(confusion(shifted.labels.numpy(), probs.argmax(1)))
        rows.append({"test images": name, "accuracy %": round(100 * m["accuracy"], 2),
                     "95% CI": f"{100 * m['accuracy_ci95'][0]:.1f}-{100 * m['accuracy_ci95'][1]:.1f}",
                     "FP": m["FP"], "FN": m["FN"], "n": m["n"]})
    return pd.DataFrame(rows).set_index("test images")


def load_run(run_dir: str | Path) -> Run:
    """Read a run folder written by ``train_run``."""
    run = Path(run_dir)
    if not (run / "metrics.json").exists():
        raise FileNotFoundError(f"{run / 'metrics.json'} not found: train first (chapter 3, or "
                                f"`chromolib train DATASET_DIR RUN_DIR`)")
    return Run(pd.read_csv(run / "history.csv"), json.loads((run / "metrics.json").read_text()),
               pd.read_csv(run / "predictions.csv", dtype={"cell": str, "chromosome": str}),
               json.loads((run / "config.json").read_text()))


def run_setup(config: dict, metrics: dict) -> str:
    """What a run is, in a few words: network, input size, epochs, augmentation and precision
    where not the defaults, device (the GPU's name where there is one)."""
    env = metrics.get("environment", {})
    what = [f"{config['arch']}, {config['image_size']} px, {metrics.get('epochs_done', config.get('epochs'))} ep"
            ] if config else []
    if config.get("augment") not in (None, "flip"):
        what.append(f"{config['augment']} augmentation")
    if config.get("precision") not in (None, "auto"):
        what.append(config["precision"])
    what.append(env.get("gpu") or env.get("device", "?"))
    return ", ".join(what)


def reference_runs(results: str | Path) -> dict[str, dict]:
    """The committed runs under ``results`` (each folder with ``metrics.json``) by folder name,
    each with its ``run_setup`` as ``setup``."""
    runs = {}
    for f in sorted(Path(results).glob("*/metrics.json")):
        m = json.loads(f.read_text())
        cfg_path = f.with_name("config.json")
        c = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
        runs[f.parent.name] = {**m, "setup": run_setup(c, m)}
    return runs
