"""Orient a whole cell: every segmented chromosome vertical with the short arm up.

``chromolib orient IN_DIR OUT_DIR`` runs the two steps of the method on every file in IN_DIR -
rotation to vertical (``rotation.py``) and the polarity network (flip when it says "down") -
then tells each chromosome's type (the shipped type model of the images' stain, assigned over
the cell, ``assignment.py``; or the user's labels), and writes the oriented images under their
own names, a ``results.csv`` and a karyogram sheet in the standard layout. ``chromolib rotate`` runs the first step alone. Bad input never stops the
batch: each file that cannot be oriented gets a one-line reason. The output folder must lie
outside the input folder, so no original is ever overwritten.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .assignment import assign_cell
from .images import (background_is_white, canonical_gray, check_separate, for_each_file, list_images, read_image,
                     write_csv_atomic, write_image_atomic)
from .karyotype import TYPES
from .karyogram import karyogram_sheet
from .rotation import DEFAULT_METHOD, background_fill, chromosome_mask, find_angle, is_small, rotate_and_crop
from .torchfree import POLARITY, TYPE_MODELS, NeedsTorch, NumpyModel, load_numpy_shipped

if TYPE_CHECKING:  # torch and pandas: imported only where a run folder (or a GPU) or a table is asked for
    import pandas as pd

    from .runs import TrainedModel

__all__ = ["OrientModel", "load_orient_model", "TypeModel", "load_type_model", "detect_stain", "Upright", "upright_file", "rotate_folder", "orient_folder", "orient_rows", "RESULT_COLUMNS", "STRAIGHT_DIR", "STRAIGHT_SHEET",
           "ROTATION_COLUMNS"]

RESULT_COLUMNS = ["file", "rotation_angle", "polarity", "probability", "flipped", "chromosome", "type_probability",
                  "needs_review", "error", "note"]
ROTATION_COLUMNS = ["file", "angle", "error"]
#: notes that flag a chromosome for review (``needs_review``); a small one's note starts with SMALL
POLARITY_UNSURE, TYPE_UNSURE, SMALL = "polarity uncertain", "type uncertain", "small"
#: where ``orient_rows(..., straighten=True)`` writes the straightened chromosomes and their sheet
STRAIGHT_DIR, STRAIGHT_SHEET = "straightened", "karyogram-straightened.png"


@dataclass
class OrientModel:
    """A trained polarity network and the confidence below which ``orient`` flags a chromosome.
    ``trained``: a ``runs.TrainedModel`` (torch), or for the shipped model on the CPU a
    ``torchfree.NumpyModel`` (the same predictions without importing torch)."""
    trained: TrainedModel | NumpyModel
    threshold: float  # confidence max(p, 1 - p) below which a chromosome is flagged for review

    def prob_up(self, crops: list[np.ndarray]) -> np.ndarray:
        """P(up) per upright crop, by ``TrainedModel.prob_up``: the probabilities the run was
        evaluated on and its review threshold chosen on."""
        return self.trained.prob_up(crops)


def load_orient_model(run_dir: str | Path | None = None, device: str = "cpu") -> OrientModel:
    """Load RUN_DIR (written by ``chromolib train``): config, normalisation, weights, threshold;
    without RUN_DIR the model that ships with chromolib (``shipped.POLARITY``): on the CPU in
    numpy (``torchfree``, no torch import), on another ``device`` with torch."""
    if run_dir is None:
        return OrientModel(*_shipped(POLARITY, device))
    from .runs import load_trained

    run = Path(run_dir)
    review = run / "review.json"
    threshold = json.loads(review.read_text())["threshold"] if review.exists() else 0.9
    return OrientModel(load_trained(run, device), threshold)


@dataclass
class TypeModel:
    """A trained type network (24 classes), the stain it was trained on, and the confidence of
    the assigned type below which ``orient`` flags a chromosome (``trained`` as in ``OrientModel``)."""
    trained: TrainedModel | NumpyModel
    threshold: float
    stain: str = ""

    def types(self, crops: list[np.ndarray]) -> tuple[list[str], np.ndarray]:
        """Type of each upright, p-up crop of ONE cell, assigned jointly over the cell, and the
        probability the network gives that type."""
        probs = self.trained.type_probs(crops)
        best = assign_cell(probs)
        return [TYPES[i] for i in best], probs[np.arange(len(best)), best]


def detect_stain(crops: list[np.ndarray]) -> str:
    """``"qband"`` when most crops are bright on a dark background (fluorescent Q-bands), else ``"gband"``."""
    bright = sum(not background_is_white(c) for c in crops)
    return "qband" if crops and bright > len(crops) / 2 else "gband"


def load_type_model(stain: str, run_dir: str | Path | None = None, device: str = "cpu") -> TypeModel | None:
    """A type run (``train --profile type``) or, without ``run_dir``, the type model that ships
    for ``stain`` (on the CPU in numpy, as ``load_orient_model``); ``None`` when this installation
    ships none for that stain."""
    if run_dir is not None:
        from .runs import load_trained

        run = Path(run_dir)
        review = run / "review.json"
        threshold = json.loads(review.read_text())["threshold"] if review.exists() else 0.5
        trained = load_trained(run, device)
        if trained.target != "type":
            raise ValueError(f"{run} is a polarity run, not a type run (`chromolib train --profile type`)")
        return TypeModel(trained, threshold, stain)
    if not TYPE_MODELS[stain].exists():
        return None
    return TypeModel(*_shipped(TYPE_MODELS[stain], device), stain)


def _shipped(path: Path, device: str) -> tuple[TrainedModel | NumpyModel, float]:
    """A shipped model and its threshold: on the CPU without torch (``torchfree``) where its
    architecture allows, else with torch (``shipped.load_shipped``)."""
    if device == "cpu":
        try:
            return load_numpy_shipped(path)
        except NeedsTorch:
            pass
    from .shipped import load_shipped

    return load_shipped(path, device=device)


class Upright(NamedTuple):
    """One chromosome rotated to vertical (short arm up or down)."""
    crop: np.ndarray  # tight upright crop, image type, bit depth and background kept
    angle: float      # degrees counter-clockwise, [0, 180)
    note: str         # "" or what to know (several objects, small)
    small: bool       # too small to be sure of: flagged for review


def upright_file(path: str | Path, method: str = DEFAULT_METHOD, step: float = 1.0) -> Upright:
    """Read one chromosome image and rotate it to vertical; raises ValueError with a one-line
    reason when the file holds no chromosome."""
    img = read_image(path)
    mask, note = chromosome_mask(img)
    angle = find_angle(mask, method, step)
    return Upright(rotate_and_crop(img, mask, angle, background_fill(img)), angle, note, is_small(mask))


def _output_name(path: Path) -> str:
    # keep the name; formats OpenCV cannot write become PNG
    return path.name if path.suffix.lower() in (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg") else path.name + ".png"


def rotate_folder(in_dir: str | Path, out_dir: str | Path, method: str = DEFAULT_METHOD, step: float = 1.0,
                  progress: bool = True, log=None) -> pd.DataFrame:
    """Rotate every image in ``in_dir`` to vertical into ``out_dir`` (same names), with
    ``rotation.csv`` (file, angle in degrees counter-clockwise, error); return that table."""
    check_separate(in_dir, out_dir)
    files = list_images(in_dir)
    if not files:
        raise ValueError(f"no images (png, jpg, tif, bmp) in {in_dir}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def work(f: Path) -> float:
        up = upright_file(f, method, step)
        write_image_atomic(out / f.name, up.crop)
        return up.angle

    rows = [{"file": f.name, "angle": "" if err else f"{angle:.3f}", "error": err}
            for f, angle, err in for_each_file(files, work, progress, desc="rotate", log=log)]
    write_csv_atomic(out / "rotation.csv", rows, ROTATION_COLUMNS)
    import pandas as pd

    return pd.DataFrame(rows, columns=ROTATION_COLUMNS)


def orient_folder(in_dir: str | Path, out_dir: str | Path, model: OrientModel, method: str = DEFAULT_METHOD,
                  labels: pd.DataFrame | None = None, progress: bool = True, log=None,
                  types: TypeModel | str | None = "auto", straighten: bool = False) -> pd.DataFrame:
    """``orient_rows`` as a table (columns ``RESULT_COLUMNS``)."""
    import pandas as pd

    return pd.DataFrame(orient_rows(in_dir, out_dir, model, method, labels, progress, log, types, straighten),
                        columns=RESULT_COLUMNS)


def orient_rows(in_dir: str | Path, out_dir: str | Path, model: OrientModel, method: str = DEFAULT_METHOD,
                labels: pd.DataFrame | None = None, progress: bool = True, log=None,
                types: TypeModel | str | None = "auto", straighten: bool = False) -> list[dict[str, str]]:
    """Orient every file in ``in_dir`` (one cell) into ``out_dir``; return (and write) the rows of
    ``results.csv`` (one dict of ``RESULT_COLUMNS`` per file; ``chromolib orient`` reads them
    without importing pandas).

    Types (the ``chromosome`` column and the sheet's layout) come from ``labels`` (file,
    chromosome) when given, else from ``types``: a ``TypeModel``, ``"auto"`` (the shipped model
    of the stain ``detect_stain`` sees), ``"gband"``/``"qband"`` (that stain's shipped model) or
    ``None`` (no types: the sheet is a grid in file order). Files already done in an earlier run
    (a row without error and the output present) are skipped; types are assigned again over the
    whole cell. ``log(message)`` receives one line per bad file (default: stderr).

    ``straighten``: also write each oriented chromosome straightened along its axis
    (``straighten.straighten``; a nearly straight one as it is) to ``STRAIGHT_DIR`` under the same
    name and their sheet to ``STRAIGHT_SHEET``, for reading the bands; the oriented crops and
    ``karyogram.png`` stay as they are.
    """
    src, out = Path(in_dir), Path(out_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"input folder {src} does not exist")
    check_separate(src, out)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith("."))
    results_path = out / "results.csv"
    done: dict[str, dict] = {}
    if results_path.exists():
        with open(results_path, newline="", encoding="utf-8") as fh:
            prev = list(csv.DictReader(fh))
        for row in prev:
            if not row.get("error") and (out / _output_name(Path(row["file"]))).exists():
                done[row["file"]] = row
    rows: dict[str, dict] = {name: done[name] for name in (f.name for f in files) if name in done}
    results = for_each_file([f for f in files if f.name not in done], lambda f: upright_file(f, method), progress,
                            desc="rotate", log=log)
    pending = [(f, r) for f, r, err in results if not err]
    for f, _, err in results:
        if err:
            rows[f.name] = {**dict.fromkeys(RESULT_COLUMNS, ""), "file": f.name, "error": err}
    probs = model.prob_up([u.crop for _, u in pending])
    for (f, u), p in zip(pending, probs):
        up = p >= 0.5
        final = u.crop if up else np.ascontiguousarray(u.crop[::-1, ::-1])  # rotate 180 degrees
        write_image_atomic(out / _output_name(f), final)
        conf = max(p, 1 - p)
        rows[f.name] = {"file": f.name, "rotation_angle": f"{(u.angle + (0 if up else 180)) % 360:.2f}",
                        "polarity": "up" if up else "down", "probability": f"{conf:.4f}", "flipped": str(not up),
                        "error": "", "note": "; ".join(x for x in (u.note, POLARITY_UNSURE if conf < model.threshold else "")
                                                       if x)}
    good = [rows[f.name] for f in files if f.name in rows and not rows[f.name]["error"]]
    oriented = [read_image(out / _output_name(Path(r["file"]))) for r in good]
    names = _types(good, oriented, labels, types)
    for row, name in zip(good, names or []):
        row["chromosome"] = name
    ordered = [{**dict.fromkeys(RESULT_COLUMNS, ""), **rows[f.name]} for f in files if f.name in rows]
    write_csv_atomic(results_path, ordered, RESULT_COLUMNS)
    sheet = karyogram_sheet([canonical_gray(i) for i in oriented], names)
    write_image_atomic(out / "karyogram.png", sheet)
    if straighten:
        from .straighten import straighten as unbend

        straight = [_straightened(unbend, i) for i in oriented]
        (out / STRAIGHT_DIR).mkdir(exist_ok=True)
        for r, im in zip(good, straight):
            write_image_atomic(out / STRAIGHT_DIR / _output_name(Path(r["file"])), im)
        write_image_atomic(out / STRAIGHT_SHEET, karyogram_sheet(straight, names))
    return ordered


def _straightened(unbend, image: np.ndarray) -> np.ndarray:
    """``unbend(image)``, or the image as it is where straightening fails: a view for the reader
    must not cost the cell its other outputs."""
    import cv2

    try:
        return unbend(image)
    except (ValueError, cv2.error):
        return canonical_gray(image)


def _types(rows: list[dict], oriented: list[np.ndarray], labels: pd.DataFrame | None,
           types: TypeModel | str | None) -> list[str] | None:
    """The type of each oriented chromosome (rows updated with its probability and review
    flag), or ``None`` when no type can be told."""
    names, probs, threshold = None, [""] * len(rows), 0.0
    if labels is not None:
        lab = dict(zip(labels.file.map(lambda s: Path(s).name), labels.chromosome.astype(str)))
        names = [lab.get(r["file"], "?") for r in rows]
    else:
        if isinstance(types, str):
            types = load_type_model(detect_stain(oriented) if types == "auto" else types)
        if types is not None and rows:
            names, p = types.types([canonical_gray(i) for i in oriented])
            probs = [float(x) for x in p]
            threshold = types.threshold
    for r, p in zip(rows, probs):
        # the reasons to look again, from this run or (rows already done) an earlier one
        notes = [x for x in str(r.get("note", "")).split("; ") if x and x != TYPE_UNSURE]
        if p != "" and p < threshold:
            notes.append(TYPE_UNSURE)
        r["type_probability"] = "" if p == "" else f"{p:.4f}"
        r["note"] = "; ".join(notes)
        r["needs_review"] = str(any(x in (POLARITY_UNSURE, TYPE_UNSURE) or x.startswith(SMALL) for x in notes))
    return names
