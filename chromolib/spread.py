"""From a whole metaphase image to a karyogram: segment, cut, orient, type, write.

``chromolib karyotype SPREAD... OUT_DIR`` takes each spread image through the steps the other
modules provide: a segmenter (``segmenter_for``: the U-Net of ``unet.py`` when one ships, for
bright-on-black spreads, else the classical one of ``segmentation.py``) - or the polygons of a
labelme file a person corrected (``outlines.py``) - cuts one crop per object (the object's pixels on the
spread's background colour, everything else in its bounding box set to that colour, a small
margin), and hands the crops of the spread to ``orient.orient_folder`` as one cell (rotation,
polarity, type assigned over the cell). Per spread it writes, in ``OUT_DIR/<spread stem>/``:

- ``crops/object_NNN.png``: the cut objects (objects flagged as clusters in ``crops/clusters/``);
- ``oriented/``: the oriented crops and orient's own ``results.csv``;
- ``results.csv``: one row per object (``RESULT_COLUMNS``);
- ``karyogram.png``: the oriented single chromosomes (clusters are left off: they are not one
  chromosome), by type when a type model ships for the stain, else a grid in object order;
- ``overlay.png``: the spread with each object's outline drawn and its number written
  (green; clusters orange; objects that could not be oriented red);
- ``outlines.json``: the outlines as labelme 4.5.7 polygons, its ``imagePath`` pointing at the
  original image, so a person can correct them in labelme and rerun with ``outlines=``.

Conventions as in ``segmentation.py``: images are (h, w), row 0 at the top; bounding boxes are
(x, y, w, h) in pixels; objects are numbered 1..n in the segmenter's (or the file's polygon)
order, and ``object_NNN`` is object NNN everywhere (crops, results, overlay, outlines).
The segmenter's pixel parameters are at the BioImLab spreads' resolution (768 x 576 px,
chromosomes about 14 px wide).

A bad image never stops the batch: it gets a one-line reason (stderr and the batch summary).
No input is ever overwritten: the output folder must lie outside every folder given as input,
and no input may lie inside the output folder.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import pandas as pd

from .images import (IMAGE_SUFFIXES, check_separate, first_line, list_images, read_image, to_gray,
                     write_csv_atomic, write_image_atomic)
from .outlines import Outlines, masks_to_polygons, polygon_mask, read_labelme, write_labelme
from .progress import progress_bar
from .segmentation import _bright_on_dark, segment_classical

__all__ = ["RESULT_COLUMNS", "SUMMARY_COLUMNS", "MIN_OBJECTS", "MAX_SIDE", "MIN_SIDE", "MARGIN", "SpreadObjects",
           "SEGMENTERS", "SHIPPED_SEGMENTER", "segmenter_for",
           "spread_gray", "objects_from_segmentation", "objects_from_outlines", "check_is_spread", "background_level", "zoom",
           "cut_crop", "draw_overlay", "karyotype_spread", "karyotype_spreads", "spread_inputs"]

#: columns of a spread's ``results.csv``
RESULT_COLUMNS = ["object", "x", "y", "w", "h", "area", "cluster", "touches_border", "chromosome", "type_probability",
                  "polarity", "probability", "rotation_angle", "needs_review", "error", "note", "file"]
#: columns of the batch's ``summary.csv``: one row per input image
SUMMARY_COLUMNS = ["spread", "objects", "clusters", "typed", "needs_review", "error", "folder"]
MIN_OBJECTS = 5      # fewer objects than this: not a metaphase spread
MIN_SIDE = 64        # px: a smaller image is a single chromosome crop, not a spread
MAX_SIDE = 4096      # px: a larger image is refused (the segmenter is tuned to ~768 x 576 px spreads)
MARGIN = 4           # px of background around each cut object
SPAN = 0.6           # one object spanning this share of both image sides: not a spread
CLUSTER_NOTE, BORDER_NOTE = "cluster: may be several chromosomes", "touches the image border: may be cut off"

GREEN, ORANGE, RED = (80, 220, 80), (0, 150, 255), (60, 60, 255)  # BGR
#: the ``--segmenter`` choices (see ``segmenter_for``)
SEGMENTERS = ("auto", "classical", "unet")
#: the U-Net segmenter that ships with the package (``unet.SEGMENTER``; named here so that asking
#: whether it ships does not import torch)
SHIPPED_SEGMENTER = Path(__file__).resolve().parent / "models" / "segmenter-qband.pt"


def segmenter_for(choice="auto") -> Callable[[np.ndarray], object]:
    """The segmenter (8-bit gray spread -> ``segmentation.Segmentation``) for a ``--segmenter``
    choice: ``"classical"`` (threshold + watershed); ``"unet"`` (the shipped U-Net,
    ``SHIPPED_SEGMENTER``; FileNotFoundError when none ships); ``"auto"``: the shipped U-Net for
    bright-on-black (Q-band-like) spreads when it ships - it was trained on Q-band - and the
    classical segmenter otherwise. A callable (e.g. a ``unet.UNetSegmenter``) is returned as it
    is. The network is loaded here, once."""
    if callable(choice):
        return choice
    if choice not in SEGMENTERS:
        raise ValueError(f"segmenter {choice!r}: one of {', '.join(SEGMENTERS)}")
    if choice == "classical" or (choice == "auto" and not SHIPPED_SEGMENTER.exists()):
        return segment_classical
    from .unet import load_segmenter

    net = load_segmenter(SHIPPED_SEGMENTER)
    if choice == "unet":
        return net

    def auto(gray: np.ndarray):
        return segment_classical(gray) if _bright_on_dark(gray)[1] else net(gray)

    return auto


@dataclass
class SpreadObjects:
    """The objects of one spread.

    ``table``: one row per object: object (1..n), x, y, w, h (bounding box, px), area (px^2),
    cluster, touches_border. ``masks[i]``: boolean mask of object i + 1 inside its bounding box.
    ``polygons[i]``: its outline, (N, 2) float (x, y) image coordinates. ``labels``: the labelme
    label of each polygon.
    """
    table: pd.DataFrame
    masks: list[np.ndarray]
    polygons: list[np.ndarray]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.table)


def spread_gray(image: np.ndarray) -> np.ndarray:
    """The spread as 8-bit gray (16-bit stretched, colour converted, ``images.to_gray``); raises
    ValueError with a one-line reason for a blank, tiny or huge image."""
    gray = to_gray(image)
    h, w = gray.shape
    if int(gray.max()) - int(gray.min()) < 8:
        raise ValueError("blank image (no contrast)")
    if min(h, w) < MIN_SIDE:
        raise ValueError(f"too small for a metaphase spread ({w} x {h} px): a single chromosome? "
                         f"`chromolib orient` takes a folder of chromosome crops")
    if max(h, w) > MAX_SIDE:
        k = int(np.ceil(max(h, w) / 1024))
        raise ValueError(f"too large ({w} x {h} px, over {MAX_SIDE} px a side): the segmenter is tuned to spreads of "
                         f"about 768 x 576 px with chromosomes about 14 px wide; downscale it (e.g. to 1/{k}) and rerun")
    return gray


def _tight(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def objects_from_segmentation(seg) -> SpreadObjects:
    """The objects of a ``segmentation.Segmentation`` (outlines traced from its label image)."""
    table = seg.objects[["object", "x", "y", "w", "h", "area", "cluster", "touches_border"]].reset_index(drop=True)
    masks = [seg.labels[r.y:r.y + r.h, r.x:r.x + r.w] == r.object for r in table.itertuples()]
    polygons = masks_to_polygons(seg.labels)
    return SpreadObjects(table, masks, polygons, ["chr"] * len(table))


def objects_from_outlines(outlines: Outlines, shape: tuple[int, int]) -> SpreadObjects:
    """The objects a person outlined: polygon i is object i + 1 with its whole polygon as mask
    (overlapping chromosomes each keep their full outline), never a cluster. Raises ValueError
    when the file is for an image of another size or holds no polygon."""
    H, W = shape[:2]
    if tuple(outlines.shape) != (H, W):
        raise ValueError(f"the outlines {outlines.path} are for a {outlines.shape[1]} x {outlines.shape[0]} px image, "
                         f"this image is {W} x {H} px")
    if not outlines.polygons:
        raise ValueError(f"no polygons in {outlines.path}")
    rows, masks = [], []
    for i, poly in enumerate(outlines.polygons):
        x0 = int(np.clip(np.floor(poly[:, 0].min()), 0, W - 1))
        y0 = int(np.clip(np.floor(poly[:, 1].min()), 0, H - 1))
        x1 = int(np.clip(np.ceil(poly[:, 0].max()) + 1, x0 + 1, W))
        y1 = int(np.clip(np.ceil(poly[:, 1].max()) + 1, y0 + 1, H))
        m = polygon_mask(poly - [x0, y0], (y1 - y0, x1 - x0))
        if m.any():
            bx, by, bw, bh = _tight(m)
            m = m[by:by + bh, bx:bx + bw]
            x, y = x0 + bx, y0 + by
        else:  # a polygon outside the image or without area
            x, y, bw, bh = x0, y0, 0, 0
        masks.append(m)
        rows.append({"object": i + 1, "x": x, "y": y, "w": bw, "h": bh, "area": int(m.sum()), "cluster": False,
                     "touches_border": bool(bw and (x == 0 or y == 0 or x + bw == W or y + bh == H))})
    table = pd.DataFrame(rows, columns=["object", "x", "y", "w", "h", "area", "cluster", "touches_border"])
    return SpreadObjects(table, masks, [np.asarray(p, float) for p in outlines.polygons], list(outlines.labels))


def check_is_spread(objects: SpreadObjects, shape: tuple[int, int]) -> None:
    """Raise ValueError with a one-line reason when the segmented image does not look like a
    metaphase spread: fewer than ``MIN_OBJECTS`` objects, or one object spanning most of it."""
    H, W = shape[:2]
    n = len(objects)
    if n < MIN_OBJECTS:
        raise ValueError(f"only {n} object{'' if n == 1 else 's'} found (a metaphase spread has dozens): a single "
                         f"chromosome or an empty field? `chromolib orient` takes a folder of chromosome crops")
    t = objects.table
    span = t[(t.w >= SPAN * W) & (t.h >= SPAN * H)]
    if len(span):
        r = span.iloc[0]
        raise ValueError(f"object {r.object} spans most of the image ({r.w} x {r.h} of {W} x {H} px): a single "
                         f"chromosome or a close-up, not a metaphase spread")


def background_level(gray: np.ndarray, objects: SpreadObjects) -> int:
    """Median gray level of the pixels outside every object's bounding box (the whole image when
    the boxes cover it): the colour the crops are cut onto."""
    free = np.ones(gray.shape, bool)
    for r in objects.table.itertuples():
        free[r.y:r.y + r.h, r.x:r.x + r.w] = False
    return int(np.median(gray[free] if free.any() else gray))


def cut_crop(gray: np.ndarray, mask: np.ndarray, x: int, y: int, background: int, margin: int = MARGIN) -> np.ndarray:
    """One object as a single-chromosome crop: its pixels (``mask``, its bounding box at (x, y))
    on ``background``, ``margin`` px of background around it (uint8, the spread's polarity)."""
    h, w = mask.shape
    crop = np.full((h + 2 * margin, w + 2 * margin), background, np.uint8)
    inner = crop[margin:margin + h, margin:margin + w]
    inner[mask] = gray[y:y + h, x:x + w][mask]
    return crop


def zoom(image: np.ndarray, box, pad: int = 14) -> np.ndarray:
    """The part of ``image`` (a spread or its overlay) around the bounding box ``box`` (x, y, w, h),
    ``pad`` px more on each side where the image has them: for showing one object."""
    x, y, w, h = (int(v) for v in box)
    H, W = image.shape[:2]
    return image[max(y - pad, 0):min(y + h + pad, H), max(x - pad, 0):min(x + w + pad, W)]


def draw_overlay(gray: np.ndarray, objects: SpreadObjects, failed: set[int] = frozenset()) -> np.ndarray:
    """BGR image of the spread with each object's outline drawn and its number written at the top
    left of its box: green, clusters orange, objects in ``failed`` red."""
    vis = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    scale = max(0.7, max(gray.shape) / 1100)
    for r, poly in zip(objects.table.itertuples(), objects.polygons):
        colour = RED if r.object in failed else ORANGE if r.cluster else GREEN
        if len(poly) >= 2:
            cv2.polylines(vis, [np.round(poly).astype(np.int32).reshape(-1, 1, 2)], True, colour, 1, cv2.LINE_AA)
        cv2.putText(vis, str(r.object), (int(r.x), max(int(r.y) - 2, 9)), cv2.FONT_HERSHEY_PLAIN, scale, colour, 1,
                    cv2.LINE_AA)
    return vis


def _clear(folder: Path, patterns: Sequence[str]) -> None:
    """Remove an earlier run's outputs (only files matching ``patterns``) so that none is stale."""
    if folder.is_dir():
        for pattern in patterns:
            for f in folder.glob(pattern):
                if f.is_file():
                    f.unlink()


def _orient(crops: Path, oriented: Path, model, types) -> pd.DataFrame:
    from .orient import RESULT_COLUMNS as ORIENT_COLUMNS, orient_folder

    if not any(crops.glob("object_*.png")):
        return pd.DataFrame(columns=ORIENT_COLUMNS)
    return orient_folder(crops, oriented, model, progress=False, log=lambda msg: None, types=types)


def karyotype_spread(path: str | Path, out_dir: str | Path, model=None, outlines: Outlines | None = None,
                     stain: str = "auto", type_models: dict | None = None, segmenter="auto") -> pd.DataFrame:
    """Segment (or take ``outlines``), cut, orient and type one spread image into
    ``out_dir/<stem>/``; return (and write) its ``results.csv`` table.

    ``model``: an ``orient.OrientModel`` (default: the shipped polarity model). ``stain``:
    ``"auto"`` (from the crops: bright on black is Q-band), ``"gband"``, ``"qband"`` or
    ``"none"``: which shipped type model tells the types; without one the karyogram is a grid
    in object order. ``type_models`` caches the loaded type models across calls. ``segmenter``:
    a ``SEGMENTERS`` choice or a segmenter (see ``segmenter_for``). Raises
    ValueError with a one-line reason when the image is not a spread it can read.
    """
    from .orient import detect_stain, load_orient_model, load_type_model

    path = Path(path)
    gray = spread_gray(read_image(path))
    if outlines is not None:
        objects = objects_from_outlines(outlines, gray.shape)
    else:
        objects = objects_from_segmentation(segmenter_for(segmenter)(gray))
        check_is_spread(objects, gray.shape)
    model = model if model is not None else load_orient_model()
    type_models = {} if type_models is None else type_models

    folder = Path(out_dir) / path.stem
    crops, oriented = folder / "crops", folder / "oriented"
    for d in (crops, crops / "clusters", oriented, oriented / "clusters"):
        _clear(d, ("object_*.png", "results.csv", "karyogram.png", ".tmp-*"))
        d.mkdir(parents=True, exist_ok=True)

    background = background_level(gray, objects)
    width = max(3, len(str(len(objects))))
    names, singles = {}, []
    for r, m in zip(objects.table.itertuples(), objects.masks):
        if not m.any():
            continue
        name = f"object_{r.object:0{width}d}.png"
        crop = cut_crop(gray, m, r.x, r.y, background)
        write_image_atomic((crops / "clusters" if r.cluster else crops) / name, crop)
        names[r.object] = name
        if not r.cluster:
            singles.append(crop)

    types = None
    if stain != "none" and singles:
        s = detect_stain(singles) if stain == "auto" else stain
        if s not in type_models:
            type_models[s] = load_type_model(s)
        types = type_models[s]
    res = _orient(crops, oriented, model, types)
    res_clusters = _orient(crops / "clusters", oriented / "clusters", model, None)
    (oriented / "clusters" / "karyogram.png").unlink(missing_ok=True)
    sheet = oriented / "karyogram.png"
    if sheet.exists():
        os.replace(sheet, folder / "karyogram.png")
    else:  # no single chromosome: an empty sheet
        from .karyogram import karyogram_sheet

        write_image_atomic(folder / "karyogram.png", karyogram_sheet([]))

    by_file = {r["file"]: r for r in res.to_dict("records")}
    by_file_cluster = {r["file"]: r for r in res_clusters.to_dict("records")}
    rows = []
    for r in objects.table.itertuples():
        name = names.get(r.object)
        o = (by_file_cluster if r.cluster else by_file).get(name, {}) if name else {}
        error = o.get("error", "") if name else "empty outline (no pixel inside the polygon)"
        notes = [x for x in str(o.get("note", "")).split("; ") if x]
        notes += [CLUSTER_NOTE] if r.cluster else []
        notes += [BORDER_NOTE] if r.touches_border else []
        review = str(o.get("needs_review", "")) == "True" or bool(r.cluster) or bool(r.touches_border) or bool(error)
        sub = "oriented/clusters" if r.cluster else "oriented"
        rows.append({"object": r.object, "x": r.x, "y": r.y, "w": r.w, "h": r.h, "area": r.area,
                     "cluster": bool(r.cluster), "touches_border": bool(r.touches_border),
                     "chromosome": o.get("chromosome", ""), "type_probability": o.get("type_probability", ""),
                     "polarity": o.get("polarity", ""), "probability": o.get("probability", ""),
                     "rotation_angle": o.get("rotation_angle", ""), "needs_review": str(review), "error": error,
                     "note": "; ".join(notes), "file": f"{sub}/{name}" if name and not error else ""})
    write_csv_atomic(folder / "results.csv", rows, RESULT_COLUMNS)
    failed = {row["object"] for row in rows if row["error"]}
    write_image_atomic(folder / "overlay.png", draw_overlay(gray, objects, failed))
    target = folder / "outlines.json"
    if outlines is None or outlines.path.resolve() != target.resolve():  # never overwrite the outlines read
        write_labelme(target, objects.polygons, path, gray.shape, objects.labels)
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def spread_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """The images named: files as given, a folder as every image directly in it (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            imgs = list_images(p)
            if not imgs:
                raise ValueError(f"no images ({', '.join(s[1:] for s in IMAGE_SUFFIXES)}) in {p}")
            out += imgs
        else:
            out.append(p)
    return list(dict.fromkeys(out))  # each image once


def _check_outputs(paths: Sequence[str | Path], files: list[Path], out_dir: Path) -> None:
    """Usage errors, before any work: an output folder that is a file or lies inside a folder
    given as input, an input inside the output folder, two inputs whose outputs would share a
    folder."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"the output folder {out_dir} is a file")
    for p in map(Path, paths):
        if p.is_dir():
            check_separate(p, out_dir)
    out = out_dir.resolve()
    for f in files:
        if out in f.resolve().parents:
            raise ValueError(f"the input {f} lies inside the output folder {out_dir}: choose an output folder "
                             f"that holds no input, so that no original image can be overwritten")
    seen: dict[str, Path] = {}
    for f in files:
        if f.stem in seen and seen[f.stem].resolve() != f.resolve():
            raise ValueError(f"{seen[f.stem]} and {f} would both write to {out_dir / f.stem}: rename one, or run "
                             f"them into separate output folders")
        seen[f.stem] = f


def karyotype_spreads(paths: Sequence[str | Path], out_dir: str | Path, outlines: str | Path | None = None,
                      stain: str = "auto", model=None, progress: bool = True,
                      log: Callable[[str], None] | None = None, segmenter="auto") -> pd.DataFrame:
    """``karyotype_spread`` on every image in ``paths`` (files, or folders of images) into
    ``out_dir``; return (and write as ``out_dir/summary.csv``) one row per image
    (``SUMMARY_COLUMNS``). A bad image gets a one-line ``error`` (also sent to ``log``,
    default stderr, as ``path: reason``) and the others go on. ``outlines``: a labelme file
    with the polygons of the one spread given (instead of segmenting it). ``segmenter``: a
    ``SEGMENTERS`` choice (default ``"auto"``) or a segmenter (see ``segmenter_for``).

    Raises FileNotFoundError for ``segmenter="unet"`` when no U-Net ships, and ValueError (usage)
    for ``outlines`` with more or fewer than one image, an unreadable outlines file, an output
    folder inside an input's folder, an input inside the output folder or two inputs with the
    same name stem.
    """
    from .orient import load_orient_model

    log = log or (lambda msg: print(msg, file=sys.stderr))
    files = spread_inputs(paths)
    if not files:
        raise ValueError("no spread images given")
    out = Path(out_dir)
    _check_outputs(paths, files, out)
    given = None
    if outlines is not None:
        if len(files) != 1:
            raise ValueError(f"outlines go with exactly one spread image, not {len(files)}")
        given = read_labelme(outlines)
    segment = segmenter_for(segmenter) if given is None else segment_classical  # loads the network once
    model = model if model is not None else load_orient_model()
    out.mkdir(parents=True, exist_ok=True)
    type_models: dict = {}
    rows = []
    for f in progress_bar(files, progress, desc="spreads", unit="spread"):
        row = {"spread": str(f), "objects": "", "clusters": "", "typed": "", "needs_review": "", "error": "",
               "folder": ""}
        try:
            res = karyotype_spread(f, out, model, given, stain, type_models, segment)
            row.update(objects=len(res), clusters=int(res.cluster.sum()), typed=int((res.chromosome != "").sum()),
                       needs_review=int((res.needs_review == "True").sum()), folder=str(out / f.stem))
        except Exception as exc:  # one bad image must not stop the batch
            row["error"] = first_line(exc)
            log(f"{f}: {row['error']}")
        rows.append(row)
    write_csv_atomic(out / "summary.csv", rows, SUMMARY_COLUMNS)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
