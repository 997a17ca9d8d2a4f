"""The shipped models without torch (``chromolib.torchfree``): the same arrays, the same network,
the same probabilities, and ``chromolib orient``'s default path never imports torch."""
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from chromolib.model import BASIC_RESNETS, basic_resnet
from chromolib.shipped import POLARITY, TYPE_MODELS, load_shipped
from chromolib.synthetic import upright
from chromolib.torchfree import (BLOCKS, FORMAT, NeedsTorch, NumpyModel, NumpyResNet, dequantize,
                                 load_numpy_shipped, read_torch_file)

ROOT = Path(__file__).resolve().parents[1]


def _same(ours, theirs, where="."):
    """``ours`` (numpy) holds exactly what ``theirs`` (torch.load) holds."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, np.ndarray), where
        assert ours.dtype == theirs.numpy().dtype and ours.shape == tuple(theirs.shape), where
        assert np.array_equal(ours, theirs.numpy()), where
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs), where
        for k in theirs:
            _same(ours[k], theirs[k], f"{where}/{k}")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _same(a, b, f"{where}/{i}")
    else:
        assert type(ours) is type(theirs) and ours == theirs, where


@pytest.mark.parametrize("path", [POLARITY, TYPE_MODELS["gband"]], ids=["polarity", "type-gband"])
def test_the_reader_gives_exactly_what_torch_load_gives(path):
    if not path.exists():
        pytest.skip(f"{path.name} does not ship in this installation")
    _same(read_torch_file(path), torch.load(path, map_location="cpu", weights_only=True))


def test_the_reader_follows_offsets_strides_shared_storages_and_dtypes(tmp_path):
    big = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    obj = {"view": big[2:5, 1::3], "t": big.t(), "big": big, "scalar": torch.tensor(7, dtype=torch.int64),
           "bytes": torch.tensor([-3, 4], dtype=torch.int8), "empty": torch.zeros(0, 3), "n": 1.5, "s": "x",
           "nested": {"l": [1, 2], "half": torch.ones(2, dtype=torch.float16)}}
    torch.save(obj, tmp_path / "x.pt")
    _same(read_torch_file(tmp_path / "x.pt"), torch.load(tmp_path / "x.pt", weights_only=True))


def test_the_reader_refuses_what_it_cannot_read_with_a_reason(tmp_path):
    torch.save({"p": torch.nn.Parameter(torch.ones(2))}, tmp_path / "param.pt")
    with pytest.raises(ValueError, match="not supported without torch"):
        read_torch_file(tmp_path / "param.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a torch.save zip"):
        read_torch_file(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError, match="--model RUN_DIR"):
        load_numpy_shipped(tmp_path / "none.pt")
    with pytest.raises(ValueError, match="bad.pt is damaged"):
        load_numpy_shipped(tmp_path / "bad.pt")


def test_another_architecture_is_left_to_torch(tmp_path):
    torch.save({"format": FORMAT, "config": {"arch": "resnet50"}, "state": {}}, tmp_path / "big.pt")
    with pytest.raises(NeedsTorch, match="resnet50 runs with torch only"):
        load_numpy_shipped(tmp_path / "big.pt")


def test_the_blocks_are_those_of_the_torch_model():
    assert BLOCKS == BASIC_RESNETS


@pytest.mark.parametrize("arch,height,width", [("resnet18", 96, 32), ("resnet18", 96, 40), ("resnet34", 40, 16)])
def test_the_numpy_resnet_computes_what_torch_computes(arch, height, width):
    torch.manual_seed(0)
    model = basic_resnet(arch, 24)
    for m in model.modules():  # BatchNorm statistics far from the identity, so folding them matters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.3, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    model.eval()
    net = NumpyResNet({k: v.numpy() for k, v in model.state_dict().items()})
    assert net.blocks == BASIC_RESNETS[arch]
    x = torch.randn(3, 3, height, width)
    gray = x[:, :1].expand(-1, 3, -1, -1)
    with torch.no_grad():
        want, want_gray = model(x).numpy(), model(gray).numpy()
    for got, ref in ((net(x.numpy()), want), (net(x[:, 0].numpy()), want_gray)):  # 3 channels, or gray
        assert got.dtype == np.float32 and got.shape == ref.shape
        assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()


def _crops(n=6):
    rng = np.random.default_rng(3)
    return [upright(str(1 + 3 * i), rng) for i in range(n)]


@pytest.mark.parametrize("tta", [False, True, "hv", "turn", "v", "vturn"])
def test_the_shipped_polarity_model_gives_the_torch_probabilities(tta):
    ours, threshold = load_numpy_shipped(POLARITY)
    theirs, threshold_torch = load_shipped(POLARITY)
    assert threshold == threshold_torch and ours.size == theirs.size
    ours = NumpyModel(ours.net, {**ours.config, "tta": tta}, ours.mean, ours.std, ours.temperature)
    theirs = dataclasses.replace(theirs, config={**theirs.config, "tta": tta})
    crops = _crops()
    p, q = ours.prob_up(crops), theirs.prob_up(crops)
    assert p.shape == (len(crops),) and np.abs(p - q).max() < 1e-4
    x = ours.tensors(ours.network_input(crops))
    if tta == "turn":  # the same four views, read the other way round: upside down, P(up) becomes 1 - P(up)
        assert np.abs(ours.predict(x[:, ::-1, ::-1])[:, 1] - (1 - ours.predict(x)[:, 1])).max() < 1e-5
    if tta == "vturn":  # the same two views (the image and it upside down), read the other way round
        assert np.abs(ours.predict(x[:, ::-1])[:, 1] - (1 - ours.predict(x)[:, 1])).max() < 1e-5
    if tta in ("v", "vturn"):  # the image and it upside down only: half the views of the four flips
        z = ours.net(np.concatenate([x, x[:, ::-1]]))
        down_up = z[len(x):, ::-1] if tta == "vturn" else z[len(x):]
        assert np.allclose(ours.logits(x), (z[:len(x)] + down_up) / 2, atol=1e-5)


def test_the_shipped_type_model_gives_the_torch_probabilities_per_cell():
    if not TYPE_MODELS["gband"].exists():
        pytest.skip("no G-band type model ships")
    ours, _ = load_numpy_shipped(TYPE_MODELS["gband"])
    theirs, _ = load_shipped(TYPE_MODELS["gband"])
    assert ours.config["tta"] == "v" and ours.config["scale"] == "cell" and ours.target == "type"
    crops = _crops()
    cells = ["a", "a", "a", "b", "b", "b"]
    for c in (cells, None):
        p, q = ours.type_probs(crops, cells=c), theirs.type_probs(crops, cells=c)
        assert p.shape == (6, 24) and np.abs(p - q).max() < 1e-4
    # the occlusion map's way in (saliency.occlusion): predict(tensors(uint8 images))
    x = ours.network_input(crops, cells)
    assert np.abs(ours.predict(ours.tensors(x)) - theirs.predict(theirs.tensors(x))).max() < 1e-4
    polarity, _ = load_numpy_shipped(POLARITY)
    with pytest.raises(ValueError, match="polarity model"):
        polarity.type_probs(crops)


def test_dequantize_is_the_shipped_float_state():
    from chromolib.shipped import dequantize_state

    packed = torch.load(POLARITY, map_location="cpu", weights_only=True)["state"]
    ours = dequantize(read_torch_file(POLARITY)["state"])
    for k, v in dequantize_state(packed).items():
        assert np.array_equal(ours[k], v.numpy()), k


def test_orient_with_the_shipped_models_never_imports_torch():
    code = ("import sys, numpy as np\n"
            "import chromolib.cli, chromolib.orient as o\n"
            "m = o.load_orient_model(); t = o.load_type_model('gband')\n"
            "crop = np.full((60, 20), 255, np.uint8); crop[10:50, 6:14] = 60\n"
            "p = m.prob_up([crop]); names, probs = t.types([crop] * 3)\n"
            "assert 0 <= p[0] <= 1 and len(names) == 3, (p, names)\n"
            "print(type(m.trained).__name__, 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["NumpyModel", "False"]


def test_the_orient_command_imports_neither_torch_nor_pandas(tmp_path):
    """`chromolib orient IN OUT` with the shipped models: the whole command, start to sheet, on a
    small cell, with no torch and no pandas (together about 2 s of start-up on a 2-core CPU)."""
    import cv2

    cell = tmp_path / "cell"
    cell.mkdir()
    rng = np.random.default_rng(0)
    for i, c in enumerate(("1", "7", "X")):
        cv2.imwrite(str(cell / f"c{i}.png"), upright(c, rng))
    code = ("import sys, chromolib.cli\n"
            f"rc = chromolib.cli.main(['orient', {str(cell)!r}, {str(tmp_path / 'out')!r}, '--quiet'])\n"
            "print(rc, 'torch' in sys.modules, 'pandas' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "False", "False"]
    rows = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("file,rotation_angle,polarity")
    assert (tmp_path / "out" / "karyogram.png").exists()
