"""Tests of chromolib.polarity_set: labels from geometry, the data set on disk, the split, tensors."""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from chromolib.polarity_set import (
    DOWN,
    UP,
    PolarityTensors,
    build_polarity_set,
    load_images,
    normalisation_stats,
    polarity_label,
    read_manifest,
    split_by_cell,
    square_resize,
)

MANIFEST_COLUMNS = ["file", "cell", "chromosome", "source", "angle_true", "angle_applied", "label", "split"]


def _deviation_from_vertical(total: pd.Series) -> np.ndarray:
    t = np.asarray(total, dtype=float) % 360.0
    return np.minimum.reduce([t, np.abs(t - 180.0), 360.0 - t])


# --- polarity_label -----------------------------------------------------------------------


@pytest.mark.parametrize("true_angle, applied, expected", [
    (0, 0, UP),
    (180, 0, DOWN),
    (100, 80, DOWN),      # total 180: p ends at the bottom
    (350, 10, UP),        # total 360
    (100, 260, UP),       # total 360
    (200, 170, UP),       # total 370
    (10, 160, DOWN),      # total 170
    (359.5, 0, UP),
    (181, 0, DOWN),
    (-30, 25, UP),
    (270, 95, UP),        # total 365
    (90, 85, DOWN),       # total 175
])
def test_polarity_label_from_total_rotation(true_angle, applied, expected):
    assert polarity_label(true_angle, applied) == expected


def test_label_constants_follow_the_method():
    assert (UP, DOWN) == (1, 0)


# --- build_polarity_set -------------------------------------------------------------------


def test_build_polarity_set_manifest_and_files(polarity_set_3cells, specimens_3cells):
    root, df = polarity_set_3cells
    assert list(df.columns) == MANIFEST_COLUMNS
    assert len(df) == len(specimens_3cells) == 3 * 46
    for f in df.file:
        assert (root / f).is_file()
    assert (root / "manifest.csv").is_file()
    disk = read_manifest(root)
    assert list(disk.columns) == MANIFEST_COLUMNS
    assert disk.file.tolist() == df.file.tolist()
    assert disk.label.tolist() == df.label.tolist()
    assert disk.split.tolist() == df.split.tolist()
    # the true angles are those of the specimens, in order
    assert np.allclose(df.angle_true, [round(s.angle, 4) for s in specimens_3cells])


def test_build_polarity_set_rotates_to_vertical(polarity_set_3cells, long_types):
    _, df = polarity_set_3cells
    assert ((df.angle_applied >= 0) & (df.angle_applied < 180)).all()
    dev = _deviation_from_vertical(df.angle_true + df.angle_applied)
    # short, stubby types (21, 22, Y) are up to ~11 degrees off (measured 11.2); long ones
    # are within ~2.3 degrees (measured); every label is far from ambiguous (90 degrees)
    assert dev.max() <= 15.0
    assert dev[df.chromosome.isin(long_types).to_numpy()].max() <= 5.0
    assert np.median(dev) <= 1.0


def test_build_polarity_set_labels_follow_geometry(polarity_set_3cells):
    _, df = polarity_set_3cells
    expected = [polarity_label(t, a) for t, a in zip(df.angle_true, df.angle_applied)]
    assert df.label.tolist() == expected
    assert set(df.label) == {UP, DOWN}


def test_build_polarity_set_split_by_cell(polarity_set_3cells):
    _, df = polarity_set_3cells
    assert set(df.split) == {"train", "test"}
    assert (df.groupby("cell").split.nunique() == 1).all()
    assert abs((df.split == "train").mean() - 0.7) <= 0.15
    for side in ("train", "test"):
        assert set(df.label[df.split == side]) == {UP, DOWN}


def test_build_polarity_set_images_are_upright_dark_on_white(polarity_set_3cells, long_types):
    root, df = polarity_set_3cells
    for row in df[df.chromosome.isin(long_types)].head(20).itertuples():
        img = cv2.imread(str(root / row.file), cv2.IMREAD_UNCHANGED)
        assert img.ndim == 2 and img.dtype == np.uint8
        assert img.shape[0] > 2 * img.shape[1]
        border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
        assert np.median(border) > 200 and img.min() < 120


def test_build_polarity_set_rejects_no_specimens(tmp_path):
    with pytest.raises(ValueError, match="no specimens"):
        build_polarity_set([], tmp_path, progress=False)


@pytest.fixture(scope="module")
def polarity_set_6cells(tmp_path_factory):
    from chromolib.specimens import synthetic_specimens

    root = tmp_path_factory.mktemp("polarity6")
    return root, build_polarity_set(synthetic_specimens(6, seed=0), root, progress=False)


def test_labels_are_meaningful_up_looks_like_flipped_down(polarity_set_6cells):
    root, df = polarity_set_6cells
    x = load_images(root, df.file, 48).astype(np.float64)
    up = x[df.label.to_numpy() == UP].mean(axis=0)
    down = x[df.label.to_numpy() == DOWN].mean(axis=0)

    def corr(a, b):
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

    # if the labels were random (or inverted), the mean UP image would not resemble the
    # upside-down mean DOWN image better than the DOWN image itself
    assert corr(up, down[::-1]) > corr(up, down)
    # what sets UP apart from DOWN is what sets the flipped DOWN apart from DOWN
    # (measured 0.62; -0.16 with shuffled labels)
    m = (up + down) / 2
    assert corr(up - m, down[::-1] - m) > 0.3


# --- split_by_cell ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def forty_cells() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for c in range(40):
        p_up = rng.uniform(0.2, 0.8)
        for _ in range(int(rng.integers(5, 15))):
            rows.append({"cell": f"cell{c:02d}", "label": int(rng.random() < p_up)})
    return pd.DataFrame(rows)


def test_split_by_cell_keeps_cells_whole_and_about_seventy_percent(forty_cells):
    split = split_by_cell(forty_cells, train_fraction=0.7, seed=1)
    assert len(split) == len(forty_cells)
    assert set(split) == {"train", "test"}
    assert (pd.DataFrame({"cell": forty_cells.cell, "s": split}).groupby("cell").s.nunique() == 1).all()
    assert abs((split == "train").mean() - 0.7) <= 0.05


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_split_by_cell_is_stratified_by_label(forty_cells, seed):
    split = split_by_cell(forty_cells, seed=seed)
    overall = forty_cells.label.mean()
    for side in ("train", "test"):
        assert abs(forty_cells.label[split == side].mean() - overall) <= 0.1


def test_split_by_cell_is_deterministic_for_a_seed(forty_cells):
    a = split_by_cell(forty_cells, seed=5)
    b = split_by_cell(forty_cells, seed=5)
    assert a.equals(b)
    others = [split_by_cell(forty_cells, seed=s) for s in range(6, 10)]
    assert any(not a.equals(o) for o in others)


def test_split_by_cell_keeps_cases_together():
    # Pki-3 style names CASE.N: all cells of a case on one side
    rows = [{"cell": f"case{k}.{n}", "label": (k + n + i) % 2}
            for k in range(10) for n in range(3) for i in range(4)]
    df = pd.DataFrame(rows)
    split = split_by_cell(df, seed=0)
    case = df.cell.str.split(".").str[0]
    assert (pd.DataFrame({"case": case, "s": split}).groupby("case").s.nunique() == 1).all()
    assert set(split) == {"train", "test"}


def test_split_by_cell_two_cells_uses_both_sides():
    df = pd.DataFrame({"cell": ["a"] * 5 + ["b"] * 5, "label": [0, 1] * 5})
    split = split_by_cell(df, seed=0)
    assert set(split) == {"train", "test"}
    assert split[:5].nunique() == 1 and split[5:].nunique() == 1


# --- square_resize / load_images ----------------------------------------------------------


def test_square_resize_keeps_the_aspect_ratio():
    bar = np.zeros((40, 10), np.uint8)          # a black bar, 4 times as tall as wide
    out = square_resize(bar, 64)
    assert out.shape == (64, 64) and out.dtype == np.uint8
    dark = out < 128
    cols = np.flatnonzero(dark.any(axis=0))
    rows = np.flatnonzero(dark.any(axis=1))
    assert len(rows) == 64
    assert abs(len(cols) - 16) <= 1
    assert abs((cols[0] + cols[-1]) / 2 - 31.5) <= 1   # centred
    assert (out[:, :20] == 255).all() and (out[:, -20:] == 255).all()


def test_square_resize_wide_input_and_upscaling():
    bar = np.zeros((5, 20), np.uint8)
    out = square_resize(bar, 40)
    dark = out < 128
    assert out.shape == (40, 40)
    assert abs(len(np.flatnonzero(dark.any(axis=1))) - 10) <= 1
    assert len(np.flatnonzero(dark.any(axis=0))) == 40


def test_load_images_canonicalises_bright_on_black(tmp_path):
    img = np.full((30, 12), 255, np.uint8)
    img[3:27, 3:9] = 40
    cv2.imwrite(str(tmp_path / "dark.png"), img)
    cv2.imwrite(str(tmp_path / "bright.png"), 255 - img)
    x = load_images(tmp_path, ["dark.png", "bright.png"], 24)
    assert x.shape == (2, 24, 24) and x.dtype == np.uint8
    assert np.array_equal(x[0], x[1])
    assert x[0, 0, 0] == 255 and x[0, 12, 12] < 100


def test_load_images_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_images(tmp_path, ["nope.png"], 16)


# --- normalisation and tensors ------------------------------------------------------------


def test_normalisation_stats_on_known_arrays():
    half = np.zeros((2, 4, 4), np.uint8)
    half[1] = 255
    mean, std = normalisation_stats(half)
    assert mean == pytest.approx(0.5) and std == pytest.approx(0.5)
    mean, std = normalisation_stats(np.full((3, 5, 5), 51, np.uint8))
    assert mean == pytest.approx(0.2) and std == pytest.approx(0.0)


@pytest.fixture(scope="module")
def asymmetric_images():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, size=(32, 8, 8), dtype=np.uint8)
    y = np.arange(32) % 2
    return x, y


def test_polarity_tensors_are_normalised_three_channel(asymmetric_images):
    x, y = asymmetric_images
    data = PolarityTensors(x, y, mean=0.4, std=0.2)
    assert len(data) == 32
    img, label = data[5]
    assert img.shape == (3, 8, 8) and img.dtype == torch.float32
    assert torch.equal(img[0], img[1]) and torch.equal(img[0], img[2])
    expected = (torch.as_tensor(x[5], dtype=torch.float32) / 255.0 - 0.4) / 0.2
    assert torch.allclose(img[0], expected, atol=1e-6)
    assert label.item() == y[5]


def test_polarity_tensors_eval_never_flips(asymmetric_images):
    x, y = asymmetric_images
    data = PolarityTensors(x, y, 0.5, 0.25, train=False)
    xb, _ = data.batch(torch.arange(32), generator=torch.Generator().manual_seed(0))
    expected = (torch.as_tensor(x, dtype=torch.float32) / 255.0 - 0.5) / 0.25
    assert torch.allclose(xb[:, 0], expected, atol=1e-6)


def test_polarity_tensors_train_flips_horizontally_only(asymmetric_images):
    x, y = asymmetric_images
    data = PolarityTensors(x, y, 0.5, 0.25, train=True, augment="flip")
    xb, yb = data.batch(torch.arange(32), generator=torch.Generator().manual_seed(0))
    ref = (torch.as_tensor(x, dtype=torch.float32) / 255.0 - 0.5) / 0.25
    got = xb[:, 0]
    same = [torch.allclose(got[i], ref[i], atol=1e-6) for i in range(32)]
    hflip = [torch.allclose(got[i], ref[i].flip(-1), atol=1e-6) for i in range(32)]
    vflip = [torch.allclose(got[i], ref[i].flip(-2), atol=1e-6) for i in range(32)]
    assert all(s or h for s, h in zip(same, hflip))
    assert 4 <= sum(hflip) <= 28           # about half, never none or all
    assert not any(vflip)                  # polarity is never touched
    assert torch.equal(yb, torch.as_tensor(y))
    # seeded: the same generator gives the same flips
    xb2, _ = data.batch(torch.arange(32), generator=torch.Generator().manual_seed(0))
    assert torch.equal(xb, xb2)


def test_polarity_tensors_turn_swaps_the_label_of_every_upside_down_image(asymmetric_images):
    x, y = asymmetric_images
    data = PolarityTensors(x, y, 0.5, 0.25, train=True, augment="flip", vflip=True, swap=True)
    xb, yb = data.batch(torch.arange(32), generator=torch.Generator().manual_seed(3))
    ref = (torch.as_tensor(x, dtype=torch.float32) / 255.0 - 0.5) / 0.25
    got = xb[:, 0]
    upright = [torch.allclose(got[i], ref[i], atol=1e-6) or torch.allclose(got[i], ref[i].flip(-1), atol=1e-6)
               for i in range(32)]
    turned = [torch.allclose(got[i], ref[i].flip(-2), atol=1e-6) or
              torch.allclose(got[i], ref[i].flip(-2).flip(-1), atol=1e-6) for i in range(32)]
    assert all(u != t for u, t in zip(upright, turned))  # each image is one or the other
    assert 4 <= sum(turned) <= 28
    for i in range(32):  # upside down: the label is the other one; upright: unchanged
        assert int(yb[i]) == (1 - y[i] if turned[i] else y[i])
    assert torch.equal(data.labels, torch.as_tensor(y))  # the stored labels are untouched


def test_polarity_tensors_augment_none_changes_nothing(asymmetric_images):
    x, y = asymmetric_images
    a = PolarityTensors(x, y, 0.5, 0.25, train=True, augment="none")
    b = PolarityTensors(x, y, 0.5, 0.25, train=False)
    idx = torch.arange(32)
    assert torch.equal(a.batch(idx, torch.Generator().manual_seed(1))[0], b.batch(idx)[0])


def test_polarity_tensors_rejects_unknown_augment(asymmetric_images):
    x, y = asymmetric_images
    with pytest.raises(ValueError, match="augment"):
        PolarityTensors(x, y, 0.5, 0.25, augment="rotate")


# --- read_manifest ------------------------------------------------------------------------


def test_read_manifest_missing_raises_with_the_file_name(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.csv"):
        read_manifest(tmp_path)


def test_read_manifest_keeps_cell_and_chromosome_as_text(tmp_path):
    pd.DataFrame({"file": ["a.png"], "cell": ["0012"], "chromosome": ["1"], "label": [1],
                  "split": ["train"]}).to_csv(tmp_path / "manifest.csv", index=False)
    df = read_manifest(tmp_path)
    assert df.cell[0] == "0012" and df.chromosome[0] == "1"


def test_fit_resize_keeps_the_shape_in_a_tall_frame():
    from chromolib.polarity_set import fit_resize

    g = np.full((60, 20), 255, np.uint8)
    g[:, 5:15] = 0  # a dark bar 10 px wide, 60 tall
    out = fit_resize(g, 96, 32)
    assert out.shape == (96, 32)
    cols = np.nonzero((out < 128).any(axis=0))[0]
    rows = np.nonzero((out < 128).any(axis=1))[0]
    assert rows.size >= 94 and 14 <= cols.size <= 18  # scaled by 1.6 along both axes, centred
    assert abs(cols.mean() - 15.5) <= 1
    wide = fit_resize(g.T, 96, 32)  # a lying chromosome keeps its shape too: padded above and below
    assert (wide[:30] == 255).all() and (wide[-30:] == 255).all()


def test_square_resize_is_fit_resize_to_a_square():
    from chromolib.polarity_set import fit_resize

    g = np.random.default_rng(0).integers(0, 255, (37, 13), dtype=np.uint8)
    assert (square_resize(g, 32) == fit_resize(g, 32, 32)).all()


def test_one_scale_per_cell_keeps_lengths_comparable():
    from chromolib.polarity_set import CELL_MEDIAN_SHARE, network_input

    def bar(h):  # a dark bar h px tall, 8 wide, on white
        img = np.full((h + 4, 12), 255, np.uint8)
        img[2:-2, 2:-2] = 0
        return img

    def height(x):
        return int((x < 128).any(1).sum())

    crops = [bar(20), bar(40), bar(60)]
    fit = network_input(crops, 64, 32)
    assert np.ptp([height(x) for x in fit]) <= 6  # each crop nearly fills the frame: length is lost
    x = network_input(crops, 64, 32, cells=["a"] * 3)
    h = [height(i) for i in x]
    assert h[1] == pytest.approx(2 * h[0], abs=2) and h[2] == pytest.approx(3 * h[0], abs=2)
    assert h[1] == pytest.approx(CELL_MEDIAN_SHARE * 64 * 40 / 44, abs=2)  # the median crop (44 px with margins)
    # the same crop beside longer cell-mates looks shorter
    other = network_input([bar(40), bar(80), bar(100)], 64, 32, cells=["b"] * 3)
    assert height(other[0]) < h[1]
    with pytest.raises(ValueError, match="cell names"):
        network_input(crops, 64, 32, cells=["a"])


def test_type_labels_are_indices_into_the_24_types():
    from chromolib.polarity_set import target_labels

    df = pd.DataFrame({"chromosome": ["1", "22", "X", "Y"], "label": [0, 1, 1, 0]})
    assert target_labels(df, "type").tolist() == [0, 21, 22, 23]
    assert target_labels(df).tolist() == [0, 1, 1, 0]
    with pytest.raises(ValueError, match=r"\['\?'\]"):
        target_labels(pd.DataFrame({"chromosome": ["1", "?"]}), "type")


def test_type_training_also_turns_chromosomes_upside_down():
    img = np.full((1, 16, 8), 255, np.uint8)
    img[0, :4] = 0  # dark only at the top
    for vflip, expect in ((False, {True}), (True, {True, False})):
        t = PolarityTensors(np.repeat(img, 64, 0), np.zeros(64), 0.5, 0.5, train=True, vflip=vflip)
        x, _ = t.batch(torch.arange(64), torch.Generator().manual_seed(0))
        top_dark = (x[:, 0, :4].mean((1, 2)) < x[:, 0, -4:].mean((1, 2))).tolist()
        assert set(top_dark) == expect


def test_type_aux_labels_are_polarity_and_type_and_unknown_types_name_the_way_out(polarity_set_3cells):
    from chromolib.karyotype import TYPES
    from chromolib.polarity_set import load_split

    root, df = polarity_set_3cells
    train_set, test_set, _ = load_split(root, 16, df, aux_type=True)
    tr = df[df.split == "train"]
    assert train_set.labels.shape == (len(tr), 2) and test_set.labels.ndim == 1
    assert train_set.labels[:, 0].tolist() == tr.label.tolist()
    assert train_set.labels[:, 1].tolist() == [TYPES.index(c) for c in tr.chromosome.astype(str)]
    bad = df.assign(chromosome="?")
    with pytest.raises(ValueError, match="--objective plain"):
        load_split(root, 16, bad, aux_type=True)
