"""Spreads with known outlines: composed from crops (synthetic, or any dark-on-light crops of one
cell) and read from a bioimlab-spreads folder with the held-out split of the benchmarks."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from chromolib import book, download
from chromolib.compose import (OVERLAP, TOUCH, compose_spread, crop_mask, held_out_names, read_spread,
                               spread_names, synthetic_spread)
from chromolib.outlines import polygon_mask, write_labelme
from chromolib.segmentation import instance_metrics, segment_classical

ROOT = Path(__file__).resolve().parent.parent
SPREADS = book.SHARED_DATA / "bioimlab-spreads"


@pytest.fixture(scope="module")
def spread():
    return synthetic_spread(seed=3)


def _rod(length: int, width: int = 12) -> np.ndarray:
    """A dark rod on white: a crop of one straight chromosome, banded."""
    img = np.full((length + 8, width + 8), 250, np.uint8)
    img[4:4 + length, 4:4 + width] = 60 + 40 * (np.arange(length)[:, None] // 5 % 2)
    return img


def test_a_synthetic_spread_holds_one_cell_with_its_touching_and_crossing_pairs(spread):
    assert spread.image.shape == (576, 768) and spread.image.dtype == np.uint8
    assert len(spread) == 46 and len(spread.outlines) == 46
    labels = spread.outlines.labels
    assert all(labels.count(str(t)) == 2 for t in range(1, 23))
    assert sorted(x for x in labels if x in ("X", "Y")) in (["X", "X"], ["X", "Y"])
    assert [k for _, _, k in spread.pairs].count(OVERLAP) == 2 and [k for _, _, k in spread.pairs].count(TOUCH) == 2
    assert [kind for kind, _ in spread.extras].count("nucleus") == 1


def test_masks_lie_inside_the_image_and_outlines_trace_them(spread):
    for m, poly in zip(spread.masks, spread.outlines.polygons):
        assert m.shape == spread.image.shape and m.sum() > 100
        traced = polygon_mask(poly, m.shape)
        assert (traced & m).sum() / (traced | m).sum() > 0.8


def test_crossing_pairs_overlap_and_touching_pairs_touch_without_overlap(spread):
    k3 = np.ones((3, 3), np.uint8)
    for i, j, kind in spread.pairs:
        a, b = spread.masks[i], spread.masks[j]
        shared = int((a & b).sum())
        if kind == OVERLAP:
            assert shared >= 0.03 * min(a.sum(), b.sum())
        else:
            assert shared == 0
            assert (cv2.dilate(a.astype(np.uint8), k3).astype(bool) & b).any()


def test_single_chromosomes_keep_their_distance(spread):
    in_pairs = {i for i, j, _ in spread.pairs} | {j for i, j, _ in spread.pairs}
    singles = [m for n, m in enumerate(spread.masks) if n not in in_pairs]
    grown = [cv2.dilate(m.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) for m in singles]
    for a in range(len(singles)):
        for b in range(a + 1, len(singles)):
            assert not (grown[a] & singles[b]).any()


def test_qband_is_bright_on_dark_and_gband_dark_on_light():
    q, g = synthetic_spread(seed=1, stain="qband"), synthetic_spread(seed=1, stain="gband")
    for s, brighter in ((q, True), (g, False)):
        on = np.median(s.image[np.any(s.masks, axis=0)])
        off = np.median(s.image[~np.any(s.masks, axis=0)])
        assert (on > off + 40) if brighter else (on < off - 40)


def test_composing_is_deterministic_for_a_seed():
    a, b, c = synthetic_spread(seed=5), synthetic_spread(seed=5), synthetic_spread(seed=6)
    assert np.array_equal(a.image, b.image) and not np.array_equal(a.image, c.image)


def test_the_classical_segmenter_finds_most_separated_chromosomes_and_drops_the_nucleus(spread):
    seg = segment_classical(spread.image)
    in_pairs = {i for i, j, _ in spread.pairs} | {j for i, j, _ in spread.pairs}
    singles = [m for n, m in enumerate(spread.masks) if n not in in_pairs]
    m = instance_metrics(seg.labels, singles)
    assert m["tp"] >= 0.9 * len(singles)
    assert "nucleus" in set(seg.rejected.reason)
    assert instance_metrics(seg.labels, spread.masks)["merged"] >= 1  # a crossing stays one object


def test_any_dark_on_light_crops_compose_as_gband_with_masks_from_the_crops():
    crops = [_rod(n) for n in (30, 40, 50, 60, 45, 35, 55, 25)]
    s = compose_spread(crops, shape=(300, 400), stain="gband", n_touching=1, n_overlapping=1, nucleus=False,
                       n_debris=0, seed=2)
    assert len(s) == 8 and len(s.pairs) == 2
    areas = sorted(int(m.sum()) for m in s.masks)
    assert areas == pytest.approx(sorted(int(crop_mask(c).sum()) for c in crops), rel=0.1)
    assert np.median(s.image[~np.any(s.masks, axis=0)]) > 200


def test_crop_mask_finds_the_chromosome_of_a_crop():
    crop = _rod(40)
    m = crop_mask(crop)
    assert m[4:44, 4:16].all() and m.sum() == 40 * 12


def test_a_crop_that_does_not_fit_is_left_out():
    s = compose_spread([_rod(60)] * 40, shape=(120, 160), nucleus=False, n_debris=0, n_touching=0,
                       n_overlapping=0)
    assert 0 < len(s) < 40
    assert not np.any(np.sum(s.masks, axis=0) > 1)


def test_compose_refuses_an_unknown_stain_and_mismatched_labels():
    with pytest.raises(ValueError):
        compose_spread([_rod(30)], stain="giemsa")
    with pytest.raises(ValueError):
        compose_spread([_rod(30)], labels=["1", "2"])


def test_read_spread_gives_image_outlines_and_masks(tmp_path):
    (tmp_path / "images").mkdir()
    img = np.zeros((100, 120), np.uint8)
    img[20:60, 30:42] = 200
    cv2.imwrite(str(tmp_path / "images" / "original_7a.jpg"), img)
    poly = np.array([[30, 20], [41, 20], [41, 59], [30, 59]], float)
    write_labelme(tmp_path / "annotations" / "original_7a.json", [poly], tmp_path / "images" / "original_7a.jpg",
                  img.shape)
    assert spread_names(tmp_path) == ["original_7a"]
    s = read_spread(tmp_path, "original_7a")
    assert s.image.shape == (100, 120) and len(s) == 1 and s.masks[0][40, 35] and not s.masks[0][10, 10]
    assert s.path.name == "original_7a.jpg"
    with pytest.raises(FileNotFoundError):
        spread_names(tmp_path / "images")


def test_the_spreads_set_is_found_by_its_own_layout(tmp_path, monkeypatch):
    monkeypatch.setenv(download.ENV, str(tmp_path / "cache"))
    assert not download.holds("bioimlab-spreads", tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    assert download.holds("bioimlab-spreads", tmp_path) and not download.holds("pki3-gband", tmp_path)
    shared = tmp_path / "shared"
    (shared / "bioimlab-spreads").mkdir(parents=True)
    for sub in ("images", "annotations"):
        (shared / "bioimlab-spreads" / sub).mkdir()
    assert book.resolve_data("bioimlab-spreads", download=False, shared=shared)[0] == str(shared / "bioimlab-spreads")


@pytest.mark.skipif(not (SPREADS / "annotations").is_dir(), reason="needs ../shared/data/bioimlab-spreads")
def test_held_out_spreads_are_those_the_committed_u_net_was_scored_on():
    committed = json.loads((ROOT / "results" / "segmentation-unet" / "metrics.json").read_text())
    held = held_out_names(SPREADS)
    assert held == committed["test_images"]
    trained = set(committed["train_cases"]) | set(committed["val_cases"])
    assert not {n.split("_")[-1].rstrip("abcdefghijklmnopqrstuvwxyz") for n in held} & trained
