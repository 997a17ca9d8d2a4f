"""Segmentation benchmark: the classical segmenter on the held-out BioImLab spreads.

    python benchmarks/segmentation.py --data ../shared/data/bioimlab-spreads --out results/segmentation

Splits the spreads 70/30 by case (seed 0; the classical parameters were tuned on the training
cases only), segments every held-out spread, and scores the instances against the labelme
outlines at IoU 0.5 (each true polygon its own mask, so overlapping chromosomes count in full).
Prints one table; writes ``classical.json`` (metrics, command, split, parameters, environment),
``per_image.csv`` and ``overlay_<name>.png`` (predicted outlines numbered; clusters in orange).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from chromolib.compose import read_spread, spread_names
from chromolib.segmentation import spread_case, instance_metrics, segment_classical, split_by_case

GREEN, ORANGE, RED = (80, 220, 80), (0, 150, 255), (60, 60, 255)


def environment() -> dict:
    return {"python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__,
            "pandas": pd.__version__, "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def overlay(image: np.ndarray, seg, truths: list[np.ndarray] | None = None) -> np.ndarray:
    """Colour overlay: true outlines thin red (if given), predictions green (clusters orange),
    each prediction numbered at its bounding box's top-left corner."""
    vis = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    for poly in truths or []:
        cv2.polylines(vis, [np.round(poly).astype(np.int32)], True, RED, 1)
    for r in seg.objects.itertuples():
        m = (seg.labels == r.object).astype(np.uint8)
        cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        colour = ORANGE if r.cluster else GREEN
        cv2.drawContours(vis, cs, -1, colour, 1)
        cv2.putText(vis, str(r.object), (int(r.x), max(int(r.y) - 1, 8)), cv2.FONT_HERSHEY_PLAIN, 0.7,
                    colour, 1, cv2.LINE_AA)
    return vis


def run(data: Path, train_fraction: float = 0.7, seed: int = 0, max_images: int | None = None,
        segment=segment_classical):
    """Segment every held-out spread with ``segment`` (image -> Segmentation) and score it.
    Returns (pooled metrics, per-image table, train names, test names, {name: (image, seg, polygons)})."""
    names = spread_names(data)
    train, test = split_by_case(names, train_fraction, seed)
    test = test[:max_images] if max_images else test
    rows, preds, truths, scores, keep = [], [], [], [], {}
    for name in test:
        spread = read_spread(data, name)
        image = spread.image
        t0, c0 = time.perf_counter(), time.process_time()
        seg = segment(image)
        ms, cpu_ms = 1000 * (time.perf_counter() - t0), 1000 * (time.process_time() - c0)
        masks = spread.masks
        m = instance_metrics(seg.labels, masks, seg.objects.score.to_numpy())
        rej = seg.rejected_counts
        rows.append({"image": name, "case": spread_case(name), **{k: m[k] for k in (
            "n_true", "n_pred", "tp", "fp", "fn", "precision", "recall", "f1", "ap50", "mean_iou",
            "merged", "split")}, "clusters": int(seg.objects.cluster.sum()),
            "rejected_nucleus": rej.get("nucleus", 0), "rejected_debris": rej.get("debris", 0), "ms": ms,
            "cpu_ms": cpu_ms})
        preds.append(seg.labels)
        truths.append(masks)
        scores.append(seg.objects.score.to_numpy())
        keep[name] = (image, seg, spread.outlines.polygons)
    pooled = instance_metrics(preds, truths, scores)
    per_image = pd.DataFrame(rows)
    pooled.update({"n_images": len(test), "clusters": int(per_image.clusters.sum()),
                   "ms_per_image": float(per_image.ms.mean()), "cpu_ms_per_image": float(per_image.cpu_ms.mean())})
    return pooled, per_image, train, test, keep


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data/bioimlab-spreads", help="bioimlab-spreads folder")
    p.add_argument("--out", default="results/segmentation", help="output folder")
    p.add_argument("--train-fraction", type=float, default=0.7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-images", type=int, default=None, help="only the first N held-out images")
    p.add_argument("--overlay", default=None, help="held-out image to draw (default: the first)")
    args = p.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    m, per_image, train, test, keep = run(data, args.train_fraction, args.seed, args.max_images)
    print(f"classical segmenter, held-out BioImLab spreads ({data}); split {args.train_fraction:.0%}/"
          f"{1 - args.train_fraction:.0%} by case, seed {args.seed}; IoU 0.5")
    table = pd.DataFrame([{"images": m["n_images"], "true chr": m["n_true"], "predicted": m["n_pred"],
                           "precision": m["precision"], "recall": m["recall"], "F1@0.5": m["f1"],
                           "AP50": m["ap50"], "mean IoU": m["mean_iou"], "merged": m["merged"],
                           "split": m["split"], "clusters": m["clusters"], "ms/image": m["ms_per_image"]}])
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    out.mkdir(parents=True, exist_ok=True)
    seg0 = next(iter(keep.values()))[1]
    record = {"method": "segment_classical", "metrics": m, "params": asdict(seg0.params),
              "command": "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]),
              "data": str(data), "iou": 0.5, "ap": "COCO 101-point, predictions ranked by score "
              "(solidity, halved for clusters)", "train_cases": sorted({spread_case(n) for n in train}, key=int),
              "test_cases": sorted({spread_case(n) for n in test}, key=int), "test_images": test,
              "environment": environment()}
    (out / "classical.json").write_text(json.dumps(record, indent=2) + "\n")
    per_image.to_csv(out / "per_image.csv", index=False, float_format="%.4f")
    name = args.overlay or test[0]
    if name not in keep:
        raise SystemExit(f"--overlay {name} is not a held-out image")
    image, seg, polys = keep[name]
    cv2.imwrite(str(out / f"overlay_{name}.png"), overlay(image, seg, polys), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {out}/classical.json, per_image.csv, overlay_{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
