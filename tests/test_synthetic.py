"""Tests of the synthetic chromosome generator (chromolib.synthetic)."""

from collections import Counter

import cv2
import numpy as np
import pytest

from chromolib import synthetic as syn
from chromolib.karyotype import CENTROMERE_INDEX
from chromolib.synthetic import (
    SyntheticChromosome,
    make_cell,
    make_dataset,
    render_chromosome,
    upright,
)


def _rng(seed=0):
    return np.random.default_rng(seed)


@pytest.fixture(scope="module")
def one_cell_dataset():
    return make_dataset(1, seed=11)


# --- API, types -----------------------------------------------------------------------


def test_images_uint8_2d_white_margins(one_cell_dataset):
    for c in one_cell_dataset:
        assert isinstance(c, SyntheticChromosome)
        im = c.image
        assert im.dtype == np.uint8 and im.ndim == 2
        border = np.concatenate([im[0], im[-1], im[:, 0], im[:, -1]])
        assert border.min() > 230, (c.chromosome, c.angle)
        assert im.min() < 120  # there is a dark chromosome in it
        assert 0.0 <= c.angle < 360.0


def test_margin_is_small(one_cell_dataset):
    # tight crop: within 2-4 px of the border there is chromosome on every side
    for c in one_cell_dataset:
        fg = c.image < 200
        rows = np.flatnonzero(fg.any(axis=1))
        cols = np.flatnonzero(fg.any(axis=0))
        h, w = c.image.shape
        assert rows[0] <= 5 and h - 1 - rows[-1] <= 5
        assert cols[0] <= 5 and w - 1 - cols[-1] <= 5


# --- determinism ----------------------------------------------------------------------


def test_determinism_same_seed_identical():
    a = make_dataset(1, seed=3)
    b = make_dataset(1, seed=3)
    assert len(a) == len(b) == 46
    for x, y in zip(a, b):
        assert x.chromosome == y.chromosome and x.angle == y.angle and x.bent == y.bent
        assert x.image.shape == y.image.shape and np.array_equal(x.image, y.image)


def test_determinism_different_seed_differs():
    a = make_dataset(1, seed=3)
    b = make_dataset(1, seed=4)
    n_diff = sum(
        x.image.shape != y.image.shape or not np.array_equal(x.image, y.image) for x, y in zip(a, b)
    )
    assert n_diff == len(a)


def test_render_chromosome_deterministic_given_rng_state():
    a = render_chromosome("7", _rng(5))
    b = render_chromosome("7", _rng(5))
    assert np.array_equal(a.image, b.image) and a.angle == b.angle


def test_cell_ids():
    d = make_dataset(2, seed=0)
    assert [c.cell for c in d[:1]] == ["syn0000"] and d[-1].cell == "syn0001"
    assert Counter(c.cell for c in d) == {"syn0000": 46, "syn0001": 46}


# --- lengths, centromere --------------------------------------------------------------


def test_chr1_longer_than_chr21_upright():
    for seed in range(3):
        h1 = upright("1", _rng(seed), bend=0).shape[0]
        h21 = upright("21", _rng(seed), bend=0).shape[0]
        assert h1 > 2.5 * h21


def test_sizes_at_scale_1():
    im1 = upright("1", _rng(1), bend=0, noise=0)
    im21 = upright("21", _rng(1), bend=0, noise=0)
    # chromosome length ~ 100-120 px (+ margins), width 12-16 px (+ margins)
    assert 85 <= im1.shape[0] <= 140
    assert 12 <= im1.shape[1] <= 28
    assert 20 <= im21.shape[0] <= 40


def test_scale_multiplies_sizes():
    a = upright("5", _rng(2), bend=0, noise=0)
    b = upright("5", _rng(2), bend=0, noise=0, scale=2.0)
    assert 1.8 < (b.shape[0] - 6) / (a.shape[0] - 6) < 2.2


def _width_profile(im, thr=235):
    return (im < thr).sum(axis=1)


@pytest.mark.parametrize("name", ["4", "13", "18", "X"])
def test_centromere_constriction_in_upper_half(name):
    # p up: the narrowest row (excluding the rounded caps) lies in the upper half
    for seed in range(4):
        im = upright(name, _rng(seed), bend=0, noise=0, blur=0.6)
        prof = _width_profile(im)
        rows = np.flatnonzero(prof > 0)
        top, bot = rows[0], rows[-1]
        cap = 5
        inner = np.arange(top + cap, bot - cap + 1)
        r_min = inner[np.argmin(prof[inner])]
        assert r_min < (top + bot) / 2, (name, seed, r_min, top, bot)


def test_metacentric_constriction_near_middle():
    im = upright("1", _rng(0), bend=0, noise=0, blur=0.6)
    prof = _width_profile(im)
    rows = np.flatnonzero(prof > 0)
    top, bot = rows[0], rows[-1]
    inner = np.arange(top + 5, bot - 4)
    r_min = inner[np.argmin(prof[inner])]
    assert abs((r_min - top) / (bot - top) - CENTROMERE_INDEX["1"]) < 0.12


def test_band_pattern_fixed_per_type():
    e1, d1 = syn._band_pattern("1")
    e1b, d1b = syn._band_pattern("1")
    assert np.array_equal(e1, e1b) and np.array_equal(d1, d1b)
    assert e1[0] == 0.0 and e1[-1] == 1.0 and np.all(np.diff(e1) > 0)
    e2, _ = syn._band_pattern("2")
    assert len(e1) != len(e2) or not np.allclose(e1, e2)
    # the centromere is a band edge
    assert np.any(np.isclose(e1, CENTROMERE_INDEX["1"]))
    # the pattern of a type does not depend on the instance rng: same-type copies correlate
    a = upright("1", _rng(1), bend=0, noise=0)
    b = upright("1", _rng(2), bend=0, noise=0)
    c = upright("2", _rng(1), bend=0, noise=0)

    def prof(im, n=100):
        rows = np.flatnonzero((im < 200).any(axis=1))
        p = im[rows[0] : rows[-1] + 1].astype(float).mean(axis=1)
        return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(p)), p)

    same = np.corrcoef(prof(a), prof(b))[0, 1]
    other = np.corrcoef(prof(a), prof(c))[0, 1]
    assert same > 0.6 and same > other


# --- angle convention -----------------------------------------------------------------


def test_angle_0_vertical_90_horizontal():
    for name in ["1", "7", "X"]:
        im0 = render_chromosome(name, _rng(3), angle=0, bend=0).image
        im90 = render_chromosome(name, _rng(3), angle=90, bend=0).image
        assert im0.shape[0] > im0.shape[1]
        assert im90.shape[1] > im90.shape[0]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_angle_multiple_of_90_equals_rot90(k):
    # np.rot90 turns counter-clockwise as displayed, like cv2.getRotationMatrix2D
    for name, seed in [("4", 0), ("9", 1), ("13", 2)]:
        im0 = render_chromosome(name, _rng(seed), angle=0, noise=0).image
        imk = render_chromosome(name, _rng(seed), angle=90 * k, noise=0).image
        ref = np.rot90(im0, k)
        assert imk.shape == ref.shape
        assert np.abs(imk.astype(int) - ref.astype(int)).max() <= 2


def test_angle_matches_cv2_rotation_matrix():
    # an arbitrary angle equals cv2.getRotationMatrix2D(center, angle, 1) applied to the
    # upright rendering (grown canvas, white fill), up to resampling and crop offsets
    angle = 33.0
    up = render_chromosome("4", _rng(7), angle=0, noise=0, blur=0.8, bend=0).image
    rot = render_chromosome("4", _rng(7), angle=angle, noise=0, blur=0.8, bend=0).image
    h, w = up.shape
    big = cv2.copyMakeBorder(up, w, w, h, h, cv2.BORDER_CONSTANT, value=255)
    H, W = big.shape
    M = cv2.getRotationMatrix2D(((W - 1) / 2, (H - 1) / 2), angle, 1.0)
    ref = cv2.warpAffine(big, M, (W, H), flags=cv2.INTER_LINEAR, borderValue=255)
    fg = ref < 250
    rows = np.flatnonzero(fg.any(axis=1))
    cols = np.flatnonzero(fg.any(axis=0))
    ref = ref[rows[0] - 3 : rows[-1] + 4, cols[0] - 3 : cols[-1] + 4]
    assert abs(ref.shape[0] - rot.shape[0]) <= 2 and abs(ref.shape[1] - rot.shape[1]) <= 2
    hh, ww = min(ref.shape[0], rot.shape[0]), min(ref.shape[1], rot.shape[1])
    best = min(
        np.abs(
            ref[dy : dy + hh - 2, dx : dx + ww - 2].astype(float)
            - rot[ey : ey + hh - 2, ex : ex + ww - 2].astype(float)
        ).mean()
        for dy in range(3) for dx in range(3) for ey in range(3) for ex in range(3)
    )
    assert best < 6.0
    # the mirrored angle is clearly different (the convention is not clockwise)
    rot_cw = render_chromosome("4", _rng(7), angle=-angle, noise=0, blur=0.8, bend=0).image
    assert rot_cw.shape != rot.shape or np.abs(rot_cw.astype(float) - rot).mean() > 2 * best


def test_p_end_moves_left_at_90_degrees():
    # the p arm of an acrocentric is short: upright, the centromere (narrowest) is near
    # the top; rotated CCW by 90 the top goes to the left, so the narrow column is left.
    im = render_chromosome("13", _rng(4), angle=90, bend=0, noise=0, blur=0.6).image
    prof = (im < 235).sum(axis=0)
    cols = np.flatnonzero(prof > 0)
    left, right = cols[0], cols[-1]
    inner = np.arange(left + 5, right - 4)
    c_min = inner[np.argmin(prof[inner])]
    assert c_min < (left + right) / 2


# --- no polarity artefact ---------------------------------------------------------------


def _palindromic_bands():
    edges = np.array([0.0, 0.08, 0.2, 0.31, 0.44, 0.56, 0.69, 0.8, 0.92, 1.0])
    dark = np.array([0.1, 0.9, 0.15, 0.6, 0.05, 0.6, 0.15, 0.9, 0.1])
    assert np.allclose(edges, 1 - edges[::-1]) and np.allclose(dark, dark[::-1])
    return edges, dark


@pytest.mark.parametrize("length,width,blur", [(60.0, 14.0, 0.8), (37.3, 13.1, 1.1), (101.7, 15.4, 0.5)])
def test_symmetric_type_equals_its_vertical_flip(length, width, blur):
    clean, mask = syn._render_upright(length, width, 0.5, _palindromic_bands(), blur=blur)
    assert clean.min() < 120
    assert np.abs(clean - np.flipud(clean)).max() <= 1.0
    assert np.abs(mask - np.flipud(mask)).max() <= 1e-6
    img = syn._crop_and_noise(clean, 0.0, None)
    assert img.shape[0] > img.shape[1]
    assert np.abs(img.astype(int) - np.flipud(img).astype(int)).max() <= 1
    # and its horizontal flip (the two chromatids are drawn alike)
    assert np.abs(img.astype(int) - np.fliplr(img).astype(int)).max() <= 1


def test_asymmetric_centromere_breaks_symmetry():
    clean, _ = syn._render_upright(60.0, 14.0, 0.3, _palindromic_bands(), blur=0.8)
    assert np.abs(clean - np.flipud(clean)).max() > 10


def test_flip_of_symmetric_type_equals_180_rendering():
    a, _ = syn._render_upright(55.0, 14.0, 0.5, _palindromic_bands(), blur=0.8, angle=0.0)
    b, _ = syn._render_upright(55.0, 14.0, 0.5, _palindromic_bands(), blur=0.8, angle=180.0)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= 1.0


def test_bent_rendering_is_symmetric_for_symmetric_arc():
    # an arc bend (constant curvature) treats both ends the same
    clean, _ = syn._render_upright(
        70.0, 14.0, 0.5, _palindromic_bands(), blur=0.8, bend=0.8, bend_kind=0
    )
    assert clean.shape[1] > 22  # it is really bent
    assert np.abs(clean - np.flipud(clean)).max() <= 2.0


# --- cells ------------------------------------------------------------------------------


@pytest.mark.parametrize("male", [True, False])
def test_make_cell_karyotype(male):
    cell = make_cell("syn0042", _rng(1), male=male, scale=0.6)
    assert len(cell) == 46
    counts = Counter(c.chromosome for c in cell)
    for i in range(1, 23):
        assert counts[str(i)] == 2
        assert sorted(c.copy for c in cell if c.chromosome == str(i)) == [0, 1]
    if male:
        assert counts["X"] == 1 and counts["Y"] == 1
    else:
        assert counts["X"] == 2 and "Y" not in counts
    assert all(c.cell == "syn0042" for c in cell)
    assert len({round(c.angle, 6) for c in cell}) > 40  # independent angles


def test_dataset_has_both_sexes_and_some_bent():
    d = make_dataset(6, seed=1, scale=0.5)
    sexes = {tuple(sorted(c.chromosome for c in d if c.cell == k and c.chromosome in "XY"))
             for k in {c.cell for c in d}}
    assert sexes <= {("X", "X"), ("X", "Y")}
    frac_bent = np.mean([c.bent for c in d])
    assert 0.15 < frac_bent < 0.45


def test_explicit_parameters_do_not_shift_rng_stream():
    # giving the drawn angle explicitly reproduces the same chromosome
    r1, r2 = _rng(9), _rng(9)
    a = render_chromosome("3", r1, noise=0.0)
    b = render_chromosome("3", r2, noise=0.0, angle=a.angle)
    assert np.array_equal(a.image, b.image)
