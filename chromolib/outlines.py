"""Chromosome outlines as labelme polygons: read, write, and convert to and from masks.

Conventions: polygons are float arrays of shape (N, 2) holding (x, y) pixel coordinates,
x to the right and y down, (0, 0) the centre of the top-left pixel (labelme's convention).
Image shapes are (h, w). Instance label images are int32, 0 = background, i + 1 = polygon i.

Only ``shape_type == "polygon"`` shapes are chromosome outlines. Other shape types
(rectangle, point, line, circle, ...) are skipped by :func:`read_labelme` and counted in
``Outlines.skipped``: a rectangle says where something is, not its outline, and guessing an
outline from it would put wrong masks into the evaluation. Polygons with fewer than 3 points
are malformed and raise ``ValueError``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .images import write_text_atomic

__all__ = ["Outlines", "read_labelme", "write_labelme", "polygon_mask", "polygons_to_masks",
           "masks_to_polygons", "LABELME_VERSION"]

LABELME_VERSION = "4.5.7"


@dataclass
class Outlines:
    """The polygons of one labelme file.

    ``image_path`` is resolved relative to the JSON's folder; ``shape`` is (h, w) in pixels;
    ``polygons[i]`` is (N, 2) float64 (x, y); ``labels[i]`` its label; ``skipped`` counts the
    non-polygon shapes left out.
    """
    path: Path
    image_path: Path
    shape: tuple[int, int]
    polygons: list[np.ndarray]
    labels: list[str]
    skipped: int = 0
    flags: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.polygons)


def read_labelme(path: str | os.PathLike) -> Outlines:
    """Read a labelme JSON (4.x); raise ``ValueError`` naming the file if it is malformed."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a JSON file ({e})") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        raise ValueError(f"{path}: not a labelme file (no 'shapes' list)")
    try:
        shape = (int(doc["imageHeight"]), int(doc["imageWidth"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: imageHeight/imageWidth missing or not integers") from e
    if not doc.get("imagePath"):
        raise ValueError(f"{path}: no imagePath")
    polygons, labels, skipped = [], [], 0
    for k, s in enumerate(doc["shapes"]):
        if not isinstance(s, dict) or "points" not in s:
            raise ValueError(f"{path}: shape {k} has no points")
        if s.get("shape_type", "polygon") != "polygon":
            skipped += 1
            continue
        try:
            pts = np.asarray(s["points"], dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: shape {k} has non-numeric points") from e
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
            raise ValueError(f"{path}: shape {k} is not a polygon of >= 3 (x, y) points "
                             f"(points shape {pts.shape})")
        polygons.append(pts)
        labels.append(str(s.get("label", "")))
    image_path = (path.parent / str(doc["imagePath"]).replace("\\", "/")).resolve()
    return Outlines(path, image_path, shape, polygons, labels, skipped, dict(doc.get("flags") or {}))


def write_labelme(path: str | os.PathLike, polygons: list[np.ndarray], image_path: str | os.PathLike,
                  shape: tuple[int, int], labels: list[str] | None = None,
                  flags: dict | None = None) -> Path:
    """Write polygons as a labelme-4.5.7 JSON, atomically (temp file + ``os.replace``).

    ``image_path`` is stored relative to the JSON's folder (as labelme does) so the file
    opens in labelme next to its image; ``imageData`` is null (labelme reads the image).
    ``labels`` defaults to "chr" for every polygon.
    """
    path = Path(path)
    labels = ["chr"] * len(polygons) if labels is None else list(labels)
    if len(labels) != len(polygons):
        raise ValueError(f"{len(labels)} labels for {len(polygons)} polygons")
    try:
        rel = os.path.relpath(Path(image_path).resolve(), path.parent.resolve())
    except ValueError:  # another drive on Windows
        rel = str(Path(image_path).resolve())
    shapes = [{"label": lab, "points": [[float(x), float(y)] for x, y in np.asarray(p, float)],
               "group_id": None, "shape_type": "polygon", "flags": {}}
              for p, lab in zip(polygons, labels)]
    doc = {"version": LABELME_VERSION, "flags": dict(flags or {}), "shapes": shapes,
           "imagePath": Path(rel).as_posix(), "imageData": None,
           "imageHeight": int(shape[0]), "imageWidth": int(shape[1])}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(doc, indent=2))
    return path


def polygon_mask(poly: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean (h, w) mask of the pixels whose centres the polygon (x, y) covers.

    Filled with ``cv2.fillPoly`` at 1/16 pixel precision; boundary pixels are included.
    """
    m = np.zeros(shape[:2], np.uint8)
    pts = np.round(np.asarray(poly, np.float64) * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(m, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return m.astype(bool)


def polygons_to_masks(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Instance label image (int32, 0 = background, i + 1 = polygon i).

    Where polygons overlap, the pixel goes to the polygon with the SMALLER area (drawn last),
    so that a small chromosome lying across a big one keeps its pixels and the big one its
    visible rest; ties go to the later polygon. A label image can hold one instance per pixel:
    use :func:`polygon_mask` per polygon to measure overlaps.
    """
    labels = np.zeros(shape[:2], np.int32)
    areas = [abs(cv2.contourArea(np.asarray(p, np.float32))) for p in polygons]
    for i in sorted(range(len(polygons)), key=lambda i: (-areas[i], i)):
        labels[polygon_mask(polygons[i], shape)] = i + 1
    return labels


def masks_to_polygons(labels: np.ndarray) -> list[np.ndarray]:
    """The outer contour of each instance 1..max(labels), as float (N, 2) (x, y) polygons.

    An instance in several pieces gives the contour of its largest piece; an absent label
    gives an empty (0, 2) array, so ``result[i]`` always belongs to label ``i + 1``.
    """
    labels = np.asarray(labels)
    out = []
    for i in range(1, int(labels.max(initial=0)) + 1):
        m = (labels == i).astype(np.uint8)
        if not m.any():
            out.append(np.zeros((0, 2)))
            continue
        ys, xs = np.nonzero(m)
        y0, x0 = ys.min(), xs.min()
        sub = m[y0:ys.max() + 1, x0:xs.max() + 1]
        cs, _ = cv2.findContours(np.pad(sub, 1), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        c = max(cs, key=cv2.contourArea).reshape(-1, 2).astype(np.float64)
        out.append(c + [x0 - 1, y0 - 1])
    return out
