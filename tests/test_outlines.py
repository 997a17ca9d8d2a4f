"""labelme outlines: reading, writing, polygons <-> masks."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from chromolib.outlines import (masks_to_polygons, polygon_mask, polygons_to_masks, read_labelme,
                                write_labelme)


def ellipse_polygon(cx, cy, a, b, angle_deg=0.0, n=60) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    x, y = a * np.cos(t), b * np.sin(t)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def iou(a, b) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_polygon_mask_covers_pixel_centres():
    sq = np.array([[2, 3], [6, 3], [6, 5], [2, 5]], float)  # x 2..6, y 3..5 (x, y order)
    m = polygon_mask(sq, (10, 12))
    assert m.shape == (10, 12) and m.dtype == bool
    ys, xs = np.nonzero(m)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (2, 6, 3, 5)
    assert m.sum() == 5 * 3


def test_polygon_mask_roundtrip_iou():
    shape = (120, 160)
    polys = [ellipse_polygon(50, 60, 30, 8, 30), ellipse_polygon(120, 40, 12, 25, -20)]
    labels = polygons_to_masks(polys, shape)
    assert labels.dtype == np.int32 and set(np.unique(labels)) == {0, 1, 2}
    back = masks_to_polygons(labels)
    assert len(back) == 2
    for i, p in enumerate(back):
        assert iou(polygon_mask(p, shape), labels == i + 1) > 0.95
        assert iou(polygon_mask(p, shape), polygon_mask(polys[i], shape)) > 0.95


def test_overlap_goes_to_smaller_polygon():
    shape = (60, 60)
    big, small = ellipse_polygon(30, 30, 25, 6), ellipse_polygon(30, 30, 5, 20)
    labels = polygons_to_masks([small, big], shape)
    sm = polygon_mask(small, shape)
    assert (labels[sm] == 1).all()  # the crossing pixels belong to the smaller polygon
    assert ((labels == 2) == (polygon_mask(big, shape) & ~sm)).all()


def test_masks_to_polygons_absent_label_keeps_index():
    labels = np.zeros((20, 20), np.int32)
    labels[2:6, 2:9] = 2
    polys = masks_to_polygons(labels)
    assert len(polys) == 2 and polys[0].shape == (0, 2) and len(polys[1]) >= 4


def test_write_read_roundtrip(tmp_path):
    img_dir, ann_dir = tmp_path / "images", tmp_path / "annotations"
    img_dir.mkdir()
    cv2.imwrite(str(img_dir / "s_1.png"), np.zeros((50, 70), np.uint8))
    polys = [ellipse_polygon(20, 20, 10, 4), ellipse_polygon(50, 30, 6, 12, 45)]
    path = write_labelme(ann_dir / "s_1.json", polys, img_dir / "s_1.png", (50, 70), flags={"checked": False})
    doc = json.loads(path.read_text())
    assert doc["version"] == "4.5.7" and doc["imageData"] is None
    assert doc["imagePath"] == "../images/s_1.png" and (doc["imageHeight"], doc["imageWidth"]) == (50, 70)
    assert [s["shape_type"] for s in doc["shapes"]] == ["polygon", "polygon"]
    o = read_labelme(path)
    assert o.image_path == (img_dir / "s_1.png").resolve() and o.image_path.exists()
    assert o.shape == (50, 70) and o.labels == ["chr", "chr"] and o.flags == {"checked": False}
    for a, b in zip(o.polygons, polys):
        np.testing.assert_allclose(a, b)
    assert not list(ann_dir.glob("*.tmp"))  # the temporary file was renamed, not left behind


def test_write_labels_length_checked(tmp_path):
    with pytest.raises(ValueError, match="labels"):
        write_labelme(tmp_path / "a.json", [ellipse_polygon(5, 5, 3, 2)], tmp_path / "a.png", (10, 10),
                      labels=["a", "b"])


def _doc(shapes):
    return {"version": "4.5.7", "flags": {}, "shapes": shapes, "imagePath": "x.jpg", "imageData": None,
            "imageHeight": 10, "imageWidth": 10}


def test_rectangles_are_skipped_and_counted(tmp_path):
    tri = {"label": "chr", "points": [[1, 1], [5, 1], [3, 4]], "shape_type": "polygon"}
    rect = {"label": "nucleus", "points": [[0, 0], [4, 4]], "shape_type": "rectangle"}
    p = tmp_path / "a.json"
    p.write_text(json.dumps(_doc([tri, rect])))
    o = read_labelme(p)
    assert len(o) == 1 and o.skipped == 1


@pytest.mark.parametrize("text,match", [
    ("{not json", "not a JSON"),
    (json.dumps({"version": "4.5.7"}), "no 'shapes'"),
    (json.dumps(_doc([{"label": "chr", "points": [[1, 1], [2, 2]], "shape_type": "polygon"}])), ">= 3"),
    (json.dumps({**_doc([]), "imageHeight": None}), "imageHeight"),
])
def test_malformed_files_name_the_file(tmp_path, text, match):
    p = tmp_path / "bad_file.json"
    p.write_text(text)
    with pytest.raises(ValueError, match=match) as e:
        read_labelme(p)
    assert "bad_file.json" in str(e.value)
