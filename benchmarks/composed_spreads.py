"""Both segmenters on G-band spreads composed from Pki-3 crops (no annotated G-band spreads are public).

Each spread holds the crops of one Pki-3 cell, turned at random angles and placed at random,
with a few pairs touching or crossing, a nucleus and debris (``chromolib.compose``); its truth
is exact. These are NOT real spreads (no uneven background, no blur at the edges, crops cut
tight by a person, crossings pasted rather than photographed): their scores are kept apart from
the BioImLab ones in ``results/segmentation-unet``.

    python benchmarks/composed_spreads.py --data ../shared/data/pki3-gband --cells 10 --out results/segmentation-composed
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import pandas as pd

from chromolib.compose import compose_spread
from chromolib.images import read_image, to_gray
from chromolib.repro import environment
from chromolib.segmentation import instance_metrics, segment_classical
from chromolib.specimens import read_labels
from chromolib.unet import SEGMENTER, load_segmenter

COLUMNS = ["n_true", "n_pred", "precision", "recall", "f1", "ap50", "mean_iou", "merged", "split"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data/pki3-gband")
    p.add_argument("--cells", type=int, default=10, help="spreads to compose, one cell each (seeded choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/segmentation-composed")
    args = p.parse_args(argv)
    labels = read_labels(args.data, max_cells=args.cells, seed=args.seed)
    spreads = []
    for k, (cell, rows) in enumerate(labels.groupby("cell", sort=True)):
        crops = [to_gray(read_image(Path(args.data) / f)) for f in rows.file]
        spreads.append(compose_spread(crops, stain="gband", labels=rows.chromosome, seed=args.seed + k, name=str(cell)))
    table, per_image = {}, []
    for name, segment in (("classical", segment_classical), ("unet", load_segmenter(SEGMENTER))):
        t0 = time.perf_counter()
        segs = [segment(s.image) for s in spreads]
        ms = 1000 * (time.perf_counter() - t0) / len(spreads)
        m = instance_metrics([g.labels for g in segs], [s.masks for s in spreads],
                             [g.objects.score.to_numpy() for g in segs])
        table[name] = {**{c: m[c] for c in COLUMNS}, "clusters": sum(int(g.objects.cluster.sum()) for g in segs),
                       "ms_per_spread": ms}
        for s, g in zip(spreads, segs):
            one = instance_metrics(g.labels, s.masks)
            per_image.append({"segmenter": name, "cell": s.name, **{c: one[c] for c in ("n_true", "n_pred", "f1", "merged", "split")}})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(table).T
    df.to_csv(out / "table.csv")
    pd.DataFrame(per_image).to_csv(out / "per_image.csv", index=False)
    command = "python " + shlex.join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    text = (f"# both segmenters on {len(spreads)} G-band spreads composed from Pki-3 cells ({args.data}), IoU 0.5; "
            f"composed, not real: keep apart from the BioImLab results\n# command: {command}\n"
            f"# {', '.join(f'{k} {v}' for k, v in environment().items())}\n" + df.to_string(float_format=lambda v: f"{v:.3f}") + "\n")
    (out / "table.txt").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
