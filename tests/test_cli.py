"""Tests of the command line (chromolib.cli.main), run in-process."""
from __future__ import annotations

import csv
import hashlib
import json
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from chromolib.cli import main
from chromolib.rotation import angle_error
from chromolib.synthetic import render_chromosome

# known angles of four long straight chromosomes
KNOWN = {"chr1.png": ("1", 23.0), "chr2.png": ("2", 67.5), "chr3.png": ("3", 128.0), "chr5.png": ("5", 301.0)}
BAD = ("blank.png", "corrupt.png")


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("rotate", "dataset", "train", "evaluate"):
        assert cmd in out


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "usage" in capsys.readouterr().err


@pytest.fixture(scope="module")
def rotate_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rotate_in")
    for k, (name, (chrom, angle)) in enumerate(KNOWN.items()):
        sc = render_chromosome(chrom, np.random.default_rng(k), angle=angle, bend=0.0)
        assert cv2.imwrite(str(folder / name), sc.image)
    (folder / "corrupt.png").write_bytes(np.random.default_rng(0).bytes(300))
    cv2.imwrite(str(folder / "blank.png"), np.full((40, 40), 255, np.uint8))
    (folder / "notes.txt").write_text("not an image, not listed")
    return folder


def _read_rotation_csv(path):
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, {row["file"]: row for row in reader}


@pytest.mark.parametrize("method", ["hull", "sweep"])
def test_rotate_folder_with_bad_files(rotate_inputs, tmp_path, capsys, method):
    out = tmp_path / "out"
    args = ["rotate", str(rotate_inputs), str(out)] + (["--method", method] if method != "hull" else [])
    rc = main(args)
    captured = capsys.readouterr()
    assert rc == 1                                # some files failed
    assert "4 of 6" in captured.out
    for bad in BAD:
        assert bad in captured.err

    fields, rows = _read_rotation_csv(out / "rotation.csv")
    assert fields == ["file", "angle", "error"]
    assert set(rows) == set(KNOWN) | set(BAD)
    for name, (chrom, true_angle) in KNOWN.items():
        img = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        assert img is not None and img.shape[0] > 2 * img.shape[1], name
        assert rows[name]["error"] == ""
        applied = float(rows[name]["angle"])
        assert 0.0 <= applied < 180.0
        assert angle_error(true_angle, applied) <= 2.0, (name, applied)
    for bad in BAD:
        assert rows[bad]["error"] != "" and rows[bad]["angle"] == ""
        assert not (out / bad).exists()
    # no temporary files are left behind
    assert sorted(p.name for p in out.iterdir()) == sorted(list(KNOWN) + ["rotation.csv"])


def test_rotate_all_good_exits_zero(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    sc = render_chromosome("4", np.random.default_rng(1), angle=40.0, bend=0.0)
    cv2.imwrite(str(src / "a.png"), sc.image)
    assert main(["rotate", str(src), str(tmp_path / "out"), "--quiet"]) == 0
    assert capsys.readouterr().out == ""          # --quiet
    _, rows = _read_rotation_csv(tmp_path / "out" / "rotation.csv")
    assert angle_error(40.0, float(rows["a.png"]["angle"])) <= 2.0


def test_rotate_empty_or_missing_folder_returns_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["rotate", str(empty), str(tmp_path / "o1")]) == 2
    assert "no images" in capsys.readouterr().err
    assert main(["rotate", str(tmp_path / "absent"), str(tmp_path / "o2")]) == 2
    assert "error" in capsys.readouterr().err


# --- dataset -> train -> evaluate -----------------------------------------------------------


def test_dataset_command_writes_a_split_manifest(tiny_run):
    ds = tiny_run.dataset
    df = pd.read_csv(ds / "manifest.csv")
    assert len(df) == 2 * 46
    assert set(df.split) == {"train", "test"}
    assert (df.groupby("cell").split.nunique() == 1).all()
    assert json.loads((ds / "params.json").read_text())["n_cells"] == 2


def test_dataset_command_reuses_an_existing_set(tiny_run, capsys):
    ds = tiny_run.dataset
    before = (ds / "manifest.csv").stat().st_mtime_ns
    assert main(["dataset", str(ds), "--cells", "2", "--quiet"]) == 0
    assert (ds / "manifest.csv").stat().st_mtime_ns == before
    out = capsys.readouterr().out
    assert "manifest" in out and "train" in out and "test" in out


def test_train_command_writes_the_run_folder(tiny_run):
    ds, run = tiny_run.dataset, tiny_run.run
    for name in ("metrics.json", "predictions.csv", "history.csv", "config.json", "checkpoint.pt"):
        assert (run / name).is_file(), name
    n_test = int((pd.read_csv(ds / "manifest.csv").split == "test").sum())
    m = json.loads((run / "metrics.json").read_text())
    assert m["TP"] + m["FP"] + m["TN"] + m["FN"] == n_test == m["n"]
    assert m["accuracy"] == pytest.approx((m["TP"] + m["TN"]) / n_test)
    preds = pd.read_csv(run / "predictions.csv")
    assert len(preds) == n_test
    assert set(preds.pred) <= {0, 1} and preds.prob_up.between(0, 1).all()
    assert ((preds.prob_up > 0.5).astype(int) == preds.pred).mean() >= 0.99
    assert len(pd.read_csv(run / "history.csv")) == 2
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["arch"], cfg["image_size"], cfg["epochs"]) == ("resnet18", 32, 2)


def test_evaluate_command_prints_accuracy_and_patent_row(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run.run, run)
    m_before = json.loads((run / "metrics.json").read_text())
    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    m = json.loads((run / "metrics.json").read_text())
    assert f"accuracy {100 * m['accuracy']:.2f} %" in out
    assert "patent" in out and "this run" in out
    assert f"TP {m['TP']}" in out
    # the reloaded checkpoint predicts what the trained model predicted
    assert {k: m[k] for k in ("TP", "FP", "TN", "FN")} == {k: m_before[k] for k in ("TP", "FP", "TN", "FN")}


def test_evaluate_missing_folder_returns_2(tmp_path, capsys):
    rc = main(["evaluate", str(tmp_path / "no_such_run")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "config.json" in err


def test_cli_choices_match_the_library():
    from chromolib.cli import COMPILE_CHOICES, DATA_SETS, METHOD_CHOICES, OBJECTIVE_CHOICES, PROFILE_CHOICES
    from chromolib.download import SETS
    from chromolib.rotation import METHODS
    from chromolib.training import COMPILE_MODES, OBJECTIVES, PROFILES

    assert DATA_SETS == tuple(SETS)
    assert METHOD_CHOICES == METHODS
    assert set(PROFILE_CHOICES) == set(PROFILES)
    assert COMPILE_CHOICES == COMPILE_MODES
    assert OBJECTIVE_CHOICES == OBJECTIVES


def test_book_parameters_parse_json_and_make_existing_paths_absolute(tmp_path, monkeypatch):
    from chromolib.book import _value

    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    # the chapters run in notebooks/, so a relative data folder must reach them absolute
    assert _value("data") == str(tmp_path / "data")
    assert _value("98") == 98 and _value("true") is True and _value("paper") == "paper" and _value("") == ""


# --- inputs are never overwritten; fatal errors name the file and exit 2 ---------------------------


def _digests(folder):
    """Every path below ``folder``, with the sha256 of each file's bytes (None for a folder)."""
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
            for p in folder.rglob("*")}


@pytest.mark.parametrize("command, out", [("orient", "."), ("orient", "sub"), ("rotate", "."), ("rotate", "sub")])
def test_an_output_folder_inside_the_input_folder_is_refused_before_anything_is_written(
        tiny_run, rotate_inputs, tmp_path, capsys, command, out):
    src = tmp_path / "in"
    shutil.copytree(rotate_inputs, src)
    before = _digests(src)
    args = [command, str(src), str(src / out)] + (["--model", str(tiny_run.run)] if command == "orient" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "input folder" in err and "outside" in err
    assert _digests(src) == before  # byte-identical, and nothing added


def test_a_damaged_model_file_ends_orient_with_its_name_and_exit_code_2(tiny_run, rotate_inputs, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run.run, run)
    data = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    assert main(["orient", str(rotate_inputs), str(tmp_path / "out"), "--model", str(run)]) == 2
    err = capsys.readouterr().err
    assert str(run / "checkpoint.pt") in err and "chromolib train" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_the_command_exits_with_mains_code_and_flushes_its_messages(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "chromolib.cli", "rotate", str(tmp_path / "absent"), str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and "absent" in proc.stderr


def test_evaluate_views_refits_on_the_runs_own_kept_aside_cells(tmp_path, capsys):
    """`evaluate --views` writes the views into the run, fits the temperature again on the same
    cells training kept aside (back to the trained views, the same temperature) and re-scores."""
    from conftest import TINY_TYPE_ARGS

    ds, run = tmp_path / "dataset", tmp_path / "run"
    assert main(["dataset", str(ds), "--cells", "5", "--quiet"]) == 0
    assert main(["train", str(ds), str(run), *TINY_TYPE_ARGS, "--quiet"]) == 0  # keeps a tenth of the cases aside
    before = json.loads((run / "metrics.json").read_text())
    assert json.loads((run / "config.json").read_text())["tta"] == "v"  # the type profile's views
    assert main(["evaluate", str(run), "--views", "hv"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert json.loads((run / "config.json").read_text())["tta"] == "hv" and m["views_before"] == "v"
    assert m["calibration"]["n_val"] == before["calibration"]["n_val"] > 0
    assert m["calibration"]["temperature"] != pytest.approx(before["calibration"]["temperature"], rel=1e-4)
    assert main(["evaluate", str(run), "--views", "v"]) == 0
    again = json.loads((run / "metrics.json").read_text())
    assert again["views_before"] == "hv"
    assert again["calibration"]["temperature"] == pytest.approx(before["calibration"]["temperature"], rel=1e-4)
    assert again["accuracy"] == before["accuracy"]
    with pytest.raises(SystemExit):
        main(["evaluate", str(run), "--views", "sideways"])
