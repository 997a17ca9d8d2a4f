"""The shipped models without torch: ``chromolib orient`` starts about 1.7 s sooner.

Importing torch alone takes longer than orienting a whole cell on a CPU, so the models that
ship with chromolib (``shipped.py``: ResNet-18/34 of basic blocks, 8-bit weights) run here in
numpy:

* ``read_torch_file(path)``: what ``torch.load(path, weights_only=True)`` gives, with numpy
  arrays for tensors. A ``torch.save`` file is a zip archive of ``PREFIX/data.pkl`` (the pickled
  object, tensors as references to storages) and ``PREFIX/data/KEY`` (each storage's raw
  bytes); only what the shipped files hold is understood (tensors of the usual dtypes, dicts),
  anything else is a clear error.
* ``NumpyResNet``: the forward pass of ``model.basic_resnet`` in eval mode, every BatchNorm
  folded into the convolution before it; each convolution one float32 matrix product over
  image patches (im2col), channels last.
* ``NumpyModel``: what ``runs.TrainedModel`` offers for prediction (``prob_up``,
  ``type_probs``, ``predict``, ``size``, ...) with the same preprocessing
  (``preprocess.network_input``), normalisation, test-time flips and temperature.
  ``load_numpy_shipped(path)`` is ``shipped.load_shipped(path)`` without torch.
"""
from __future__ import annotations

import pickle
import re
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .images import first_line
from .preprocess import NetworkReader

__all__ = ["MODELS", "POLARITY", "STAINS", "TYPE_MODELS", "FORMAT", "BLOCKS", "TTA_VIEWS", "TTA_CHOICES", "TTA_SWAP", "read_torch_file", "dequantize",
           "NumpyResNet", "NumpyModel", "NeedsTorch", "load_numpy_shipped"]

MODELS = Path(__file__).resolve().parent / "models"
POLARITY = MODELS / "polarity.pt"
#: the stains a type model is made for: G-band (dark bands on a white background) and Q-band
#: (bright fluorescent bands on black)
STAINS = ("gband", "qband")
#: the shipped type models, by stain
TYPE_MODELS = {stain: MODELS / f"type-{stain}.pt" for stain in STAINS}
FORMAT = "chromolib-shipped-1"
#: the ResNets of basic blocks this module runs: blocks per stage (as ``model.BASIC_RESNETS``)
BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}
BN_EPS = 1e-5  # torch.nn.BatchNorm2d's default
#: the test-time views of each ``tta`` setting, as (mirrored, upside down) per view: False one view,
#: True the image and its mirror image, "hv" and "turn" the four flips, "v" and "vturn" the image
#: and it upside down. "turn" and "vturn" (polarity) read the upside-down views with the two classes
#: swapped: upside down, a p-up chromosome is p-down. The one description of the views, read by
#: this module's ``NumpyModel.logits`` and by ``training.logits``.
TTA_VIEWS = {False: ((False, False),), True: ((False, False), (True, False)),
             "hv": ((False, False), (True, False), (False, True), (True, True)),
             "turn": ((False, False), (True, False), (False, True), (True, True)),
             "v": ((False, False), (False, True)), "vturn": ((False, False), (False, True))}
TTA_CHOICES = tuple(TTA_VIEWS)
#: the settings whose upside-down views are read with the two classes swapped
TTA_SWAP = ("turn", "vturn")

# --- reading torch.save files ---------------------------------------------------------------

_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
             "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
             "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _StorageType:
    """Stands for ``torch.FloatStorage`` and its kind in the pickle: the numpy dtype of its bytes."""

    def __init__(self, name: str):
        self.name, self.dtype = name, np.dtype(_STORAGES[name])


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """``torch._utils._rebuild_tensor_v2`` for numpy: a (contiguous) array of ``size`` read from
    the 1-D ``storage`` at ``offset`` (in elements) with ``stride`` (in elements)."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if any(n == 0 for n in size):
        return np.zeros(size, storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if offset < 0 or last >= len(storage):
        raise ValueError(f"tensor of size {size} at offset {offset} lies outside its storage of {len(storage)}")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=tuple(s * storage.itemsize for s in stride))
    return np.array(view)  # a copy: contiguous, writeable, independent of the file's bytes


class _Unpickler(pickle.Unpickler):
    """Unpickles ``data.pkl`` of a torch.save archive, tensors as numpy arrays; refuses every
    class outside the few that plain tensors and dicts need."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, byteorder: str):
        super().__init__(file)
        self.archive, self.prefix, self.byteorder = archive, prefix, byteorder
        self.storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"{module}.{name} is not supported without torch (only tensors of "
                                     f"{', '.join(_STORAGES)} and dicts are)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        _, kind, key, _location, numel = pid
        if not isinstance(kind, _StorageType):
            raise pickle.UnpicklingError(f"storage of type {kind!r} is not supported without torch")
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}/data/{key}")
            dtype = kind.dtype.newbyteorder("<" if self.byteorder == "little" else ">")
            arr = np.frombuffer(raw, dtype=dtype)
            if len(arr) < numel:
                raise ValueError(f"storage {key} holds {len(arr)} elements, {numel} expected")
            self.storages[key] = arr[:numel].astype(kind.dtype, copy=False)  # native byte order
        return self.storages[key]


def read_torch_file(path: str | Path):
    """The object a ``torch.save`` file holds, tensors as numpy arrays (same dtype, shape and
    values), without importing torch. Only the zip format (torch >= 1.6) with plain tensors,
    numbers, strings, lists and dicts is read; anything else raises ValueError."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            pkls = [n for n in archive.namelist() if re.fullmatch(r"[^/]+/data\.pkl", n)]
            if len(pkls) != 1:
                raise ValueError("no single PREFIX/data.pkl in the archive")
            prefix = pkls[0].split("/")[0]
            names = set(archive.namelist())
            byteorder = (archive.read(f"{prefix}/byteorder").decode().strip() if f"{prefix}/byteorder" in names
                         else "little")
            with archive.open(pkls[0]) as f:
                return _Unpickler(f, archive, prefix, byteorder).load()
    except zipfile.BadZipFile:
        raise ValueError(f"{path} is not a torch.save zip archive (legacy or damaged file)") from None
    except (pickle.UnpicklingError, KeyError, EOFError) as exc:
        raise ValueError(f"{path}: {first_line(exc)}") from None


def dequantize(state: dict) -> dict[str, np.ndarray]:
    """``shipped.dequantize_state`` in numpy: {"int8", "scale"} entries back to float32
    (int8 * per-output-channel scale, as torch computes it), other arrays unchanged."""
    out = {}
    for name, v in state.items():
        if isinstance(v, dict):
            q, scale = v["int8"], np.asarray(v["scale"], np.float32)
            out[name] = q.astype(np.float32) * scale.reshape(-1, *([1] * (q.ndim - 1)))
        else:
            out[name] = v
    return out


# --- the network -------------------------------------------------------------------------------

class _Conv:
    """A convolution with the BatchNorm after it folded in: patches (kh, kw, cin) @ ``w`` + ``b``."""

    def __init__(self, weight: np.ndarray, bn: dict[str, np.ndarray] | None, stride: int, pad: int,
                 bias: np.ndarray | None = None):
        w = np.asarray(weight, np.float32)
        cout, cin, kh, kw = w.shape
        g = np.ones(cout)
        b = np.zeros(cout) if bias is None else np.asarray(bias, np.float64)
        if bn is not None:  # per output channel, in float64: y = (conv - mean) * g + beta
            g = np.asarray(bn["weight"], np.float64) / np.sqrt(np.asarray(bn["running_var"], np.float64) + BN_EPS)
            b = (b - np.asarray(bn["running_mean"], np.float64)) * g + np.asarray(bn["bias"], np.float64)
        self.k, self.stride, self.pad, self.cin, self.cout = (kh, kw), stride, pad, cin, cout
        # (kh, kw, cin, cout): the order of the patches' columns; scaled and reordered in one pass
        folded = np.multiply(w.transpose(2, 3, 1, 0), g.astype(np.float32), order="C")
        self.w = folded.reshape(kh * kw * cin, cout)
        self.b = b.astype(np.float32)
        # the stem reads gray images: the same image on all 3 input channels is 1 channel, weights summed
        self.w_gray = folded.sum(2).reshape(kh * kw, cout) if cin == 3 else None

    def __call__(self, x: np.ndarray, relu: bool = False) -> np.ndarray:
        """x: (N, H, W, C) float32, channels last -> (N, H', W', cout)."""
        n, h, w_, c = x.shape
        kh, kw = self.k
        s, p = self.stride, self.pad
        ho, wo = (h + 2 * p - kh) // s + 1, (w_ + 2 * p - kw) // s + 1
        weight = self.w if c == self.cin else self.w_gray if c == 1 and self.w_gray is not None else None
        if weight is None:
            raise ValueError(f"convolution of {self.cin} input channels got {c}")
        if kh == kw == 1 and p == 0:
            cols = np.ascontiguousarray(x[:, ::s, ::s, :]).reshape(n * ho * wo, c)
        else:
            if p:
                xp = np.zeros((n, h + 2 * p, w_ + 2 * p, c), np.float32)
                xp[:, p:p + h, p:p + w_] = x
            else:
                xp = x
            cols = np.empty((n, ho, wo, kh, kw, c), np.float32)
            for i in range(kh):
                for j in range(kw):
                    cols[:, :, :, i, j, :] = xp[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s, :]
            cols = cols.reshape(n * ho * wo, kh * kw * c)
        out = cols @ weight
        out += self.b
        if relu:
            np.maximum(out, 0, out=out)
        return out.reshape(n, ho, wo, self.cout)


def _maxpool3s2(x: np.ndarray) -> np.ndarray:
    """``nn.MaxPool2d(3, 2, 1)`` on (N, H, W, C)."""
    n, h, w, c = x.shape
    ho, wo = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    xp = np.full((n, h + 2, w + 2, c), -np.inf, np.float32)
    xp[:, 1:h + 1, 1:w + 1] = x
    out = xp[:, 0:2 * ho - 1:2, 0:2 * wo - 1:2].copy()
    for i in range(3):
        for j in range(3):
            if i or j:
                np.maximum(out, xp[:, i:i + 2 * ho - 1:2, j:j + 2 * wo - 1:2], out=out)
    return out


class NumpyResNet:
    """``model.basic_resnet`` (torchvision's resnet18/resnet34 layout) in eval mode, from its
    float32 state dict: ``net(x)`` with x (N, 3, H, W) or gray (N, H, W) float32 -> logits."""

    def __init__(self, state: dict[str, np.ndarray]):
        def bn(prefix):
            return {k: state[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")}

        try:
            self.stem = _Conv(state["conv1.weight"], bn("bn1"), 2, 3)
            self.layers = []
            for i in range(1, 5):
                blocks = []
                for j in range(sum(1 for k in state if re.fullmatch(rf"layer{i}\.\d+\.conv1\.weight", k))):
                    pre = f"layer{i}.{j}"
                    stride = 2 if i > 1 and j == 0 else 1
                    down = (_Conv(state[f"{pre}.downsample.0.weight"], bn(f"{pre}.downsample.1"), stride, 0)
                            if f"{pre}.downsample.0.weight" in state else None)
                    blocks.append((_Conv(state[f"{pre}.conv1.weight"], bn(f"{pre}.bn1"), stride, 1),
                                   _Conv(state[f"{pre}.conv2.weight"], bn(f"{pre}.bn2"), 1, 1), down))
                if not blocks:
                    raise KeyError(f"layer{i}.0.conv1.weight")
                self.layers.append(blocks)
            self.fc_w = np.ascontiguousarray(np.asarray(state["fc.weight"], np.float32).T)
            self.fc_b = np.asarray(state["fc.bias"], np.float32)
        except KeyError as exc:
            raise ValueError(f"not a ResNet of basic blocks: no {exc.args[0]} in the weights") from None
        if any(k.endswith("conv3.weight") for k in state):
            raise ValueError("a ResNet of bottleneck blocks (resnet50 and up) is not supported without torch")

    @property
    def blocks(self) -> tuple[int, ...]:
        """Blocks per stage: (2, 2, 2, 2) for resnet18."""
        return tuple(len(layer) for layer in self.layers)

    def features(self, x: np.ndarray) -> np.ndarray:
        """(N, 512) after the average pool, for x (N, H, W) gray or (N, C, H, W)."""
        x = np.asarray(x, np.float32)
        x = x[..., None] if x.ndim == 3 else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        x = _maxpool3s2(self.stem(x, relu=True))
        for layer in self.layers:
            for conv1, conv2, down in layer:
                identity = x if down is None else down(x)
                out = conv2(conv1(x, relu=True))
                out += identity
                x = np.maximum(out, 0, out=out)
        return x.mean(axis=(1, 2), dtype=np.float32)

    def __call__(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Logits (N, classes)."""
        x = np.asarray(x, np.float32)
        if len(x) == 0:
            return np.zeros((0, len(self.fc_b)), np.float32)
        feats = np.concatenate([self.features(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
        return feats @ self.fc_w + self.fc_b


# --- the model: preprocessing, test-time flips, temperature ---------------------------------------

def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class NumpyModel(NetworkReader):
    """A shipped network with what prediction needs, as ``runs.TrainedModel`` offers it
    (``prob_up``, ``type_probs``, ``predict``, ``logits``, ``tensors``, ``network_input``,
    ``size``, ``target``) but without torch: ``tensors`` gives the normalised float32 images
    (N, H, W) that ``predict`` reads."""

    def __init__(self, net: NumpyResNet, config: dict, mean: float, std: float, temperature: float = 1.0):
        self.net, self.config = net, config
        self.mean, self.std, self.temperature = float(mean), float(std), float(temperature)

    def tensors(self, images: np.ndarray, labels=None) -> np.ndarray:
        """uint8 images (N, height, width), dark on white, normalised as in training
        (``PolarityTensors``: (x / 255 - mean) / std, float32; the 3 equal channels implied)."""
        x = np.asarray(images).astype(np.float32) / np.float32(255.0)
        return (x - np.float32(self.mean)) / np.float32(self.std)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The network's outputs (N, classes) with the model's test-time flips (``training.logits``),
        every view of every image in one pass."""
        tta = self.config.get("tta") or False
        if tta not in TTA_CHOICES:
            raise ValueError(f"tta must be one of {TTA_CHOICES}, not {tta!r}")
        x = np.asarray(x, np.float32)
        views = TTA_VIEWS[tta]
        z = self.net(np.concatenate([x[:, ::-1 if up else 1, ::-1 if mirrored else 1] for mirrored, up in views]))
        z = z.reshape(len(views), len(x), -1)
        if len(views) == 1:
            return z[0]
        total = sum(z[i][:, ::-1] if up and tta in TTA_SWAP else z[i] for i, (_, up) in enumerate(views))
        return total / np.float32(len(views))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (N, classes), for polarity column 1 = up: softmax(logits / temperature)."""
        return _softmax(self.logits(x) / np.float32(self.temperature))

class NeedsTorch(ValueError):
    """A shipped model of an architecture this module does not run (load it with ``shipped.load_shipped``)."""


def load_numpy_shipped(path: str | Path = POLARITY) -> tuple[NumpyModel, float]:
    """A shipped model (``shipped.export_run``) as a ``NumpyModel``, and its review threshold:
    ``shipped.load_shipped`` without torch, for the ResNets of basic blocks (``BLOCKS``); a sound
    file of another architecture raises ``NeedsTorch``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: this installation ships no such model; pass a trained run "
                                f"with --model RUN_DIR, or make one (`make model`, `make type-models`; see README)")
    try:
        packed = read_torch_file(path)
        if not isinstance(packed, dict) or packed.get("format") != FORMAT:
            raise ValueError(f"format {packed.get('format') if isinstance(packed, dict) else None!r}, "
                             f"expected {FORMAT!r}")
        config = packed["config"]
        if config["arch"] not in BLOCKS:
            raise NeedsTorch(f"{path}: {config['arch']} runs with torch only (without: {', '.join(BLOCKS)})")
        net = NumpyResNet(dequantize(packed["state"]))
        if net.blocks != BLOCKS[config["arch"]]:
            raise ValueError(f"the weights have {net.blocks} blocks per stage, not {config['arch']}'s")
        classes = {"polarity": 2, "type": 24}.get(config.get("target", "polarity"))
        if net.fc_w.shape[1] != classes:
            raise ValueError(f"{net.fc_w.shape[1]} outputs for a {config.get('target', 'polarity')} model")
    except NeedsTorch:
        raise
    except Exception as exc:
        raise ValueError(f"{path} is damaged or not a chromolib model ({first_line(exc)}); "
                         f"reinstall chromolib or pass --model RUN_DIR") from None
    return (NumpyModel(net, config, packed["mean"], packed["std"], packed["temperature"]),
            float(packed["threshold"]))
