"""Polarity after each rotation setting: the shipped model on the same chromosomes, paired.

    python benchmarks/rotation_polarity.py --real ../shared/data --out results/rotation

Every chromosome of KaryoNet (another laboratory, 230) and of held-out Pki-3 cells (the same
seeded choice as ``benchmarks/rotation.py --real``) is turned by its seeded angle, then brought
upright by each setting - a rotation method on a mask - the way ``chromolib orient`` does it
(mask, angle, rotation, tight crop), and the shipped polarity model says up or down. Right = the
short arm ends up. The settings: the hull on Otsu's mask (chromolib's default before the outline
mask) and every method on the outline. Each is compared with the first on the same chromosomes
(exact McNemar test). Writes ``polarity.txt`` and ``polarity.csv`` to ``--out``.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rotation import real_sets  # noqa: E402  (benchmarks/rotation.py: the same chromosomes)

from chromolib.evaluation import mcnemar, wilson_interval  # noqa: E402
from chromolib.orient import load_orient_model  # noqa: E402
from chromolib.polarity_set import UP, polarity_label  # noqa: E402
from chromolib.rotation import DEFAULT_METHOD, METHODS, upright  # noqa: E402

#: (method, mask); the first is the reference every other is compared with
SETTINGS = [("hull", "otsu")] + [(m, "outline") for m in METHODS]


def polarity_rows(specimens, model, settings=SETTINGS) -> pd.DataFrame:
    """One row per chromosome and setting: source, method, mask, applied angle, prob_up, right."""
    rows = []
    for method, mask in settings:
        crops, applied = [], []
        for sp in specimens:
            crop, angle = upright(sp.image, method=method, threshold=mask)
            crops.append(crop)
            applied.append(angle)
        probs = model.prob_up(crops)
        for sp, angle, p in zip(specimens, applied, probs):
            truth = polarity_label(sp.angle, angle) == UP
            rows.append({"source": sp.source, "method": method, "mask": mask, "angle": angle,
                         "prob_up": float(p), "right": bool((p >= 0.5) == truth)})
    return pd.DataFrame(rows)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    ref = rows[(rows.method == SETTINGS[0][0]) & (rows["mask"] == SETTINGS[0][1])].set_index("source").right
    out = []
    for (method, mask), g in rows.groupby(["method", "mask"], sort=False):
        right = g.set_index("source").right.loc[ref.index]
        lo, hi = wilson_interval(int(right.sum()), len(right))
        test = mcnemar(right.to_numpy(), ref.to_numpy())
        out.append({"method": method, "mask": mask, "n": len(right), "right": int(right.sum()),
                    "accuracy (%)": round(100 * right.mean(), 2), "95 % interval": f"{100 * lo:.2f}-{100 * hi:.2f}",
                    "right only here": test["only_a_right"], "right only with hull on otsu": test["only_b_right"],
                    "McNemar p": round(test["p_value"], 3)})
    return pd.DataFrame(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real", required=True, help="folder holding pki3-gband and karyonet-gband")
    p.add_argument("--out", default="results/rotation")
    p.add_argument("--test-cells", type=int, default=60, help="held-out Pki-3 cells, a seeded choice (0: all)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    sets = real_sets(args.real, args.seed, args.test_cells, synthetic_cells=0)
    model = load_orient_model(None)
    lines = [f"python benchmarks/rotation_polarity.py {' '.join(argv if argv is not None else sys.argv[1:])}", ""]
    tables = []
    for name in ("KaryoNet", "Pki-3 held out"):
        table = summarise(polarity_rows(sets[name], model)).assign(set=name)
        tables.append(table)
        lines += [f"{name} ({len(sets[name])} chromosomes, {len({s.cell for s in sets[name]})} cells), the shipped "
                  f"polarity model; compared with the hull on Otsu's mask on the same chromosomes:",
                  table.drop(columns="set").to_string(index=False), ""]
    lines.append(f"default now: {DEFAULT_METHOD} on the outline; python {platform.python_version()} on "
                 f"{platform.machine()}, {time.perf_counter() - t0:.0f} s, seed {args.seed}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pd.concat(tables, ignore_index=True).to_csv(out / "polarity.csv", index=False)
    (out / "polarity.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
