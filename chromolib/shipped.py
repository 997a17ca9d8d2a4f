"""The models that ship inside the package, so that the tools work out of the box.

``export_run(RUN_DIR, PATH)`` writes a trained run as one small file: the weights of every
convolution and fully connected layer as 8-bit integers with one scale per output channel
(about a quarter of float32; the predictions agree with the float model, see the model card),
the other tensors as they are, and what prediction needs (configuration, normalisation,
temperature, review threshold). ``load_shipped()`` reads it back as a ``TrainedModel``.
``chromolib export RUN_DIR`` writes ``chromolib/models/polarity.pt`` and its model card; a type
run (``train --profile type``) goes to ``chromolib/models/type-gband.pt`` or ``type-qband.pt``
by its stain (``TYPE_MODELS``), which ``orient`` picks from the images.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .images import first_line
from .model import BASIC_RESNETS, basic_resnet, build_model
from .runs import TrainedModel, load_trained
from .torchfree import FORMAT, MODELS, POLARITY, STAINS, TYPE_MODELS  # noqa: F401 (the names live there, torch-free)
from .training import num_classes

__all__ = ["MODELS", "POLARITY", "STAINS", "TYPE_MODELS", "default_path", "external_draws", "type_model_card", "quantize_state", "dequantize_state", "export_run", "load_shipped", "model_card"]



def quantize_state(state: dict[str, torch.Tensor]) -> dict:
    """Weights with two or more dimensions -> int8 with a float32 scale per output channel
    (symmetric, scale = max |w| / 127); everything else unchanged."""
    out = {}
    for name, t in state.items():
        if t.is_floating_point() and t.ndim >= 2:
            scale = t.detach().abs().flatten(1).amax(1).clamp_min(1e-12) / 127.0
            q = torch.round(t / scale.view(-1, *([1] * (t.ndim - 1)))).clamp(-127, 127).to(torch.int8)
            out[name] = {"int8": q, "scale": scale.float()}
        else:
            out[name] = t.detach().clone()
    return out


def dequantize_state(packed: dict) -> dict[str, torch.Tensor]:
    """The float32 state dict back from ``quantize_state``."""
    return {name: v["int8"].float() * v["scale"].view(-1, *([1] * (v["int8"].ndim - 1))) if isinstance(v, dict) else v
            for name, v in packed.items()}


def default_path(config: dict, stain: str | None = None) -> Path:
    """Where a run's model ships: ``POLARITY``, or for a type model ``TYPE_MODELS[stain]``."""
    if config.get("target", "polarity") == "polarity":
        return POLARITY
    if stain not in STAINS:
        raise ValueError(f"a type model ships per stain: give --stain {' or '.join(STAINS)}")
    return TYPE_MODELS[stain]


def export_run(run_dir: str | Path, path: str | Path = POLARITY) -> dict:
    """Write the run's model as a shipped file; return its description (what the card shows)."""
    run = Path(run_dir)
    trained = load_trained(run, "cpu")
    review = json.loads((run / "review.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    keys = (("n", "accuracy", "accuracy_ci95", "per_chromosome", "cells_all_right") if trained.target == "type"
            else ("TP", "FP", "TN", "FN", "n", "accuracy", "accuracy_ci95"))
    info = {"format": FORMAT, "config": {k: v for k, v in trained.config.items() if k != "dataset"},
            "mean": trained.mean, "std": trained.std, "temperature": trained.temperature,
            "threshold": review["threshold"], "metrics": {k: metrics[k] for k in keys}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    packed = quantize_state(trained.model.state_dict())
    tmp = path.with_suffix(".tmp")
    torch.save({**info, "state": packed}, tmp)
    tmp.replace(path)
    return {**info, "bytes": path.stat().st_size, "quantisation": _agreement(trained, packed)}


def _agreement(trained: TrainedModel, packed: dict) -> dict:
    """How the 8-bit model's answers compare with the float model's on the run's test split."""
    dataset = Path(trained.config.get("dataset", ""))
    if not (dataset / "manifest.csv").exists():
        return {}
    test = trained.test_set(dataset)
    small = build_model(trained.config["arch"], None, num_classes(trained.config))
    small.load_state_dict(dequantize_state(packed))
    p_float = trained.predict(test)
    p_int8 = TrainedModel(small.eval(), trained.config, trained.mean, trained.std, trained.temperature).predict(test)
    return {"n": len(test), "same_answer": float((p_float.argmax(1) == p_int8.argmax(1)).mean()),
            "max_abs_prob_difference": float(abs(p_float - p_int8).max()) if len(test) else 0.0}


def load_shipped(path: str | Path = POLARITY, device: str = "cpu") -> tuple[TrainedModel, float]:
    """The shipped model as a ``TrainedModel`` on ``device``, and its review threshold."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: this installation ships no such model; pass a trained run "
                                f"with --model RUN_DIR, or make one (`make model`, `make type-models`; see README)")
    try:
        packed = torch.load(path, map_location="cpu", weights_only=True)
        if packed.get("format") != FORMAT:
            raise ValueError(f"format {packed.get('format')!r}, expected {FORMAT!r}")
        arch = packed["config"]["arch"]
        classes = num_classes(packed["config"])
        model = basic_resnet(arch, classes) if arch in BASIC_RESNETS else build_model(arch, None, classes)
        model.load_state_dict(dequantize_state(packed["state"]))
    except Exception as exc:
        raise ValueError(f"{path} is damaged or not a chromolib model ({first_line(exc)}); "
                         f"reinstall chromolib or pass --model RUN_DIR") from None
    model.to(device).eval()
    return (TrainedModel(model, packed["config"], packed["mean"], packed["std"], packed["temperature"]),
            float(packed["threshold"]))


def _views(tta) -> str:
    """What the model card says the test-time augmentation averages."""
    return {False: "one view", None: "one view", True: "the image and its mirror image averaged",
            "turn": "the image, its mirror image and both upside down (read with down and up swapped) averaged",
            "hv": "the four flips averaged", "v": "the image and it upside down averaged",
            "vturn": "the image and it upside down (read with down and up swapped) averaged"}[tta]


def external_draws(external: dict) -> str:
    """What an external evaluation (``benchmarks/orient_cell.py --json``) counted, for a sentence after
    its count ``n``: " chromosomes" for one draw of the angles, else the orientations, the
    chromosomes and draws and each draw's accuracy."""
    draws = int(external.get("draws", 1))
    if draws <= 1:
        return " chromosomes"
    per = ", ".join(f"{100 * a:.2f}" for a in external.get("accuracy_per_draw", []))
    return (f" orientations: its {external['chromosomes']:,} chromosomes each at {draws} random angles (the interval "
            f"resamples chromosomes; per draw {per} %)")


def model_card(info: dict, run_dir: str | Path, external: dict | None = None, command: str = "chromolib export") -> str:
    """The model card (Markdown) of a shipped model: what it is, how it was made, on which data,
    how accurate it is with intervals, in another laboratory, and what it cannot do."""
    run = Path(run_dir)
    metrics = json.loads((run / "metrics.json").read_text())
    review = json.loads((run / "review.json").read_text())
    cfg, m = info["config"], info["metrics"]
    lo, hi = m["accuracy_ci95"]
    norm, env = metrics["normalisation"], metrics.get("environment", {})
    cal = metrics.get("calibration", {})
    q = info.get("quantisation", {})
    size = f"{cfg['image_size']} x {cfg.get('width') or cfg['image_size']} px"
    lines = [
        "# The polarity model that ships with chromolib",
        "",
        "`chromolib orient IN_DIR OUT_DIR` uses this model when no `--model` is given. It decides whether a",
        "chromosome that the rotation step made vertical has its short arm (p) up or down.",
        "",
        "## What it is",
        f"- {cfg['arch']} (torchvision), input {size} (dark chromosome on white, padded to the frame keeping its shape),",
        f"  {_views(cfg.get('tta'))}; "
        f"temperature {info['temperature']:.3f} (calibration); review threshold {info['threshold']:.4f} on max(p, 1 - p).",
        *(["- Trained with the chromosome's type as an auxiliary target (a second, 24-class head on the same features,",
           "  dropped after training: the network that ships tells polarity only)."]
          if cfg.get("objective") == "type-aux" else []),
        f"- File: `chromolib/models/polarity.pt`, {info['bytes'] / 1e6:.1f} MB: convolution and fully connected weights as",
        "  8-bit integers with one scale per output channel."
        + (f" On the {q['n']:,} held-out chromosomes the 8-bit model gives the float model's answer for"
           f" {100 * q['same_answer']:.2f} % (largest change of a probability {q['max_abs_prob_difference']:.4f})."
           if q else ""),
        f"- Made by: `{command}` on the run `{run}`; the run itself by `make model` (see README).",
        "",
        "## Data",
        "- Training: Pki-3 G-band karyogram crops, each p-up crop rotated by a seeded random angle and brought",
        "  back to vertical by the rotation step; labels from the known angle.",
        f"- Split 7:3 by case (all cells of a patient on one side): {norm['n_train']:,} chromosomes for training"
        + (f", {cal['n_val']:,} ({cal['val_cells']} cells of the training cases) kept aside to fit the temperature"
           if cal else "") + f", {m['n']:,} held out.",
        "- Licence of the data: the Pki-3 images come without a licence file (research use); cite the Pki-3 karyotype",
        "  database and the repository IrohXu/Chromosome_Classification_Deep_Learning_Method (data/README.md).",
        "",
        "## Accuracy",
        f"- Held-out Pki-3 cases: {100 * m['accuracy']:.2f} % (95 % Wilson interval {100 * lo:.2f}-{100 * hi:.2f} %),"
        f" TP {m['TP']}, FP {m['FP']}, TN {m['TN']}, FN {m['FN']} ('up' positive).",
        f"- Review: at the threshold chosen on half of the held-out cells for at most {100 * review['target_error']:.1f} %"
        f" errors among the kept chromosomes, {100 * review['report_flagged_fraction']:.1f} % of the other half is"
        f" flagged and {100 * review['report_accuracy_kept']:.2f} % of the kept ones are right.",
    ]
    if external:
        elo, ehi = external["accuracy_ci95"]
        lines.append(f"- Another laboratory ({external['data']}, never trained on), through `chromolib orient` on crops at"
                     f" random angles: short arm up for {100 * external['accuracy']:.2f} % (95 % interval"
                     f" {100 * elo:.2f}-{100 * ehi:.2f} %) of {external['n']:,}" + external_draws(external) + ".")
    secs = metrics.get("train_seconds_total")
    lines += [
        f"- Training time: {secs / 60:.0f} min on {env.get('gpu') or env.get('device', '?')}"
        f" ({env.get('cpu_threads', '?')} threads), torch {env.get('torch', '?')}." if secs else "- Training time: -",
        "",
        "## Known limits",
        "- Trained on one laboratory's G-banded karyogram crops; other stains (Q-band: inverted to dark on white,",
        "  never trained on), resolutions and band levels can lower the accuracy: check the flagged chromosomes.",
        "- The input must be ONE chromosome, cut out; bent chromosomes and overlaps are harder, very small ones",
        "  are flagged for review (`needs_review`).",
        "- A research tool, not a medical device: a person checks the karyogram.",
        "",
    ]
    return "\n".join(lines) + "\n"


_STAIN_DATA = {
    "gband": ("Pki-3 G-band karyogram crops (dark bands on white)", "the Pki-3 karyotype database and the repository "
              "IrohXu/Chromosome_Classification_Deep_Learning_Method"),
    "qband": ("BioImLab Q-band crops as cut from the metaphase (bright on black, inverted to dark on white), "
              "brought to vertical by chromolib's rotation step", "BioImLab, University of Padova, as redistributed "
              "in IrohXu/Chromosome_Classification_Deep_Learning_Method"),
}


def type_model_card(info: dict, run_dir: str | Path, stain: str, external: dict | None = None,
                    command: str = "chromolib export") -> str:
    """The model card (Markdown) of a shipped type model."""
    run = Path(run_dir)
    metrics = json.loads((run / "metrics.json").read_text())
    review = json.loads((run / "review.json").read_text())
    cfg, m = info["config"], info["metrics"]
    per = m["per_chromosome"]
    norm, env = metrics["normalisation"], metrics.get("environment", {})
    cal = metrics.get("calibration", {})
    q = info.get("quantisation", {})
    data, cite = _STAIN_DATA[stain]
    secs = metrics.get("train_seconds_total")
    pct = lambda a: f"{100 * a['accuracy']:.2f} % (95 % Wilson interval {100 * a['accuracy_ci95'][0]:.2f}-" \
                    f"{100 * a['accuracy_ci95'][1]:.2f} %)"  # noqa: E731
    lines = [
        f"# The {stain[0].upper()}-band chromosome type model that ships with chromolib",
        "",
        "`chromolib orient IN_DIR OUT_DIR` uses this model, when the images are "
        + ("dark on white" if stain == "gband" else "bright on black") + " and no `--labels` are given, to tell",
        "which of the 24 types (1-22, X, Y) each oriented chromosome is, and lays out the karyogram by it.",
        "",
        "## What it is",
        f"- {cfg['arch']}, input {cfg['image_size']} x {cfg.get('width') or cfg['image_size']} px, one scale per cell "
        f"(the cell's median chromosome takes 0.42 of the frame's height, so lengths compare), {_views(cfg.get('tta'))};",
        f"  temperature {info['temperature']:.3f}; then a Hungarian assignment over the cell (two of each autosome, XX",
        f"  or XY, an extra copy at a cost: `chromolib.assignment`); review threshold {info['threshold']:.4f} on the",
        "  probability of the assigned type.",
        f"- File: `chromolib/models/type-{stain}.pt`, {info['bytes'] / 1e6:.1f} MB, 8-bit weights with one scale per"
        " output channel." + (f" On the {q['n']:,} held-out chromosomes the 8-bit model gives the float model's"
                              f" answer for {100 * q['same_answer']:.2f} %." if q else ""),
        f"- Made by: `{command}` on the run `{run}`; the run itself by `make type-models` (see README).",
        "",
        "## Data",
        f"- {data}.",
        f"- Split 7:3 by case or cell: {norm['n_train']:,} chromosomes for training"
        + (f", {cal['n_val']:,} ({cal['val_cells']} cells of the training side) kept aside for the temperature"
           if cal else "") + f", {m['n']:,} held out.",
        f"- Licence of the data: no licence file (research use); cite {cite} (data/README.md).",
        "",
        "## Accuracy (held-out cells)",
        f"- Per chromosome: {pct(per)}.",
        f"- Assigned over the cell: {pct(m)}; every chromosome of the cell right in"
        f" {100 * m['cells_all_right']:.1f} % of the cells.",
        f"- Review: flagging below the threshold chosen on half of the held-out cells (at most"
        f" {100 * review['target_error']:.0f} % errors among the kept) flags {100 * review['report_flagged_fraction']:.1f} %"
        f" of the other half and keeps {100 * review['report_accuracy_kept']:.2f} % right.",
    ]
    if external and external.get("type"):
        lines.append(f"- Another laboratory ({external['data']}, never trained on), through `chromolib orient` on crops at"
                     f" random angles: {pct(external['type'])} of {external['n']:,} chromosomes.")
    lines += [
        f"- Training time: {secs / 60:.0f} min on {env.get('gpu') or env.get('device', '?')}"
        f" ({env.get('cpu_threads', '?')} threads), torch {env.get('torch', '?')}." if secs else "- Training time: -",
        "",
        "## Known limits",
        "- One laboratory's images per stain; other resolutions and band levels lower the accuracy.",
        "- Length is read relative to the other chromosomes of the folder: give it ONE cell per folder; a folder of a",
        "  few chromosomes, or of several cells, loses that cue and the cell's assignment.",
        "- Abnormal cells (translocations, deletions, markers) are outside what it learnt; trisomies are read only",
        "  when the network is sure. A research tool, not a medical device: a person checks the karyogram.",
        "",
    ]
    return "\n".join(lines) + "\n"
