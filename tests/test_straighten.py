"""Straightening for display: a bent chromosome is unrolled along its axis, ends and bands in order;
a straight or stubby one is left as it is; `orient --straighten` writes both versions."""
import cv2
import numpy as np
import pandas as pd

from chromolib.orient import STRAIGHT_DIR, STRAIGHT_SHEET, orient_folder
from chromolib.rotation import foreground_mask, largest_component, principal_axis_angle
from chromolib.straighten import MIN_BEND, bend, straighten
from chromolib.synthetic import render_chromosome


def _mask(gray):
    return largest_component(foreground_mask(gray, "white"))[0]


def _tilt(mask) -> float:
    """Degrees between the mask's principal axis and vertical."""
    a = principal_axis_angle(mask)
    return min(a, 180 - a)


def test_a_bent_chromosome_comes_out_straight_vertical_and_as_long_as_its_axis():
    c = render_chromosome("1", np.random.default_rng(0), angle=0.0, bend=1.5, noise=0, blur=0.8)
    before = _mask(c.image)
    assert bend(before) > 0.08  # the test's chromosome is clearly bent
    out = straighten(c.image)
    after = _mask(out)
    assert bend(after) < MIN_BEND
    assert _tilt(after) < 3.0
    ys, xs = np.nonzero(after)
    by, bx = np.nonzero(before)
    assert np.ptp(ys) > np.ptp(by)  # unrolled: longer than the arc's height
    assert np.ptp(xs) < 0.7 * np.ptp(bx)  # and narrower than the arc
    # the same amount of chromosome, give or take the resampling at the bend
    assert 0.8 < after.sum() / before.sum() < 1.25


def test_the_bands_keep_their_order_and_the_upper_end_stays_on_top():
    """A C-shaped band of gray with a black cap on its upper end and a black speck beside its
    middle: straightened, the cap is the top fifth, the rest stays gray and the speck is left out."""
    img = np.full((140, 100), 255, np.uint8)
    cv2.ellipse(img, (90, 70), (55, 55), 0, 100, 260, 150, thickness=14)
    cv2.ellipse(img, (90, 70), (55, 55), 0, 240, 260, 20, thickness=14)  # the upper end (angles grow clockwise)
    cv2.circle(img, (24, 70), 1, 0, -1)  # another object, 2 px outside the arc
    out = straighten(img, min_bend=0.0)
    rows = np.nonzero((out < 100).any(axis=1))[0]  # rows with the black cap
    assert rows.size and rows.max() < 0.25 * out.shape[0]
    assert (out[int(0.4 * out.shape[0]):] > 100).all()


def test_straight_and_stubby_chromosomes_are_left_as_they_are():
    straight = render_chromosome("2", np.random.default_rng(1), angle=0.0, bend=0.0, noise=0).image
    assert np.array_equal(straighten(straight), straight)
    blob = np.full((40, 40), 255, np.uint8)
    cv2.ellipse(blob, (20, 20), (12, 9), 30, 0, 360, 60, -1)  # under MIN_ASPECT: no axis worth unrolling
    assert np.array_equal(straighten(blob, min_bend=0.0), blob)
    assert np.array_equal(straighten(np.full((20, 10), 255, np.uint8)), np.full((20, 10), 255, np.uint8))


class _AllUp:
    threshold = 0.5

    def prob_up(self, grays):
        return np.ones(len(grays))


def test_orient_straighten_writes_every_chromosome_straightened_beside_the_oriented_crops(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    rng = np.random.default_rng(2)
    for i, b in enumerate([0.0, 1.2, -1.4, 0.0]):
        cv2.imwrite(str(src / f"c{i}.png"), render_chromosome("3", rng, angle=0.0, bend=b, noise=0).image)
    (src / "bad.png").write_bytes(b"")
    res = orient_folder(src, out, _AllUp(), types=None, straighten=True, progress=False, log=lambda m: None)
    good = res[res.error == ""].file.tolist()
    assert len(good) == 4 and sorted(p.name for p in (out / STRAIGHT_DIR).iterdir()) == sorted(good)
    assert (out / STRAIGHT_SHEET).exists() and (out / "karyogram.png").exists()
    for name in good:  # the oriented crops are the unstraightened ones
        oriented = cv2.imread(str(out / name), cv2.IMREAD_GRAYSCALE)
        straight = cv2.imread(str(out / STRAIGHT_DIR / name), cv2.IMREAD_GRAYSCALE)
        assert (bend(_mask(oriented)) >= MIN_BEND) != np.array_equal(oriented, straight), name
    assert isinstance(res, pd.DataFrame)


def test_a_chromosome_that_cannot_be_straightened_keeps_its_crop_and_the_cell_its_outputs(tmp_path, monkeypatch):
    import chromolib.straighten as module

    def broken(image):
        raise ValueError("no axis")

    monkeypatch.setattr(module, "straighten", broken)
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    crop = render_chromosome("3", np.random.default_rng(5), angle=0.0, bend=1.2, noise=0).image
    cv2.imwrite(str(src / "c.png"), crop)
    res = orient_folder(src, out, _AllUp(), types=None, straighten=True, progress=False, log=lambda m: None)
    assert (res.error == "").all() and (out / STRAIGHT_SHEET).exists()
    assert np.array_equal(cv2.imread(str(out / STRAIGHT_DIR / "c.png"), cv2.IMREAD_GRAYSCALE),
                          cv2.imread(str(out / "c.png"), cv2.IMREAD_GRAYSCALE))
