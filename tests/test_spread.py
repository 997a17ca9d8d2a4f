"""`chromolib karyotype`: whole spreads in, karyograms out; bad images get a reason, inputs stay."""
from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from chromolib.cli import main
from chromolib.orient import load_orient_model
from chromolib.outlines import read_labelme, write_labelme
from chromolib.segmentation import segment_classical
from chromolib.spread import (BORDER_NOTE, CLUSTER_NOTE, GREEN, ORANGE, RESULT_COLUMNS, SUMMARY_COLUMNS,
                              check_is_spread, cut_crop, karyotype_spread, karyotype_spreads,
                              objects_from_segmentation, spread_gray)
from chromolib.synthetic import render_chromosome

SPREADS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "bioimlab-spreads"
TYPES = ("3", "4", "5", "6", "7", "8", "9", "10", "11", "12")


def synthetic_spread(seed: int = 0, n: int = 10, cols: int = 5, cell: int = 110) -> np.ndarray:
    """A G-band-like spread: ``n`` synthetic chromosomes (straight, random angles), one per grid
    cell of ``cell`` px, dark on a white canvas. The classical segmenter finds all ``n``."""
    rng = np.random.default_rng(seed)
    rows = -(-n // cols)
    canvas = np.full((rows * cell + 20, cols * cell + 20), 255, np.uint8)
    for k in range(n):
        im = render_chromosome(TYPES[k % len(TYPES)], rng, angle=float(rng.uniform(0, 360)), bend=0.0, noise=0).image
        r, c = divmod(k, cols)
        h, w = im.shape
        y, x = 10 + r * cell + (cell - h) // 2, 10 + c * cell + (cell - w) // 2
        canvas[y:y + h, x:x + w] = np.minimum(canvas[y:y + h, x:x + w], im)
    return canvas


def with_cluster_and_border(image: np.ndarray, seed: int = 5) -> np.ndarray:
    """``image`` widened by 140 px holding a star of three crossing chromosomes (a cluster) and a
    chromosome cut by the bottom edge."""
    rng = np.random.default_rng(seed)
    H, W = image.shape
    canvas = np.full((H, W + 140), 255, np.uint8)
    canvas[:, :W] = image
    for angle in (0.0, 60.0, 120.0):
        im = render_chromosome("2", rng, angle=angle, bend=0.0, noise=0).image
        h, w = im.shape
        y, x = 70 - h // 2, W + 70 - w // 2
        top = max(-y, 0)  # rows above the canvas are cut off
        canvas[y + top:y + h, x:x + w] = np.minimum(canvas[y + top:y + h, x:x + w], im[top:])
    im = render_chromosome("4", rng, angle=80.0, bend=0.0, noise=0).image
    h, w = im.shape
    canvas[H - h // 2:, W + 40:W + 40 + w] = np.minimum(canvas[H - h // 2:, W + 40:W + 40 + w], im[:h - h // 2])
    return canvas


class FakeTypes:
    """A stand-in type model: the plumbing, not the network (types in call order, p = 0.9)."""
    threshold = 0.5

    def __init__(self):
        self.calls = []

    def types(self, crops):
        self.calls.append(len(crops))
        return [TYPES[i % len(TYPES)] for i in range(len(crops))], np.full(len(crops), 0.9)


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def model():
    return load_orient_model()


@pytest.fixture(scope="module")
def batch(tmp_path_factory, model):
    """One good synthetic spread and four bad inputs through ``karyotype_spreads``."""
    src = tmp_path_factory.mktemp("spreads")
    assert cv2.imwrite(str(src / "good.png"), synthetic_spread())
    (src / "notes.png").write_text("a text file, not an image")
    assert cv2.imwrite(str(src / "blank.png"), np.full((300, 400), 255, np.uint8))
    single = render_chromosome("1", np.random.default_rng(1), angle=30.0, bend=0.0).image
    tight = render_chromosome("21", np.random.default_rng(2), angle=0.0, bend=0.0).image
    assert min(tight.shape) < 64 and cv2.imwrite(str(src / "crop.png"), tight)  # a tight chromosome crop
    framed = np.full((200, 200), 255, np.uint8)
    framed[20:20 + single.shape[0], 40:40 + single.shape[1]] = single[:180, :160]
    assert cv2.imwrite(str(src / "one.png"), framed)                       # one chromosome in a frame
    before = snapshot(src)
    out = tmp_path_factory.mktemp("out") / "karyotypes"
    messages: list[str] = []
    summary = karyotype_spreads([src], out, model=model, progress=False, log=messages.append)
    return src, out, summary, messages, before


def test_good_spread_gives_consistent_outputs(batch):
    src, out, summary, _, _ = batch
    image = cv2.imread(str(src / "good.png"), cv2.IMREAD_GRAYSCALE)
    n = segment_classical(image).n
    assert n == 10
    folder = out / "good"
    res = pd.read_csv(folder / "results.csv", dtype=str, keep_default_na=False)
    assert list(res.columns) == RESULT_COLUMNS
    assert len(res) == n and list(res.object) == [str(i) for i in range(1, n + 1)]
    assert (res.error == "").all() and set(res.polarity) <= {"up", "down"}
    assert all((folder / f).exists() for f in res.file)
    assert len(list((folder / "crops").glob("object_*.png"))) == n
    overlay = cv2.imread(str(folder / "overlay.png"), cv2.IMREAD_UNCHANGED)
    assert overlay.shape == image.shape + (3,)
    assert cv2.imread(str(folder / "karyogram.png")) is not None
    outlines = read_labelme(folder / "outlines.json")
    assert len(outlines) == n and outlines.shape == image.shape
    assert outlines.image_path == (src / "good.png").resolve()  # labelme opens the original image
    row = summary[summary.spread.str.endswith("good.png")].iloc[0]
    assert row.error == "" and row.objects == n and list(summary.columns) == SUMMARY_COLUMNS


def test_bad_inputs_get_reasons_and_the_batch_goes_on(batch):
    src, out, summary, messages, _ = batch
    errors = {Path(s).name: e for s, e in zip(summary.spread, summary.error)}
    assert errors["good.png"] == ""
    assert errors["notes.png"].startswith("not an image")
    assert errors["blank.png"].startswith("blank image")
    assert errors["crop.png"].startswith("too small for a metaphase spread")
    assert errors["one.png"].startswith("only 1 object found")
    assert len(messages) == 4 and all("\n" not in m for m in messages)
    assert pd.read_csv(out / "summary.csv", keep_default_na=False).error.tolist() == summary.error.tolist()
    assert not (out / "blank").exists()


def test_inputs_are_unchanged(batch):
    src, _, _, _, before = batch
    assert snapshot(src) == before


def test_given_outlines_replace_the_segmentation(batch, model, tmp_path):
    src, out, _, _, _ = batch
    mine = read_labelme(out / "good" / "outlines.json")
    keep = mine.polygons[:6]
    path = write_labelme(tmp_path / "corrected.json", keep, src / "good.png", mine.shape)
    out2 = tmp_path / "out"
    summary = karyotype_spreads([src / "good.png"], out2, outlines=path, model=model, progress=False)
    assert summary.error.tolist() == [""] and summary.objects.tolist() == [6]
    res = pd.read_csv(out2 / "good" / "results.csv", keep_default_na=False)
    assert len(res) == 6 and not res.cluster.any()
    assert len(read_labelme(out2 / "good" / "outlines.json")) == 6
    # rerun from the outlines written in place (the labelme round trip): read, not overwritten
    again = out2 / "good" / "outlines.json"
    stamp = again.read_bytes()
    summary = karyotype_spreads([src / "good.png"], out2, outlines=again, model=model, progress=False)
    assert summary.objects.tolist() == [6] and again.read_bytes() == stamp
    # a rerun with fewer objects leaves no stale crop behind
    write_labelme(tmp_path / "five.json", keep[:5], src / "good.png", mine.shape)
    karyotype_spreads([src / "good.png"], out2, outlines=tmp_path / "five.json", model=model, progress=False)
    assert len(list((out2 / "good" / "crops").glob("object_*.png"))) == 5
    assert len(list((out2 / "good" / "oriented").glob("object_*.png"))) == 5


def test_outlines_for_another_image_size_are_a_reason(batch, model, tmp_path):
    src, _, _, _, _ = batch
    square = np.array([[10, 10], [40, 10], [40, 60], [10, 60]], float)
    path = write_labelme(tmp_path / "wrong.json", [square], src / "good.png", (100, 100))
    summary = karyotype_spreads([src / "good.png"], tmp_path / "out", outlines=path, model=model, progress=False,
                                log=lambda m: None)
    assert "100 x 100 px image" in summary.error[0]


def test_usage_errors(batch, model, tmp_path):
    src, _, _, _, _ = batch
    with pytest.raises(ValueError, match="inside the input folder"):
        karyotype_spreads([src], src / "out", model=model, progress=False)
    with pytest.raises(ValueError, match="exactly one"):
        karyotype_spreads([src / "good.png", src / "blank.png"], tmp_path / "o", outlines=tmp_path / "x.json",
                          model=model, progress=False)
    inside = tmp_path / "out" / "a"
    inside.mkdir(parents=True)
    cv2.imwrite(str(inside / "s.png"), synthetic_spread())
    with pytest.raises(ValueError, match="inside the output folder"):
        karyotype_spreads([inside / "s.png"], tmp_path / "out", model=model, progress=False)
    other = tmp_path / "other"
    other.mkdir()
    cv2.imwrite(str(other / "good.png"), synthetic_spread(1))
    with pytest.raises(ValueError, match="would both write"):
        karyotype_spreads([src / "good.png", other / "good.png"], tmp_path / "o", model=model, progress=False)


def test_cli_karyotype(batch, tmp_path, capsys):
    src, _, _, _, _ = batch
    out = tmp_path / "cli"
    assert main(["karyotype", str(src / "good.png"), str(src / "blank.png"), str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "blank.png: blank image" in err
    assert (out / "good" / "karyogram.png").exists()
    assert main(["karyotype", str(src / "good.png"), str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 of 1 spreads karyotyped" in text and "10 objects" in text
    assert main(["karyotype", str(src / "good.png"), str(src / "one.png"), str(out), "--outlines", "x.json"]) == 2
    assert "--outlines goes with exactly one SPREAD" in capsys.readouterr().err
    assert main(["karyotype", str(src), str(src / "out")]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["karyotype", "--help"])
    assert exc.value.code == 0 and "labelme" in capsys.readouterr().out


def test_clusters_and_border_objects_are_flagged_and_clusters_left_off_the_sheet(model, tmp_path):
    image = with_cluster_and_border(synthetic_spread())
    assert cv2.imwrite(str(tmp_path / "s.png"), image)
    seg = segment_classical(image).objects
    assert seg.cluster.sum() == 1 and seg.touches_border.sum() == 1
    fake = FakeTypes()
    res = karyotype_spread(tmp_path / "s.png", tmp_path / "out", model, type_models={"gband": fake})
    assert len(res) == len(seg) and fake.calls == [len(seg) - 1]  # the cluster is not typed
    cluster, border = res[res.cluster].iloc[0], res[res.touches_border].iloc[0]
    assert cluster.needs_review == "True" and CLUSTER_NOTE in cluster.note and cluster.chromosome == ""
    assert cluster.file.startswith("oriented/clusters/") and (tmp_path / "out" / "s" / cluster.file).exists()
    assert border.needs_review == "True" and BORDER_NOTE in border.note and border.chromosome != ""
    assert (res[~res.cluster].chromosome != "").all()
    assert len(list((tmp_path / "out" / "s" / "oriented").glob("object_*.png"))) == len(seg) - 1
    overlay = cv2.imread(str(tmp_path / "out" / "s" / "overlay.png"))
    assert (overlay == ORANGE).all(axis=2).any() and (overlay == GREEN).all(axis=2).any()


def test_crops_hold_one_object_on_the_background():
    image = synthetic_spread()
    objects = objects_from_segmentation(segment_classical(image))
    r = objects.table.iloc[0]
    crop = cut_crop(image, objects.masks[0], int(r.x), int(r.y), 250, margin=4)
    assert crop.shape == (r.h + 8, r.w + 8)
    inner = crop[4:-4, 4:-4]
    assert (inner[~objects.masks[0]] == 250).all() and (crop[:4] == 250).all()
    assert (inner[objects.masks[0]] == image[r.y:r.y + r.h, r.x:r.x + r.w][objects.masks[0]]).all()


def test_16bit_and_colour_spreads_segment_alike():
    image = synthetic_spread()
    n = segment_classical(spread_gray(image)).n
    assert segment_classical(spread_gray(image.astype(np.uint16) * 257)).n == n
    assert segment_classical(spread_gray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))).n == n
    with pytest.raises(ValueError, match="too large"):
        spread_gray(np.tile(image, (1, 10)))
    objects = objects_from_segmentation(segment_classical(image))
    check_is_spread(objects, image.shape)  # ten objects: a spread


@pytest.mark.skipif(not SPREADS.is_dir(), reason=f"{SPREADS} not present (real BioImLab spreads)")
def test_real_spread_with_its_published_outlines(model, tmp_path):
    image, annotation = SPREADS / "images" / "original_18.jpg", SPREADS / "annotations" / "original_18.json"
    truth = read_labelme(annotation)
    summary = karyotype_spreads([image], tmp_path, outlines=annotation, model=model, progress=False)
    assert summary.error.tolist() == [""] and summary.objects.tolist() == [len(truth)]
    res = pd.read_csv(tmp_path / "original_18" / "results.csv", keep_default_na=False)
    assert len(res) == len(truth) and (res.error == "").all()
    assert len(read_labelme(tmp_path / "original_18" / "outlines.json")) == len(truth)


def test_zoom_pads_the_box_and_stops_at_the_image_edges():
    from chromolib.spread import zoom

    image = np.arange(100 * 80).reshape(100, 80)
    z = zoom(image, (10, 20, 5, 6), pad=3)
    assert z.shape == (12, 11) and z[0, 0] == image[17, 7]
    corner = zoom(image, (0, 95, 4, 5), pad=10)  # cut at the left and bottom edges
    assert corner.shape == (15, 14) and corner[-1, 0] == image[99, 0]
