"""Whole cells through `chromolib orient`: real chromosomes at random angles, bad files mixed in.

Takes held-out cells of a trained run (cells the model never saw), rotates each p-up crop by a
seeded random angle (as segmentation would deliver it), adds a truncated PNG, an empty file, a
text file and a blank image, runs the command and checks every output against the known angle.

    python benchmarks/orient_cell.py --data ../shared/data/pki3-gband --model runs/pki3/run --cells 12
    python benchmarks/orient_cell.py --data ../shared/data/karyonet-gband --all-cells --json results/x.json

Without ``--model`` the model that ships with chromolib is used; ``--all-cells`` takes every cell
of the data (another laboratory's, never trained on) instead of the run's held-out ones.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from chromolib.evaluation import wilson_interval
from chromolib.images import canonical_gray, read_image
from chromolib.rotation import rotate_to_angle
from chromolib.specimens import read_labels


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="karyogram set with labels.csv (p-up crops)")
    p.add_argument("--model", help="training run folder (its test cells are used); default: the shipped model")
    p.add_argument("--cells", type=int, default=3, help="at most this many cells (0: all)")
    p.add_argument("--all-cells", action="store_true", help="every cell of --data, not the run's held-out ones")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--draws", type=int, default=1,
                   help="repeat with this many draws of the random angles (seeds SEED, SEED+1, ...); accuracy is "
                        "pooled over the draws, its interval from resampling chromosomes (a draw is not a new "
                        "chromosome)")
    p.add_argument("--repeat", type=int, default=1, help="run the command this many times per cell, report the fastest")
    p.add_argument("--method", help="rotation method for chromolib orient (default: orient's own, "
                                     "chromolib.rotation.DEFAULT_METHOD)")
    p.add_argument("--chromolib", help="run `chromolib orient` from this source folder (one holding chromolib/, "
                                        "e.g. an older version) on the same inputs: an A/B comparison")
    p.add_argument("--details", help="also write one row per chromosome (cell, file, true type, the type and "
                                     "polarity orient gave, its probability, needs_review, the angle left from "
                                     "p-up vertical) to this CSV file")
    p.add_argument("--json", help="also write the summary (accuracy with its 95 %% interval) to this file")
    args = p.parse_args(argv)
    data = Path(args.data)
    labels = read_labels(data)
    if args.all_cells or not args.model:
        cells = sorted(labels.cell.unique())
    else:
        cells = sorted(pd.read_csv(Path(args.model) / "predictions.csv", dtype={"cell": str}).cell.unique())
    held_out = cells[: args.cells or None]
    model_args = (["--model", str(Path(args.model).resolve())] if args.model else []) + (
        ["--method", args.method] if args.method else [])
    env = dict(os.environ)
    if args.chromolib:  # the inputs come from this chromolib, the command from that one
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(args.chromolib).resolve()), env.get("PYTHONPATH")]))
    rows, details = [], []
    for draw in range(args.draws):  # draw k: the angles of seed + k (draw 0 is --seed alone, as before)
        r, d = run_cells(data, labels, held_out, model_args, args, env, np.random.default_rng(args.seed + draw))
        rows += [dict(x, draw=draw) for x in r]
        details += [dict(x, draw=draw) for x in d]
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    n, ok = table.chromosomes.sum(), table["short arm up"].sum()
    vert = table["up and within 20 deg"].sum()
    print(f"short arm up after orient: {ok} of {n} ({100 * ok / n:.2f} %), and within 20 degrees of vertical: "
          f"{vert} ({100 * vert / n:.2f} %); all 4 bad files of every cell have a reason: "
          f"{bool((table['bad files with a reason'] == 4).all())}; mean wall time per cell {table['wall s'].mean():.2f} s "
          f"(the whole command, Python start and model loading included{', best of ' + str(args.repeat) if args.repeat > 1 else ''})")
    typed, type_ok = int(table.typed.sum()), int(table["type right"].sum())
    if typed:
        print(f"type right after orient (the shipped type model, assigned over each cell): {type_ok} of {n} "
              f"({100 * type_ok / n:.2f} %)")
    per_draw = (table.groupby("draw")["short arm up"].sum() / table.groupby("draw").chromosomes.sum()).round(4)
    if args.draws > 1:
        d = pd.DataFrame(details)
        lo, hi = chromosome_interval(d.short_arm_up, d.cell + "/" + d.file)
        tlo, thi = chromosome_interval(d.type == d.type_given, d.cell + "/" + d.file)
        print(f"over {args.draws} draws of the angles: short arm up {100 * ok / n:.2f} % ({100 * lo:.2f}-{100 * hi:.2f}, "
              f"resampling the {d.file.size // args.draws} chromosomes); per draw "
              + ", ".join(f"{100 * a:.2f}" for a in per_draw) + " %")
    else:
        lo, hi = wilson_interval(int(ok), int(n))
        tlo, thi = wilson_interval(type_ok, int(n))
    if args.details:
        pd.DataFrame(details).to_csv(args.details, index=False)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "data": data.name, "model": args.model or "shipped", "method": args.method or _default_method(),
            "chromolib": args.chromolib or "this checkout",
            "cells": len(set(table.cell)), "n": int(n), "draws": args.draws, "chromosomes": int(n) // args.draws,
            "accuracy_per_draw": per_draw.tolist(),
            "accuracy": ok / n, "accuracy_ci95": [lo, hi], "within_20_deg": vert / n,
            "flagged": int(table["flagged needs_review"].sum()), "oriented": int(table.oriented.sum()),
            "mean_wall_s_per_cell": float(table["wall s"].mean()),
            "type": ({"n": int(n), "typed": typed, "correct": type_ok, "accuracy": type_ok / n,
                      "accuracy_ci95": [tlo, thi]} if typed else None),
            "command": "python benchmarks/orient_cell.py " + " ".join(argv if argv is not None else sys.argv[1:])},
            indent=2))
    return 0


def run_cells(data: Path, labels: pd.DataFrame, held_out, model_args: list, args, env: dict, rng) -> tuple[list, list]:
    """One draw: every cell's crops at angles from ``rng``, four bad files, `chromolib orient` once per
    ``--repeat``; one summary row per cell and one detail row per chromosome."""
    rows, details = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for cell in held_out:
            src = Path(tmp) / cell / "in"
            src.mkdir(parents=True)
            truth, types = {}, {}
            for r in labels[labels.cell == cell].itertuples():
                angle = float(rng.uniform(0, 360))
                img = rotate_to_angle(canonical_gray(read_image(data / r.file)), angle)
                name = f"chr{r.chromosome}_{r.copy}.png"
                cv2.imwrite(str(src / name), img)
                truth[name], types[name] = angle, str(r.chromosome)
            good_png = (src / next(iter(truth))).read_bytes()
            (src / "truncated.png").write_bytes(good_png[: len(good_png) // 2])
            (src / "empty.png").write_bytes(b"")
            (src / "notes.txt").write_text("not an image")
            cv2.imwrite(str(src / "blank.png"), np.full((60, 30), 255, np.uint8))
            walls = []
            for k in range(args.repeat):  # a fresh output folder each time: nothing to skip
                out = Path(tmp) / cell / f"out{k}"
                t0 = time.perf_counter()
                proc = subprocess.run([sys.executable, "-m", "chromolib.cli", "orient", str(src), str(out), *model_args,
                                       "--quiet"], capture_output=True, text=True, env=env,
                                      cwd=tmp if args.chromolib else None)  # `-m` puts the cwd first on sys.path
                walls.append(time.perf_counter() - t0)
            wall = min(walls)
            res = pd.read_csv(out / "results.csv", dtype=str, keep_default_na=False)
            good = res[res.error == ""]
            total = np.array([truth[f] + float(a) for f, a in zip(good.file, good.rotation_angle)])
            p_up = np.cos(np.radians(total)) > 0  # the short arm ends in the upper half
            upright_p_up = np.cos(np.radians(total)) > np.cos(np.radians(20))  # and within 20 deg of vertical
            left = (total + 180) % 360 - 180  # degrees from p-up vertical after orient
            details += [{"cell": cell, "file": f, "type": types[f], "type_given": g.get("chromosome", ""),
                         "short_arm_up": bool(u), "angle_left": round(float(a), 2), "polarity": g["polarity"],
                         "probability": g["probability"], "needs_review": g["needs_review"]}
                        for f, g, u, a in zip(good.file, good.to_dict("records"), p_up, left)]
            rows.append({"cell": cell, "chromosomes": len(truth), "oriented": len(good),
                         "short arm up": int(p_up.sum()), "up and within 20 deg": int(upright_p_up.sum()),
                         "bad files with a reason": int((res.error != "").sum()),
                         "flagged needs_review": int((good.needs_review == "True").sum()),
                         "typed": int((good.get("chromosome", pd.Series(dtype=str)) != "").sum()),
                         "type right": int(sum(types[f] == t for f, t in zip(good.file, good.get("chromosome", [])))),
                         "exit code": proc.returncode, "wall s": round(wall, 2),
                         "ms per chromosome": round(1000 * wall / len(truth), 1)})
    return rows, details


def chromosome_interval(right: pd.Series, chromosome: pd.Series, reps: int = 4000, seed: int = 0) -> tuple:
    """95 % interval of the share ``right`` when each chromosome was seen several times (one row per
    chromosome and draw): percentile bootstrap over chromosomes, each keeping all its rows."""
    per = pd.Series(np.asarray(right, dtype=float)).groupby(np.asarray(chromosome)).agg(["sum", "size"])
    k, m = per["sum"].to_numpy(), per["size"].to_numpy()
    idx = np.random.default_rng(seed).integers(0, len(per), size=(reps, len(per)))
    shares = k[idx].sum(axis=1) / m[idx].sum(axis=1)
    return float(np.quantile(shares, 0.025)), float(np.quantile(shares, 0.975))


def _default_method() -> str:
    from chromolib.rotation import DEFAULT_METHOD

    return DEFAULT_METHOD


if __name__ == "__main__":
    sys.exit(main())
