"""Orient a whole cell: every segmented chromosome vertical with the short arm up.

``chromolib orient IN_DIR OUT_DIR --model RUN_DIR`` runs the two steps of the method on every
file in IN_DIR - rotation to vertical (minimum projection distance) and the polarity network
(flip when it says "down") - and writes the oriented images under their own names, a
``results.csv`` and a karyogram-style sheet. Bad input never stops the batch: each file that
cannot be oriented gets a one-line reason.
"""
from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from .dataset import canonical_gray, square_resize
from .rotation import background_fill, find_angle, foreground_mask, rotate_and_crop, to_gray

__all__ = ["OrientModel", "load_orient_model", "check_image", "upright_file", "write_atomic_image", "orient_folder", "choose_threshold", "karyogram_sheet",
           "RESULT_COLUMNS"]

RESULT_COLUMNS = ["file", "rotation_angle", "polarity", "probability", "flipped", "needs_review", "error", "note"]
MIN_AREA, MIN_EXTENT = 40, 10  # pixels: below this a chromosome is too small to orient
KARYOGRAM_ROWS = [["1", "2", "3", "4", "5"], ["6", "7", "8", "9", "10", "11", "12"],
                  ["13", "14", "15", "16", "17", "18"], ["19", "20", "21", "22", "X", "Y"]]


@dataclass
class OrientModel:
    """A trained polarity network with what it needs at inference."""
    model: torch.nn.Module
    image_size: int
    mean: float
    std: float
    threshold: float  # confidence below which a chromosome is flagged for review
    device: torch.device

    @torch.no_grad()
    def prob_up(self, grays: list[np.ndarray]) -> np.ndarray:
        """P(up) per upright gray crop, averaged with the horizontally flipped view."""
        if not grays:
            return np.zeros(0)
        x = np.stack([square_resize(g, self.image_size) for g in grays]).astype(np.float32) / 255.0
        x = torch.from_numpy((x - self.mean) / self.std)[:, None].expand(-1, 3, -1, -1).to(self.device)
        p = torch.softmax(self.model(x).float(), 1)[:, 1] + torch.softmax(self.model(x.flip(-1)).float(), 1)[:, 1]
        return (p / 2).cpu().numpy()


def load_orient_model(run_dir: str | Path, device: str = "cpu") -> OrientModel:
    """Load RUN_DIR (written by ``chromolib train``): config, normalisation, weights, threshold."""
    from .pipeline import load_trained

    run = Path(run_dir)
    dev = torch.device(device)
    model, config, norm = load_trained(run, device)
    review = run / "review.json"
    threshold = json.loads(review.read_text())["threshold"] if review.exists() else 0.9
    return OrientModel(model, int(config["image_size"]), float(norm["mean"]), float(norm["std"]), threshold, dev)


def choose_threshold(predictions: pd.DataFrame, target_error: float = 0.005, seed: int = 0) -> dict:
    """Pick the review threshold on half of the held-out cells, report it on the other half.

    Confidence is max(p, 1 - p). The threshold is the lowest confidence at which the
    chromosomes kept (not flagged) of the choosing half have at most ``target_error`` errors.
    Also returns the accuracy-against-flagged-fraction curve of the reporting half.
    """
    df = predictions.copy()
    df["confidence"] = np.maximum(df.prob_up, 1 - df.prob_up)
    df["wrong"] = (df.prob_up >= 0.5).astype(int) != df.label
    cells = np.array(sorted(df.cell.astype(str).unique()))
    np.random.default_rng(seed).shuffle(cells)
    choose = df.cell.astype(str).isin(set(cells[: len(cells) // 2]))
    a, b = df[choose], df[~choose]
    threshold = 0.5
    for t in np.unique(np.concatenate([[0.5], a.confidence.to_numpy()])):
        kept = a[a.confidence >= t]
        if len(kept) and kept.wrong.mean() <= target_error:
            threshold = float(t)
            break
    curve = []
    for t in np.linspace(0.5, 1.0, 51):
        kept = b[b.confidence >= t]
        curve.append({"threshold": round(float(t), 3), "flagged_fraction": 1 - len(kept) / max(len(b), 1),
                      "accuracy_kept": 1 - kept.wrong.mean() if len(kept) else float("nan")})
    kept = b[b.confidence >= threshold]
    return {"threshold": threshold, "target_error": target_error, "n_choose": int(len(a)), "n_report": int(len(b)),
            "report_flagged_fraction": 1 - len(kept) / max(len(b), 1),
            "report_accuracy_kept": float(1 - kept.wrong.mean()) if len(kept) else float("nan"),
            "report_accuracy_all": float(1 - b.wrong.mean()) if len(b) else float("nan"), "curve": curve}


def _read(path: Path) -> np.ndarray:
    """Read any 8/16-bit gray or colour image; raise ValueError with a one-line reason."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()  # decodes fully: truncated files fail here
    except UnidentifiedImageError:
        raise ValueError("not an image (unknown or corrupt format)") from None
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"unreadable image ({exc})") from None
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        with Image.open(path) as im:
            img = np.asarray(im.convert("L"))
    return img


def check_image(img: np.ndarray) -> tuple[np.ndarray, str]:
    """The chromosome's mask, and a note ("" or "3 objects: used the largest").

    Raises ValueError with a reason for blank images, no foreground, or too small ones.
    """
    gray = to_gray(img)
    if int(gray.max()) - int(gray.min()) < 8:
        raise ValueError("blank image (no contrast)")
    mask = foreground_mask(gray)
    if not mask.any() or mask.mean() > 0.95:
        raise ValueError("no foreground: cannot separate a chromosome from the background")
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    note = ""
    if n > 2:
        big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        mask = labels == big
        note = f"{n - 1} objects: used the largest"
    ys, xs = np.nonzero(mask)
    if ys.size < MIN_AREA or max(np.ptp(ys), np.ptp(xs)) + 1 < MIN_EXTENT:
        raise ValueError(f"too small to orient ({np.ptp(xs) + 1} x {np.ptp(ys) + 1} px, {ys.size} px of chromosome)")
    return mask, note


def upright_file(path: str | Path, method: str = "hull", step: float = 1.0) -> tuple[np.ndarray, float, str]:
    """Read one chromosome image and rotate it to vertical (type, bit depth and background kept).

    Returns the tight upright crop, the angle (degrees counter-clockwise, [0, 180)) and a note;
    raises ValueError with a one-line reason when the file cannot be oriented.
    """
    img = _read(Path(path))
    mask, note = check_image(img)
    angle = find_angle(mask, method, step)
    return rotate_and_crop(img, mask, angle, background_fill(img)), angle, note


def write_atomic_image(path: Path, img: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        if not cv2.imwrite(tmp, img):
            raise OSError(f"cannot write {path}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_csv_atomic(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def _output_name(path: Path) -> str:
    # keep the name; formats OpenCV cannot write become PNG
    return path.name if path.suffix.lower() in (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg") else path.name + ".png"


def orient_folder(in_dir: str | Path, out_dir: str | Path, model: OrientModel, method: str = "hull",
                  labels: pd.DataFrame | None = None, progress: bool = True, log=None) -> pd.DataFrame:
    """Orient every file in ``in_dir`` into ``out_dir``; return (and write) ``results.csv``.

    Files already done in an earlier run (a row without error and the output present) are
    skipped. ``log(message)`` receives one line per bad file (default: stderr).
    """
    import sys

    from .progress import progress_bar

    log = log or (lambda msg: print(msg, file=sys.stderr))
    src, out = Path(in_dir), Path(out_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"input folder {src} does not exist")
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith("."))
    results_path = out / "results.csv"
    done: dict[str, dict] = {}
    if results_path.exists():
        prev = pd.read_csv(results_path, dtype=str, keep_default_na=False)
        for row in prev.to_dict("records"):
            if not row.get("error") and (out / _output_name(Path(row["file"]))).exists():
                done[row["file"]] = row
    rows: dict[str, dict] = {}
    pending = []  # (file, upright original, upright gray, angle, note)
    for f in progress_bar(files, progress and len(files) >= 20, desc="rotate"):
        if f.name in done:
            rows[f.name] = done[f.name]
            continue
        try:
            crop, angle, note = upright_file(f, method)
            pending.append((f, crop, canonical_gray(crop), angle, note))
        except Exception as exc:  # one bad file must not stop the batch
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            rows[f.name] = {"file": f.name, "rotation_angle": "", "polarity": "", "probability": "", "flipped": "",
                            "needs_review": "", "error": reason, "note": ""}
            log(f"{f}: {reason}")
    probs = model.prob_up([p[2] for p in pending])
    for (f, crop, _, angle, note), p in zip(pending, probs):
        up = p >= 0.5
        final = crop if up else np.ascontiguousarray(crop[::-1, ::-1])  # rotate 180 degrees
        write_atomic_image(out / _output_name(f), final)
        conf = max(p, 1 - p)
        rows[f.name] = {"file": f.name, "rotation_angle": f"{(angle + (0 if up else 180)) % 360:.2f}",
                        "polarity": "up" if up else "down", "probability": f"{conf:.4f}",
                        "flipped": str(not up), "needs_review": str(conf < model.threshold), "error": "",
                        "note": note}
    ordered = [rows[f.name] for f in files if f.name in rows]
    _write_csv_atomic(results_path, ordered)
    result = pd.DataFrame(ordered, columns=RESULT_COLUMNS)
    good = result[result.error == ""]
    images = [cv2.imread(str(out / _output_name(Path(f))), cv2.IMREAD_UNCHANGED) for f in good.file]
    types = None
    if labels is not None:
        lab = dict(zip(labels.file.map(lambda s: Path(s).name), labels.chromosome.astype(str)))
        types = [lab.get(f, "?") for f in good.file]
    sheet = karyogram_sheet([canonical_gray(i) for i in images if i is not None], types)
    write_atomic_image(out / "karyogram.png", sheet)
    return result


def karyogram_sheet(images: list[np.ndarray], types: list[str] | None = None, height: int = 120) -> np.ndarray:
    """A white sheet of oriented chromosomes (dark on white): in karyogram rows by type when
    ``types`` are given, else in a grid in input order. Scale is shared, so lengths compare."""
    pad = 6
    if not images:
        return np.full((height, height), 255, np.uint8)
    tallest = max(i.shape[0] for i in images)
    s = min(1.0, height / tallest)
    scaled = [cv2.resize(i, (max(1, int(i.shape[1] * s)), max(1, int(i.shape[0] * s))), interpolation=cv2.INTER_AREA)
              for i in images]
    if types is None:
        groups = [list(range(k, min(k + 12, len(scaled)))) for k in range(0, len(scaled), 12)]
    else:
        groups = [[i for t in row for i in range(len(types)) if types[i] == t] for row in KARYOGRAM_ROWS]
        rest = [i for i in range(len(types)) if not any(types[i] in r for r in KARYOGRAM_ROWS)]
        if rest:
            groups.append(rest)
    row_h = height + 2 * pad + 14
    rows = []
    for g in (g for g in groups if g):
        width = sum(scaled[i].shape[1] + pad for i in g) + pad
        canvas = np.full((row_h, max(width, 50)), 255, np.uint8)
        x = pad
        prev_type = None
        for i in g:
            im = scaled[i]
            if types is not None and types[i] != prev_type:
                cv2.putText(canvas, types[i], (x, row_h - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 0, 1, cv2.LINE_AA)
                prev_type = types[i]
            y = row_h - 14 - im.shape[0]
            canvas[y:y + im.shape[0], x:x + im.shape[1]] = im
            x += im.shape[1] + pad
        rows.append(canvas)
    width = max(r.shape[1] for r in rows)
    return np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1])), constant_values=255) for r in rows])
