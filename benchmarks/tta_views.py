"""How many test-time views do the shipped models need? Accuracy on the held-out Pki-3 cases with
each subset of the four flips, and what the views cost inside `chromolib orient`.

The views are chosen on the cells each model's training run kept aside for its temperature
(``val``) and reported on the held-out cases (``test``). The shipped polarity model reads four views (as it is, mirrored, and both upside down with down and
up swapped); the shipped G-band type model the four flips. Each view is one pass of the network
over the cell, so in `orient` the views are most of the time after start-up. Here every view is
computed once per held-out chromosome (the numpy networks `orient` runs) and the subsets are
averaged from them.

    python benchmarks/tta_views.py --polarity-data runs/pki3-outline/dataset --type-data runs/pki3-all/dataset \
        --out results/orient/tta_views.txt
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from chromolib.assignment import assign_by_cell
from chromolib.evaluation import wilson_interval
from chromolib.karyotype import TYPES
from chromolib.polarity_set import read_manifest, split_tensors, target_labels, with_validation
from chromolib.torchfree import POLARITY, TYPE_MODELS, load_numpy_shipped

#: the views by name: what is done to the (N, H, W) images
VIEWS = {"as is": lambda x: x, "mirrored": lambda x: x[:, :, ::-1],
         "upside down": lambda x: x[:, ::-1], "upside down, mirrored": lambda x: x[:, ::-1, ::-1]}
#: the subsets measured, by the views they average
SUBSETS = {"1 view": ("as is",), "2 views: + mirrored": ("as is", "mirrored"),
           "2 views: + upside down": ("as is", "upside down"), "4 views (shipped)": tuple(VIEWS)}


def view_logits(model, x: np.ndarray, batch: int = 256) -> dict[str, np.ndarray]:
    """The network's logits for each view of every image, (N, classes) per view name."""
    out = {}
    for name, view in VIEWS.items():
        v = np.ascontiguousarray(view(x))
        out[name] = np.concatenate([model.net(v[i:i + batch]) for i in range(0, len(v), batch)])
    return out


def combine(z: dict[str, np.ndarray], names, swap_upside_down: bool) -> np.ndarray:
    """The mean logits of the views ``names``; upside-down views read with the two classes swapped
    when ``swap_upside_down`` (polarity)."""
    parts = [z[n][:, ::-1] if swap_upside_down and n.startswith("upside") else z[n] for n in names]
    return sum(parts) / len(parts)


def row(name: str, right: np.ndarray, extra: dict | None = None) -> dict:
    lo, hi = wilson_interval(int(right.sum()), len(right))
    return {"views": name, "n": len(right), "accuracy %": round(100 * right.mean(), 2),
            "95% CI": f"{100 * lo:.2f}-{100 * hi:.2f}", "errors": int((~right).sum()), **(extra or {})}


def split_views(model, dataset: Path, split: str, target: str):
    """Every view's logits for the chromosomes of ``split`` ("val": the cells the model's run kept
    aside for its temperature; "test": the held-out cases), their rows and labels."""
    cfg = model.config
    manifest = with_validation(read_manifest(dataset), cfg.get("validation", 0.0), cfg.get("seed", 0))
    (h, w) = model.size
    data = split_tensors(dataset, manifest, split, h, model.mean, model.std, w, target, cfg.get("scale", "fit"))
    x = data.images.numpy().astype(np.float32) / 255
    x = (x - np.float32(model.mean)) / np.float32(model.std)
    rows = manifest[manifest.split == split].reset_index(drop=True)
    return view_logits(model, x), rows, data.labels.numpy()


def polarity_table(dataset: Path, split: str) -> pd.DataFrame:
    model, _ = load_numpy_shipped(POLARITY)
    z, _, y = split_views(model, dataset, split, "polarity")
    shipped = combine(z, SUBSETS["4 views (shipped)"], True).argmax(1) == y
    out = []
    for name, names in SUBSETS.items():
        right = combine(z, names, True).argmax(1) == y
        out.append(row(name, right, {"right only with 4 views": int((shipped & ~right).sum()),
                                     "right only here": int((right & ~shipped).sum())}))
    return pd.DataFrame(out).set_index("views")


def type_table(dataset: Path, split: str) -> pd.DataFrame:
    model, _ = load_numpy_shipped(TYPE_MODELS["gband"])
    z, rows, y = split_views(model, dataset, split, "type")
    out = []
    for name, names in SUBSETS.items():
        logit = combine(z, names, False) / np.float32(model.temperature)
        p = np.exp(logit - logit.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        assigned = assign_by_cell(p, rows.cell)
        out.append(row(name, p.argmax(1) == y, {"assigned over the cell %": round(100 * (assigned == y).mean(), 2)}))
    return pd.DataFrame(out).set_index("views")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--polarity-data", type=Path, required=True, help="the shipped polarity run's data set folder")
    ap.add_argument("--type-data", type=Path, required=True, help="the shipped G-band type run's data set folder")
    ap.add_argument("--out", type=Path, help="also write the tables here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    parts = []
    for split, what in (("val", "the cells its training run kept aside for the temperature (choose here)"),
                        ("test", "the held-out cases (report here)")):
        pol, typ = polarity_table(args.polarity_data, split), type_table(args.type_data, split)
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            parts.append(f"## {split}: {what}\n\npolarity, the shipped model ({POLARITY.name}), {args.polarity_data}:\n"
                         f"{pol.to_string()}\n\nG-band type, the shipped model ({TYPE_MODELS['gband'].name}), "
                         f"{args.type_data} ({len(TYPES)} types; assigned: each cell's chromosomes assigned jointly, "
                         f"as orient does):\n{typ.to_string()}\n")
    text = "\n".join(parts) + f"\n{time.perf_counter() - t0:.0f} s\n"
    print(text)
    if args.out:
        args.out.write_text(f"python benchmarks/tta_views.py --polarity-data {args.polarity_data} "
                            f"--type-data {args.type_data} --out {args.out}\n\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
