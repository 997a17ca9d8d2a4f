"""`chromolib orient`: whole cells come out vertical and short arm up; bad files get a reason."""
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chromolib.cli import main
from chromolib.orient import load_orient_model, orient_folder
from chromolib.rotation import angle_error, chromosome_mask, find_angle, foreground_mask
from chromolib.synthetic import make_cell


class Oracle:
    """A stand-in polarity model that knows the truth (P(up) from the generator's angle), so the
    tests check the plumbing - rotation, flipping, files - not the network's accuracy."""

    def __init__(self):
        self.threshold, self.truth = 0.9, []

    def prob_up(self, grays):
        return np.array([self.truth.pop(0) for _ in grays])


@pytest.fixture()
def cell_dir(tmp_path):
    """One synthetic metaphase of straight chromosomes plus bad files."""
    d = tmp_path / "cell"
    d.mkdir()
    cells = make_cell("c0", np.random.default_rng(4))
    truth = {}
    for c in cells:
        name = f"chr{c.chromosome}_{c.copy}.png"
        cv2.imwrite(str(d / name), c.image)
        truth[name] = c
    (d / "notes.txt").write_text("not an image")
    good = (d / "chr1_0.png").read_bytes()
    (d / "truncated.png").write_bytes(good[: len(good) // 2])
    (d / "empty.png").write_bytes(b"")
    cv2.imwrite(str(d / "blank.png"), np.full((50, 30), 255, np.uint8))
    cv2.imwrite(str(d / "speck.png"), np.pad(np.zeros((3, 3), np.uint8), 20, constant_values=255))
    return d, truth


def test_orient_brings_every_good_chromosome_upright_and_explains_every_bad_one(cell_dir, tmp_path):
    src, truth = cell_dir
    out = tmp_path / "out"
    oracle = Oracle()
    # the oracle answers in the order files are processed (sorted names, good ones only)
    for name in sorted(truth):
        c = truth[name]
        mask, _ = chromosome_mask(c.image)
        applied = find_angle(mask, "hull")
        oracle.truth.append(1.0 if np.cos(np.radians(c.angle + applied)) > 0 else 0.0)
    oracle.truth.append(0.99)  # speck.png, processed after the chr*.png files
    messages = []
    res = orient_folder(src, out, oracle, labels=None, progress=False, log=messages.append)
    assert len(res) == len(truth) + 5
    bad = res[res.error != ""]
    assert set(bad.file) == {"notes.txt", "truncated.png", "empty.png", "blank.png"}
    assert len(messages) == 4 and all(": " in m for m in messages)
    assert "blank" in bad.set_index("file").error["blank.png"]
    good = res[res.error == ""].set_index("file")
    # a speck is oriented like any chromosome, and flagged for a person to look at
    assert good.needs_review["speck.png"] == "True" and good.note["speck.png"].startswith("small")
    good = good.drop(index="speck.png")
    for name, c in truth.items():
        total = c.angle + float(good.rotation_angle[name])
        # vertical AND short arm up: the total rotation is a multiple of 360 (within the taper error)
        assert min(total % 360, 360 - total % 360) < (3 if c.chromosome in "1 2 3 4 5 6 7 X".split() else 15), name
        img = cv2.imread(str(out / name), cv2.IMREAD_GRAYSCALE)
        ys, xs = np.nonzero(foreground_mask(img))
        assert np.ptp(ys) >= np.ptp(xs) or c.chromosome in ("19", "20", "21", "22", "Y"), name
    assert (out / "karyogram.png").exists()
    assert (good.flipped == "True").sum() > 5  # about half had their short arm down


def test_rerun_skips_what_is_done_and_retries_what_failed(cell_dir, tmp_path):
    src, truth = cell_dir
    out = tmp_path / "out"
    first = Oracle()
    first.truth = [0.95] * (len(truth) + 1)  # and the speck
    orient_folder(src, out, first, progress=False, log=lambda m: None)
    stamp = (out / "chr1_0.png").stat().st_mtime_ns
    (src / "notes.txt").unlink()
    second = Oracle()  # no answers: would fail if asked to predict anything again
    res = orient_folder(src, out, second, progress=False, log=lambda m: None)
    assert (out / "chr1_0.png").stat().st_mtime_ns == stamp
    assert "notes.txt" not in set(res.file)
    assert not list(out.glob(".tmp-*")), "temporary files left behind"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=0, max_size=300))
def test_random_bytes_never_crash_the_batch(tmp_path, data):
    import tempfile

    d = Path(tempfile.mkdtemp(dir=tmp_path))
    (d / "in").mkdir()
    (d / "in" / "junk.png").write_bytes(data)
    oracle = Oracle()
    oracle.truth = [1.0]
    res = orient_folder(d / "in", d / "out", oracle, progress=False, log=lambda m: None)
    assert len(res) == 1 and (res.error.iloc[0] != "" or res.polarity.iloc[0] == "up")


@pytest.mark.parametrize("kind", ["uint16", "colour", "bright_on_black"])
def test_inputs_of_every_kind_are_oriented(tmp_path, kind):
    c = make_cell("k", np.random.default_rng(1))[0]  # a chromosome 1
    img = c.image
    if kind == "uint16":
        img = img.astype(np.uint16) * 257
    elif kind == "colour":
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    else:
        img = 255 - img
    d = tmp_path / "in"
    d.mkdir()
    cv2.imwrite(str(d / "c.png"), img)
    oracle = Oracle()
    oracle.truth = [0.2]
    res = orient_folder(d, tmp_path / "out", oracle, progress=False, log=lambda m: None)
    assert res.error.iloc[0] == "", res.error.iloc[0]
    out = cv2.imread(str(tmp_path / "out" / "c.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == img.dtype and out.ndim == img.ndim
    assert res.flipped.iloc[0] == "True" and res.polarity.iloc[0] == "down"
    assert angle_error(c.angle, float(res.rotation_angle.iloc[0])) < 2.0


def test_orient_cli_end_to_end_with_a_trained_run(tiny_run, tmp_path, capsys):
    run = tiny_run.run
    assert json.loads((run / "review.json").read_text())["threshold"] >= 0.5
    model = load_orient_model(run)
    assert model.trained.size == (32, 32)
    src = tmp_path / "in"
    src.mkdir()
    for i, c in enumerate(make_cell("z", np.random.default_rng(2))[:6]):
        cv2.imwrite(str(src / f"{i}.png"), c.image)
    (src / "bad.png").write_bytes(b"\x89PNG garbage")
    capsys.readouterr()
    code = main(["orient", str(src), str(tmp_path / "out"), "--model", str(run), "--quiet"])
    assert code == 1
    res = pd.read_csv(tmp_path / "out" / "results.csv", dtype=str, keep_default_na=False)
    assert list(res.columns) == ["file", "rotation_angle", "polarity", "probability", "flipped", "chromosome",
                                 "type_probability", "needs_review", "error", "note"]
    assert (res.error != "").sum() == 1 and "bad.png" in capsys.readouterr().err
    assert main(["orient", str(src), str(tmp_path / "o2"), "--model", str(tmp_path / "nothing")]) == 2


def test_orient_applies_its_threshold_to_the_probabilities_it_was_chosen_on(tiny_run):
    """review.json's threshold is chosen on predictions.csv's prob_up; orient must compute the
    same probabilities for the same upright crops (not, say, a flip-averaged variant)."""
    import torch

    from chromolib.polarity_set import PolarityTensors, load_images

    model = load_orient_model(tiny_run.run)
    preds = pd.read_csv(tiny_run.run / "predictions.csv")
    crops = [cv2.imread(str(tiny_run.dataset / f), cv2.IMREAD_UNCHANGED) for f in preds.file]
    p = model.prob_up(crops)
    assert np.allclose(p, preds.prob_up, atol=1e-5)
    # the test can tell: on this run flip-averaging gives other probabilities
    x = PolarityTensors(load_images(tiny_run.dataset, preds.file, 32), np.zeros(len(preds)), model.trained.mean, model.trained.std)
    with torch.no_grad():
        xs, _ = x.batch(torch.arange(len(x)))
        flipped = torch.softmax(model.trained.model(xs.flip(-1)), 1)[:, 1].numpy()
    assert np.abs((p + flipped) / 2 - preds.prob_up).max() > 1e-3


def test_orient_without_a_model_uses_the_one_that_ships(tmp_path, capsys):
    from chromolib.shipped import POLARITY

    src = tmp_path / "in"
    src.mkdir()
    for i, c in enumerate(make_cell("s", np.random.default_rng(3))[:5]):
        cv2.imwrite(str(src / f"{i}.png"), c.image)
    assert POLARITY.exists(), f"{POLARITY} is not in the package"
    assert main(["orient", str(src), str(tmp_path / "out"), "--quiet"]) == 0
    res = pd.read_csv(tmp_path / "out" / "results.csv", dtype=str, keep_default_na=False)
    assert len(res) == 5 and (res.error == "").all() and set(res.polarity) <= {"up", "down"}
    assert (tmp_path / "out" / "karyogram.png").exists()


class TypeOracle:
    """A stand-in type model: the truth by file order, with a chosen confidence."""

    def __init__(self, names, probs, threshold=0.5):
        self.names, self.probs, self.threshold, self.calls = names, probs, threshold, 0

    def types(self, crops):
        self.calls += 1
        assert len(crops) == len(self.names)
        return list(self.names), np.array(self.probs)


def test_types_fill_the_results_flag_the_unsure_and_survive_a_rerun(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cells = make_cell("t", np.random.default_rng(5))[:4]
    for i, c in enumerate(cells):
        cv2.imwrite(str(src / f"{i}.png"), c.image)
    oracle = Oracle()
    oracle.truth = [0.99] * 4
    names = [str(c.chromosome) for c in cells]
    types = TypeOracle(names, [0.9, 0.2, 0.9, 0.9])
    res = orient_folder(src, tmp_path / "out", oracle, types=types, progress=False)
    assert res.chromosome.tolist() == names
    assert res.type_probability.tolist() == ["0.9000", "0.2000", "0.9000", "0.9000"]
    assert res.needs_review.tolist() == ["False", "True", "False", "False"]
    assert res.note[1] == "type uncertain"
    # a rerun does every file's type again over the whole cell, and does not repeat the note
    types.probs = [0.9, 0.9, 0.9, 0.1]
    res = orient_folder(src, tmp_path / "out", oracle, types=types, progress=False)
    assert types.calls == 2
    assert res.needs_review.tolist() == ["False", "False", "False", "True"]
    assert res.note.tolist() == ["", "", "", "type uncertain"]
    # labels win over the model; no model and no labels: no types
    labels = pd.DataFrame({"file": [f"{i}.png" for i in range(4)], "chromosome": ["1", "1", "2", "2"]})
    oracle.truth = [0.99] * 8
    res = orient_folder(src, tmp_path / "o2", oracle, labels=labels, types=types, progress=False)
    assert res.chromosome.tolist() == ["1", "1", "2", "2"] and (res.type_probability == "").all()
    res = orient_folder(src, tmp_path / "o3", oracle, types=None, progress=False)
    assert (res.chromosome == "").all() and (res.needs_review == "False").all()


def test_the_stain_is_read_from_the_images():
    from chromolib.orient import detect_stain

    g = make_cell("s", np.random.default_rng(6))[0].image
    assert detect_stain([g, g, 255 - g]) == "gband"
    assert detect_stain([255 - g, 255 - g, g]) == "qband"


def test_orient_with_a_type_run_lays_the_sheet_out_by_type(tiny_type_run, tmp_path):
    from chromolib.karyotype import TYPES

    src = tmp_path / "in"
    src.mkdir()
    for i, c in enumerate(make_cell("k", np.random.default_rng(7))):
        cv2.imwrite(str(src / f"{i:02d}.png"), c.image)
    assert main(["orient", str(src), str(tmp_path / "out"), "--type-model", str(tiny_type_run), "--quiet"]) == 0
    res = pd.read_csv(tmp_path / "out" / "results.csv", dtype=str, keep_default_na=False)
    assert set(res.chromosome) <= set(TYPES) and res.groupby("chromosome").size().max() <= 3
    assert res.type_probability.astype(float).between(0, 1).all()
    sheet = cv2.imread(str(tmp_path / "out" / "karyogram.png"), cv2.IMREAD_GRAYSCALE)
    assert sheet is not None and sheet.shape[0] > 4 * 100  # the standard four rows, at least


def test_orient_rotates_with_the_method_it_is_given(tmp_path, monkeypatch):
    import chromolib.orient as orient

    src = tmp_path / "in"
    src.mkdir()
    for i, c in enumerate(make_cell("m", np.random.default_rng(8))[:3]):
        cv2.imwrite(str(src / f"{i}.png"), c.image)
    used, real = [], orient.upright_file
    monkeypatch.setattr(orient, "upright_file", lambda f, method="?", step=1.0: used.append(method) or real(f, method, step))
    oracle = Oracle()
    oracle.truth = [0.99] * 3
    orient_folder(src, tmp_path / "out", oracle, method="moments", types=None, progress=False)
    assert used == ["moments"] * 3
