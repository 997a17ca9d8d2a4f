"""`chromolib karyotype` on one spread, the whole command (Python start, imports, models,
segmentation, rotation, polarity, type, sheet, overlay, outlines), best of N, with
`python -c 'import torch'` timed in the same run for comparison.

    python benchmarks/karyotype_speed.py --spread ../shared/data/bioimlab-spreads/images/original_18.jpg \
        --segmenter unet --repeat 3 --out results/karyotype

Writes ``speed.txt`` and the last run's outputs (overlay.png, karyogram.png, results.csv) to --out.
Run it on an otherwise idle machine: a training beside it slows every figure.
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def best_of(cmd: list[str], repeat: int, fresh: Path | None = None) -> list[float]:
    walls = []
    for _ in range(repeat):
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        if proc.returncode:
            raise SystemExit(f"{shlex.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return walls


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spread", default="../shared/data/bioimlab-spreads/images/original_18.jpg")
    p.add_argument("--segmenter", default="auto", choices=("auto", "classical", "unet"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default="results/karyotype")
    args = p.parse_args(argv)
    spread, out = Path(args.spread), Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "chromolib.cli", "karyotype", str(spread), str(work), "--segmenter",
               args.segmenter, "--quiet"]
        walls = best_of(cmd, args.repeat, fresh=work)
        torch_walls = best_of([sys.executable, "-c", "import torch"], args.repeat)
        res = pd.read_csv(work / spread.stem / "results.csv", dtype=str, keep_default_na=False)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("overlay.png", "karyogram.png", "results.csv"):
            shutil.copy2(work / spread.stem / name, out / name)
    flags = {"cluster": int((res.cluster == "True").sum()), "touches_border": int((res.touches_border == "True").sum()),
             "typed": int((res.chromosome != "").sum()), "needs_review": int((res.needs_review == "True").sum())}
    lines = [
        f"# chromolib karyotype on one spread ({spread.name}), whole command: Python start, imports, models, "
        f"segmentation ({args.segmenter}), cutting, rotation, polarity, type, sheet, overlay, outlines",
        f"# command: python benchmarks/karyotype_speed.py --spread {shlex.quote(str(args.spread))} "
        f"--segmenter {args.segmenter} --repeat {args.repeat} --out {shlex.quote(str(args.out))}",
        f"# machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), Python "
        f"{platform.python_version()}, load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}",
        f"wall seconds: {' '.join(f'{w:.2f}' for w in walls)}   best {min(walls):.2f} s",
        f"python -c 'import torch' alone, same run: {' '.join(f'{w:.2f}' for w in torch_walls)}   best "
        f"{min(torch_walls):.2f} s",
        f"outputs: {len(res)} objects, " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in flags.items()),
    ]
    (out / "speed.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
