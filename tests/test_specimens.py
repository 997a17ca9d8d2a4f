"""Tests of chromolib.specimens: where chromosomes come from."""
import cv2
import numpy as np
import pandas as pd


def test_copy_cells_gives_a_small_folder_with_the_same_data_set(tmp_path):
    from chromolib.specimens import copy_cells, karyogram_specimens, read_labels

    src = tmp_path / "src"
    rows = []
    for c in range(6):
        for k in range(3):
            f = f"cell{c}/{k}.png"
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            img = np.full((30, 12), 255, np.uint8)
            img[5:25, 3:9] = 40 + 10 * c + k
            cv2.imwrite(str(src / f), img)
            rows.append({"file": f, "cell": f"case{c}.1", "chromosome": str(k + 1), "copy": "1"})
    pd.DataFrame(rows).to_csv(src / "labels.csv", index=False)
    picked = copy_cells(src, tmp_path / "small", max_cells=3, seed=4)
    assert picked.cell.nunique() == 3 and len(picked) == 9
    small = read_labels(tmp_path / "small")
    pd.testing.assert_frame_equal(small, read_labels(src, max_cells=3, seed=4))
    assert sorted(p.name for p in (tmp_path / "small").iterdir()) == sorted(
        [*{f.split("/")[0] for f in picked.file}, "labels.csv"])
    # the same specimens at the same seeded angles
    a = karyogram_specimens(src, seed=4, max_cells=3)
    b = karyogram_specimens(tmp_path / "small", seed=4)
    assert np.array_equal(a.angles, b.angles)


def test_karyogram_specimens_without_rotation_are_the_crops_as_they_are(tmp_path):
    from chromolib.specimens import KaryogramSpecimens

    img = np.zeros((30, 12), np.uint8)  # bright on black: comes out dark on white
    img[5:25, 3:9] = 200
    cv2.imwrite(str(tmp_path / "a.png"), img)
    pd.DataFrame([{"file": "a.png", "cell": "c", "chromosome": "1", "copy": "0"}]).to_csv(tmp_path / "labels.csv",
                                                                                          index=False)
    (sp,) = list(KaryogramSpecimens(tmp_path, rotate=False))
    assert sp.angle == 0.0 and sp.image.shape == img.shape and (sp.image == 255 - img).all()
    (turned,) = list(KaryogramSpecimens(tmp_path))
    assert turned.angle != 0.0 and turned.image.shape != img.shape
