"""Other laboratories: does the robust augmentation keep polarity accuracy when the test
images change resolution, blur, contrast or gamma? Trains the quick profile twice on the same
real split (held-out cases), with the method's flip only and with the robust augmentation, and
evaluates both on the held-out cells as recorded and under each simulated shift.

    python benchmarks/robustness.py --data ../shared/data/pki3-gband --max-cells 200
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

from chromolib.polarity_set import prepare_dataset
from chromolib.runs import evaluate_shifts, train_run
from chromolib.training import PROFILES


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="folder with labels.csv of p-up crops (e.g. Pki-3)")
    p.add_argument("--max-cells", type=int, default=200)
    p.add_argument("--epochs", type=int, default=None, help="override the quick profile's epochs")
    p.add_argument("--work", default="runs/robustness", help="data set and runs (weights: not for committing)")
    p.add_argument("--out", default="results", help="where the tables and each run's outputs (no weights) go")
    p.add_argument("--name", default="pki3", help="prefix of the run folders under --out")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    work, out = Path(args.work), Path(args.out)
    (out / "robustness").mkdir(parents=True, exist_ok=True)
    prepare_dataset(args.data, work / "dataset", seed=args.seed, max_cells=args.max_cells, progress=False)
    tables, meta = {}, {}
    for profile in ("quick", "robust"):
        cfg = PROFILES[profile].with_(epochs=args.epochs, seed=args.seed)
        t0 = time.perf_counter()
        run = train_run(work / "dataset", cfg, work / profile, progress=False)
        meta[profile] = {"train_seconds": round(time.perf_counter() - t0, 1), "accuracy": run.metrics["accuracy"],
                         "augment": cfg.augment, "arch": cfg.arch, "image_size": cfg.image_size, "epochs": cfg.epochs}
        tables[profile] = evaluate_shifts(work / profile)
        keep = out / f"{args.name}-{profile}"
        keep.mkdir(parents=True, exist_ok=True)
        for f in ("metrics.json", "history.csv", "predictions.csv", "config.json", "review.json"):
            shutil.copy(work / profile / f, keep / f)
    table = pd.concat({f"{k} ({meta[k]['augment']})": v["accuracy %"] for k, v in tables.items()}, axis=1)
    print(table.to_string())
    table.to_csv(out / "robustness" / "accuracy_by_shift.csv")
    (out / "robustness" / "runs.json").write_text(json.dumps({"data": args.data, "max_cells": args.max_cells, **meta}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
