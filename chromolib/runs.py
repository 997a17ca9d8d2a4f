"""Run folders: train a data set into a run folder, evaluate it, read it back, load its model.

A run folder holds ``config.json``, ``history.csv``, ``metrics.json`` (TP/FP/TN/FN, accuracy,
interval, timing, environment, normalisation), ``predictions.csv`` (file, cell, chromosome,
label, prob_up, pred), ``review.json`` (the ``needs_review`` threshold) and ``checkpoint.pt``
(weights; not for committing).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .augment import SHIFTS
from .assignment import assign_by_cell
from .evaluation import choose_threshold, confusion, fit_temperature, polarity_metrics, type_metrics
from .karyotype import TYPES
from .images import first_line
from .model import build_model
from .preprocess import NetworkReader
from .polarity_set import (PolarityTensors, load_split, read_manifest, split_tensors, with_validation,
                           test_tensors)
from .repro import device as pick_device
from .repro import environment, set_seed
from .torchfree import TTA_CHOICES
from .training import TTA_NAMES, TrainConfig, logits, num_classes, predict, train

__all__ = ["TrainedModel", "Run", "train_run", "evaluate_run", "change_views", "load_trained", "load_run", "evaluate_shifts", "run_setup",
           "reference_runs"]


@dataclass
class TrainedModel(NetworkReader):
    """A trained polarity network with what prediction needs: its input size, the training
    split's normalisation, test-time flips and the calibration temperature. ``predict`` is the
    one path from images to probabilities for evaluation, the review threshold and ``orient``."""
    model: torch.nn.Module
    config: dict
    mean: float
    std: float
    temperature: float = 1.0

    def tensors(self, images: np.ndarray, labels=None) -> PolarityTensors:
        """uint8 images (N, height, width), dark on white, as this network reads them."""
        return PolarityTensors(images, np.zeros(len(images), int) if labels is None else labels, self.mean, self.std)

    def predict(self, data: PolarityTensors) -> np.ndarray:
        """Probabilities (N, classes), for polarity column 1 = up; with the run's test-time flips
        and temperature."""
        return predict(self.model, data, tta=self.config.get("tta") or False, temperature=self.temperature)

    def logits(self, data: PolarityTensors) -> np.ndarray:
        """The network's outputs (N, classes) with the run's test-time flips, before the temperature."""
        return logits(self.model, data, tta=self.config.get("tta") or False)

    def test_set(self, dataset_dir: str | Path, manifest: pd.DataFrame | None = None) -> PolarityTensors:
        """The test split of a data set, as this network reads it."""
        height, width = self.size
        return test_tensors(dataset_dir, height, self.mean, self.std, manifest, width=width, target=self.target,
                            scale=self.config.get("scale", "fit"))


def load_trained(run_dir: str | Path, device: str | None = None) -> TrainedModel:
    """A run folder's trained model (``checkpoint.pt``, in eval mode on ``device``, default the
    run's), its ``config.json`` and, from ``metrics.json``, the training split's normalisation and
    the calibration temperature."""
    run = Path(run_dir)
    for name in ("config.json", "metrics.json", "checkpoint.pt"):
        if not (run / name).exists():
            raise FileNotFoundError(f"{run / name} not found: {run} is not a trained run folder "
                                    f"(`chromolib train DATASET_DIR RUN_DIR`)")
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    model = build_model(config["arch"], None, num_classes(config))
    try:
        model.load_state_dict(torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)["model"])
    except Exception as exc:  # truncated, overwritten, another network's weights
        raise ValueError(f"{run / 'checkpoint.pt'} is damaged or does not belong to this run ({first_line(exc)}); "
                         f"copy the run folder again, or retrain it with `chromolib train DATASET_DIR {run}`") from None
    model.to(pick_device(device or config.get("device", "auto"))).eval()
    norm = metrics["normalisation"]
    return TrainedModel(model, config, float(norm["mean"]), float(norm["std"]),
                        float(metrics.get("calibration", {}).get("temperature", 1.0)))


@dataclass
class Run:
    """What a training run leaves behind (all of it also on disk in the run folder)."""
    history: pd.DataFrame
    metrics: dict
    predictions: pd.DataFrame
    config: dict
    review: dict  # the needs_review threshold and its curve (``evaluation.choose_threshold``)


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
    df = with_validation(read_manifest(dataset_dir), cfg.validation, cfg.seed)  # cases kept aside for the temperature
    train_set, test_set, stats = load_split(dataset_dir, cfg.image_size, df, progress=progress, augment=cfg.augment,
                                            width=cfg.width, tilt=cfg.tilt, target=cfg.target, scale=cfg.scale,
                                            turn=cfg.turn, aux_type=cfg.objective == "type-aux")
    model = build_model(cfg.arch, cfg.weights, num_classes(cfg))
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
    config = {**asdict(cfg), "dataset": str(Path(dataset_dir))}
    (out / "config.json").write_text(json.dumps(config, indent=2, default=str))
    trained = TrainedModel(model.eval(), config, stats["mean"], stats["std"])
    extra = {**timing, "normalisation": stats, "environment": environment(dev)}
    if cfg.validation:
        extra["calibration"] = _calibrate(trained, dataset_dir, df)
    return evaluate_run(out, dataset_dir, trained=trained, test_set=test_set, extra=extra)


def _calibrate(trained: TrainedModel, dataset_dir: str | Path, df: pd.DataFrame) -> dict:
    """Fit ``trained``'s temperature on the ``val`` rows of ``df`` with its own test-time views; what was fitted."""
    cfg = trained.config
    (height, width) = trained.size
    val = split_tensors(dataset_dir, df, "val", height, trained.mean, trained.std, width, trained.target,
                        cfg.get("scale", "fit"))
    trained.temperature = fit_temperature(trained.logits(val), val.labels.numpy())
    return {"temperature": trained.temperature, "n_val": len(val), "val_cells": int(df[df.split == "val"].cell.nunique())}


def change_views(run_dir: str | Path, tta, dataset_dir: str | Path | None = None) -> Run:
    """Give a trained run other test-time views (``torchfree.TTA_VIEWS``): its ``config.json`` takes
    ``tta``, the temperature is fitted again on the cells the run kept aside (its ``validation``
    share), and the held-out cases are evaluated again (``evaluate_run``); ``metrics.json`` records
    the views it had before. The network is unchanged: choose views on those kept-aside cells
    (``benchmarks/tta_views.py``), not on the held-out ones."""
    if tta not in TTA_CHOICES:
        raise ValueError(f"tta must be one of {TTA_CHOICES}, not {tta!r}")
    out = Path(run_dir)
    trained = load_trained(out)
    before = trained.config.get("tta") or False
    trained.config = {**trained.config, "tta": tta}
    dataset_dir = Path(dataset_dir or trained.config["dataset"])
    cfg = trained.config
    df = with_validation(read_manifest(dataset_dir), cfg.get("validation", 0.0), cfg.get("seed", 0))
    extra = {"views_before": before}
    if cfg.get("validation"):
        extra["calibration"] = _calibrate(trained, dataset_dir, df)
    (out / "config.json").write_text(json.dumps(trained.config, indent=2, default=str))
    return evaluate_run(out, dataset_dir, trained=trained, extra=extra)


def evaluate_run(run_dir: str | Path, dataset_dir: str | Path | None = None, trained: TrainedModel | None = None,
                 test_set: PolarityTensors | None = None, extra: dict | None = None) -> Run:
    """Predict the test split with the run's model; write ``predictions.csv`` and ``metrics.json``.

    Without ``trained`` the run's trained model is loaded; the test images are normalised with
    the run's training statistics (the data set defaults to the one the run was trained on).
    """
    out = Path(run_dir)
    trained = trained or load_trained(out)
    config = trained.config
    dataset_dir = Path(dataset_dir or config["dataset"])
    df = read_manifest(dataset_dir)
    if test_set is None:
        test_set = trained.test_set(dataset_dir, df)
    z = torch.as_tensor(trained.logits(test_set))
    probs = torch.softmax(z / trained.temperature, 1).numpy()  # = trained.predict(test_set), one pass
    te = df[df.split == "test"].reset_index(drop=True)
    if trained.target == "type":
        return _evaluate_types(out, dataset_dir, te, probs, extra, config)
    preds = te[["file", "cell", "chromosome", "label"]].copy()
    preds["prob_up"] = probs[:, 1].round(6)
    preds["pred"] = probs.argmax(1)
    if trained.temperature != 1.0:  # the network's own probabilities, for the reliability diagram
        preds["prob_up_uncalibrated"] = torch.softmax(z, 1)[:, 1].numpy().round(6)
    # the confidence threshold for `chromolib orient` (needs_review), chosen on half the held-out
    # cells, on the same probabilities (``training.predict``) that orient applies it to
    return _write_evaluation(out, dataset_dir, preds, polarity_metrics(confusion(preds.label, preds.pred)),
                             choose_threshold(preds), extra, config)


def _write_evaluation(out: Path, dataset_dir: Path, preds: pd.DataFrame, metrics: dict, review: dict,
                      extra: dict | None, config: dict) -> Run:
    """Write an evaluation into the run folder - ``predictions.csv``, ``metrics.json`` (over what
    it held, with ``extra``) and ``review.json`` - and return the run."""
    old = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").exists() else {}
    metrics = {**old, **(extra or {}), **metrics, "evaluated_on": str(dataset_dir)}
    preds.to_csv(out / "predictions.csv", index=False)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "review.json").write_text(json.dumps(review, indent=2))
    history = pd.read_csv(out / "history.csv") if (out / "history.csv").exists() else pd.DataFrame()
    return Run(history, metrics, preds, config, review)


def _evaluate_types(out: Path, dataset_dir: Path, te: pd.DataFrame, probs: np.ndarray, extra: dict | None,
                    config: dict) -> Run:
    """The type model's side of ``evaluate_run``: per chromosome, and assigned over each cell."""
    preds = te[["file", "cell", "chromosome"]].copy()
    types = np.array(TYPES)
    best = probs.argmax(1)
    assigned = assign_by_cell(probs, preds.cell)
    preds["pred"], preds["prob"] = types[best], probs[np.arange(len(best)), best].round(6)
    preds["assigned"], preds["prob_assigned"] = types[assigned], probs[np.arange(len(best)), assigned].round(6)
    # flag a type for review below the confidence (of the assigned type) that keeps at most 1 % errors
    review = choose_threshold(pd.DataFrame({"cell": preds.cell, "confidence": preds.prob_assigned,
                                            "wrong": preds.assigned != preds.chromosome.astype(str)}),
                              target_error=0.01)
    return _write_evaluation(out, dataset_dir, preds, type_metrics(preds), review, extra, config)


def evaluate_shifts(run_dir: str | Path, shifts: dict | None = None) -> pd.DataFrame:
    """Accuracy of a trained run on its test split as recorded and under simulated changes of
    laboratory (resolution, blur, contrast, gamma): one row per shift."""
    trained = load_trained(run_dir)
    test_set = trained.test_set(trained.config["dataset"])
    raw = test_set.images.numpy()
    rows = []
    for name, shift in (shifts or SHIFTS).items():
        probs = trained.predict(trained.tensors(shift(raw), test_set.labels.numpy()))
        m = polarity_metrics(confusion(test_set.labels.numpy(), probs.argmax(1)))
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
    preds = pd.read_csv(run / "predictions.csv", dtype={"cell": str, "chromosome": str})
    if "assigned" in preds:  # a type run: types are names (karyotype.TYPES)
        preds[["pred", "assigned"]] = preds[["pred", "assigned"]].astype(str)
    return Run(pd.read_csv(run / "history.csv"), json.loads((run / "metrics.json").read_text()), preds,
               json.loads((run / "config.json").read_text()), json.loads((run / "review.json").read_text()))


def run_setup(config: dict, metrics: dict) -> str:
    """What a run is, in a few words: network, input size, epochs, augmentation and precision
    where not the defaults, device (the GPU's name where there is one)."""
    env = metrics.get("environment", {})
    size = f"{config['image_size']} x {config['width']}" if config.get("width") else config.get("image_size")
    what = [f"{config['arch']}, {size} px, {metrics.get('epochs_done', config.get('epochs'))} ep"] if config else []
    if config.get("target", "polarity") != "polarity":
        what.insert(0, f"{config['target']} ({config.get('scale', 'fit')} scale)")
    if config.get("augment") not in (None, "flip"):
        what.append(f"{config['augment']} augmentation")
    if config.get("tilt"):
        what.append(f"tilt {config['tilt']:g} deg")
    if config.get("turn"):
        what.append("upside-down images with the other label")
    if config.get("tta"):
        what.append(TTA_NAMES[config["tta"]])
    if metrics.get("calibration"):
        what.append("calibrated")
    if config.get("precision") not in (None, "auto"):
        what.append(config["precision"])
    what.append(env.get("gpu") or env.get("device", "?"))
    return ", ".join(what)


def reference_runs(results: str | Path) -> dict[str, dict]:
    """The committed polarity runs under ``results`` (each folder with a ``metrics.json`` of
    TP/FP/TN/FN) by folder name, each with its ``run_setup`` as ``setup``."""
    runs = {}
    for f in sorted(Path(results).glob("*/metrics.json")):
        m = json.loads(f.read_text())
        if "TP" not in m:  # not a polarity run (a segmentation benchmark, say)
            continue
        cfg_path = f.with_name("config.json")
        c = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
        runs[f.parent.name] = {**m, "setup": run_setup(c, m)}
    return runs
