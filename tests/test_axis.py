"""Tests of chromolib.axis: the doubled-angle target, its sign against rotation.py's methods, the
training views, the trained model as a rotation method, a tiny training run, the split."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from chromolib.axis import (AxisConfig, AxisModel, ResidualAxis, ResidualConfig, _view_back, axis_loss, axis_net,
                            decode, decode_direction, encode, encode_direction, network_view, polarity_split, tall_view, theta_from_axis, tilted_views,
                            train_axis, train_residual, training_crops, turned_views, view_transforms, _as_input)
from chromolib.polarity_set import split_by_cell
from chromolib.rotation import (angle_error, foreground_mask, hull_angle, largest_component, principal_axis_angle,
                                rotate_to_angle)
from chromolib.synthetic import render_chromosome, upright

ROOT = Path(__file__).resolve().parent.parent


def _theta(gray: np.ndarray, method=principal_axis_angle) -> float:
    mask, _ = largest_component(foreground_mask(np.ascontiguousarray(gray), "white"))
    return method(mask)


def _straight(chromosome: str = "2", seed: int = 0) -> np.ndarray:
    """A straight synthetic chromosome, p up, without noise."""
    return upright(chromosome, np.random.default_rng(seed), bend=0.0, noise=0.0)


# --- the target --------------------------------------------------------------------------------


@pytest.mark.parametrize("angle", [0.0, 0.4, 17.0, 89.9, 90.0, 135.5, 179.9, 180.0, 233.0, 359.0, -30.0])
def test_encode_decode_round_trip_modulo_180(angle):
    assert np.allclose(np.linalg.norm(encode(angle)), 1.0)
    back = float(decode(encode(angle)))
    assert 0.0 <= back < 180.0
    assert angle_error(angle, -back) < 1e-9  # the same axis, modulo 180
    assert np.allclose(encode(angle), encode(angle + 180.0))
    assert not np.allclose(encode(angle), encode(angle + 90.0))


def test_encode_decode_work_on_arrays():
    a = np.linspace(0, 179, 50)
    assert encode(a).shape == (50, 2)
    assert np.allclose(decode(encode(a)), a)
    assert np.allclose(decode(3.0 * encode(a)), a)  # the length does not matter


@pytest.mark.parametrize("angle", [0.0, 25.0, 70.0, 110.0, 160.0, 215.0, 300.0])
def test_the_sign_agrees_with_the_geometric_methods(angle):
    """A straight chromosome turned by ``angle`` has its axis at ``angle``: the learned axis's answer
    for it, ``theta_from_axis``, is what hull and moments find, and it stands the crop upright."""
    rng = np.random.default_rng(1)
    img = render_chromosome("2", rng, angle=angle, bend=0.0, noise=0.0).image
    theta = float(theta_from_axis(decode(encode(angle))))
    assert angle_error(angle, theta) < 1e-9
    for method in (hull_angle, principal_axis_angle):
        found = _theta(img, method)
        assert angle_error(angle, found) < 3.0
        d = abs(found - theta) % 180
        assert min(d, 180 - d) < 3.0


# --- the views ----------------------------------------------------------------------------------


def test_network_view_is_a_white_square_with_the_chromosome_inside():
    img = np.pad(_straight(), 30, constant_values=255)
    v = network_view(img, 32)
    assert v.shape == (32, 32) and v.dtype == np.uint8
    assert v[0].min() > 200 and v[:, 0].min() > 200  # the margins went: a 2 px white border is all
    assert v.min() < 150
    assert network_view(255 - img, 32).tolist() == v.tolist()  # bright on black: inverted first


@pytest.mark.parametrize("mirror", [False, True])
def test_training_views_have_their_axis_at_the_target_angle(mirror):
    """The whole chain of the training data: a p-up crop turned by ``a`` shows an axis at ``a`` to
    the geometric methods, i.e. the target ``encode(a)`` is right and of the right sign."""
    crop = _straight("1")
    angles = np.array([12.0, 58.0, 101.0, 147.0, 250.0])
    views = turned_views([crop], np.zeros(5, int), angles, np.full(5, mirror), size=64)
    for v, a in zip(views, angles):
        assert angle_error(a, _theta(v)) < 3.0


def test_view_transforms_map_back_to_the_original_axis():
    crop = _straight("1")
    view = turned_views([crop], [0], [33.0], [False], size=64)
    for k, v in enumerate(view_transforms(view)):
        axis = float(decode(encode(-_theta(v[0]))))  # the geometric axis of the transformed view
        back = _view_back(encode(np.array([axis])), k)
        assert angle_error(33.0, -float(decode(back)[0])) < 3.0, k


# --- the model as a rotation method --------------------------------------------------------------


def _constant_model(axis: float, size: int = 32) -> AxisModel:
    """A network whose output is always ``encode(axis)``: the last layer's weights zero."""
    torch.manual_seed(0)
    net = axis_net(size, channels=(4, 8), hidden=8)
    with torch.no_grad():
        net[-1].weight.zero_()
        net[-1].bias.copy_(torch.tensor(encode(axis), dtype=torch.float32))
    return AxisModel(net, size, (4, 8), 8)


def test_axis_model_answers_like_a_rotation_method():
    model = _constant_model(30.0)
    img = _straight()
    assert model.angle(img) == pytest.approx(150.0)  # turn the axis at 30 by 150 (= -30) to vertical
    assert angle_error(30.0, model.angle(img)) < 1e-6
    angles = model.angles([img, img[::-1]])
    assert angles.shape == (2,) and np.allclose(angles, 150.0)


def test_axis_model_saves_and_loads(tmp_path):
    model = _constant_model(75.0)
    path = model.save(tmp_path / "axis.pt")
    again = AxisModel.load(path)
    img = _straight()
    assert again.angle(img) == pytest.approx(model.angle(img))
    assert again.size == 32 and again.channels == (4, 8) and not again.tta
    assert AxisModel.load(path, tta=True).tta


def test_four_view_average_is_exact_for_an_equivariant_answer():
    """With the network replaced by the geometric axis of each view, the four-view average gives
    that axis back: the views and their mapping back agree."""
    crop = _straight("1")
    view = turned_views([crop], [0], [122.0], [False], size=64)
    z = sum(_view_back(encode(np.array([-_theta(v[0])])), k) for k, v in enumerate(view_transforms(view)))
    assert angle_error(122.0, float(theta_from_axis(decode(z))[0])) < 2.0


def test_network_size_and_shape():
    net = axis_net()
    assert sum(p.numel() for p in net.parameters()) < 400_000
    out = net(_as_input(np.full((3, 64, 64), 255, np.uint8)))
    assert out.shape == (3, 2)
    with pytest.raises(ValueError, match="multiple"):
        axis_net(60)


# --- training -----------------------------------------------------------------------------------


def test_loss_is_zero_when_right_and_two_at_ninety_degrees():
    t = torch.tensor(encode([10.0, 100.0]), dtype=torch.float32)
    assert float(axis_loss(3 * t, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(axis_loss(t.flip(0), t)) == pytest.approx(2.0, abs=1e-6)


def test_a_tiny_training_run_lowers_the_loss():
    rng = np.random.default_rng(0)
    crops = [upright(c, rng, bend=0.0) for c in ("1", "2", "4", "6", "9", "X")]
    cfg = AxisConfig(minutes=0, max_steps=40, size=32, channels=(8, 16, 16), hidden=16, batch_size=16, warmup=10,
                     lr=5e-3, log_every=10)
    eval_rng = np.random.default_rng(7)
    angles = eval_rng.uniform(0, 360, 64)
    views = turned_views(crops, eval_rng.integers(0, len(crops), 64), angles, np.zeros(64, bool), 32)
    x = _as_input(views)
    y = torch.tensor(encode(angles), dtype=torch.float32)

    torch.manual_seed(cfg.seed)
    before = axis_net(cfg.size, cfg.channels, cfg.hidden)  # the run's initial weights
    model, history = train_axis(crops, cfg, progress=False)
    with torch.inference_mode():
        before.train()  # batch statistics: an untrained network's running ones mean nothing
        loss_before = float(axis_loss(before(x), y))
        loss_after = float(axis_loss(model.net(x), y))
    assert list(history.columns) == ["step", "seconds", "lr", "loss"]
    assert history.step.iloc[-1] == 40 and model.info["steps"] == 40
    assert history.loss.iloc[-1] < history.loss.iloc[0]
    assert loss_after < 0.6 * loss_before
    errors = [angle_error(a, t) for a, t in zip(angles, theta_from_axis(decode(model.vectors(views))))]
    assert np.median(errors) < 20.0


def test_a_direction_network_reads_the_short_arm_over_360_degrees():
    """``full``: the target is the direction, not the axis; a constant network's answer is a direction
    (axis and polarity), it saves as one, and the four-view average (made for axes) is refused."""
    assert np.allclose(decode_direction(encode_direction([10.0, 190.0, -90.0])), [10.0, 190.0, 270.0])
    assert not np.allclose(encode_direction(10.0), encode_direction(190.0))  # unlike the doubled angle
    size = 32
    net = axis_net(size, (4, 8), 8)
    with torch.no_grad():
        net[-1].weight.zero_()
        net[-1].bias.copy_(torch.tensor(encode_direction(200.0), dtype=torch.float32))
    model = AxisModel(net, size, (4, 8), 8, full=True)
    img = _straight()
    assert model.directions([img]) == pytest.approx([200.0])
    assert model.angle(img) == pytest.approx(160.0)  # as a rotation method: the axis at 20 turned by -20
    with pytest.raises(ValueError, match="one view"):
        model.with_tta()
    with pytest.raises(ValueError, match="full=True"):
        _constant_model(30.0).directions([img])


def test_a_tiny_direction_training_run_learns_the_direction_and_saves_as_one(tmp_path):
    """A short run on synthetic chromosomes: the loss (1 - cos of the direction error) falls below
    the 1.0 of a guess, and the run saves and loads as a direction network."""
    rng = np.random.default_rng(0)
    crops = [upright(c, rng, bend=0.0) for c in ("1", "2", "4", "6", "9", "X")]
    cfg = AxisConfig(minutes=0, max_steps=120, size=32, channels=(8, 16, 16), hidden=16, batch_size=16, warmup=10,
                     lr=5e-3, log_every=20, full=True)
    model, history = train_axis(crops, cfg, progress=False)
    assert model.full and history.loss.iloc[-1] < 0.8
    eval_rng = np.random.default_rng(7)
    angles = eval_rng.uniform(0, 360, 64)
    views = turned_views(crops, eval_rng.integers(0, len(crops), 64), angles, np.zeros(64, bool), 32)
    found = decode_direction(model.vectors(views))
    assert np.cos(np.radians(found - angles)).mean() > 0.2  # the direction, not only the axis (0 for an axis)
    again = AxisModel.load(model.save(tmp_path / "direction.pt"))
    assert again.full and again.directions([crops[0]]) == pytest.approx(model.directions([crops[0]]))


def test_training_needs_a_budget_and_crops():
    with pytest.raises(ValueError, match="budget"):
        train_axis([_straight()], AxisConfig(minutes=0, max_steps=None), progress=False)
    with pytest.raises(ValueError, match="no crops"):
        train_axis([], AxisConfig(max_steps=1), progress=False)


# --- the residual network: the hull corrected -----------------------------------------------------


@pytest.mark.parametrize("mirror,upside_down", [(False, False), (True, False), (False, True), (True, True)])
def test_tilted_views_are_tilted_by_the_target_whatever_the_flips(mirror, upside_down):
    """The residual network's target: a p-up crop (mirrored or upside down, which leave its axis
    vertical) tilted by ``t`` shows the geometric methods an axis at ``t``, so that the rotation
    method answers ``hull - t``."""
    crop = _straight("1")
    tilts = np.array([-25.0, -8.0, 4.0, 17.0])
    views = tilted_views([crop], np.zeros(4, int), tilts, np.full(4, mirror), np.full(4, upside_down), 96, 32)
    assert views.shape == (4, 96, 32) and views.dtype == np.uint8
    for v, t in zip(views, tilts):
        assert angle_error(t, _theta(v, hull_angle)) < 3.0


def _tilt_model(tilt: float) -> ResidualAxis:
    """A residual network that always reads ``tilt`` degrees: the last layer's weights zero."""
    from chromolib.model import basic_resnet

    torch.manual_seed(0)
    net = basic_resnet("resnet18", 1)
    with torch.no_grad():
        net.fc.weight.zero_()
        net.fc.bias.fill_(tilt / 10.0)
    return ResidualAxis(net, 0.8, 0.3)


def test_residual_model_turns_by_the_hull_minus_the_tilt_it_reads():
    img = cv2.warpAffine(_straight(), cv2.getRotationMatrix2D((40, 60), 20, 1), (100, 140), borderValue=255)
    hull = _theta(img, hull_angle)
    assert angle_error(20.0, hull) < 3.0  # the crop turned 20 degrees counter-clockwise: the hull sees it
    assert _tilt_model(0.0).angle(img) == pytest.approx(hull % 180, abs=1e-6)
    assert _tilt_model(7.0).angle(img) == pytest.approx((hull - 7.0) % 180, abs=1e-4)
    assert _tilt_model(7.0).angles([img, img]).shape == (2,)
    assert _tilt_model(7.0).angles([]).shape == (0,)


def test_residual_four_view_average_reads_a_mirror_image_with_the_opposite_tilt():
    """With ``tta`` the tilt is odd in the mirror exactly, whatever the weights (here random)."""
    from chromolib.model import basic_resnet

    torch.manual_seed(3)
    model = ResidualAxis(basic_resnet("resnet18", 1), 0.8, 0.3, tta=True)
    views = tilted_views([_straight("1"), _straight("4")], [0, 1], [6.0, -11.0], [False, False], [False, True])
    t = model.tilts(views)
    assert np.allclose(model.tilts(views[:, :, ::-1]), -t, atol=1e-4)
    assert np.allclose(model.tilts(views[:, ::-1]), -t, atol=1e-4)  # upside down: the opposite too
    assert not np.allclose(model.with_tta(False).tilts(views[:, :, ::-1]), -model.with_tta(False).tilts(views),
                           atol=1e-3)


def test_residual_model_saves_and_loads(tmp_path):
    model = _tilt_model(-4.0)
    again = ResidualAxis.load(model.save(tmp_path / "residual.pt"))
    img = _straight()
    assert again.angle(img) == pytest.approx(model.angle(img))
    assert (again.mean, again.std, again.height, again.width, again.tta) == (0.8, 0.3, 96, 32, False)


def test_a_tiny_residual_training_run_lowers_the_loss():
    rng = np.random.default_rng(0)
    crops = [upright(c, rng, bend=0.0) for c in ("1", "2", "4", "6", "9", "X")]
    cfg = ResidualConfig(minutes=0, max_steps=12, height=48, width=16, batch_size=16, warmup=2, lr=3e-3, log_every=4)
    model, history = train_residual(crops, cfg, progress=False)
    assert list(history.columns) == ["step", "seconds", "lr", "loss"] and history.step.iloc[-1] == 12
    assert history.loss.iloc[-1] < history.loss.iloc[0]
    assert model.info["steps"] == 12 and model.info["init"] == "scratch"
    with pytest.raises(ValueError, match="budget"):
        train_residual(crops, ResidualConfig(minutes=0, max_steps=None), progress=False)


# --- the split: the network never sees a held-out cell --------------------------------------------


@pytest.fixture(scope="module")
def tiny_karyogram_set(tmp_path_factory) -> Path:
    """Six cases of two cells of four p-up synthetic crops each, as a karyogram set on disk."""
    root = tmp_path_factory.mktemp("karyograms")
    rng = np.random.default_rng(0)
    rows = []
    for case in range(6):
        for n in range(2):
            cell = f"{9700 + case}.{n + 1}"
            (root / "images" / cell).mkdir(parents=True)
            for c in ("1", "3", "7", "X"):
                f = f"images/{cell}/chr{c}_0.png"
                cv2.imwrite(str(root / f), upright(c, rng, bend=0.0))
                rows.append({"file": f, "cell": cell, "chromosome": c, "copy": "0"})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    return root


def _rotation_benchmark():
    spec = importlib.util.spec_from_file_location("rotation_benchmark", ROOT / "benchmarks" / "rotation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_split_never_puts_a_held_out_cell_into_training(tiny_karyogram_set):
    labels, crops = polarity_split(tiny_karyogram_set, seed=0)
    assert len(crops) == len(labels) == 48 and set(labels.split) == {"train", "test"}
    # whole cases on one side, as split_by_cell makes them
    case = labels.cell.str.split(".").str[0]
    assert (labels.groupby(case).split.nunique() == 1).all()
    assert labels.split.tolist() == split_by_cell(labels, seed=0).tolist()
    # the held-out cells are those of benchmarks/rotation.py --real
    held_out = set(_rotation_benchmark().held_out_cells(tiny_karyogram_set, seed=0))
    assert held_out == set(labels.cell[labels.split == "test"])
    # and no crop of theirs is among the training crops
    train = training_crops(labels, crops)
    assert len(train) == int((labels.split == "train").sum())
    test_crops = [crops[i] for i in np.flatnonzero(labels.split == "test")]
    for c in train:
        assert not any(c.shape == t.shape and np.array_equal(c, t) for t in test_crops)
    files = labels.file[labels.split == "train"]
    for c, f in zip(train, files):
        assert np.array_equal(c, cv2.imread(str(tiny_karyogram_set / f), cv2.IMREAD_GRAYSCALE))
