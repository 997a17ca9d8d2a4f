"""Rotation to vertical by minimum projection distance (formula I, the book's introduction).

Conventions used throughout chromolib:

* images are NumPy arrays, row 0 at the top, x to the right (as shown on screen);
* angles are in degrees, positive = counter-clockwise as seen on screen, which is what
  ``cv2.getRotationMatrix2D`` does with a positive angle;
* rotating a point ``(x, y)`` counter-clockwise by ``theta`` about the origin gives
  ``x' = x cos(theta) + y sin(theta)``, so the projection distance is the extent of the
  region along the direction ``(cos theta, sin theta)``.

Ways to find the angle ``theta*`` in [0, 180) that makes a chromosome vertical (``METHODS``):

``sweep_angle``  "sweep", the faithful method: rotate the image by 0, 1, ..., 179 degrees and
                 keep the angle with the smallest horizontal extent D(theta) = x_R - x_L;
``hull_angle``   "hull", the exact continuous minimum: the minimum-width direction of the
                 region's convex hull (rotating calipers), no image is rotated;
``principal_axis_angle``  "moments", a baseline from image moments (the axis of least inertia);

and four that follow the chromosome's body rather than its outline's extent:

``midline_angle``   "midline": a straight line fitted through the mid-points of the body's
                    cross-sections, in the frame of its own axis (iterated);
``core_axis_angle`` "core": the principal axis with every pixel weighted by its distance to
                    the outline, so the core counts and the splayed ends and rim do not;
``skeleton_angle``  "skeleton": the chord between the two ends of the medial axis (a thinned
                    mask, its longest path), taken a little inside the ends;
``blend``           the mean direction of "hull" and "moments".

Every method works on a mask. ``foreground_mask`` gives the chromosome's whole outline by
default (``threshold="outline"``: everything darker than the white background, pale ends
included); ``threshold="otsu"`` gives the older Otsu split, which on G-banded chromosomes
loses pale bands at the ends and so tilts every axis found from it. ``DEFAULT_METHOD`` is the
method the tools use unless told otherwise (chosen on real karyograms, benchmarks/rotation.py).
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
    "triangle_threshold",
    "chromosome_mask",
    "is_small",
    "projection_distance",
    "SweepResult",
    "sweep_angle",
    "hull_angle",
    "principal_axis_angle",
    "midline_angle",
    "core_axis_angle",
    "skeleton_angle",
    "medial_path",
    "thin",
    "blend_angle",
    "find_angle",
    "rotate_image",
    "crop_to_foreground",
    "rotate_and_crop",
    "upright",
    "rotate_to_angle",
    "METHODS",
    "DEFAULT_METHOD",
    "MASKS",
    "DEFAULT_MASK",
    "angle_error",
]

METHODS = ("sweep", "hull", "moments", "midline", "core", "skeleton", "blend")
#: the axis the tools use by default: the minimum-width direction of the whole outline, the
#: closest (median) to where KaryoNet's and Pki-3's karyograms stand their chromosomes; no axis
#: through the body was clearly better (results/rotation/real.txt, chapter 1)
DEFAULT_METHOD = "hull"
#: how ``foreground_mask`` separates chromosome from background (see its docstring)
MASKS = ("outline", "otsu")
DEFAULT_MASK = "outline"


def foreground_mask(image: np.ndarray, background: str = "auto", threshold: str = DEFAULT_MASK) -> np.ndarray:
    """Boolean mask of the chromosome pixels.

    ``background`` is ``"white"`` (dark chromosome on white, G-band), ``"black"`` (bright
    chromosome on black, Q-band) or ``"auto"`` (decided from the image border).
    ``threshold``: ``"outline"`` (default) keeps everything that stands out from the
    background, the pale bands at the ends included: the higher of Otsu's threshold and the
    triangle threshold, which sits at the foot of the background's histogram peak;
    ``"otsu"``: Otsu's threshold alone, which splits a G-banded chromosome's dark bands from
    its pale ones as readily as chromosome from background. Holes inside the outline (light
    bands) are filled either way.
    """
    if threshold not in MASKS:
        raise ValueError(f"threshold must be one of {', '.join(MASKS)}, not {threshold!r}")
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
    if threshold == "outline":
        outline = (g <= max(t, triangle_threshold(g))).astype(np.uint8)
        if outline.mean() <= 0.95:  # else the triangle fell into the background's noise: keep Otsu's
            mask = outline
    # fill holes: every outer contour drawn filled
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)


def triangle_threshold(gray: np.ndarray) -> int:
    """The triangle threshold of a uint8 image (Zack, Rogers and Latt 1977, as OpenCV's
    ``THRESH_TRIANGLE``): the gray level farthest from the line between the histogram's peak and
    the far end of its longer tail, i.e. the foot of the peak. Pixels ``<=`` it are the dark side.
    Empty bins inside the occupied range are filled in first (linearly): a stretched 16-bit image
    or a coarsely quantised scan leaves gaps that would pass for the foot of the peak."""
    hist = np.bincount(np.asarray(gray, dtype=np.uint8).ravel(), minlength=256).astype(np.float64)
    occupied = np.flatnonzero(hist)
    if occupied.size < 2:
        return int(occupied[0]) if occupied.size else 0
    inside = np.arange(occupied[0], occupied[-1] + 1)
    hist[inside] = np.interp(inside, occupied, hist[occupied])
    left, right = max(int(occupied[0]) - 1, 0), min(int(occupied[-1]) + 1, 255)
    peak = int(np.argmax(hist))
    flip = peak - left < right - peak  # work on the longer tail, put it on the left
    if flip:
        hist, left, peak = hist[::-1], 255 - right, 255 - peak
    i = np.arange(left + 1, peak + 1)
    # distance (up to a constant factor) from the line through (left, 0) and (peak, hist[peak])
    dist = hist[peak] * i + (left - peak) * hist[i]
    best = int(i[np.argmax(dist)]) if i.size and dist.max() > 0 else left
    best -= 1
    return 255 - best if flip else best


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


def _axis_to_theta(dx: float, dy: float) -> float:
    """theta in [0, 180) that turns the direction (dx, dy) (screen, y down) vertical."""
    return float((np.degrees(np.arctan2(dy, dx)) + 90.0) % 180.0)


def _pixels(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.nonzero(np.asarray(mask))
    if ys.size == 0:
        raise ValueError("empty mask: no chromosome pixels to rotate")
    return xs.astype(np.float64), ys.astype(np.float64)


def _weighted_axis(xs: np.ndarray, ys: np.ndarray, w: np.ndarray) -> float:
    """theta that makes the weighted points' axis of least inertia vertical."""
    total = w.sum()
    if total <= 0:
        w, total = np.ones_like(xs), float(xs.size)
    dx, dy = xs - (w * xs).sum() / total, ys - (w * ys).sum() / total
    mu20, mu02, mu11 = (w * dx * dx).sum() / total, (w * dy * dy).sum() / total, (w * dx * dy).sum() / total
    return float((np.degrees(0.5 * np.arctan2(2 * mu11, mu20 - mu02)) + 90.0) % 180.0)


def core_axis_angle(mask: np.ndarray) -> float:
    """The principal axis with each pixel weighted by its distance to the outline: the body's
    core decides, the rim and splayed chromatid ends hardly count. Degrees in [0, 180)."""
    m = np.asarray(mask, dtype=np.uint8)
    xs, ys = _pixels(m)
    dist = cv2.distanceTransform(np.pad(m, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    return _weighted_axis(xs, ys, dist[ys.astype(int), xs.astype(int)].astype(np.float64))


def midline_angle(mask: np.ndarray, iterations: int = 3) -> float:
    """A line fitted through the body's mid-line: in the frame where the current axis is
    vertical (the principal axis to start), take the mid-point between the left and right edge
    of every 1-pixel cross-section, fit a straight line through them (each weighted by its
    width), turn by the line's tilt and repeat. Degrees in [0, 180)."""
    xs, ys = _pixels(mask)
    theta = principal_axis_angle(mask)
    for _ in range(iterations):
        c, s = np.cos(np.radians(theta)), np.sin(np.radians(theta))
        u, v = xs * c + ys * s, -xs * s + ys * c  # across and along the axis after the rotation
        row = np.floor(v - v.min()).astype(int)
        n = row.max() + 1
        if n < 3:
            break
        lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
        np.minimum.at(lo, row, u)
        np.maximum.at(hi, row, u)
        count = np.bincount(row, minlength=n).astype(np.float64)
        keep = count > 0
        y, mid, w = np.arange(n)[keep].astype(np.float64), (lo[keep] + hi[keep]) / 2, count[keep]
        y0 = (w * y).sum() / w.sum()
        slope = (w * (y - y0) * mid).sum() / max((w * (y - y0) ** 2).sum(), 1e-9)
        theta = (theta - np.degrees(np.arctan(slope))) % 180.0
    return float(theta)


# Zhang-Suen thinning by look-up table: the 8 neighbours P2..P9 (N, NE, E, SE, S, SW, W, NW)
# of every pixel coded as one byte; each sub-iteration deletes the pixels its table marks.
_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _thinning_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    first, second = np.zeros(256, bool), np.zeros(256, bool)
    for code in range(256):
        p = [(code >> k) & 1 for k in range(8)]
        transitions = sum(p[k] == 0 and p[(k + 1) % 8] == 1 for k in range(8))
        if 2 <= sum(p) <= 6 and transitions == 1:
            p2, _, p4, _, p6, _, p8, _ = p
            first[code] = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
            second[code] = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
    kernel = np.zeros((3, 3), np.float32)
    for k, (dy, dx) in enumerate(_NEIGHBOURS):
        kernel[1 + dy, 1 + dx] = 1 << k
    return first, second, kernel


_THIN_FIRST, _THIN_SECOND, _THIN_KERNEL = _thinning_tables()


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning: the mask's medial lines, one pixel wide and 8-connected."""
    img = np.pad(np.asarray(mask, dtype=bool), 1).astype(np.float32)
    changed = True
    while changed:
        changed = False
        for table in (_THIN_FIRST, _THIN_SECOND):
            code = cv2.filter2D(img, -1, _THIN_KERNEL, borderType=cv2.BORDER_CONSTANT).astype(np.int32)
            delete = table[code] & (img > 0)
            if delete.any():
                img[delete] = 0.0
                changed = True
    return img[1:-1, 1:-1] > 0


def medial_path(mask: np.ndarray, smooth: float = 1.5) -> np.ndarray:
    """The medial axis from end to end: the longest path through the skeleton of the mask
    (smoothed with a Gaussian of ``smooth`` pixels first, which prunes most spurs), as (y, x)
    pixel rows in order. Two breadth-first searches: the farthest pixel from any pixel is one
    end, the farthest from that end the other."""
    m = np.asarray(mask, dtype=bool)
    if smooth > 0:
        pad = int(np.ceil(3 * smooth))
        soft = cv2.GaussianBlur(np.pad(m, pad).astype(np.float32), (0, 0), smooth)[pad:-pad, pad:-pad] >= 0.5
        m = soft if soft.any() else m
    ys, xs = np.nonzero(thin(m))
    if ys.size == 0:
        return np.zeros((0, 2), int)
    index = {(y, x): i for i, (y, x) in enumerate(zip(ys.tolist(), xs.tolist()))}
    near = [[index[(y + dy, x + dx)] for dy, dx in _NEIGHBOURS if (y + dy, x + dx) in index]
            for y, x in zip(ys.tolist(), xs.tolist())]

    def farthest(start: int) -> tuple[int, list[int]]:
        prev = [-1] * len(near)
        prev[start] = start
        queue, head = [start], 0
        while head < len(queue):
            for j in near[queue[head]]:
                if prev[j] < 0:
                    prev[j] = queue[head]
                    queue.append(j)
            head += 1
        return queue[-1], prev

    a, _ = farthest(0)
    b, prev = farthest(a)
    path = [b]
    while path[-1] != a:
        path.append(prev[path[-1]])
    return np.stack([ys[path], xs[path]], axis=1)


def skeleton_angle(mask: np.ndarray, inset: float = 0.15) -> float:
    """The chord between the two ends of the medial axis (``medial_path``), each taken
    ``inset`` of the path's length inside its end, where the skeleton forks into the corners.
    A bent chromosome stands with its ends one above the other. Falls back to the principal
    axis when the skeleton is shorter than 5 pixels (a round or tiny mask). Degrees in [0, 180)."""
    _pixels(mask)  # empty-mask check
    path = medial_path(mask).astype(np.float64)
    if len(path) < 5:
        return principal_axis_angle(mask)
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
    at = [inset * s[-1], (1 - inset) * s[-1]]
    y, x = np.interp(at, s, path[:, 0]), np.interp(at, s, path[:, 1])
    return _axis_to_theta(x[1] - x[0], y[1] - y[0])


def blend_angle(mask: np.ndarray) -> float:
    """The mean direction of the hull's and the principal axis' (averaged as axes, on the
    doubled angle). Degrees in [0, 180)."""
    z = np.exp(2j * np.radians(hull_angle(mask))) + np.exp(2j * np.radians(principal_axis_angle(mask)))
    return float(np.degrees(np.angle(z)) / 2 % 180.0) if abs(z) > 1e-9 else principal_axis_angle(mask)


def find_angle(mask: np.ndarray, method: str = DEFAULT_METHOD, step: float = 1.0) -> float:
    """Angle theta* in [0, 180) that brings the region to vertical, by ``method`` (``METHODS``;
    ``step`` only for the sweep)."""
    if method == "sweep":
        return sweep_angle(mask, step=step).angle
    if method == "hull":
        return hull_angle(mask)
    if method == "moments":
        return principal_axis_angle(mask)
    if method == "midline":
        return midline_angle(mask)
    if method == "core":
        return core_axis_angle(mask)
    if method == "skeleton":
        return skeleton_angle(mask)
    if method == "blend":
        return blend_angle(mask)
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


def upright(image: np.ndarray, method: str = DEFAULT_METHOD, background: str = "auto", step: float = 1.0,
            margin: int = 2, threshold: str = DEFAULT_MASK) -> tuple[np.ndarray, float]:
    """Rotate a single-chromosome crop to vertical (short arm up OR down) and crop it tight.

    Returns the rotated crop and the applied angle (degrees, counter-clockwise, in [0, 180)).
    ``threshold``: the mask, as in ``foreground_mask``.
    """
    img = np.asarray(image)
    mask, _ = largest_component(foreground_mask(img, background, threshold))
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


def rotate_to_angle(gray: np.ndarray, angle: float, margin: int = 2, threshold: str = DEFAULT_MASK) -> np.ndarray:
    """Rotate a dark-on-white crop counter-clockwise by ``angle`` (white fill) and crop it tight:
    a segmented chromosome as it would lie in a metaphase. The crop is tight around the mask
    that ``threshold`` gives (``foreground_mask``): the default outline keeps the pale ends,
    ``"otsu"`` cuts what lies beyond its mask and the margin (as chromolib did before)."""
    return rotate_and_crop(gray, foreground_mask(gray, "white", threshold), angle, fill=255, margin=margin)
