"""Tests of chromolib.augment."""
import numpy as np
import torch

from chromolib.augment import SHIFTS, robust_augment, tilt_batch


def test_to_device_on_the_cpu_is_a_plain_move():
    from chromolib.augment import to_device

    t = torch.arange(5)
    assert to_device(t, torch.device("cpu")) is t


def test_robust_augment_is_seeded_and_stays_an_image():
    x = torch.ones(4, 32, 32)
    x[:, 8:24, 12:20] = 0.2
    a = robust_augment(x.clone(), torch.Generator().manual_seed(1))
    b = robust_augment(x.clone(), torch.Generator().manual_seed(1))
    c = robust_augment(x.clone(), torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert (a[:, 14:18, 14:18].mean() < 0.6) and (a[:, :3, :3].mean() > 0.8)  # still dark on white


def test_shifts_keep_the_test_set_shape_and_change_all_but_the_recorded_one():
    x = np.full((3, 24, 24), 255, np.uint8)
    x[:, 4:20, 9:15] = np.arange(16, dtype=np.uint8)[None, :, None] * 8 + 20
    for name, shift in SHIFTS.items():
        y = shift(x)
        assert y.shape == x.shape and y.dtype == np.uint8, name
        assert (y == x).all() == (name == "as recorded"), name


def test_tilt_batch_turns_a_vertical_bar_by_at_most_the_limit():
    import cv2

    x = torch.ones(64, 96, 32)
    x[:, 16:80, 14:18] = 0.0
    out = tilt_batch(x.clone(), 12.0, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert out[:, :2, :2].min() > 0.99  # white stays white in the corners
    angles = []
    for img in out.numpy():
        ys, xs = np.nonzero(img < 0.5)
        m = cv2.moments((img < 0.5).astype(np.uint8), binaryImage=True)
        angles.append(np.degrees(0.5 * np.arctan2(2 * m["mu11"], m["mu20"] - m["mu02"])) % 180 - 90)
    angles = np.abs(angles)
    assert angles.max() <= 13.0 and angles.max() > 6.0  # up to the limit, in pixel space (not sheared)
