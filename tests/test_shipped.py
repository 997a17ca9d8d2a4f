"""The shipped model: 8-bit weights that give the float model's answers, loaded without a run folder."""
import json

import numpy as np
import pytest
import torch

from chromolib.model import build_model
from chromolib.shipped import dequantize_state, export_run, load_shipped, model_card, quantize_state


def test_quantised_weights_are_close_and_a_quarter_of_the_size():
    torch.manual_seed(0)
    state = build_model("resnet18").state_dict()
    packed = quantize_state(state)
    back = dequantize_state(packed)
    for name, t in state.items():
        if t.is_floating_point() and t.ndim >= 2:
            assert packed[name]["int8"].dtype == torch.int8
            step = packed[name]["scale"].view(-1, *([1] * (t.ndim - 1)))
            assert ((back[name] - t).abs() <= step / 2 + 1e-7).all(), name  # rounding error at most half a step
        else:
            assert torch.equal(back[name], t), name
    n_bytes = sum(v["int8"].numel() + 4 * v["scale"].numel() if isinstance(v, dict) else v.numel() * v.element_size()
                  for v in packed.values())
    assert n_bytes < 0.27 * sum(t.numel() * t.element_size() for t in state.values())


def test_an_exported_run_predicts_as_the_run_and_carries_its_threshold(tiny_run, tmp_path):
    info = export_run(tiny_run.run, tmp_path / "polarity.pt")
    review = json.loads((tiny_run.run / "review.json").read_text())
    trained, threshold = load_shipped(tmp_path / "polarity.pt")
    assert threshold == review["threshold"] and trained.size == (32, 32)
    assert info["quantisation"]["n"] > 0 and info["quantisation"]["same_answer"] >= 0.95
    preds = __import__("pandas").read_csv(tiny_run.run / "predictions.csv")
    p = trained.predict(trained.test_set(tiny_run.dataset))[:, 1]
    assert np.abs(p - preds.prob_up).max() < 0.05
    card = model_card(info, tiny_run.run, {"data": "KaryoNet G-band", "accuracy": 0.97, "accuracy_ci95": [0.94, 0.985],
                                           "n": 230})
    m = json.loads((tiny_run.run / "metrics.json").read_text())
    assert f"{100 * m['accuracy']:.2f} %" in card and "KaryoNet G-band" in card and "97.00 %" in card
    assert "97.00 % (95 % interval 94.00-98.50 %) of 230 chromosomes." in card  # one draw: nothing about draws
    pooled = {"data": "KaryoNet G-band", "accuracy": 0.973, "accuracy_ci95": [0.95, 0.99], "n": 1150, "draws": 5,
              "chromosomes": 230, "accuracy_per_draw": [0.9696, 0.9739, 0.9739, 0.9783, 0.9696]}
    card = model_card(info, tiny_run.run, pooled)
    assert "97.30 % (95 % interval 95.00-99.00 %) of 1,150 orientations: its 230 chromosomes each at 5 random" in card
    assert "96.96, 97.39, 97.39, 97.83, 96.96 %" in card


def test_a_missing_or_damaged_shipped_model_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="--model RUN_DIR"):
        load_shipped(tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.pt is damaged"):
        load_shipped(tmp_path / "bad.pt")


def test_a_type_model_ships_per_stain_with_its_card(tiny_type_run, tmp_path):
    from chromolib.cli import main
    from chromolib.shipped import type_model_card

    target = tmp_path / "type-gband.pt"
    assert main(["export", str(tiny_type_run), "--to", str(target)]) == 2  # a type model needs its stain
    assert not target.exists()
    assert main(["export", str(tiny_type_run), "--to", str(target), "--stain", "gband"]) == 0
    trained, threshold = load_shipped(target)
    assert trained.target == "type" and trained.model.fc.out_features == 24
    assert threshold == json.loads((tiny_type_run / "review.json").read_text())["threshold"]
    card = (tmp_path / "TYPE-GBAND.md").read_text()
    assert "Assigned over the cell" in card and "Pki-3" in card
    info = torch.load(target, weights_only=True)
    assert "Q-band" in type_model_card({**info, "bytes": 1}, tiny_type_run, "qband")
