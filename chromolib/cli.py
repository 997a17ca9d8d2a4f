"""Command line: ``chromolib --help``."""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

__all__ = ["main"]


def _rotate(args) -> int:
    import cv2
    from tqdm.auto import tqdm

    from .data import list_images
    from .rotation import upright

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = list_images(args.in_dir)
    if not files:
        print(f"error: no images ({', '.join(('png', 'jpg', 'tif', 'bmp'))}) in {args.in_dir}", file=sys.stderr)
        return 2
    failed = 0
    rows = []
    for f in tqdm(files, desc="rotate", disable=args.quiet or len(files) < 20):
        row = {"file": f.name, "angle": "", "error": ""}
        try:
            img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
            if img is None:
                raise ValueError("not a readable image")
            rotated, angle = upright(img, method=args.method, step=args.step)
            tmp = out / f".{f.stem}.tmp{f.suffix}"
            if not cv2.imwrite(str(tmp), rotated):
                raise OSError(f"cannot write {out / f.name}")
            tmp.replace(out / f.name)
            row["angle"] = f"{angle:.3f}"
        except Exception as exc:  # one bad file must not stop the batch
            failed += 1
            row["error"] = str(exc)
            print(f"{f}: {exc}", file=sys.stderr)
        rows.append(row)
    with open(out / "rotation.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "angle", "error"])
        w.writeheader()
        w.writerows(rows)
    if not args.quiet:
        print(f"{len(files) - failed} of {len(files)} images rotated to vertical ({args.method}); "
              f"angles in {out / 'rotation.csv'} (degrees, counter-clockwise)")
    return 1 if failed else 0


def _dataset(args) -> int:
    from .pipeline import prepare_dataset

    df = prepare_dataset(args.data, args.out_dir, n_cells=args.cells, seed=args.seed, method=args.method,
                         max_cells=args.max_cells, progress=not args.quiet)
    counts = df.groupby(["split", "label"]).size().unstack(fill_value=0).rename(columns={0: "down", 1: "up"})
    print(counts.to_string())
    print(f"manifest: {Path(args.out_dir) / 'manifest.csv'}")
    return 0


def _train(args) -> int:
    from .pipeline import train_run
    from .training import PROFILES

    cfg = PROFILES[args.profile].with_(arch=args.arch, weights=args.weights, image_size=args.size,
                                       epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, augment=args.augment,
                                       seed=args.seed, device=args.device)
    run = train_run(args.dataset_dir, cfg, args.run_dir, resume=args.resume, progress=not args.quiet)
    _print_metrics(run.metrics)
    return 0


def _evaluate(args) -> int:
    from .pipeline import evaluate_run

    run = evaluate_run(args.run_dir, args.dataset)
    _print_metrics(run.metrics)
    return 0


def _print_metrics(m: dict) -> None:
    from .evaluation import comparison_table

    lo, hi = m["accuracy_ci95"]
    print(f"TP {m['TP']}  FP {m['FP']}  TN {m['TN']}  FN {m['FN']}  accuracy {100 * m['accuracy']:.2f} % "
          f"(95 % CI {100 * lo:.2f}-{100 * hi:.2f})")
    print(comparison_table({"this run": m}).to_string())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chromolib", description=(
        "Automatic chromosome polarity: rotate segmented chromosomes to vertical (minimum "
        "projection distance) and train/evaluate a CNN that tells short arm up from down."))
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("rotate", help="rotate every chromosome image in a folder to vertical",
                       description="Rotate each single-chromosome image in IN_DIR to vertical and write it "
                                   "under its own name in OUT_DIR, with rotation.csv (file, angle in degrees "
                                   "counter-clockwise, error). Exit code 1 if any file failed.")
    r.add_argument("in_dir")
    r.add_argument("out_dir")
    r.add_argument("--method", choices=("sweep", "hull", "moments"), default="hull",
                   help="sweep: the faithful 0..179 degree search; hull: exact convex-hull minimum width "
                        "(fast); moments: principal-axis baseline (default: hull)")
    r.add_argument("--step", type=float, default=1.0, help="sweep step in degrees (default 1)")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=_rotate)

    d = sub.add_parser("dataset", help="build the polarity data set (rotate, label, split 7:3 by cell)")
    d.add_argument("out_dir")
    d.add_argument("--data", default="", help="folder with labels.csv of p-up crops (default: synthetic)")
    d.add_argument("--cells", type=int, default=30, help="synthetic metaphases (default 30)")
    d.add_argument("--max-cells", type=int, default=None, help="use at most this many real cells")
    d.add_argument("--method", choices=("sweep", "hull", "moments"), default="hull")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_dataset)

    t = sub.add_parser("train", help="train the polarity CNN on a data set folder")
    t.add_argument("dataset_dir")
    t.add_argument("run_dir")
    t.add_argument("--profile", choices=("quick", "robust", "paper", "tiny"), default="quick",
                   help="quick: resnet18, 64 px, 8 epochs (CPU minutes); robust: quick with the "
                        "other-laboratory augmentation; paper: resnet101, 224 px, batch 32, 100 epochs (GPU)")
    t.add_argument("--augment", choices=("flip", "robust", "none"),
                   help="flip: the method's horizontal flip; robust: + scale, tilt, blur, contrast, gamma, noise")
    t.add_argument("--arch", help="any torchvision classifier, e.g. resnet101")
    t.add_argument("--weights", help="torchvision weights name or a local .pth file (default: random init)")
    t.add_argument("--size", type=int, help="input size in pixels")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--device", help="auto (default), cpu or cuda")
    t.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=_train)

    e = sub.add_parser("evaluate", help="confusion matrix and accuracy of a trained run on its test split")
    e.add_argument("run_dir")
    e.add_argument("--dataset", help="data set folder (default: the one the run was trained on)")
    e.set_defaults(func=_evaluate)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
