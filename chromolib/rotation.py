"""Rotation to vertical by minimum projection distance (formula I, the book's introduction).

Conventions used throughout chromolib:

* images are NumPy arrays, row 0 at the top, x to the right (as shown on screen);
* angles are in degrees, positive = counter-clockwise as seen on screen, which is what
  ``cv2.getRotationMatrix2D`` does with a positive angle;
* rotating a point ``(x, y)`` counter-clockwise by ``theta`` about the origin gives
  ``x' = x cos(theta) + y sin(theta)``, so the projection distance is the extent of the
  region along the direction ``(cos theta, sin theta)``.

Three ways to find the angle ``theta*`` in [0, 180) that makes a chromosome vertical:

``sweep_angle``  the faithful method: rotate the image by 0, 1, ..., 179 degrees and keep the
                 angle with the smallest horizontal extent D(theta) = x_R - x_L;
``hull_angle``   the exact continuous minimum: the minimum-width direction of the region's
                 convex hull (rotating calipers), no image is rotated;
``principal_axis_angle``  a baseline from image moments (the axis of least inertia).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .images import background_is_white, to_gray

__all__ = [
    "background_fill",
    "foreground_mask",
    "largest_component",
    "chromosome_mask",
    "is_small",
    "projection_distance",
    "SweepResult",
    "sweep_angle",
    "hull_angle",
    "principal_axis_angle",
    "find_angle",
    "rotate_image",
    "crop_to_foreground",
    "rotate_and_crop",
    "upright",
    "rotate_to_angle",
    "METHODS",
    "angle_error",
]

METHODS = ("sweep", "hull", "moments")


def foreground_mask(image: np.ndarray, background: str = "auto") -> np.ndarray:
    """Boolean mask of the chromosome pixels.

    ``background`` is ``"white"`` (dark chromosome on white, G-band), ``"black"`` (bright
    chromosome on black, Q-band) or ``"auto"`` (decided from the image border). Otsu's
    threshold separates the two; holes inside the outline (light bands) are filled.
    """
    g = to_gray(image)
    if background == "auto":
        white = background_is_white(g)
    elif background in ("white", "black"):
        white = background == "white"
    else:
        raise ValueError(f"background must be 'auto', 'white' or 'black', not {background!r}")
    if not white:
        g = 255 - g
    if int(g.max()) - int(g.min()) < 8:  # a blank image: nothing to separate
        return np.zeros(g.shape, dtype=bool)
    t, _ = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    mask = (g <= t).astype(np.uint8)
    # fill holes: every outer contour drawn filled
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)


def largest_component(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Keep the largest 8-connected component; return it and the number of components."""
    m = np.asarray(mask, dtype=np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 2:
        return m.astype(bool), n - 1
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == biggest, n - 1


MIN_AREA, MIN_EXTENT = 40, 10  # pixels: below this a chromosome is small (oriented, but worth a look)


def chromosome_mask(image: np.ndarray) -> tuple[np.ndarray, str]:
    """The chromosome's mask in a single-chromosome crop, and a note ("", "3 objects: used the
    largest", "small (8 x 9 px): check it" for one under ``MIN_AREA`` pixels or ``MIN_EXTENT``
    pixels long: it is oriented all the same).

    Raises ValueError with a one-line reason for a blank image or one without foreground.
    """
    gray = to_gray(image)
    if int(gray.max()) - int(gray.min()) < 8:
        raise ValueError("blank image (no contrast)")
    mask = foreground_mask(gray)
    if not mask.any() or mask.mean() > 0.95:
        raise ValueError("no foreground: cannot separate a chromosome from the background")
    mask, n = largest_component(mask)
    notes = [f"{n} objects: used the largest"] if n > 1 else []
    if is_small(mask):
        ys, xs = np.nonzero(mask)
        notes.append(f"small ({np.ptp(xs) + 1} x {np.ptp(ys) + 1} px): check it")
    return mask, "; ".join(notes)


def is_small(mask: np.ndarray) -> bool:
    """Under ``MIN_AREA`` pixels or ``MIN_EXTENT`` pixels long: its angle and polarity are
    uncertain, so the tools flag it for review."""
    ys, xs = np.nonzero(mask)
    return ys.size < MIN_AREA or max(np.ptp(ys), np.ptp(xs)) + 1 < MIN_EXTENT


def _rotation_matrix(shape: tuple[int, int], angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """Affine matrix rotating counter-clockwise about the image centre, canvas grown to fit."""
    h, w = shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    new_w = int(np.ceil(h * s + w * c - 1e-9))
    new_h = int(np.ceil(h * c + w * s - 1e-9))
    m[0, 2] += (new_w - 1) / 2.0 - (w - 1) / 2.0
    m[1, 2] += (new_h - 1) / 2.0 - (h - 1) / 2.0
    return m, (new_w, new_h)


def background_fill(image: np.ndarray, background: str = "auto"):
    """The value that continues the background: the image type's white (255, 65535 or 1.0)
    for dark-on-white images, 0 for bright-on-black ones (``background`` as in foreground_mask)."""
    img = np.asarray(image)
    white = background_is_white(img) if background == "auto" else background == "white"
    top = 65535 if img.dtype == np.uint16 else (1.0 if np.issubdtype(img.dtype, np.floating) else 255)
    return top if white else 0


def _fill_for(image: np.ndarray, fill) -> tuple:
    img = np.asarray(image)
    value = background_fill(img) if fill == "auto" else fill
    channels = img.shape[2] if img.ndim == 3 else 1
    return (value,) * channels if np.isscalar(value) else tuple(value)


def rotate_image(image: np.ndarray, angle: float, fill="auto", interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Rotate counter-clockwise by ``angle`` degrees about the centre; the canvas grows so
    nothing is cut off and the uncovered area is filled with ``fill`` (``"auto"``: white for
    dark-on-white images, black for bright-on-black ones; or a number / tuple)."""
    img = np.asarray(image)
    m, size = _rotation_matrix(img.shape, angle)
    return cv2.warpAffine(img, m, size, flags=interpolation, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=_fill_for(img, fill))


def _column_extent(profile: np.ndarray) -> float:
    """Sub-pixel x_R - x_L of a column-coverage profile in [0, 1] (edges at coverage 0.5)."""
    idx = np.flatnonzero(profile >= 0.5)
    if idx.size == 0:
        return 0.0
    left, right = int(idx[0]), int(idx[-1])

    def cross(inside: int, outside: int) -> float:
        if outside < 0 or outside >= profile.size:
            return inside + (outside - inside) * 0.5
        a, b = profile[inside], profile[outside]
        return inside + (outside - inside) * (a - 0.5) / max(a - b, 1e-9)

    return cross(right, right + 1) - cross(left, left - 1)


def projection_distance(mask: np.ndarray, angle: float) -> float:
    """D(theta) = x_R - x_L of the region after rotating the image counter-clockwise by theta.

    The mask is rotated like the image (bilinear), and the left- and right-most edges are
    located to a fraction of a pixel at 50 % coverage, so that D is smooth in theta.
    """
    m = np.asarray(mask, dtype=np.float32)
    if m.max() > 1:
        m = m / 255.0
    rot = rotate_image(m, angle, fill=0.0)
    return _column_extent(rot.max(axis=0))


@dataclass(frozen=True)
class SweepResult:
    """Outcome of the projection sweep: the chosen angle and the whole D(theta) curve."""
    angle: float
    angles: np.ndarray
    distances: np.ndarray


def sweep_angle(mask: np.ndarray, step: float = 1.0, start: float = 0.0, stop: float = 180.0) -> SweepResult:
    """The faithful formula I: theta* = argmin D(theta) over start, start+step, ... < stop."""
    if step <= 0:
        raise ValueError("step must be positive (degrees)")
    m = np.asarray(mask)
    if not m.any():
        raise ValueError("empty mask: no chromosome pixels to rotate")
    # D is translation invariant: rotate only the bounding box (plus a pixel) for speed
    ys, xs = np.nonzero(m)
    m = np.pad(m[ys.min():ys.max() + 1, xs.min():xs.max() + 1], 1)
    angles = np.arange(start, stop - 1e-9, step, dtype=np.float64)
    distances = np.array([projection_distance(m, a) for a in angles])
    best = int(np.argmin(distances))
    return SweepResult(float(angles[best]), angles, distances)


def _hull_points(mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask, dtype=np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        raise ValueError("empty mask: no chromosome pixels to rotate")
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float64)
    # each boundary pixel is a unit square: use its corners so the hull is the region's outline
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    pts = (pts[:, None, :] + corners[None]).reshape(-1, 2).astype(np.float32)
    return cv2.convexHull(pts).reshape(-1, 2).astype(np.float64)


def hull_angle(mask: np.ndarray) -> float:
    """Exact argmin of the projection distance: the minimum-width direction of the convex hull.

    D(theta) is the width of the convex hull along (cos theta, sin theta); its minimum is
    reached with theta normal to one of the hull's edges (rotating calipers), so only those
    directions are tried. Returns theta* in [0, 180) degrees, counter-clockwise.
    """
    hull = _hull_points(mask)
    if len(hull) < 3:
        return 0.0
    edges = np.roll(hull, -1, axis=0) - hull
    edges = edges[np.hypot(edges[:, 0], edges[:, 1]) > 1e-9]
    normals = np.stack([-edges[:, 1], edges[:, 0]], axis=1)
    normals /= np.hypot(normals[:, 0], normals[:, 1])[:, None]
    proj = normals @ hull.T  # (edges, points)
    widths = proj.max(axis=1) - proj.min(axis=1)
    best = int(np.argmin(widths))
    nx, ny = normals[best]
    return float(np.degrees(np.arctan2(ny, nx)) % 180.0)


def principal_axis_angle(mask: np.ndarray) -> float:
    """Baseline: rotate so that the axis of least inertia (image moments) is vertical."""
    m = cv2.moments(np.asarray(mask, dtype=np.uint8), binaryImage=True)
    if m["m00"] == 0:
        raise ValueError("empty mask: no chromosome pixels to rotate")
    mu20, mu02, mu11 = m["mu20"] / m["m00"], m["mu02"] / m["m00"], m["mu11"] / m["m00"]
    # orientation of the long axis, measured from +x towards +y (screen, y down)
    phi = 0.5 * np.arctan2(2 * mu11, mu20 - mu02)
    # the long axis (cos phi, sin phi) becomes vertical when the projection direction
    # (cos theta, sin theta) is perpendicular to it
    return float((np.degrees(phi) + 90.0) % 180.0)


def find_angle(mask: np.ndarray, method: str = "hull", step: float = 1.0) -> float:
    """Angle theta* in [0, 180) that brings the region to vertical, by ``method``."""
    if method == "sweep":
        return sweep_angle(mask, step=step).angle
    if method == "hull":
        return hull_angle(mask)
    if method == "moments":
        return principal_axis_angle(mask)
    raise ValueError(f"unknown rotation method {method!r}; choose one of {', '.join(METHODS)}")


def crop_to_foreground(image: np.ndarray, mask: np.ndarray, margin: int = 2, fill="auto") -> np.ndarray:
    """Tight crop of ``image`` around ``mask`` with ``margin`` pixels of background."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return np.asarray(image).copy()
    img = np.asarray(image)
    value = _fill_for(img, fill)
    pad = [(margin, margin), (margin, margin)] + ([(0, 0)] if img.ndim == 3 else [])
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = img[y0:y1, x0:x1]
    if img.ndim == 3:
        out = np.empty((crop.shape[0] + 2 * margin, crop.shape[1] + 2 * margin, img.shape[2]), img.dtype)
        out[:] = np.asarray(value, dtype=img.dtype)
        out[margin:margin + crop.shape[0], margin:margin + crop.shape[1]] = crop
        return out
    return np.pad(crop, pad, constant_values=value[0])


def upright(image: np.ndarray, method: str = "hull", background: str = "auto", step: float = 1.0,
            margin: int = 2) -> tuple[np.ndarray, float]:
    """Rotate a single-chromosome crop to vertical (short arm up OR down) and crop it tight.

    Returns the rotated crop and the applied angle (degrees, counter-clockwise, in [0, 180)).
    """
    img = np.asarray(image)
    mask, _ = largest_component(foreground_mask(img, background))
    if not mask.any():
        raise ValueError("no foreground: the image is blank or has no chromosome")
    angle = find_angle(mask, method, step)
    return rotate_and_crop(img, mask, angle, background_fill(img, background), margin), angle


def rotate_and_crop(image: np.ndarray, mask: np.ndarray, angle: float, fill, margin: int = 2) -> np.ndarray:
    """Rotate ``image`` counter-clockwise by ``angle`` (``fill`` where it uncovers) and crop it
    tight around its rotated ``mask`` with ``margin`` pixels."""
    rotated = rotate_image(image, angle, fill=fill)
    rmask = rotate_image(np.asarray(mask, dtype=np.uint8) * 255, angle, fill=0) >= 128
    return crop_to_foreground(rotated, rmask, margin=margin, fill=fill)


def angle_error(true_angle: float, applied_angle: float) -> float:
    """Degrees (0..90) between the result and vertical, for a chromosome rotated
    counter-clockwise by ``true_angle`` from vertical and then by ``applied_angle``."""
    d = (true_angle + applied_angle) % 180.0
    return float(min(d, 180.0 - d))


def rotate_to_angle(gray: np.ndarray, angle: float, margin: int = 2) -> np.ndarray:
    """Rotate a dark-on-white crop counter-clockwise by ``angle`` (white fill) and crop it tight:
    a segmented chromosome as it would lie in a metaphase."""
    return rotate_and_crop(gray, foreground_mask(gray, "white"), angle, fill=255, margin=margin)
