"""Rotation benchmark: the faithful sweep against the convex hull (and the moments baseline),
accuracy and speed measured side by side in one run.

    python benchmarks/rotation.py                 # synthetic chromosomes (default 20 cells)
    python benchmarks/rotation.py --data ../shared/data/pki3-gband --max-cells 20

Prints per-method error statistics on straight chromosomes, the sweep/hull agreement, both
timings and their ratio. Times are for finding the angle from the mask (same input for all).
"""
from __future__ import annotations

import argparse
import platform
import sys

from chromolib.evaluation import method_agreement, rotation_consistency, rotation_errors, summarise_rotation
from chromolib.karyotype import LONG_TYPES
from chromolib.specimens import specimens_from


def run(data: str = "", cells: int = 20, max_cells: int | None = None, seed: int = 0,
        consistency: bool = False) -> dict:
    if consistency:
        errors = rotation_consistency(data, seed=seed, max_cells=max_cells)
        return _summarise(errors, len(errors) // 3)
    specimens = list(specimens_from(data, cells, seed, max_cells))
    errors = rotation_errors(specimens, progress=sys.stderr.isatty())
    return _summarise(errors, len(specimens))


def _summarise(errors, n: int) -> dict:
    straight = errors[errors.bent != True]  # noqa: E712  (real data: bent unknown, all count)
    ms = errors.groupby("method").ms.mean()
    return {"n": n, "n_straight": len(straight) // 3, "summary": summarise_rotation(straight),
            "summary_long": summarise_rotation(straight[straight.chromosome.isin(LONG_TYPES)]),
            "agree_1deg": method_agreement(errors),
            "agree_1deg_long": method_agreement(errors[errors.chromosome.isin(LONG_TYPES)]),
            "sweep_ms": float(ms["sweep"]),
            "hull_ms": float(ms["hull"]), "ratio": float(ms["sweep"] / ms["hull"]), "errors": errors}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="", help="folder with labels.csv of p-up crops (default: synthetic)")
    p.add_argument("--cells", type=int, default=20, help="synthetic metaphases (46 chromosomes each)")
    p.add_argument("--max-cells", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", help="write the error distribution (PNG) here")
    p.add_argument("--consistency", action="store_true",
                   help="for crops at unknown angles (Q-band): error = departure from theta2 = theta1 - alpha "
                        "after a known extra rotation alpha")
    args = p.parse_args(argv)
    if args.consistency and not args.data:
        p.error("--consistency needs --data")
    r = run(args.data, args.cells, args.max_cells, args.seed, args.consistency)
    if args.plot:
        import matplotlib

        matplotlib.use("agg")
        from chromolib.plots import error_distribution

        ax = error_distribution(r["errors"].pivot_table(index="source", columns="method", values="error"))
        ax.set_title(f"rotation error, {args.data or 'synthetic'} ({r['n']} chromosomes)", fontsize=9)
        ax.figure.tight_layout()
        ax.figure.savefig(args.plot, dpi=120)
    straight = f"{r['n_straight']} straight" if not args.data else "bent or not unknown: all counted"
    if args.consistency:
        straight += "; consistency under a known extra rotation (true angles unknown)"
    print(f"data: {args.data or 'synthetic'}; {r['n']} chromosomes, {straight}; "
          f"python {platform.python_version()} on {platform.machine()}")
    print(r["summary"].to_string())
    print("long chromosomes only (1-12, X):")
    print(r["summary_long"].to_string())
    print(f"sweep and hull agree within 1 degree: {100 * r['agree_1deg']:.1f} % of all chromosomes, "
          f"{100 * r['agree_1deg_long']:.1f} % of the long ones")
    print(f"time per chromosome: sweep {r['sweep_ms']:.3f} ms, hull {r['hull_ms']:.3f} ms, "
          f"hull is {r['ratio']:.0f} x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
