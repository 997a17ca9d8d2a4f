"""Train the U-Net segmenter, then compare it with the classical one on the held-out spreads.

    python benchmarks/train_unet.py --data ../shared/data/bioimlab-spreads --minutes 35 --threads 2 \\
        --out runs/unet --results results/segmentation-unet --ship

Split: the BioImLab spreads 70/30 by case (seed 0, the split of benchmarks/segmentation.py);
of the TRAINING cases, 10 % (by case, seed 1) are kept aside as validation spreads, used only to
choose the instance thresholds (``chromolib.unet.tune_params``) and to follow the training; the
network trains on the other training spreads (random 256 px crops, flips, quarter turns, mild
intensity changes) for ``--minutes`` of wall-clock time, checkpointing every epoch into
``--out`` (rerun the same command to resume after a kill; a finished run is only evaluated).
Then both segmenters segment every held-out spread and are scored at IoU 0.5 against the
labelme outlines (each true polygon its own mask), in one table.

Speed: ``ms/spread`` is wall-clock per held-out spread (network and instances for the U-Net),
``CPU ms/spread`` the process's CPU time for it (all threads; the honest number on a shared
machine). ``--threads`` sets torch's threads for training and evaluation.

Writes into ``--results``: ``metrics.json`` (both segmenters' pooled metrics, command, split,
training configuration and time, chosen thresholds, environment), ``table.csv`` and
``table.txt`` (the printed table), ``per_image.csv`` (both, column ``segmenter``),
``history.csv`` (per epoch: loss, validation F1/AP50), ``tuning.csv`` (the threshold grid on the
validation spreads) and ``overlay_classical_<name>.png`` / ``overlay_unet_<name>.png`` (one
held-out spread: true outlines red, predictions green, clusters orange). With ``--ship`` the
network goes into the package as ``chromolib/models/segmenter-qband.pt`` (float16 weights)
with its model card ``SEGMENTER-QBAND.md``; ``chromolib karyotype`` then uses it by default.
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import segmentation as bench  # noqa: E402  benchmarks/segmentation.py: data loading, scoring, overlay

from chromolib.compose import read_spread, spread_names  # noqa: E402
from chromolib.repro import environment  # noqa: E402
from chromolib.segmentation import segment_classical, spread_case, split_by_case  # noqa: E402
from chromolib.unet import (SEGMENTER, UNetConfig, bright_gray, load_segmenter, model_card,  # noqa: E402
                            predict_probs, save_segmenter, train_unet, tune_params)

TABLE_KEYS = [("images", "n_images"), ("true chr", "n_true"), ("predicted", "n_pred"), ("precision", "precision"),
              ("recall", "recall"), ("F1@0.5", "f1"), ("AP50", "ap50"), ("mean IoU", "mean_iou"),
              ("merged", "merged"), ("split", "split"), ("clusters", "clusters"), ("ms/spread", "ms_per_image"),
              ("CPU ms/spread", "cpu_ms_per_image")]


def table_of(results: dict) -> pd.DataFrame:
    return pd.DataFrame([{"segmenter": name, **{col: m[key] for col, key in TABLE_KEYS}} for name, m in results.items()])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data/bioimlab-spreads", help="bioimlab-spreads folder")
    p.add_argument("--minutes", type=float, default=30.0, help="training budget, wall-clock minutes (default 30)")
    p.add_argument("--max-steps", type=int, default=None, help="stop the training after this many steps")
    p.add_argument("--out", default="runs/unet", help="run folder (checkpoints; resumed when it holds one)")
    p.add_argument("--results", default="results/segmentation-unet", help="folder for the comparison")
    p.add_argument("--seed", type=int, default=0, help="split and training seed")
    p.add_argument("--train-fraction", type=float, default=0.7)
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of the training cases for validation")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--base", type=int, help="U-Net channels at full resolution (default 16)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--crop", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--steps-per-epoch", type=int)
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), help="auto (default): bf16 where the CPU has it")
    p.add_argument("--max-test", type=int, default=None, help="only the first N held-out spreads (a quick check)")
    p.add_argument("--overlay", default=None, help="held-out spread to draw (default: the first)")
    p.add_argument("--ship", action="store_true", help=f"write the network into the package ({SEGMENTER})")
    p.add_argument("--ship-to", default=None, help="write the shipped file here instead (tests, trials)")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if --out holds a checkpoint")
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    data, out, res = Path(args.data), Path(args.out), Path(args.results)

    names = spread_names(data)
    train, test = split_by_case(names, args.train_fraction, args.seed)
    fit, val = split_by_case(train, 1 - args.val_fraction, args.seed + 1)
    print(f"{len(names)} spreads: {len(fit)} to train on, {len(val)} validation (training cases), "
          f"{len(test)} held out; {torch.get_num_threads()} torch threads")
    spreads = {n: read_spread(data, n) for n in fit + val}
    cfg = UNetConfig().with_(minutes=args.minutes, max_steps=args.max_steps, seed=args.seed, base=args.base,
                             batch_size=args.batch_size, crop=args.crop, lr=args.lr,
                             steps_per_epoch=args.steps_per_epoch, precision=args.precision)
    t0 = time.perf_counter()
    seg = train_unet([spreads[n].image for n in fit], [spreads[n].outlines.polygons for n in fit], out, cfg,
                     [spreads[n].image for n in val], [spreads[n].outlines.polygons for n in val],
                     resume=not args.no_resume)
    print(f"training: {seg.info['steps']} steps, {seg.info['train_seconds'] / 60:.1f} min "
          f"(this call {(time.perf_counter() - t0) / 60:.1f} min)")

    # thresholds on the validation spreads (training cases), never on the held-out ones
    grays = [bright_gray(spreads[n].image) for n in val]
    probs = [predict_probs(seg.model, g, seg.precision) for g in grays]
    truths = [spreads[n].masks for n in val]
    seg.params, tuning = tune_params(probs, grays, truths)
    best = tuning.sort_values(["f1", "ap50"], ascending=False).iloc[0]
    print(f"thresholds on {len(val)} validation spreads: fg {seg.params.fg_threshold}, interior "
          f"{seg.params.interior_threshold}, min seed {seg.params.min_seed_area} px^2 (val F1 {best.f1:.3f})")
    seg.info.update({"val_f1": float(best.f1), "val_ap50": float(best.ap50), "n_val": len(val)})
    save_segmenter(seg, out / "segmenter.pt")

    results, per_image, keep = {}, [], {}
    for name, fn in (("classical", segment_classical), ("unet", seg)):
        m, pi, _, tst, kp = bench.run(data, args.train_fraction, args.seed, args.max_test, segment=fn)
        results[name] = m
        per_image.append(pi.assign(segmenter=name))
        keep[name] = kp
    table = table_of(results)
    header = (f"segmenters on the held-out BioImLab spreads ({data}); split {args.train_fraction:.0%}/"
              f"{1 - args.train_fraction:.0%} by case, seed {args.seed}; IoU 0.5; U-Net trained "
              f"{seg.info['train_seconds'] / 60:.1f} min on {len(fit)} spreads ({torch.get_num_threads()} threads)")
    text = table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
    print(header)
    print(text)

    res.mkdir(parents=True, exist_ok=True)
    table.to_csv(res / "table.csv", index=False, float_format="%.4f")
    (res / "table.txt").write_text(header + "\n" + text + "\n")
    pd.concat(per_image).to_csv(res / "per_image.csv", index=False, float_format="%.4f")
    tuning.to_csv(res / "tuning.csv", index=False, float_format="%.4f")
    shutil.copyfile(out / "history.csv", res / "history.csv")
    overlay_name = args.overlay or tst[0]
    for name in results:
        if overlay_name not in keep[name]:
            raise SystemExit(f"--overlay {overlay_name} is not a held-out spread")
        image, s, polys = keep[name][overlay_name]
        cv2.imwrite(str(res / f"overlay_{name}_{overlay_name}.png"), bench.overlay(image, s, polys),
                    [cv2.IMWRITE_PNG_COMPRESSION, 9])
    record = {"metrics": results, "command": command, "data": str(data), "iou": 0.5,
              "ap": "COCO 101-point; classical ranked by solidity, U-Net by mean foreground probability x "
                    "solidity (both halved for clusters)",
              "train_cases": sorted({spread_case(n) for n in fit}, key=int),
              "val_cases": sorted({spread_case(n) for n in val}, key=int),
              "test_cases": sorted({spread_case(n) for n in tst}, key=int), "test_images": tst,
              "unet": {"config": seg.config, "params": asdict(seg.params), "training": seg.info,
                       "run": str(out)},
              "environment": environment(torch.device("cpu"))}
    (res / "metrics.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(f"wrote {res}/: metrics.json, table.csv, table.txt, per_image.csv, history.csv, tuning.csv, overlays")

    if args.ship or args.ship_to:
        target = Path(args.ship_to) if args.ship_to else SEGMENTER
        seg.config["threads"] = torch.get_num_threads()
        seg.info.update({"test": {k: results["unet"][k] for k in ("n_images", "n_true", "precision", "recall", "f1",
                                                                  "ap50", "mean_iou", "merged", "split",
                                                                  "ms_per_image", "cpu_ms_per_image")},
                         "classical_test": {k: results["classical"][k] for k in ("f1", "ap50")}})
        save_segmenter(seg, target, half=True)
        shipped = load_segmenter(target, precision=seg.precision)
        m16, *_ = bench.run(data, args.train_fraction, args.seed, args.max_test, segment=shipped)
        card = target.with_name(target.stem.upper() + ".md")
        card.write_text(model_card(shipped, seg.info, m16, command, target))
        print(f"shipped {target} ({target.stat().st_size / 1e6:.2f} MB; float16 weights: held-out F1 "
              f"{m16['f1']:.3f}, float32 {results['unet']['f1']:.3f}) and its card {card}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
