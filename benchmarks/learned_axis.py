"""The learned axis (chromolib.axis) against the hull on real chromosomes at known angles (issue 15).

    python benchmarks/learned_axis.py --real ../shared/data                    # 12 minutes of training
    python benchmarks/learned_axis.py --real ../shared/data --residual --runs runs/residual-axis
                                     # the hull corrected by a residual network (from the shipped polarity one)
    python benchmarks/learned_axis.py --real ../shared/data --full --minutes 20 --runs runs/direction
                                     # one network for the short arm's direction over 360 degrees, against
                                     # the two steps (hull, then the shipped polarity network)
    python benchmarks/learned_axis.py --real ../shared/data --minutes 0.1 --max-cells 30 \\
        --out /tmp/axis --runs /tmp/axis-run                                    # a smoke run

1. Pki-3 is split as the shipped polarity model's data set was (``axis.polarity_split``: 7:3 by
   case, seed 0; the held-out cells are those of ``benchmarks/rotation.py --real``, checked against
   the shipped model's predictions where they are at hand).
2. ``axis.train_axis`` trains the network for ``--minutes`` on the crops of the TRAINING cases
   only, each turned by fresh random angles; the weights and the loss history go to ``--runs``.
   With ``--residual``, ``axis.train_residual`` instead trains the network that reads the tilt the
   hull left (tall 96 x 32 views, starting from the shipped polarity network, which was trained on
   the same training cases), on the same crops tilted at random.
3. It is measured, beside the hull on the outline mask (chromolib's default axis), on the
   chromosomes of ``benchmarks/rotation.py --real``: the same seeded 60 held-out Pki-3 cells and
   all 230 KaryoNet crops (another laboratory, never trained on), turned by the same seeded
   angles. The learned axis is timed one cell at a time (a batch of one cell, the view included),
   the hull per chromosome (its mask included).

With ``--full`` the network reads the short arm's direction over 360 degrees (``AxisConfig(full=True)``):
axis and polarity in one step. It is measured against the two steps ``chromolib orient`` takes (the
hull on the outline, then the shipped polarity network on the upright crop) on the same chromosomes:
the axis error, and whether the short arm ends up (exact McNemar test against the two steps). That
writes ``direction.txt`` and ``direction.csv``.

Writes ``learned_axis.txt`` (``residual_axis.txt`` with ``--residual``; the command, the set-up, the
tables) and ``learned_axis.csv`` (``residual_axis.csv``) (one row
per set and method: n, median, 95th percentile, share within 3 degrees, ms per chromosome) to
``--out``; ``axis.pt``, ``history.csv`` and ``errors.csv`` (one row per chromosome and method) to
``--runs``.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from chromolib.axis import (AxisConfig, AxisModel, ResidualConfig, polarity_split, train_axis, train_residual,
                            training_crops)
from chromolib.evaluation import mcnemar, rotation_errors, wilson_interval
from chromolib.rotation import angle_error
from chromolib.specimens import KaryogramSpecimens

HULL, LEARNED, LEARNED_TTA = "hull (outline)", "learned", "learned, 4 views"
TWO_STEPS, ONE_STEP = "hull, then the polarity network (two steps)", "direction network (one step)"
BEST = "(best of hull and learned, per chromosome)"
RESIDUAL, RESIDUAL_TTA = "hull + residual network", "hull + residual network, 4 views"


def held_out_sets(root: Path, labels: pd.DataFrame, seed: int = 0, test_cells: int | None = 60,
                  max_cells: int | None = None) -> dict:
    """name -> specimens: ``test_cells`` of the held-out Pki-3 cells (the seeded choice of
    ``benchmarks/rotation.py``'s ``real_sets``) and all of KaryoNet, at their seeded angles."""
    held = sorted(labels.cell[labels.split == "test"].unique())
    cells = held
    if test_cells and test_cells < len(held):
        cells = sorted(np.random.default_rng(seed).choice(held, size=test_cells, replace=False))
    pki3 = KaryogramSpecimens(root / "pki3-gband", seed=seed, max_cells=max_cells)
    keep = pki3.labels.cell.astype(str).isin(set(cells)).to_numpy()
    pki3.labels, pki3.angles = pki3.labels[keep].reset_index(drop=True), pki3.angles[keep]
    return {"Pki-3 held out": list(pki3), "KaryoNet": list(KaryogramSpecimens(root / "karyonet-gband", seed=seed))}


def by_cell(specimens: list, answer):
    """``answer(images)`` on one cell's crops at a time (a batch of one cell, as ``chromolib orient``
    sees them): yields each specimen, its answer and the ms per chromosome of its cell's batch."""
    cells = pd.Series([str(s.cell) for s in specimens])
    for _, idx in cells.groupby(cells, sort=False).groups.items():
        batch = [specimens[i] for i in idx]
        t0 = time.perf_counter()
        answers = answer([s.image for s in batch])
        ms = (time.perf_counter() - t0) * 1e3 / len(batch)
        yield from ((s, a, ms) for s, a in zip(batch, answers))


def learned_errors(model: AxisModel, specimens: list, method: str) -> pd.DataFrame:
    """One row per chromosome: the model's angle, its error, ms per chromosome of its cell's batch."""
    return pd.DataFrame([dict(source=s.source, chromosome=s.chromosome, method=method, angle=float(a),
                              error=angle_error(s.angle, float(a)), ms=ms)
                         for s, a, ms in by_cell(specimens, model.angles)])


def direction_rows(model: AxisModel, specimens: list) -> pd.DataFrame:
    """One row per chromosome and method: the two steps (``benchmarks/rotation_polarity.polarity_rows``
    with the shipped polarity network, hull on the outline) and the direction network: axis error,
    short arm up (right), ms per chromosome (the direction network: a batch of one cell)."""
    from rotation_polarity import polarity_rows

    from chromolib.orient import load_orient_model

    t0 = time.perf_counter()
    two = polarity_rows(specimens, load_orient_model(None), settings=[("hull", "outline")])
    two_ms = (time.perf_counter() - t0) * 1e3 / max(len(specimens), 1)
    rows = [dict(source=s.source, method=TWO_STEPS, error=angle_error(s.angle, float(r.angle)), right=bool(r.right),
                 ms=two_ms) for s, r in zip(specimens, two.itertuples())]
    for s, a, ms in by_cell(specimens, model.directions):
        off = abs((float(a) - s.angle + 180.0) % 360.0 - 180.0)  # degrees between the found and true directions
        rows.append(dict(source=s.source, method=ONE_STEP, error=angle_error(s.angle, -float(a)), right=off < 90.0,
                         ms=ms))
    return pd.DataFrame(rows)


def direction_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per set and method: n, axis median and 95th percentile, short arm up (%) with its
    interval, McNemar against the two steps, ms per chromosome."""
    out = []
    for name, g in rows.groupby("set", sort=False):
        ref = g[g.method == TWO_STEPS].set_index("source").right
        for method, h in g.groupby("method", sort=False):
            right = h.set_index("source").right.loc[ref.index]
            lo, hi = wilson_interval(int(right.sum()), len(right))
            test = mcnemar(right.to_numpy(), ref.to_numpy())
            out.append({"set": name, "method": method, "n": len(h), "median (deg)": round(h.error.median(), 2),
                        "95th pct (deg)": round(h.error.quantile(0.95), 2),
                        "short arm up (%)": round(100 * right.mean(), 2), "95 % interval": f"{100 * lo:.2f}-{100 * hi:.2f}",
                        "right only here": test["only_a_right"], "right only in two steps": test["only_b_right"],
                        "McNemar p": round(test["p_value"], 4), "ms per chromosome": round(h.ms.mean(), 3)})
    return pd.DataFrame(out)


def table(errors: pd.DataFrame) -> pd.DataFrame:
    """One row per set and method: n, median, 95th percentile, within 3 degrees, ms per chromosome;
    and per set the best of the hull and the plain learned axis for every chromosome."""
    pair = errors[errors.method.isin([HULL, LEARNED, RESIDUAL])]
    best = pair.groupby(["set", "source"], sort=False).error.min().reset_index().assign(method=BEST, ms=np.nan)
    g = pd.concat([errors, best], ignore_index=True).groupby(["set", "method"], sort=False)
    return pd.DataFrame({
        "n": g.size(),
        "median (deg)": g.error.median().round(2),
        "95th pct (deg)": g.error.quantile(0.95).round(2),
        "within 3 deg (%)": (100 * g.error.apply(lambda e: (e <= 3).mean())).round(1),
        "ms per chromosome": g.ms.mean().round(3),
    }).reset_index()


def run(root: str, out: str, runs: str, minutes: float = 12.0, max_steps: int | None = None, seed: int = 0,
        test_cells: int | None = 60, max_cells: int | None = None, argv=None, residual: bool = False,
        full: bool = False) -> pd.DataFrame:
    import torch

    t_start, load0 = time.perf_counter(), os.getloadavg()[0]
    root, out_dir, run_dir = Path(root), Path(out), Path(runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    checks = []

    # 1. the split
    t0 = time.perf_counter()
    labels, crops = polarity_split(root / "pki3-gband", seed=seed, max_cells=max_cells, progress=sys.stderr.isatty())
    split_s = time.perf_counter() - t0
    train_cells = set(labels.cell[labels.split == "train"])
    test_all = set(labels.cell[labels.split == "test"])
    assert not train_cells & test_all, "a cell on both sides"
    shipped = Path("results/pki3-cpu/predictions.csv")  # the shipped model's held-out predictions
    if shipped.exists() and not max_cells:
        same = set(pd.read_csv(shipped, dtype={"cell": str}).cell) == test_all
        checks.append(f"held-out Pki-3 cells the same as the shipped polarity model's ({shipped}): {same}")
    train = training_crops(labels, crops)
    del crops

    # 2. training
    if residual:
        from chromolib.shipped import load_shipped

        config = ResidualConfig(minutes=minutes, max_steps=max_steps, seed=seed)
        model, history = train_residual(train, config, init=load_shipped()[0], progress=sys.stderr.isatty())
        names = (RESIDUAL, RESIDUAL_TTA)
        net_line = (f"network: ResNet18 from the shipped polarity network, {config.height} x {config.width} px views "
                    f"of the hull-turned crop, one output (the tilt / 10 degrees); tilts half N(0, {config.near:g}) and "
                    f"half uniform +-{config.far:g} degrees, mirrored and upside down at random")
        loss_name = "smooth L1 of tilt / 10 degrees"
    else:
        config = AxisConfig(minutes=minutes, max_steps=max_steps, seed=seed, full=full)
        model, history = train_axis(train, config, progress=sys.stderr.isatty())
        names = (LEARNED, LEARNED_TTA)
        net_line = (f"network: {model.parameters():,} parameters, {config.size} px views, channels "
                    f"{list(config.channels)}" + ("; target: the short arm's direction over 360 degrees" if full else ""))
        loss_name = "1 - cos of the direction error" if full else "1 - cos of the doubled angle error"
    model.info.update(train_cells=len(train_cells), data=str(root / "pki3-gband"))
    model.save(run_dir / "axis.pt")
    history.to_csv(run_dir / "history.csv", index=False)

    # 3. measurement
    sets = held_out_sets(root, labels, seed, test_cells, max_cells)
    eval_cells = {s.cell for s in sets["Pki-3 held out"]}
    assert not eval_cells & train_cells, "a measured cell was trained on"
    real = Path("results/rotation/real.csv")  # benchmarks/rotation.py --real: the same chromosomes?
    if real.exists() and not max_cells and test_cells == 60:
        r = pd.read_csv(real)
        n = int(r[(r.set == "Pki-3 held out") & (r["mask"] == "outline") & (r.method == "hull")].n.iloc[0])
        checks.append(f"Pki-3 held-out chromosomes: {len(sets['Pki-3 held out'])} here, {n} in {real}")
    parts = []
    for name, specimens in sets.items():
        if full:
            parts.append(direction_rows(model, specimens).assign(set=name))
            continue
        hull = rotation_errors(specimens, ["hull"], progress=False)
        hull = hull.assign(method=HULL, ms=hull.ms + hull.mask_ms)[["source", "chromosome", "method", "angle", "error",
                                                                   "ms"]]
        parts += [hull.assign(set=name), learned_errors(model, specimens, names[0]).assign(set=name),
                  learned_errors(model.with_tta(), specimens, names[1]).assign(set=name)]
    errors = pd.concat(parts, ignore_index=True)
    errors.to_csv(run_dir / "errors.csv", index=False)
    t = direction_table(errors) if full else table(errors)
    stem = "residual_axis" if residual else "direction" if full else "learned_axis"
    t.to_csv(out_dir / f"{stem}.csv", index=False)

    info = model.info
    seen = info["steps"] * config.batch_size
    n_sets = {k: f"{len(v)} chromosomes in {len({s.cell for s in v})} cells" for k, v in sets.items()}
    lines = [f"python benchmarks/learned_axis.py {' '.join(argv if argv is not None else sys.argv[1:])}",
             f"python {platform.python_version()}, torch {torch.__version__} on {platform.machine()}, "
             f"{torch.get_num_threads()} threads; seed {seed}; load average {load0:.1f} at the start, "
             f"{os.getloadavg()[0]:.1f} at the end on {os.cpu_count()} cores; {time.perf_counter() - t_start:.0f} s in all",
             f"split: {len(labels)} Pki-3 crops read and split in {split_s:.0f} s: {len(train_cells)} training cells "
             f"({len(train)} crops), {len(test_all)} held-out cells",
             f"{net_line}; trained {info['train_seconds'] / 60:.1f} min, {info['steps']} steps of {config.batch_size} "
             f"({seen:,} turned crops, {seen / max(len(train), 1):.1f} per training crop), AdamW lr {config.lr:g}, "
             f"cosine over the budget; last loss {history.loss.iloc[-1]:.4f} ({loss_name})",
             "sets: " + "; ".join(f"{k}: {v}" for k, v in n_sets.items()),
             *checks,
             "error = degrees between the chromosome's axis after the method's rotation and the vertical of the "
             "karyogram it was cut from; " + ("short arm up: the short arm ends in the upper half after the method "
             "(the two steps: hull on the outline, then the shipped polarity network, as `chromolib orient`); ms: the "
             "two steps per chromosome over the whole set (mask, angle, rotation, crop, network), the direction "
             "network per chromosome in a batch of one cell (view + network)" if full else "ms: hull = mask + angle "
             "per chromosome, learned = view + network per chromosome in a batch of one cell (4 views: "
             + ("the hull-turned crop, its mirror image and both upside down" if residual else
                "the crop, its mirror image and both turned a quarter") + ", averaged)"), ""]
    for name in sets:
        lines += [f"{name}:", t[t.set == name].drop(columns="set").set_index("method").to_string(), ""]
    (out_dir / f"{stem}.txt").write_text("\n".join(lines))
    print("\n".join(lines))
    return t


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real", default="../shared/data", help="folder holding pki3-gband and karyonet-gband")
    p.add_argument("--minutes", type=float, default=12.0, help="training budget, wall-clock minutes")
    p.add_argument("--max-steps", type=int, default=None, help="stop training after this many steps")
    p.add_argument("--out", default="results/rotation", help="where learned_axis.txt and .csv go")
    p.add_argument("--runs", default="runs/learned-axis", help="where axis.pt, history.csv and errors.csv go")
    p.add_argument("--test-cells", type=int, default=60,
                   help="this many of the held-out Pki-3 cells, the seeded choice of benchmarks/rotation.py (0: all)")
    p.add_argument("--max-cells", type=int, default=None,
                   help="only this many Pki-3 cells in all (smoke runs: the split then differs from the real one)")
    p.add_argument("--residual", action="store_true",
                   help="train and measure the hull's residual network (axis.train_residual) instead of the square one")
    p.add_argument("--full", action="store_true",
                   help="train the network on the short arm's direction over 360 degrees (axis and polarity in one "
                        "step) and measure it against the two steps (hull, then the shipped polarity network)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.full and args.residual:
        p.error("--full and --residual are two different networks: give one")
    run(args.real, args.out, args.runs, args.minutes, args.max_steps, args.seed, args.test_cells or None,
        args.max_cells, argv, args.residual, args.full)
    return 0


if __name__ == "__main__":
    sys.exit(main())
