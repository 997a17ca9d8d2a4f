"""Tests of chromolib.rotation: gray conversion, masks, rotation and the three angle finders."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chromolib.images import canonical_gray
from chromolib.rotation import (
    DEFAULT_MASK,
    DEFAULT_METHOD,
    MASKS,
    METHODS,
    angle_error,
    blend_angle,
    chromosome_mask,
    core_axis_angle,
    find_angle,
    foreground_mask,
    hull_angle,
    largest_component,
    medial_path,
    midline_angle,
    principal_axis_angle,
    projection_distance,
    rotate_image,
    skeleton_angle,
    sweep_angle,
    thin,
    upright,
)

from chromolib.karyotype import LONG_TYPES


def draw_capsule(angle: float, length: float, width: int, dark: int = 40, pad: int = 6) -> np.ndarray:
    """A dark anti-aliased capsule (round-capped bar) on white, rotated ``angle`` degrees
    counter-clockwise (on screen) from vertical, centred in a square canvas.

    ``length`` is the distance between the centres of the two caps.
    """
    r = int(np.ceil(length / 2 + width)) + pad
    img = np.full((2 * r + 1, 2 * r + 1), 255, np.uint8)
    # the vertical segment (0, +-L/2) rotated counter-clockwise on screen (y down) by `angle`
    dx = length / 2 * np.sin(np.radians(angle))
    dy = length / 2 * np.cos(np.radians(angle))
    shift = 4  # sub-pixel end points
    f = 1 << shift
    p1 = (int(round((r + dx) * f)), int(round((r + dy) * f)))
    p2 = (int(round((r - dx) * f)), int(round((r - dy) * f)))
    cv2.line(img, p1, p2, dark, thickness=int(width), lineType=cv2.LINE_AA, shift=shift)
    return img


def signed_error(true_angle: float, applied: float) -> float:
    d = (true_angle + applied) % 180.0
    return d if d < 90 else d - 180.0


def digitisation_limit(length: float) -> float:
    """Degrees by which a binary outline can tilt a straight side of ``length`` px: one pixel
    over its length. Short capsules cannot be measured better than this from a mask."""
    return math.degrees(math.atan(1.0 / length))


# --- foreground_mask ----------------------------------------------------------------------


def _banded_blob() -> tuple[np.ndarray, np.ndarray]:
    """Dark ellipse on white with a light band inside it; and the filled outline."""
    img = np.full((60, 80), 255, np.uint8)
    cv2.ellipse(img, (40, 30), (30, 15), 0, 0, 360, 50, thickness=-1)
    cv2.ellipse(img, (40, 30), (6, 6), 0, 0, 360, 235, thickness=-1)  # a light band inside
    outline = np.zeros_like(img)
    cv2.ellipse(outline, (40, 30), (30, 15), 0, 0, 360, 1, thickness=-1)
    return img, outline.astype(bool)


def test_foreground_mask_dark_on_white_and_bright_on_black_agree():
    img, outline = _banded_blob()
    dark_on_white = foreground_mask(img)
    bright_on_black = foreground_mask(255 - img)
    assert np.array_equal(dark_on_white, bright_on_black)
    iou = (dark_on_white & outline).sum() / (dark_on_white | outline).sum()
    assert iou > 0.95


def test_foreground_mask_fills_holes_from_light_bands():
    img, _ = _banded_blob()
    mask = foreground_mask(img)
    assert mask[30, 40]                      # inside the light band
    assert mask[27:34, 37:44].all()
    assert not mask[0, 0] and not mask[30, 5]


def test_foreground_mask_explicit_background_matches_auto():
    img, _ = _banded_blob()
    assert np.array_equal(foreground_mask(img, "white"), foreground_mask(img))
    assert np.array_equal(foreground_mask(255 - img, "black"), foreground_mask(img))


def test_foreground_mask_rejects_unknown_background():
    with pytest.raises(ValueError, match="background"):
        foreground_mask(np.zeros((5, 5), np.uint8), "grey")


@pytest.mark.parametrize("value", [0, 128, 255])
def test_foreground_mask_blank_image_is_empty(value):
    mask = foreground_mask(np.full((30, 40), value, np.uint8))
    assert mask.shape == (30, 40) and mask.dtype == bool and not mask.any()


# --- largest_component --------------------------------------------------------------------


def test_largest_component_keeps_the_biggest_blob_and_counts_two():
    mask = np.zeros((50, 50), bool)
    mask[5:15, 5:15] = True      # 100 px
    mask[20:45, 20:45] = True    # 625 px
    big, n = largest_component(mask)
    assert n == 2
    assert big.sum() == 625 and big[30, 30] and not big[10, 10]


def test_largest_component_single_and_empty():
    mask = np.zeros((10, 10), bool)
    empty, n0 = largest_component(mask)
    assert n0 == 0 and not empty.any()
    mask[2:5, 2:5] = True
    one, n1 = largest_component(mask)
    assert n1 == 1 and np.array_equal(one, mask)


# --- rotate_image -------------------------------------------------------------------------


def test_rotate_image_positive_angle_is_counter_clockwise():
    img = np.zeros((41, 41), np.uint8)
    cv2.circle(img, (30, 20), 2, 255, -1)   # a dot right of the centre (20, 20)
    out = rotate_image(img, 90)
    assert out.shape == (41, 41)
    ys, xs = np.nonzero(out > 128)
    # counter-clockwise on screen: right of the centre -> above it
    assert abs(ys.mean() - 10) <= 1 and abs(xs.mean() - 20) <= 1
    out = rotate_image(img, -90)
    ys, xs = np.nonzero(out > 128)
    assert abs(ys.mean() - 30) <= 1 and abs(xs.mean() - 20) <= 1


def test_rotate_image_grows_the_canvas_and_keeps_the_foreground():
    img = np.full((20, 60), 255, np.uint8)
    img[2:18, 1:59] = 0           # a bar reaching almost to the edge
    area = (img < 128).sum()
    out = rotate_image(img, 37)
    c, s = math.cos(math.radians(37)), math.sin(math.radians(37))
    assert out.shape == (math.ceil(20 * c + 60 * s), math.ceil(20 * s + 60 * c))
    assert abs((out < 128).sum() - area) <= 0.03 * area
    # nothing cut off: the dark region does not touch the new canvas border
    border = np.concatenate([out[0], out[-1], out[:, 0], out[:, -1]])
    assert border.min() > 128


def test_rotate_image_fills_white_for_dark_on_white():
    img = np.full((30, 50), 255, np.uint8)
    img[10:20, 10:40] = 30
    out = rotate_image(img, 30)
    assert out[0, 0] == 255 and out[-1, -1] == 255 and out[0, -1] == 255


def test_rotate_image_fills_black_for_bright_on_black():
    img = np.zeros((30, 50), np.uint8)
    img[10:20, 10:40] = 220
    out = rotate_image(img, 30)
    assert out[0, 0] == 0 and out[-1, -1] == 0 and out[0, -1] == 0


def test_rotate_image_fill_for_colour_and_16bit():
    col = np.full((30, 50, 3), 255, np.uint8)
    col[10:20, 10:40] = (30, 60, 90)
    out = rotate_image(col, 30)
    assert out.shape[2] == 3 and tuple(out[0, 0]) == (255, 255, 255)
    deep = np.full((30, 50), 65535, np.uint16)
    deep[10:20, 10:40] = 1000
    out16 = rotate_image(deep, 30)
    assert out16.dtype == np.uint16 and out16[0, 0] == 65535


def test_rotate_image_explicit_fill_value():
    img = np.full((30, 50), 255, np.uint8)
    img[10:20, 10:40] = 30
    assert rotate_image(img, 45, fill=7)[0, 0] == 7


# --- projection distance ------------------------------------------------------------------


def _vertical_bar(width=6, length=40) -> np.ndarray:
    mask = np.zeros((length + 20, width + 40), bool)
    mask[10:10 + length, 20:20 + width] = True
    return mask


def test_projection_distance_of_a_vertical_bar():
    bar = _vertical_bar(6, 40)
    assert projection_distance(bar, 0) == pytest.approx(6, abs=0.5)
    assert projection_distance(bar, 90) == pytest.approx(40, abs=1.0)
    assert projection_distance(bar, 180) == pytest.approx(6, abs=0.5)
    d45 = projection_distance(bar, 45)
    assert 6 < d45 < 40
    # a 255-valued uint8 mask is the same as a boolean one
    assert projection_distance(bar.astype(np.uint8) * 255, 30) == pytest.approx(
        projection_distance(bar, 30), abs=1e-6)


# --- the angle finders on capsules --------------------------------------------------------


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(angle=st.floats(0, 360, exclude_max=True),
       length=st.floats(30, 100),
       width=st.integers(8, 14))
def test_angle_finders_bring_capsules_to_vertical(angle, length, width):
    mask = foreground_mask(draw_capsule(angle, length, width))
    limit = digitisation_limit(length)
    sweep = sweep_angle(mask).angle
    hull = hull_angle(mask)
    moments = principal_axis_angle(mask)
    for a in (sweep, hull, moments):
        assert 0.0 <= a < 180.0
    # a 1-degree grid, plus the binary outline's limit; the hull has no grid
    assert angle_error(angle, sweep) <= 0.5 + limit
    assert angle_error(angle, hull) <= max(0.5, limit)
    assert angle_error(angle, moments) <= 1.0
    assert angle_error(-sweep, hull) <= 0.5 + 2 * limit   # sweep and hull agree


def _capsule_grid():
    """48 capsules: every 7.5 degrees round the circle, lengths 30-100, widths 8-14."""
    out = []
    for i, angle in enumerate(np.arange(0.0, 360.0, 7.5)):
        length = 30 + (i * 37) % 71
        width = 8 + i % 7
        out.append((float(angle) + 0.3, float(length), int(width)))
    return out


@pytest.fixture(scope="module")
def capsule_errors():
    rows = []
    for angle, length, width in _capsule_grid():
        # Otsu's crisp mask: the finders' own precision (the outline adds the faint anti-aliased
        # fringe, a tenth of a degree more on average)
        mask = foreground_mask(draw_capsule(angle, length, width), threshold="otsu")
        s, h = sweep_angle(mask).angle, hull_angle(mask)
        rows.append((length, angle_error(angle, s), angle_error(angle, h), angle_error(-s, h)))
    return np.array(rows)


def test_sweep_within_one_degree_on_capsules(capsule_errors):
    length, sweep = capsule_errors[:, 0], capsule_errors[:, 1]
    assert (sweep <= 1.0).mean() >= 0.9
    assert (sweep[length >= 60] <= 1.0).all()
    assert np.median(sweep) <= 0.5


def test_hull_within_half_a_degree_on_capsules(capsule_errors):
    length, hull = capsule_errors[:, 0], capsule_errors[:, 2]
    assert (hull <= 0.5).mean() >= 0.85
    assert (hull[length >= 60] <= 0.6).all()
    assert np.median(hull) <= 0.3


def test_sweep_and_hull_agree_within_one_degree_on_capsules(capsule_errors):
    assert (capsule_errors[:, 3] <= 1.0).mean() >= 0.9


def test_angle_finders_have_no_sign_bias():
    # a convention error (clockwise vs counter-clockwise) would show as errors of 2 * angle
    errs = []
    for angle in (10.0, 35.0, 80.0, 125.0, 160.0):
        mask = foreground_mask(draw_capsule(angle, 70, 10))
        for a in (sweep_angle(mask).angle, hull_angle(mask), principal_axis_angle(mask)):
            errs.append(signed_error(angle, a))
    assert max(abs(e) for e in errs) <= 1.0
    assert abs(np.mean(errs)) <= 0.3


def test_vertical_capsule_needs_no_rotation():
    mask = foreground_mask(draw_capsule(0.0, 60, 12))
    assert angle_error(0.0, sweep_angle(mask).angle) <= 0.5
    assert angle_error(0.0, hull_angle(mask)) <= 0.5
    assert angle_error(0.0, principal_axis_angle(mask)) <= 0.5


# --- sweep / find_angle parameters --------------------------------------------------------


def test_sweep_step_two_returns_ninety_even_angles():
    mask = foreground_mask(draw_capsule(50.0, 60, 10))
    res = sweep_angle(mask, step=2)
    assert len(res.angles) == 90 and len(res.distances) == 90
    assert np.array_equal(res.angles, np.arange(0, 180, 2))
    assert res.angle in res.angles and res.angle % 2 == 0
    assert res.distances[list(res.angles).index(res.angle)] == res.distances.min()
    assert angle_error(50.0, res.angle) <= 1.5


def test_sweep_default_tries_every_degree_and_min_is_the_narrowest():
    mask = foreground_mask(draw_capsule(120.0, 60, 10), threshold="otsu")  # crisp: no anti-aliased fringe
    res = sweep_angle(mask)
    assert np.array_equal(res.angles, np.arange(180.0))
    # cv2 draws a thickness-10 line 11 px wide: the narrowest extent is that width,
    # the widest the length between cap centres plus the two caps
    assert res.distances.min() == pytest.approx(11, abs=1.5)
    assert res.distances.max() == pytest.approx(71, abs=2.0)


def test_sweep_rejects_non_positive_step():
    mask = foreground_mask(draw_capsule(0.0, 40, 10))
    with pytest.raises(ValueError, match="step"):
        sweep_angle(mask, step=0)


@pytest.mark.parametrize("finder", [lambda m: sweep_angle(m), hull_angle, principal_axis_angle, midline_angle,
                                    core_axis_angle, skeleton_angle, blend_angle])
def test_angle_finders_reject_an_empty_mask(finder):
    with pytest.raises(ValueError, match="empty"):
        finder(np.zeros((20, 20), bool))


def test_find_angle_dispatches_by_method():
    mask = foreground_mask(draw_capsule(70.0, 60, 10))
    assert find_angle(mask, "sweep") == sweep_angle(mask).angle
    assert find_angle(mask, "sweep", step=5) == sweep_angle(mask, step=5).angle
    assert find_angle(mask, "hull") == hull_angle(mask)
    assert find_angle(mask, "moments") == principal_axis_angle(mask)
    assert find_angle(mask, "midline") == midline_angle(mask)
    assert find_angle(mask, "core") == core_axis_angle(mask)
    assert find_angle(mask, "skeleton") == skeleton_angle(mask)
    assert find_angle(mask, "blend") == blend_angle(mask)
    assert find_angle(mask) == find_angle(mask, DEFAULT_METHOD)
    assert DEFAULT_METHOD in METHODS and DEFAULT_MASK in MASKS


def test_find_angle_unknown_method_names_the_choices():
    mask = foreground_mask(draw_capsule(70.0, 60, 10))
    with pytest.raises(ValueError) as err:
        find_angle(mask, "calipers")
    for m in METHODS:
        assert m in str(err.value)
    assert "calipers" in str(err.value)


def test_angle_error_convention():
    assert angle_error(30, 150) == 0            # 30 + 150 = 180: vertical, p down
    assert angle_error(30, 330) == 0
    assert angle_error(30, 0) == 30
    assert angle_error(100, 0) == 80            # measured to the nearer vertical
    assert angle_error(10, 85) == 85
    assert angle_error(0, 90) == 90


# --- upright ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tilted():
    return draw_capsule(60.0, 70, 12)


def test_upright_makes_an_elongated_chromosome_tall(tilted):
    out, angle = upright(tilted)
    assert out.dtype == np.uint8 and out.ndim == 2
    h, w = out.shape
    assert h > 3 * w
    assert angle_error(60.0, angle) <= 1.0
    border = np.concatenate([out[0], out[-1], out[:, 0], out[:, -1]])
    assert border.min() >= 250                   # white margin, tight crop
    assert w <= 12 + 2 * 2 + 3


@pytest.mark.parametrize("method", ["sweep", "hull", "moments"])
def test_upright_each_method(tilted, method):
    out, angle = upright(tilted, method=method)
    assert out.shape[0] > 3 * out.shape[1]
    assert angle_error(60.0, angle) <= 1.5


def test_upright_on_16bit(tilted):
    img = tilted.astype(np.uint16) * 257
    out, angle = upright(img)
    assert out.dtype == np.uint16
    assert out.shape[0] > 3 * out.shape[1]
    assert angle_error(60.0, angle) <= 1.0
    assert out[0, 0] == 65535


def test_upright_on_colour(tilted):
    img = cv2.cvtColor(tilted, cv2.COLOR_GRAY2BGR)
    out, angle = upright(img)
    assert out.ndim == 3 and out.shape[2] == 3
    assert out.shape[0] > 3 * out.shape[1]
    assert angle_error(60.0, angle) <= 1.0
    assert tuple(out[0, 0]) == (255, 255, 255)


def test_upright_on_float_unit_range(tilted):
    out, angle = upright(tilted.astype(np.float32) / 255.0)
    assert out.dtype == np.float32 and out.shape[0] > 3 * out.shape[1]
    assert angle_error(60.0, angle) <= 1.0
    assert out[0, 0] == 1.0 and out.min() < 0.3      # white fill in the image's own range


def test_upright_on_bright_on_black(tilted):
    out, angle = upright(255 - tilted)
    assert out.shape[0] > 3 * out.shape[1]
    assert angle_error(60.0, angle) <= 1.0
    border = np.concatenate([out[0], out[-1], out[:, 0], out[:, -1]])
    assert border.max() <= 5                     # black fill and margin


def test_upright_ignores_small_debris(tilted):
    img = tilted.copy()
    img[2:6, 2:6] = 40   # a speck in the corner
    out, angle = upright(img)
    assert angle_error(60.0, angle) <= 1.0
    assert out.shape[0] > 3 * out.shape[1]


def test_upright_rejects_a_blank_image():
    with pytest.raises(ValueError, match="blank|foreground"):
        upright(np.full((40, 40), 255, np.uint8))


# --- synthetic chromosomes ----------------------------------------------------------------


@pytest.fixture(scope="module")
def straight_long_errors():
    """Sweep and hull on the straight long chromosomes of 8 synthetic cells (155 of them)."""
    from chromolib.specimens import synthetic_specimens

    rows = []
    for sp in synthetic_specimens(8, seed=1):
        if sp.bent is not False or sp.chromosome not in LONG_TYPES:
            continue
        mask, _ = largest_component(foreground_mask(canonical_gray(sp.image), "white"))
        s, h = sweep_angle(mask).angle, hull_angle(mask)
        rows.append((angle_error(sp.angle, s), angle_error(sp.angle, h), angle_error(-s, h)))
    return np.array(rows)


def test_synthetic_straight_long_chromosomes_are_made_vertical(straight_long_errors):
    errs = straight_long_errors
    assert len(errs) >= 100
    sweep = errs[:, 0]
    assert (sweep <= 1.5).mean() >= 0.95       # measured 0.994 (155 chromosomes)
    assert np.median(sweep) <= 0.6             # measured 0.33
    assert (errs[:, 1] <= 1.5).mean() >= 0.95  # hull: measured 0.987


def test_synthetic_hull_and_sweep_agree(straight_long_errors):
    assert (straight_long_errors[:, 2] <= 1.0).mean() >= 0.90   # measured 0.935


# --- chromosome_mask ------------------------------------------------------------------------


def test_largest_object_is_used_and_reported():
    img = np.full((80, 60), 255, np.uint8)
    cv2.line(img, (30, 10), (30, 70), 90, 9)
    cv2.circle(img, (8, 8), 2, 90, -1)
    mask, note = chromosome_mask(img)
    assert note == "2 objects: used the largest"
    assert mask[40, 30] and not mask[8, 8]


def test_chromosome_mask_gives_a_reason_for_a_blank_image():
    with pytest.raises(ValueError, match="blank"):
        chromosome_mask(np.full((50, 30), 255, np.uint8))


def test_a_small_chromosome_is_kept_with_a_note():
    mask, note = chromosome_mask(np.pad(np.zeros((9, 8), np.uint8), 20, constant_values=255))
    assert mask.sum() == 72 and note == "small (8 x 9 px): check it"


# --- the body-following methods -------------------------------------------------------------

BODY_METHODS = ("midline", "core", "skeleton", "blend")


@pytest.mark.parametrize("method", BODY_METHODS)
def test_body_methods_bring_straight_capsules_to_vertical(method):
    errors = []
    for angle, length, width in _capsule_grid()[::3]:
        mask = foreground_mask(draw_capsule(angle, length, width))
        a = find_angle(mask, method)
        assert 0.0 <= a < 180.0
        errors.append(angle_error(angle, a))
    limit = 2.0 if method == "skeleton" else 1.0  # the skeleton's ends are the coarsest cue
    assert max(errors) <= limit
    assert np.median(errors) <= 0.5


@pytest.mark.parametrize("method", BODY_METHODS)
def test_body_methods_have_no_sign_bias(method):
    errs = [signed_error(a, find_angle(foreground_mask(draw_capsule(a, 70, 10)), method))
            for a in (10.0, 35.0, 80.0, 125.0, 160.0)]
    assert max(abs(e) for e in errs) <= 1.5


@pytest.fixture(scope="module")
def bent_errors():
    """Every method on 24 strongly bent long synthetic chromosomes (arcs, S shapes, kinks)."""
    from chromolib.synthetic import render_chromosome

    rng = np.random.default_rng(5)
    rows = []
    for i in range(24):
        sp = render_chromosome(("1", "2", "3", "4", "5", "X")[i % 6], rng, bend=(-1.0) ** i * 0.9)
        mask, _ = largest_component(foreground_mask(sp.image))
        rows.append([angle_error(sp.angle, find_angle(mask, m)) for m in METHODS if m != "sweep"])
    return pd.DataFrame(rows, columns=[m for m in METHODS if m != "sweep"])


def test_bent_chromosomes_core_and_midline_as_good_as_the_principal_axis(bent_errors):
    median = bent_errors.median()
    # the generator stands a bent chromosome with its mean tangent vertical: the axes that
    # average over the body (moments, midline, core) find it within a degree or two
    for m in ("moments", "midline", "core"):
        assert median[m] <= 2.0, median
    assert median["core"] <= median["moments"] + 0.3
    assert median["midline"] <= median["moments"] + 0.3
    assert median["blend"] <= median["hull"] + 0.3     # the blend is never worse than its worse half
    assert (bent_errors.max() <= 20).all()             # no method turns a bent chromosome on its side


def test_skeleton_follows_a_hairpin_where_the_outline_is_short_and_wide():
    """A U-shaped chromosome (two parallel limbs): the ends lie side by side at the top, and the
    medial path runs from one down round the bend and up to the other. Every method must keep
    the U upright (its limbs vertical), none may lay it on its side."""
    img = np.full((90, 70), 255, np.uint8)
    cv2.ellipse(img, (35, 55), (18, 18), 0, 0, 180, 40, thickness=11, lineType=cv2.LINE_AA)
    cv2.line(img, (17, 55), (17, 12), 40, 11, cv2.LINE_AA)
    cv2.line(img, (53, 55), (53, 12), 40, 11, cv2.LINE_AA)
    mask = foreground_mask(img)
    path = medial_path(mask)
    ends = path[[0, -1]]
    assert (ends[:, 0] < 25).all()                    # both ends at the top
    assert abs(ends[0, 1] - ends[1, 1]) > 25          # one on each limb
    for m in ("hull", "moments", "midline", "core", "blend"):
        assert angle_error(0.0, find_angle(mask, m)) <= 2.0, m


def test_thin_leaves_a_one_pixel_medial_line():
    bar = np.zeros((30, 80), bool)
    bar[10:21, 10:70] = True                     # 11 px thick, 60 px long
    skeleton = thin(bar)
    assert skeleton.any() and not (skeleton & ~bar).any()
    ys, xs = np.nonzero(skeleton)
    assert np.abs(ys - 15).max() <= 5             # near the middle row
    core = xs[(xs > 20) & (xs < 60)]
    assert len(core) == len(set(core.tolist()))   # one pixel per column along the bar
    path = medial_path(bar, smooth=0)
    assert abs(path[:, 1].max() - path[:, 1].min()) >= 45


@pytest.mark.parametrize("method", METHODS)
def test_degenerate_masks_give_an_angle(method):
    one = np.zeros((9, 9), bool)
    one[4, 4] = True
    block = np.zeros((9, 9), bool)
    block[3:5, 3:6] = True
    disc = np.zeros((41, 41), np.uint8)
    cv2.circle(disc, (20, 20), 12, 1, -1)
    line = np.zeros((9, 30), bool)
    line[4, 3:27] = True
    for m in (one, block, disc.astype(bool), line):
        a = find_angle(m, method)
        assert np.isfinite(a) and 0.0 <= a < 180.0
    assert angle_error(90.0, find_angle(line, method)) <= 1.0   # a horizontal line: stand it up


# --- the outline mask -----------------------------------------------------------------------


def _pale_ended_chromosome() -> np.ndarray:
    """A vertical chromosome, pale (200) at both ends, whose dark middle leans 10 degrees inside
    the outline, as dark G-bands can lie: the dark part alone leans, the outline does not."""
    img = draw_capsule(0.0, 80, 22, dark=200)
    centre = (img.shape[1] // 2, img.shape[0] // 2)
    cv2.ellipse(img, centre, (4, 26), 10, 0, 360, 40, -1, cv2.LINE_AA)
    return img


def test_outline_mask_keeps_the_pale_parts_that_otsu_drops():
    img = _pale_ended_chromosome()
    outline = foreground_mask(img)                 # the default
    otsu = foreground_mask(img, threshold="otsu")
    assert DEFAULT_MASK == "outline"
    assert outline.sum() > 1.5 * otsu.sum()
    assert not (otsu & ~outline).any()             # the outline holds the Otsu mask
    ys, _ = np.nonzero(outline)
    assert np.ptp(ys) + 1 >= 95                    # both pale ends: 80 between the caps' centres + 2 x 11
    # the axis of the whole outline is vertical; the dark middle alone leans
    for method in ("hull", "moments"):
        assert angle_error(0.0, find_angle(outline, method)) <= 1.0
        assert angle_error(0.0, find_angle(largest_component(otsu)[0], method)) > 5.0


def test_outline_mask_is_otsu_on_a_two_tone_image_and_rejects_unknown_thresholds():
    img, _ = _banded_blob()
    assert np.array_equal(foreground_mask(img, threshold="otsu"), foreground_mask(img))
    with pytest.raises(ValueError, match="threshold"):
        foreground_mask(img, threshold="triangle")


def test_outline_mask_ignores_background_noise():
    rng = np.random.default_rng(0)
    img = draw_capsule(25.0, 70, 12).astype(np.float64)
    img = np.clip(img - np.abs(rng.normal(0, 5, img.shape)), 0, 255).astype(np.uint8)  # noisy white
    mask = foreground_mask(img)
    clean = foreground_mask(draw_capsule(25.0, 70, 12))
    iou = (mask & clean).sum() / (mask | clean).sum()
    assert iou > 0.85
    assert angle_error(25.0, hull_angle(largest_component(mask)[0])) <= 1.5



def test_triangle_threshold_matches_opencv_and_survives_histogram_gaps():
    from chromolib.rotation import triangle_threshold

    rng = np.random.default_rng(3)
    img = draw_capsule(40.0, 70, 12)
    noisy = np.clip(img.astype(np.float64) - np.abs(rng.normal(0, 3, img.shape)), 0, 255).astype(np.uint8)
    t, _ = cv2.threshold(noisy, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_TRIANGLE)
    assert triangle_threshold(noisy) == int(t)          # no empty bins: OpenCV's answer
    # through 16 bits and back: to_gray stretches the range and leaves empty gray levels
    deep = noisy.astype(np.uint16) * 257
    mask8, mask16 = foreground_mask(noisy), foreground_mask(deep)
    assert (mask8 != mask16).mean() < 0.02              # the same outline, not the noisy background
    assert angle_error(40.0, hull_angle(largest_component(mask16)[0])) <= 1.5
