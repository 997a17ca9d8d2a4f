"""Polarity levers, each measured on its own against the quick profile on the same split.

Builds one karyogram polarity data set (real p-up crops at seeded random angles, split 7:3 by
case), trains the quick profile and one variant per lever on it, one after the other, and
prints a table: accuracy with its 95 % interval, errors, exact McNemar test against the quick
profile on the same held-out chromosomes, the share flagged for review at <= 0.5 % error among
the kept ones, and the training time. A run already finished (its ``metrics.json``) is reused.

    python benchmarks/polarity_levers.py --data ../shared/data/pki3-gband --max-cells 120 \\
        --out results/polarity-levers
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

import pandas as pd

from chromolib.evaluation import mcnemar, wilson_interval
from chromolib.polarity_set import prepare_dataset
from chromolib.repro import environment
from chromolib.runs import evaluate_run, load_run, load_trained, train_run
from chromolib.training import PROFILES

#: lever name -> changes to the quick profile ("tta" re-evaluates the quick run, no training)
LEVERS = {
    "quick": {},
    "tta": {"tta": True},
    "tall-96x32": {"image_size": 96, "width": 32},
    "tall-128x48": {"image_size": 128, "width": 48},
    "tilt-12": {"tilt": 12.0},
    "epochs-16": {"epochs": 16},
    "robust": {"augment": "robust"},
}
KEEP = ("config.json", "history.csv", "metrics.json", "predictions.csv", "review.json")


def run_lever(name: str, changes: dict, dataset: Path, work: Path, seed: int):
    """Train (or reuse, or resume) one lever's run; 'tta' alone re-evaluates the quick run with test-time flips."""
    run_dir = work / name
    if (run_dir / "metrics.json").exists():
        return load_run(run_dir)
    if set(changes) == {"tta"}:
        shutil.copytree(work / "quick", run_dir)
        trained = load_trained(run_dir)
        trained.config = {**trained.config, **changes}
        (run_dir / "config.json").write_text(json.dumps(trained.config, indent=2))
        return evaluate_run(run_dir, trained=trained)
    cfg = PROFILES["quick"].with_(seed=seed, device="cpu", **changes)
    # a run killed part way continues from its last epoch (same result as uninterrupted)
    return train_run(dataset, cfg, run_dir, resume=(run_dir / "checkpoint.pt").exists(), progress=sys.stderr.isatty())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="folder with labels.csv of p-up crops (e.g. Pki-3)")
    p.add_argument("--max-cells", type=int, default=120)
    p.add_argument("--levers", nargs="+", default=list(LEVERS), choices=list(LEVERS))
    p.add_argument("--work", default="runs/levers", help="data set and runs (weights: not for committing)")
    p.add_argument("--out", default="results/polarity-levers", help="the table and each run's outputs (no weights)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    work, out = Path(args.work), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = work / "dataset"
    prepare_dataset(args.data, dataset, seed=args.seed, max_cells=args.max_cells, progress=sys.stderr.isatty())
    runs = {}
    for name in ["quick", *[n for n in args.levers if n != "quick"]]:
        runs[name] = run_lever(name, LEVERS[name], dataset, work, args.seed)
        (out / name).mkdir(exist_ok=True)
        for f in KEEP:
            shutil.copy(work / name / f, out / name / f)
        print(f"{name}: {100 * runs[name].metrics['accuracy']:.2f} %", file=sys.stderr, flush=True)
    base = runs["quick"].predictions
    rows = []
    for name, run in runs.items():
        m, pr = run.metrics, run.predictions
        assert (pr.file == base.file).all(), "levers must be scored on the same held-out chromosomes"
        right = pr.label == pr.pred
        lo, hi = wilson_interval(int(right.sum()), len(pr))
        test = mcnemar(base.label == base.pred, right)
        rows.append({"lever": name, "changes": ", ".join(f"{k}={v}" for k, v in LEVERS[name].items()) or "-",
                     "n": len(pr), "accuracy %": round(100 * m["accuracy"], 2), "95% CI": f"{100 * lo:.2f}-{100 * hi:.2f}",
                     "errors": int((~right).sum()), "quick only right": test["only_a_right"],
                     "lever only right": test["only_b_right"], "McNemar p": round(test["p_value"], 4),
                     "flagged % at 0.5 % error": round(100 * run.review["report_flagged_fraction"], 1),
                     "train s": round(m.get("train_seconds_total", 0.0))})
    table = pd.DataFrame(rows).set_index("lever")
    n = len(base)
    header = (f"data: {args.data}, {args.max_cells} cells, {n} held-out chromosomes "
              f"(split 7:3 by case, seed {args.seed}); command: python benchmarks/polarity_levers.py "
              f"{' '.join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))}")
    print(header)
    print(table.to_string())
    (out / "levers.txt").write_text(header + "\n" + table.to_string() + "\n")
    table.to_csv(out / "levers.csv")
    (out / "setup.json").write_text(json.dumps({"data": Path(args.data).name, "max_cells": args.max_cells,
                                                "test_cells": int(base.cell.nunique()), "n_test": n, "seed": args.seed,
                                                "command": header.split("command: ")[1],
                                                "environment": environment("cpu")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
