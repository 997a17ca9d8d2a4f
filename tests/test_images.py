"""Tests of chromolib.images: gray conversion, the reader's reasons, atomic writes, the guard
against writing into the input folder, and the per-file batch loop."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from chromolib.images import (background_is_white, canonical_gray, check_separate, for_each_file, read_image,
                              to_gray, write_csv_atomic, write_image_atomic)


# --- to_gray ------------------------------------------------------------------------------


def test_to_gray_bgr_uses_luminance_weights():
    img = np.zeros((2, 3, 3), np.uint8)
    img[0, 0] = (0, 0, 255)      # red (BGR order)
    img[0, 1] = (255, 0, 0)      # blue
    img[0, 2] = (0, 255, 0)      # green
    img[1] = 255                  # white
    g = to_gray(img)
    assert g.shape == (2, 3) and g.dtype == np.uint8
    assert abs(int(g[0, 0]) - 76) <= 1    # 0.299 * 255
    assert abs(int(g[0, 1]) - 29) <= 1    # 0.114 * 255
    assert abs(int(g[0, 2]) - 150) <= 1   # 0.587 * 255
    assert (g[1] == 255).all()


def test_to_gray_bgra_is_composited_on_white():
    img = np.zeros((1, 3, 4), np.uint8)  # black colour everywhere
    img[0, :, 3] = (0, 128, 255)         # transparent, half, opaque
    g = to_gray(img)
    assert g.shape == (1, 3) and g.dtype == np.uint8
    assert g[0, 0] == 255                 # fully transparent -> white background
    assert abs(int(g[0, 1]) - 127) <= 1   # half way
    assert g[0, 2] == 0                   # opaque black stays black


def test_to_gray_bgra_16bit_is_composited_on_white():
    img = np.zeros((1, 2, 4), np.uint16)
    img[0, :, 3] = (0, 65535)
    img[0, 1, :3] = 1000
    g = to_gray(img)
    assert g.dtype == np.uint8 and g.ndim == 2
    assert g[0, 0] == 255 and g[0, 1] == 0   # stretched: transparent = brightest, dark = darkest


def test_to_gray_16bit_stretches_the_used_range():
    # a faint 16-bit scan: only 30000..30400 used; must not collapse to one gray value
    img = np.array([[30000, 30100, 30200, 30400]], np.uint16)
    g = to_gray(img)
    assert g.dtype == np.uint8 and g.shape == (1, 4)
    assert g[0, 0] == 0 and g[0, -1] == 255
    assert abs(int(g[0, 2]) - 127) <= 1
    assert np.all(np.diff(g[0].astype(int)) > 0)


def test_to_gray_16bit_within_8bit_range_is_kept():
    img = np.array([[0, 100, 200]], np.uint16)
    assert to_gray(img).tolist() == [[0, 100, 200]]


def test_to_gray_bool_maps_to_0_and_255():
    g = to_gray(np.array([[True, False]]))
    assert g.dtype == np.uint8 and g.tolist() == [[255, 0]]


def test_to_gray_float_unit_range_scales_to_255():
    g = to_gray(np.array([[0.0, 0.25, 1.0]], np.float32))
    assert g.dtype == np.uint8 and g.tolist() == [[0, 64, 255]]


def test_to_gray_single_channel_3d_becomes_2d():
    img = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
    g = to_gray(img)
    assert g.shape == (2, 3) and np.array_equal(g, img[:, :, 0])


def test_to_gray_rejects_two_channels():
    with pytest.raises(ValueError, match="channels"):
        to_gray(np.zeros((4, 4, 2), np.uint8))


def test_to_gray_float_bgra_opaque_black_stays_black():
    img = np.zeros((2, 2, 4), np.float32)
    img[..., 3] = 1.0  # opaque
    assert to_gray(img).max() <= 5


def test_background_is_white_reads_the_border():
    img = np.full((60, 80), 255, np.uint8)
    cv2.ellipse(img, (40, 30), (30, 15), 0, 0, 360, 50, thickness=-1)
    assert background_is_white(img)
    assert not background_is_white(255 - img)


# --- read_image -------------------------------------------------------------------------------


def test_read_image_keeps_depth_and_channels(tmp_path):
    for name, img in (("g16.png", np.full((5, 7), 1000, np.uint16)), ("c.png", np.zeros((5, 7, 3), np.uint8))):
        cv2.imwrite(str(tmp_path / name), img)
        out = read_image(tmp_path / name)
        assert out.dtype == img.dtype and out.shape == img.shape


@pytest.mark.parametrize("content, reason", [(b"", "not an image"), (b"hello, not an image", "not an image")])
def test_read_image_gives_a_one_line_reason(tmp_path, content, reason):
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(ValueError, match=reason) as exc:
        read_image(tmp_path / "x.png")
    assert "\n" not in str(exc.value)


def test_read_image_truncated_file_is_unreadable(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.random.default_rng(0).integers(0, 255, (60, 60), dtype=np.uint8))
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="unreadable|not an image"):
        read_image(tmp_path / "t.png")


def test_read_image_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.png"):
        read_image(tmp_path / "nothing.png")


def test_canonical_gray_inverts_bright_on_black_only():
    bright = np.zeros((20, 20), np.uint8)
    bright[5:15, 8:12] = 200
    assert canonical_gray(bright)[0, 0] == 255 and canonical_gray(bright)[10, 10] == 55
    assert (canonical_gray(255 - bright) == 255 - bright).all()


# --- writing ----------------------------------------------------------------------------------


def test_atomic_writes_leave_only_the_result(tmp_path):
    write_image_atomic(tmp_path / "a.png", np.full((4, 4), 9, np.uint8))
    write_csv_atomic(tmp_path / "r.csv", [{"a": 1, "b": "x"}], ["a", "b"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "r.csv"]
    assert (cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED) == 9).all()
    assert (tmp_path / "r.csv").read_text().splitlines() == ["a,b", "1,x"]


def test_a_failed_image_write_leaves_nothing(tmp_path):
    with pytest.raises(Exception):
        write_image_atomic(tmp_path / "a.png", np.zeros((0, 0), np.uint8))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out", [".", "sub", "sub/deeper"])
def test_an_output_folder_in_the_input_folder_is_refused(tmp_path, out):
    with pytest.raises(ValueError, match="input folder"):
        check_separate(tmp_path, tmp_path / out)


def test_sibling_and_parent_output_folders_are_allowed(tmp_path):
    (tmp_path / "in").mkdir()
    check_separate(tmp_path / "in", tmp_path / "out")
    check_separate(tmp_path / "in", tmp_path / "in-out")  # a name that only starts like the input
    check_separate(tmp_path / "in", tmp_path)


# --- the batch loop ---------------------------------------------------------------------------


def test_for_each_file_goes_on_after_a_bad_file_and_keeps_the_order(tmp_path):
    files = [tmp_path / n for n in ("a", "bad", "c")]

    def work(f):
        if f.name == "bad":
            raise ValueError("broken here\nsecond line")
        return f.name.upper()

    log = []
    out = for_each_file(files, work, progress=False, log=log.append)
    assert [(f.name, r, e) for f, r, e in out] == [("a", "A", ""), ("bad", None, "broken here"), ("c", "C", "")]
    assert log == [f"{files[1]}: broken here"]


def test_atomic_writes_give_outputs_the_usual_permissions(tmp_path):
    import os
    import stat

    from chromolib.images import write_image_atomic, write_text_atomic

    old = os.umask(0o022)
    try:
        write_image_atomic(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
        write_text_atomic(tmp_path / "a.csv", "x\n")
    finally:
        os.umask(old)
    for name in ("a.png", "a.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
