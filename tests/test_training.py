"""Tests of chromolib.model and chromolib.training: heads, local weights, schedule, resume."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from torch import nn

from chromolib.polarity_set import PolarityTensors
from chromolib.model import build_model, replace_head
from chromolib.training import (PROFILES, TrainConfig, autocast, lr_milestones, memory_format, predict,
                                prepare_for_device, train)

# --- model ----------------------------------------------------------------------------------


def test_resnet101_head_is_2048_by_2():
    model = build_model("resnet101")
    assert isinstance(model.fc, nn.Linear)
    assert (model.fc.in_features, model.fc.out_features) == (2048, 2)


def test_resnet18_outputs_two_logits():
    model = build_model("resnet18").eval()
    with torch.no_grad():
        out = model(torch.randn(3, 3, 32, 32))
    assert out.shape == (3, 2)


def test_densenet_head_is_replaced():
    model = build_model("densenet121")
    assert isinstance(model.classifier, nn.Linear)
    assert (model.classifier.in_features, model.classifier.out_features) == (1024, 2)


def test_sequential_classifier_last_linear_is_replaced():
    model = build_model("mobilenet_v3_small", num_classes=2).eval()
    linears = [m for m in model.classifier if isinstance(m, nn.Linear)]
    assert linears[-1].out_features == 2
    assert linears[0].out_features == 1024          # the hidden layer is kept
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 2)


def test_num_classes_is_honoured():
    assert build_model("resnet18", num_classes=5).fc.out_features == 5


def test_unknown_arch_raises():
    with pytest.raises(ValueError, match="unknown"):
        build_model("resnet9000")


def test_replace_head_without_a_classifier_raises():
    with pytest.raises(ValueError, match="classification layer"):
        replace_head(nn.Sequential(nn.Conv2d(3, 4, 3)))


def test_local_backbone_weights_are_loaded(tmp_path):
    torch.manual_seed(123)
    backbone = torchvision.models.resnet18(weights=None)       # 1000-class ImageNet head
    path = tmp_path / "resnet18_imagenet.pth"
    torch.save(backbone.state_dict(), path)
    model = build_model("resnet18", weights=str(path))
    assert model.fc.out_features == 2 and model.fc.in_features == 512
    ref = backbone.state_dict()
    got = model.state_dict()
    for key, value in ref.items():
        if key.startswith("fc."):
            continue
        assert torch.equal(got[key], value), key
    # and it is not what a fresh random model would have
    fresh = build_model("resnet18").state_dict()
    assert not torch.equal(fresh["conv1.weight"], got["conv1.weight"])


def test_local_checkpoint_of_the_two_class_model_loads_exactly(tmp_path):
    torch.manual_seed(7)
    src = build_model("resnet18")
    path = tmp_path / "run.pt"
    torch.save({"model": src.state_dict()}, path)
    model = build_model("resnet18", weights=str(path))
    for key, value in src.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_checkpoint_of_another_task_loads_its_backbone_and_starts_a_fresh_head(tmp_path):
    """Type (24 classes) to polarity (2): the transfer the issue asks to measure."""
    torch.manual_seed(5)
    src = build_model("resnet18", num_classes=24)
    path = tmp_path / "type.pt"
    torch.save({"model": src.state_dict()}, path)
    model = build_model("resnet18", weights=str(path), num_classes=2)
    assert model.fc.out_features == 2
    for key, value in src.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(model.state_dict()[key], value), key
    with pytest.raises(RuntimeError):  # a backbone of another shape is still an error
        build_model("resnet34", weights=str(path))


def test_missing_weights_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        build_model("resnet18", weights=str(tmp_path / "absent.pth"))


# --- schedule and config ------------------------------------------------------------------


def test_lr_milestones_follow_the_method():
    assert lr_milestones(100) == [60, 90]
    assert lr_milestones(10) == [6, 9]
    assert lr_milestones(3) == [2]
    assert lr_milestones(1) == []


def test_train_config_defaults_are_the_papers():
    cfg = PROFILES["paper"]
    assert (cfg.arch, cfg.image_size, cfg.epochs, cfg.batch_size) == ("resnet101", 224, 100, 32)
    assert (cfg.lr, cfg.momentum, cfg.weight_decay) == (0.01, 0.9, 5e-4)


def test_train_config_with_ignores_none():
    cfg = PROFILES["tiny"].with_(epochs=4, arch=None, lr=None)
    assert cfg.epochs == 4 and cfg.arch == PROFILES["tiny"].arch and cfg.lr == PROFILES["tiny"].lr


# --- training on an easy task ---------------------------------------------------------------


def _easy_task(n: int = 64, size: int = 16, seed: int = 0):
    """up = dark top half, down = dark bottom half (with noise)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = np.full((n, size, size), 230.0)
    for i in range(n):
        if y[i] == 1:
            x[i, : size // 2] = 40
        else:
            x[i, size // 2:] = 40
    x = np.clip(x + rng.normal(0, 12, x.shape), 0, 255).astype(np.uint8)
    return x, y


@pytest.fixture(scope="module")
def easy_data():
    x, y = _easy_task()
    mean, std = float(x.mean() / 255), float(x.std() / 255)
    return (PolarityTensors(x, y, mean, std, train=True),
            PolarityTensors(x, y, mean, std, train=False))


CFG = TrainConfig(arch="resnet18", image_size=16, epochs=3, batch_size=16, lr=0.01, device="cpu")


def _fresh_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model("resnet18")


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, easy_data):
    """3 epochs in one go (directory A)."""
    train_set, _ = easy_data
    out = tmp_path_factory.mktemp("run_a")
    model = _fresh_model(0)
    history = train(model, train_set, CFG, out_dir=out, progress=False)
    return model, history, out


def test_train_lowers_the_loss(full_run):
    _, history, _ = full_run
    loss = history.train_loss.to_numpy()
    assert loss[-1] < 0.5 * loss[0]
    assert history.train_acc.iloc[-1] >= 0.9


def test_train_history_one_row_per_epoch_with_the_schedule(full_run):
    _, history, out = full_run
    assert len(history) == 3
    assert history.epoch.tolist() == [1, 2, 3]
    # 3 epochs: the learning rate drops after epoch round(0.6 * 3) = 2; round(0.9 * 3) = 3 is the end
    assert history.lr.tolist() == pytest.approx([0.01, 0.01, 0.001])
    assert {"train_loss", "train_acc", "train_seconds", "seconds"} <= set(history.columns)
    assert (history.train_seconds > 0).all() and (history.train_seconds <= history.seconds).all()
    on_disk = pd.read_csv(out / "history.csv")
    assert on_disk.train_loss.tolist() == pytest.approx(history.train_loss.tolist())
    assert (out / "checkpoint.pt").is_file()


def test_train_lr_column_follows_a_ten_epoch_schedule(easy_data):
    x, y = _easy_task(n=8, size=8)
    data = PolarityTensors(x, y, 0.5, 0.3, train=True)
    cfg = CFG.with_(epochs=10, batch_size=8, image_size=8)
    history = train(_fresh_model(), data, cfg, progress=False)
    expected = [0.01] * 6 + [0.001] * 3 + [0.0001]
    assert history.lr.tolist() == pytest.approx(expected)


def test_train_with_validation_reports_val_columns(easy_data):
    train_set, test_set = easy_data
    cfg = CFG.with_(epochs=1)
    history = train(_fresh_model(), train_set, cfg, val_set=test_set, progress=False)
    assert {"val_loss", "val_acc"} <= set(history.columns)
    assert 0.0 <= history.val_acc.iloc[0] <= 1.0 and history.val_loss.iloc[0] > 0


def test_resume_gives_the_same_model_as_an_uninterrupted_run(full_run, easy_data, tmp_path):
    model_a, history_a, _ = full_run
    train_set, _ = easy_data
    first = train(_fresh_model(0), train_set, CFG, out_dir=tmp_path, progress=False, stop_after=1)
    assert len(first) == 1
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["epoch"] == 1
    # a different starting model: everything must come from the checkpoint
    model_b = _fresh_model(99)
    history_b = train(model_b, train_set, CFG, out_dir=tmp_path, resume=True, progress=False)
    assert len(history_b) == 3
    assert history_b.train_loss.tolist() == history_a.train_loss.tolist()
    assert history_b.lr.tolist() == history_a.lr.tolist()
    sa, sb = model_a.state_dict(), model_b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_resume_with_another_config_raises(full_run, easy_data):
    _, _, out = full_run
    train_set, _ = easy_data
    with pytest.raises(ValueError, match="configuration"):
        train(_fresh_model(), train_set, CFG.with_(lr=0.02), out_dir=out, resume=True, progress=False)


def test_resume_without_checkpoint_raises(easy_data, tmp_path):
    train_set, _ = easy_data
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        train(_fresh_model(), train_set, CFG, out_dir=tmp_path, resume=True, progress=False)
    with pytest.raises(FileNotFoundError):
        train(_fresh_model(), train_set, CFG, out_dir=None, resume=True, progress=False)


def test_predict_returns_probabilities(full_run, easy_data):
    model, _, _ = full_run
    _, test_set = easy_data
    probs = predict(model, test_set, batch_size=10)
    assert probs.shape == (64, 2)
    assert np.all(probs >= 0) and np.all(probs <= 1)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # batch size does not change the answer
    assert np.allclose(probs, predict(model, test_set, batch_size=64), atol=1e-5)


def test_predict_on_an_empty_set(full_run):
    model, _, _ = full_run
    empty = PolarityTensors(np.zeros((0, 16, 16), np.uint8), np.zeros(0, int), 0.5, 0.2)
    assert predict(model, empty).shape == (0, 2)


# --- the GPU fast path's settings, run on the CPU -------------------------------------------
# On CUDA, "auto" means bf16 autocast and channels-last. Forcing both here runs the same code
# on the CPU, so everything but the CUDA kernels themselves is exercised without a GPU.

def test_auto_layout_is_channels_last_on_cuda_only():
    assert memory_format(torch.device("cuda"), "auto") == torch.channels_last
    assert memory_format(torch.device("cpu"), "auto") == torch.contiguous_format
    assert memory_format(torch.device("cpu"), "channels_last") == torch.channels_last
    with pytest.raises(ValueError, match="layout"):
        memory_format(torch.device("cpu"), "nhwc")


def test_prepare_for_device_applies_the_layout_and_checks_the_compile_mode():
    model = _fresh_model()
    net = prepare_for_device(model, torch.device("cpu"), CFG.with_(layout="channels_last"))
    assert net is model
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert not model.conv1.weight.is_contiguous()
    with pytest.raises(ValueError, match="compile"):
        prepare_for_device(_fresh_model(), torch.device("cpu"), CFG.with_(compile="fast"))


@pytest.fixture(scope="module")
def easy_data_32px():
    # 32 px, not 16: at 16 px (1 x 1 maps in the last ResNet stages) torch 2.14's CPU bf16
    # kernels give NaN in some runs and not in others, also in plain torch code and on one thread
    x, y = _easy_task(size=32)
    mean, std = float(x.mean() / 255), float(x.std() / 255)
    return (PolarityTensors(x, y, mean, std, train=True),
            PolarityTensors(x, y, mean, std, train=False))


def test_bf16_channels_last_training_learns_and_agrees_with_fp32(easy_data_32px):
    """The settings the GPU uses ("auto" on CUDA), forced on the CPU: same task, same accuracy."""
    train_set, test_set = easy_data_32px
    model = _fresh_model(0)
    history = train(model, train_set, CFG.with_(precision="bf16", layout="channels_last"), progress=False)
    assert np.isfinite(history.train_loss).all()
    assert history.train_loss.iloc[-1] < 0.5 * history.train_loss.iloc[0]
    # from the same weights, a bf16 channels-last forward pass differs from fp32 only in rounding
    fresh = _fresh_model(0).eval()
    x, _ = test_set.batch(torch.arange(16))
    with torch.no_grad():
        ref = fresh(x)
        with autocast(torch.device("cpu"), "bf16"):
            low = fresh.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    assert low.dtype == torch.bfloat16
    assert torch.allclose(low.float(), ref, rtol=0.05, atol=0.05 * float(ref.abs().max()))
    assert history.train_acc.iloc[-1] >= 0.9
    # bf16 inference gives the decisions fp32 inference gives
    probs = predict(model, test_set, precision="bf16")
    assert probs.dtype == np.float32 and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert (probs.argmax(1) == predict(model, test_set, precision="fp32").argmax(1)).mean() >= 0.95


@pytest.mark.slow
def test_compiled_training_learns_and_saves_plain_weights(easy_data, tmp_path):
    """``compile`` (torch.compile, the GPU's option against launch overhead) through the real
    loop: the last short batch, the per-epoch evaluation, checkpointed weights."""
    train_set, test_set = easy_data
    model = _fresh_model(0)
    compiled = train(model, train_set, CFG.with_(compile="default"), val_set=test_set, progress=False,
                     out_dir=tmp_path)
    assert compiled.train_loss.iloc[-1] < 0.5 * compiled.train_loss.iloc[0]
    assert compiled.train_acc.iloc[-1] >= 0.9 and np.isfinite(compiled.val_loss).all()
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["model"]
    assert not any(k.startswith("_orig_mod") for k in saved)  # loadable into a plain model
    # the compiled network computes what the eager one computes, from the same weights
    eager = _fresh_model(1)
    eager.load_state_dict(saved)
    x, _ = test_set.batch(torch.arange(16))
    with torch.no_grad():
        assert torch.allclose(torch.compile(eager.eval())(x), eager(x), atol=1e-4, rtol=1e-4)


def test_a_diverged_run_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(easy_data, tmp_path,
                                                                                    monkeypatch):
    import chromolib.training as training

    train_set, _ = easy_data
    calls, real_step = [], training.train_step

    def step_that_blows_up_in_epoch_2(*args, **kw):
        out, loss = real_step(*args, **kw)
        calls.append(1)
        return out, loss * float("nan") if len(calls) > 4 else loss  # 64 images / 16 = 4 steps an epoch

    monkeypatch.setattr(training, "train_step", step_that_blows_up_in_epoch_2)
    with pytest.raises(FloatingPointError, match=r"diverged in epoch 2.*holds epoch 1.*--precision fp32"):
        train(_fresh_model(0), train_set, CFG, out_dir=tmp_path, progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert state["epoch"] == 1 and np.isfinite(state["history"][0]["train_loss"])


def test_tta_logits_are_the_mean_of_the_image_and_its_mirror(full_run, easy_data):
    from chromolib.training import logits

    model = full_run[0]
    _, test = easy_data
    plain = logits(model, test)
    mirror = PolarityTensors(test.images.numpy()[:, :, ::-1], test.labels.numpy(), test.mean, test.std)
    both = logits(model, test, tta=True)
    assert np.allclose(both, (plain + logits(model, mirror)) / 2, atol=1e-5)
    p = predict(model, test, tta=True, temperature=2.0)
    z = both / 2.0
    assert np.allclose(p[:, 1], 1 / (1 + np.exp(z[:, 0] - z[:, 1])), atol=1e-5)


def test_basic_resnet_is_torchvisions_resnet18_without_torchvision():
    from chromolib.model import basic_resnet

    torch.manual_seed(0)
    ref = build_model("resnet18").eval()
    mine = basic_resnet("resnet18").eval()
    assert list(mine.state_dict()) == list(ref.state_dict())
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 48, 32)
    assert torch.allclose(mine(x), ref(x), atol=1e-5)


def test_four_flip_test_time_augmentation_averages_the_four_views():
    from chromolib.training import logits

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 4, 24))
    data = PolarityTensors(np.random.default_rng(0).integers(0, 255, (5, 8, 4), dtype=np.uint8), np.zeros(5), 0.5, 0.2)
    x, _ = data.batch(torch.arange(5))
    with torch.no_grad():
        views = [x, x.flip(-1), x.flip(-2), x.flip(-2).flip(-1)]
        expect = sum(model(v) for v in views).numpy() / 4
    assert np.allclose(logits(model, data, tta="hv"), expect, atol=1e-5)
    assert not np.allclose(logits(model, data, tta=True), expect, atol=1e-3)


def test_turn_test_time_augmentation_reads_upside_down_views_with_down_and_up_swapped():
    from chromolib.training import logits

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 4, 2))
    data = PolarityTensors(np.random.default_rng(1).integers(0, 255, (5, 8, 4), dtype=np.uint8), np.zeros(5), 0.5, 0.2)
    x, _ = data.batch(torch.arange(5))
    with torch.no_grad():
        upright = model(x) + model(x.flip(-1))
        turned = model(x.flip(-2)) + model(x.flip(-2).flip(-1))
        expect = (upright + turned[:, [1, 0]]).numpy() / 4
    got = logits(model, data, tta="turn")
    assert np.allclose(got, expect, atol=1e-5)
    # the image upside down gets exactly the opposite answer: down and up swapped
    turned_data = PolarityTensors(data.images.numpy()[:, ::-1].copy(), np.zeros(5), 0.5, 0.2)
    assert np.allclose(logits(model, turned_data, tta="turn"), got[:, [1, 0]], atol=1e-5)
    with pytest.raises(ValueError, match="tta"):
        logits(model, data, tta="rotate")


# --- GRiCoL (gricol.py) -------------------------------------------------------------------


def test_gricol_tiles_are_the_published_overlapping_grid():
    from chromolib.gricol import tiles

    x = torch.arange(448 * 456, dtype=torch.float32).view(1, 1, 448, 456)
    t = tiles(x)
    assert t.shape == (9, 1, 1, 224, 228)
    # rows start at 0, 112, 224 (GRiCoL's cuts); columns at 0, 114, 228 (half-width tiles)
    starts = [(int(v[0, 0, 0, 0]) // 456, int(v[0, 0, 0, 0]) % 456) for v in t]
    assert starts == [(r, c) for r in (0, 112, 224) for c in (0, 114, 228)]


def test_gricol_branch_weights_ramp_from_k_beta_to_one():
    from chromolib.gricol import branch_weights

    early = branch_weights(0, 12)
    assert torch.allclose(early, torch.tensor([1.0] + [0.1 * k for k in range(1, 10)]), atol=1e-3)
    assert torch.allclose(branch_weights(11, 12), torch.ones(10))  # past lambda = 9 of 12 epochs


def test_gricol_trains_and_leaves_the_plain_network(easy_data, tmp_path):
    """Eval mode is the whole-image branch alone, the checkpoint a plain ResNet, and the wrapper's
    own layers (gates, fusions, tile heads) are trained and resumable."""
    from chromolib.gricol import GridReconstruction

    train_set, test_set = easy_data
    cfg = CFG.with_(objective="gricol")
    model = _fresh_model(0)
    wrapper = GridReconstruction(model).eval()
    x, _ = test_set.batch(torch.arange(8))
    with torch.no_grad():
        assert torch.equal(wrapper(x), model(x))
        whole, branches = wrapper.train()(x)
    assert whole.shape == (8, 2) and branches.shape == (10, 8, 2)
    history = train(model, train_set, cfg, out_dir=tmp_path, progress=False, stop_after=2)
    assert history.train_loss.iloc[-1] < history.train_loss.iloc[0]
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    fresh = _fresh_model(1)
    fresh.load_state_dict(state["model"])  # loads as the plain network
    assert any(k.startswith("gates.") for k in state["trained"])
    resumed = train(fresh, train_set, cfg, out_dir=tmp_path, resume=True, progress=False)
    assert len(resumed) == cfg.epochs and resumed.train_acc.iloc[-1] >= 0.9


def test_unknown_objective_raises(easy_data):
    with pytest.raises(ValueError, match="objective"):
        train(_fresh_model(0), easy_data[0], CFG.with_(objective="grid"), progress=False)


# --- type as an auxiliary target (objective type-aux) ----------------------------------------


def test_type_aux_trains_both_heads_and_leaves_the_plain_polarity_network(easy_data, tmp_path):
    """Labels (polarity, type); eval mode is the polarity network alone, the checkpoint a plain
    two-class ResNet, the type head trained, saved for resuming and learnt from the type labels."""
    from chromolib.training import TypeAuxiliary

    train_set, test_set = easy_data
    y = train_set.labels.numpy()
    types = (np.arange(len(y)) % 2) * 5 + y  # a type the images tell (through polarity) and one they cannot
    aux = PolarityTensors(train_set.images.numpy(), np.stack([y, types], 1), train_set.mean, train_set.std,
                          train=True, vflip=True, swap=True)
    xb, yb = aux.batch(torch.arange(len(y)), generator=torch.Generator().manual_seed(0))
    assert yb.shape == (len(y), 2) and torch.equal(yb[:, 1], torch.as_tensor(types))  # turning swaps polarity only
    assert 0 < (yb[:, 0] != torch.as_tensor(y)).float().mean() < 1
    cfg = CFG.with_(objective="type-aux")
    model = _fresh_model(0)
    wrapper = TypeAuxiliary(model).eval()
    x, _ = test_set.batch(torch.arange(8))
    with torch.no_grad():
        assert torch.equal(wrapper(x), model(x))
        polarity, typ = wrapper.train()(x)
    assert polarity.shape == (8, 2) and typ.shape == (8, 24)
    head = wrapper.type_head.weight.detach().clone()
    history = train(model, aux, cfg, out_dir=tmp_path, progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert set(k for k in state["trained"] if k.startswith("type_head.")) == {"type_head.weight", "type_head.bias"}
    assert not torch.equal(state["trained"]["type_head.weight"], head)
    fresh = _fresh_model(1)
    fresh.load_state_dict(state["model"])  # loads as the plain polarity network
    assert history.train_loss.iloc[-1] < history.train_loss.iloc[0] and history.train_acc.iloc[-1] >= 0.9
    with pytest.raises(ValueError, match="type-aux"):
        train(_fresh_model(0), aux, cfg.with_(target="type"), progress=False)
