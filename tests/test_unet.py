"""The U-Net segmenter: network shapes, targets, training, instances, shipping, and the CLI choice."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

import chromolib.spread as spread
from chromolib.cli import main
from chromolib.outlines import polygon_mask
from chromolib.segmentation import ClassicalParams, instance_metrics, segment_classical, split_by_case
from chromolib.unet import (BACKGROUND, BOUNDARY, INTERIOR, SEGMENTER, UNet, UNetConfig, UNetParams, UNetSegmenter,
                            instances_from_probs, load_segmenter, normalize, predict_probs, sample_batch,
                            save_segmenter, segment_unet, train_unet, training_targets, tune_params, weighted_loss)

SPREADS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "bioimlab-spreads"


def rect(x0, y0, x1, y1) -> np.ndarray:
    """A rectangle outline (x, y) covering pixel centres x0..x1, y0..y1."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def qband(shape, polygons, bright=180, seed=0) -> np.ndarray:
    """Q-band-like 8-bit image: the polygons bright (banded) on black, light noise."""
    rng = np.random.default_rng(seed)
    img = rng.normal(4, 1.5, shape)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    bands = 1 + 0.15 * np.sin((xx + yy) / 3.0)
    for p in polygons:
        m = polygon_mask(p, shape)
        img[m] = bright * bands[m]
    return np.clip(cv2.GaussianBlur(img, (0, 0), 0.8), 0, 255).astype(np.uint8)


def tiny_segmenter(seed=0, **params) -> UNetSegmenter:
    torch.manual_seed(seed)
    return UNetSegmenter(UNet(base=4, levels=3).eval(), UNetParams(**params), {"base": 4, "levels": 3}, {}, "fp32")


def test_unet_keeps_the_size_and_gives_three_classes():
    assert UNet(base=4, levels=3)(torch.zeros(2, 1, 32, 48)).shape == (2, 3, 32, 48)
    assert sum(p.numel() for p in UNet().parameters()) == 482_483  # base 16, 4 levels
    probs = predict_probs(UNet(base=4, levels=3), np.zeros((37, 51), np.uint8), "fp32")  # padded, cropped back
    assert probs.shape == (3, 37, 51) and np.allclose(probs.sum(0), 1, atol=1e-5)


def test_targets_separate_touching_chromosomes_and_join_crossing_ones():
    shape = (60, 80)
    a, b = rect(10, 10, 60, 19), rect(10, 20, 60, 29)         # touching along y = 19.5
    classes, touching = training_targets([a, b], shape)
    assert (classes[15, 10:61] == INTERIOR)[2:-2].all() and classes[5, 30] == BACKGROUND
    assert (classes[19, 12:58] == BOUNDARY).all() and (classes[20, 12:58] == BOUNDARY).all()
    assert touching[19:21, 30].all() and not touching[12, 30]
    n, _ = cv2.connectedComponents((classes == INTERIOR).astype(np.uint8), connectivity=4)
    assert n - 1 == 2
    cross = [rect(10, 25, 70, 34), rect(35, 5, 44, 55)]        # lying across each other: one instance
    classes, _ = training_targets(cross, shape)
    n, _ = cv2.connectedComponents((classes == INTERIOR).astype(np.uint8), connectivity=4)
    assert n - 1 == 1 and classes[30, 40] == INTERIOR


def test_instances_from_a_hand_made_probability_map():
    H, W = 50, 70
    probs = np.zeros((3, H, W), np.float32)
    probs[BACKGROUND] = 1.0
    bars = np.zeros((H, W), bool)
    bars[10:30, 10:60] = True                                  # two bars, rows 10-19 and 20-29, touching
    probs[:, bars] = 0.0
    probs[INTERIOR, bars] = 0.9
    probs[BOUNDARY, bars] = 0.1
    probs[INTERIOR, 19:21, 10:60], probs[BOUNDARY, 19:21, 10:60] = 0.1, 0.9   # the line between them
    seg = instances_from_probs(probs)
    assert seg.n == 2 and list(seg.objects.columns) == list(segment_classical(np.zeros((H, W), np.uint8)).objects.columns)
    truth = [np.zeros((H, W), bool), np.zeros((H, W), bool)]
    truth[0][10:20, 10:60], truth[1][20:30, 10:60] = True, True
    m = instance_metrics(seg.labels, truth)
    assert m["f1"] == 1.0 and m["mean_iou"] > 0.9
    assert not seg.objects.cluster.any() and not seg.objects.touches_border.any()
    probs[INTERIOR, 19:21, 10:60], probs[BOUNDARY, 19:21, 10:60] = 0.9, 0.1   # no line: one object
    assert instances_from_probs(probs).n == 1
    small = probs.copy()
    small[:, :, :] = 0
    small[BACKGROUND] = 1
    small[BACKGROUND, 5:9, 5:9], small[INTERIOR, 5:9, 5:9] = 0, 1               # 16 px^2: debris
    seg = instances_from_probs(small)
    assert seg.n == 0 and seg.rejected_counts == {"debris": 1}


def test_a_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    polys = [rect(8, 8, 50, 17), rect(8, 18, 50, 27), rect(20, 40, 29, 60)]
    image = qband((64, 64), polys)
    classes, touching = training_targets(polys, image.shape)
    x = torch.from_numpy(normalize(image))[None, None]
    y, t = torch.from_numpy(classes.astype(np.int64))[None], torch.from_numpy(touching)[None]
    model = UNet(base=4, levels=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = weighted_loss(model(x), y, t, (1, 1.5, 3), 9).item()
    for _ in range(2):
        loss = weighted_loss(model(x), y, t, (1, 1.5, 3), 9)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert weighted_loss(model(x), y, t, (1, 1.5, 3), 9).item() < before


def test_batches_are_crops_of_the_spreads_with_their_classes():
    polys = [rect(8, 8, 50, 17), rect(8, 18, 50, 27)]
    image = qband((64, 80), polys)
    classes, touching = training_targets(polys, image.shape)
    x, y, t = sample_batch([normalize(image)], [classes], [touching], np.random.default_rng(0), 4, 32)
    assert x.shape == (4, 1, 32, 32) and y.shape == t.shape == (4, 32, 32)
    assert x.dtype == np.float32 and y.dtype == np.int64 and set(np.unique(y)) <= {0, 1, 2}
    x2, *_ = sample_batch([normalize(image)], [classes], [touching], np.random.default_rng(0), 4, 32)
    assert np.array_equal(x, x2)  # seeded
    x, y, _ = sample_batch([normalize(image[:20, :20])], [classes[:20, :20]], [touching[:20, :20]],
                           np.random.default_rng(0), 2, 32, augment=False)
    assert x.shape == (2, 1, 32, 32)  # a spread smaller than the crop is padded


def test_train_unet_writes_a_run_and_resumes(tmp_path):
    polys = [[rect(8, 8, 50, 17), rect(8, 18, 50, 27), rect(60, 10, 69, 60)],
             [rect(10, 30, 70, 39), rect(30, 50, 80, 58)]]
    images = [qband((72, 96), p, seed=i) for i, p in enumerate(polys)]
    cfg = UNetConfig(minutes=5, max_steps=2, base=4, levels=3, crop=32, batch_size=2, steps_per_epoch=1,
                     precision="fp32", warmup=1)
    seg = train_unet(images, polys, tmp_path / "run", cfg, images[:1], polys[:1], log=None)
    assert seg.info["steps"] == 2 and isinstance(seg, UNetSegmenter)
    hist = pd.read_csv(tmp_path / "run" / "history.csv")
    assert len(hist) == 2 and hist.step.tolist() == [1, 2] and hist.val_f1.notna().all()
    assert (tmp_path / "run" / "checkpoint.pt").exists() and (tmp_path / "run" / "config.json").exists()
    seg = train_unet(images, polys, tmp_path / "run", cfg.with_(max_steps=3), log=None)   # resumes at step 2
    assert seg.info["steps"] == 3 and len(pd.read_csv(tmp_path / "run" / "history.csv")) == 3
    with pytest.raises(ValueError, match="base 4"):
        train_unet(images, polys, tmp_path / "run", cfg.with_(base=8, max_steps=4), log=None)


def test_tuning_picks_thresholds_on_validation_spreads():
    polys = [rect(8, 8, 50, 17), rect(8, 18, 50, 27)]
    classes, _ = training_targets(polys, (40, 60))
    probs = np.eye(3, dtype=np.float32)[classes].transpose(2, 0, 1)
    truths = [[polygon_mask(p, (40, 60)) for p in polys]]
    start = UNetParams(min_seed_area=10000)  # no seed: the two bars are one object
    best, table = tune_params([probs], [np.zeros((40, 60), np.uint8)], truths, base=start,
                              grid={"interior_threshold": (0.5, 0.95), "min_seed_area": (5, 10000)})
    assert best.min_seed_area == 5 and best.interior_threshold == 0.5 and table.f1.max() == 1.0
    assert table.f1.min() < 1.0 and {"f1", "ap50", "interior_threshold", "min_seed_area"} <= set(table)


def test_save_and_load_round_trip(tmp_path):
    seg = tiny_segmenter(interior_threshold=0.65, min_seed_area=17)
    image = qband((48, 64), [rect(8, 8, 50, 17)])
    for half in (False, True):
        path = save_segmenter(seg, tmp_path / f"s{int(half)}.pt", half=half)
        back = load_segmenter(path, precision="fp32")
        assert back.params == seg.params and back.config["base"] == 4
        assert np.allclose(back.probs(image), seg.probs(image), atol=1e-2 if half else 1e-5)
        assert segment_unet(image, back).labels.shape == image.shape
    assert (tmp_path / "s1.pt").stat().st_size < (tmp_path / "s0.pt").stat().st_size
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a chromolib segmenter"):
        load_segmenter(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError, match="no U-Net segmenter ships"):
        load_segmenter(tmp_path / "missing.pt")


def test_auto_takes_the_shipped_unet_for_qband_and_classical_for_gband(tmp_path, monkeypatch):
    image = qband((80, 100), [rect(8, 8, 50, 17), rect(60, 10, 69, 60)])
    monkeypatch.setattr(spread, "SHIPPED_SEGMENTER", tmp_path / "missing.pt")
    assert spread.segmenter_for("auto") is segment_classical
    assert spread.segmenter_for("classical") is segment_classical
    with pytest.raises(FileNotFoundError):
        spread.segmenter_for("unet")
    with pytest.raises(ValueError, match="one of auto"):
        spread.segmenter_for("deep")
    monkeypatch.setattr(spread, "SHIPPED_SEGMENTER", save_segmenter(tiny_segmenter(), tmp_path / "net.pt"))
    auto = spread.segmenter_for("auto")
    assert isinstance(auto(image).params, UNetParams)                  # bright on black: the U-Net
    assert isinstance(auto(255 - image).params, ClassicalParams)       # dark on white (G-band): classical
    assert isinstance(spread.segmenter_for("unet")(255 - image).params, UNetParams)


def test_cli_segmenter_choice(tmp_path, monkeypatch, capsys):
    polys = [rect(20 + 45 * (k % 6), 30 + 120 * (k // 6), 32 + 45 * (k % 6), 80 + 120 * (k // 6) + 5 * k)
             for k in range(8)]
    src = tmp_path / "in"
    src.mkdir()
    assert cv2.imwrite(str(src / "q.png"), qband((300, 300), polys))
    monkeypatch.setattr(spread, "SHIPPED_SEGMENTER", tmp_path / "missing.pt")
    assert main(["karyotype", str(src / "q.png"), str(tmp_path / "out"), "--segmenter", "classical", "--quiet"]) == 0
    res = pd.read_csv(tmp_path / "out" / "q" / "results.csv", keep_default_na=False)
    assert len(res) == 8 and (res.error == "").all()
    assert main(["karyotype", str(src / "q.png"), str(tmp_path / "out2"), "--segmenter", "unet"]) == 2
    assert "no U-Net segmenter ships" in capsys.readouterr().err
    assert "--segmenter" in build_help()


def build_help() -> str:
    from chromolib.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices["karyotype"]
    return sub.format_help()


@pytest.mark.skipif(not (SPREADS.is_dir() and SEGMENTER.exists()),
                    reason="needs the real BioImLab spreads and a shipped U-Net segmenter")
def test_shipped_segmenter_on_held_out_spreads():
    from chromolib.outlines import read_labelme

    names = sorted(p.stem for p in (SPREADS / "annotations").glob("*.json"))
    _, test = split_by_case(names, 0.7, 0)
    preds, truths = [], []
    for name in test[:3]:
        o = read_labelme(SPREADS / "annotations" / f"{name}.json")
        preds.append(segment_unet(cv2.imread(str(o.image_path), cv2.IMREAD_GRAYSCALE)).labels)
        truths.append([polygon_mask(p, o.shape) for p in o.polygons])
    assert instance_metrics(preds, truths)["f1"] > 0.85
