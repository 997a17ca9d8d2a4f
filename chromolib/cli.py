"""Command line: ``chromolib --help``."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["main", "run"]


def _rotate(args) -> int:
    from .orient import rotate_folder

    res = rotate_folder(args.in_dir, args.out_dir, method=args.method, step=args.step, progress=not args.quiet)
    failed = int((res.error != "").sum())
    if not args.quiet:
        print(f"{len(res) - failed} of {len(res)} images rotated to vertical ({args.method}); "
              f"angles in {Path(args.out_dir) / 'rotation.csv'} (degrees, counter-clockwise)")
    return 1 if failed else 0


def _dataset(args) -> int:
    from .polarity_set import prepare_dataset

    df = prepare_dataset(args.data, args.out_dir, n_cells=args.cells, seed=args.seed, method=args.method,
                         max_cells=args.max_cells, progress=not args.quiet, as_cut=args.as_cut)
    counts = df.groupby(["split", "label"]).size().unstack(fill_value=0).rename(columns={0: "down", 1: "up"})
    print(counts.to_string())
    print(f"manifest: {Path(args.out_dir) / 'manifest.csv'}")
    return 0


def _train(args) -> int:
    from .runs import train_run
    from .training import PROFILES

    cfg = PROFILES[args.profile].with_(arch=args.arch, weights=args.weights, image_size=args.size,
                                       epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, augment=args.augment,
                                       seed=args.seed, device=args.device, compile=args.compile,
                                       precision=args.precision, layout=args.layout, objective=args.objective,
                                       aux_weight=args.aux_weight)
    run = train_run(args.dataset_dir, cfg, args.run_dir, resume=args.resume, progress=not args.quiet)
    _print_metrics(run.metrics)
    return 0


#: ``evaluate --views``: the test-time views by name (``torchfree.TTA_VIEWS``)
VIEW_CHOICES = {"one": False, "mirror": True, "hv": "hv", "turn": "turn", "v": "v", "vturn": "vturn"}


def _evaluate(args) -> int:
    from .runs import change_views, evaluate_run

    run = (change_views(args.run_dir, VIEW_CHOICES[args.views], args.dataset) if args.views
           else evaluate_run(args.run_dir, args.dataset))
    _print_metrics(run.metrics)
    return 0


def _orient(args) -> int:
    import time

    from .orient import STRAIGHT_SHEET, load_orient_model, load_type_model, orient_rows

    t0 = time.perf_counter()
    model = load_orient_model(args.model, device=args.device)
    if args.labels:
        import pandas as pd

        labels = pd.read_csv(args.labels, dtype=str)
    else:
        labels = None
    types = load_type_model(args.stain, args.type_model, args.device) if args.type_model else args.stain
    res = orient_rows(args.in_dir, args.out_dir, model, method=args.method, labels=labels, progress=not args.quiet,
                      types=types, straighten=args.straighten)
    bad = sum(r["error"] != "" for r in res)
    ok = len(res) - bad
    if not args.quiet:
        flagged = sum(r["needs_review"] == "True" for r in res)
        secs = time.perf_counter() - t0
        typed = any(r["chromosome"] != "" for r in res)
        print(f"{ok} of {len(res)} files oriented{' and typed' if typed else ''} ({flagged} flagged needs_review), "
              f"{bad} failed; {secs:.2f} s, {1000 * secs / max(len(res), 1):.0f} ms per file")
        if not typed and ok:
            print("no chromosome types (no type model for this stain): the sheet is in file order; give --labels")
        print(f"results: {Path(args.out_dir) / 'results.csv'}; sheet: {Path(args.out_dir) / 'karyogram.png'}"
              + (f"; straightened: {Path(args.out_dir) / STRAIGHT_SHEET}" if args.straighten else ""))
    return 1 if bad else 0


def _export(args) -> int:
    from .shipped import default_path, export_run, model_card, type_model_card

    config = json.loads((Path(args.run_dir) / "config.json").read_text()) if (Path(args.run_dir) / "config.json").exists() else {}
    if config.get("target") == "type" and args.stain is None:
        raise ValueError("a type model ships per stain: give --stain gband or qband")
    target = Path(args.to) if args.to else default_path(config, args.stain)
    info = export_run(args.run_dir, target)
    external = json.loads(Path(args.external).read_text()) if args.external else None
    card = target.with_name(target.stem.upper() + ".md")
    command = (f"chromolib export {args.run_dir}" + (f" --stain {args.stain}" if args.stain else "")
               + (f" --external {args.external}" if args.external else ""))
    if info["config"].get("target") == "type":
        card.write_text(type_model_card(info, args.run_dir, args.stain, external, command=command))
    else:
        card.write_text(model_card(info, args.run_dir, external, command=command))
    print(f"{target} ({info['bytes'] / 1e6:.1f} MB) and its model card {card}")
    return 0


def _bench(args) -> int:
    import tempfile

    import pandas as pd

    from .bench import ablation, compare_accuracy, profile_fast, run_bench
    from .polarity_set import load_split, prepare_dataset
    from .repro import device as pick_device
    from .repro import environment
    from .training import PROFILES

    cfg = PROFILES[args.profile].with_(arch=args.arch, image_size=args.size, batch_size=args.batch_size,
                                       device=args.device, compile=args.compile, epochs=args.epochs,
                                       precision=args.precision, layout=args.layout)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.dataset_dir
        if not root:
            root = Path(tmp) / "dataset"
            prepare_dataset("", root, n_cells=args.cells, progress=False)
        if args.accuracy:
            r = compare_accuracy(root, cfg, workers=args.workers, progress=not args.quiet)
        elif args.ablation:
            r = {"ablation": ablation(load_split(root, cfg.image_size)[0], cfg, args.steps, args.warmup),
                 "environment": environment(pick_device(cfg.device))}
        else:
            r = run_bench(root, cfg, steps=args.steps, warmup=args.warmup, workers=args.workers)
        if args.trace:
            table = profile_fast(load_split(root, cfg.image_size)[0], cfg, steps=args.trace_steps)
            Path(args.trace).write_text(table + "\n")
    env = r["environment"]
    print(f"{cfg.arch}, {cfg.image_size} px, batch {cfg.batch_size}, device {env['device']}"
          f"{' (' + env['gpu'] + ')' if 'gpu' in env else ''}")
    fast_name = (f"fast path (tensors on device, precision {cfg.precision}, layout {cfg.layout}"
                 f"{', compile ' + cfg.compile if cfg.compile != 'none' else ''})")
    if args.ablation:
        print(f"fast path, {args.steps} steps after {args.warmup} warm-up for each setting:")
        print(pd.DataFrame(r["ablation"]).to_string(index=False))
    elif args.accuracy:
        print(f"{cfg.epochs} epochs each; held-out images: {r['n_test']}")
        for key, name in (("reference", f"reference loop (files + DataLoader, {args.workers} workers, fp32)"),
                          ("fast", fast_name)):
            a = r[key]
            lo, hi = a["accuracy_ci95"]
            print(f"{name}: accuracy {100 * a['accuracy']:.2f} % (95 % CI {100 * lo:.2f}-{100 * hi:.2f}), "
                  f"training {a['train_seconds']:.0f} s")
        t = r["mcnemar"]
        print(f"right only with the reference loop: {t['only_a_right']}, only with the fast path: "
              f"{t['only_b_right']}; exact McNemar p = {t['p_value']:.3g}")
        print(f"training time ratio reference/fast: {r['train_time_ratio']:.2f}")
    else:
        print(f"{args.steps} steps after {args.warmup} warm-up")
        print(f"reference loop (files + DataLoader, {args.workers} workers, fp32): "
              f"{r['reference_images_per_s']:.1f} images/s")
        print(f"{fast_name}: {r['fast_images_per_s']:.1f} images/s")
        print(f"ratio fast/reference: {r['ratio']:.2f}")
        if r["fast_peak_memory_mb"] is not None:
            print(f"peak GPU memory: reference {r['reference_peak_memory_mb']:.0f} MiB, "
                  f"fast {r['fast_peak_memory_mb']:.0f} MiB")
        print(f"projected training time of the paper schedule (100 epochs x 3,143 images) at the fast "
              f"path's speed with this configuration: {r['paper_schedule_seconds_projected']:.0f} s")
    if args.trace:
        print(f"profile of the fast path: {args.trace}")
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=2, default=str))
    return 0


def _data_get(args) -> int:
    from .download import main_get

    return main_get(args.name, args.to, args.quiet)


def _karyotype(args) -> int:
    import time

    from .spread import karyotype_spreads

    if args.outlines and len(args.spreads) != 1:
        raise ValueError(f"--outlines goes with exactly one SPREAD, not {len(args.spreads)}")
    t0 = time.perf_counter()
    res = karyotype_spreads(args.spreads, args.out_dir, outlines=args.outlines, stain=args.stain,
                            progress=not args.quiet, segmenter=args.segmenter)
    failed = int((res.error != "").sum())
    if not args.quiet:
        ok = res[res.error == ""]
        secs = time.perf_counter() - t0
        print(f"{len(ok)} of {len(res)} spreads karyotyped, {failed} failed; {secs:.2f} s")
        for r in ok.itertuples():
            print(f"{r.folder}: {r.objects} objects ({r.clusters} clusters), {r.typed} typed, "
                  f"{r.needs_review} flagged needs_review")
        for r in res[res.error != ""].itertuples():
            print(f"FAILED {r.spread}: {r.error}")
        if len(ok) and (ok.typed == 0).all():
            print("no chromosome types (no type model for this stain): each karyogram.png is in object order")
        print(f"summary: {Path(args.out_dir) / 'summary.csv'}; per spread: results.csv, karyogram.png, overlay.png, "
              f"outlines.json (correct it in labelme, then rerun with --outlines)")
    return 1 if failed else 0


def _print_metrics(m: dict) -> None:
    from .evaluation import comparison_table

    lo, hi = m["accuracy_ci95"]
    if "per_chromosome" in m:  # a type run
        p = m["per_chromosome"]
        print(f"type accuracy per chromosome {100 * p['accuracy']:.2f} % (95 % CI {100 * p['accuracy_ci95'][0]:.2f}-"
              f"{100 * p['accuracy_ci95'][1]:.2f}); assigned over each cell {100 * m['accuracy']:.2f} % "
              f"(95 % CI {100 * lo:.2f}-{100 * hi:.2f}); {m['n']} held-out chromosomes")
        return
    print(f"TP {m['TP']}  FP {m['FP']}  TN {m['TN']}  FN {m['FN']}  accuracy {100 * m['accuracy']:.2f} % "
          f"(95 % CI {100 * lo:.2f}-{100 * hi:.2f})")
    print(comparison_table({"this run": m}).to_string())


#: choices shared by several commands (kept in step with the library)
METHOD_CHOICES = ("sweep", "hull", "moments", "midline", "core", "skeleton", "blend")  # chromolib.rotation.METHODS
PROFILE_CHOICES = ("quick", "robust", "cpu", "type", "paper", "tiny")  # chromolib.training.PROFILES
OBJECTIVE_CHOICES = ("plain", "gricol", "type-aux")  # chromolib.training.OBJECTIVES
COMPILE_CHOICES = ("none", "default", "reduce-overhead", "max-autotune")  # chromolib.training.COMPILE_MODES
DATA_SETS = ("pki3-gband", "bioimlab-qband", "bioimlab-spreads")       # chromolib.download.SETS


def _model_options(p: argparse.ArgumentParser) -> None:
    """Options that override a profile's network and its speed settings, shared by `train` and `bench`."""
    p.add_argument("--arch", help="any torchvision classifier, e.g. resnet101")
    p.add_argument("--size", type=int, help="input size in pixels")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--device", help="auto (default), cpu or cuda")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), help="auto (default): bf16 autocast on CUDA")
    p.add_argument("--layout", choices=("auto", "channels_last", "contiguous"),
                   help="memory layout; auto (default): channels-last on CUDA")
    p.add_argument("--compile", choices=COMPILE_CHOICES, help="torch.compile mode (GPU; default none; "
                   "reduce-overhead adds CUDA graphs)")


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
    r.add_argument("--method", choices=METHOD_CHOICES, default="hull",
                   help="sweep: the faithful 0..179 degree search; hull: exact convex-hull minimum width "
                        "(fast); moments: principal-axis baseline (default: hull)")
    r.add_argument("--step", type=float, default=1.0, help="sweep step in degrees (default 1)")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=_rotate)

    d = sub.add_parser("dataset", help="build the polarity data set (rotate, label, split 7:3 by cell)",
                       description="Build the polarity data set in OUT_DIR: synthetic chromosomes by default, or "
                                   "with --data the karyogram polarity benchmark: every p-up crop of a karyogram "
                                   "set is rotated by a seeded random angle, brought back to vertical by the "
                                   "rotation step, and labelled up/down from the known angle; split 7:3 by cell "
                                   "(by case where cell names are CASE.N), stratified by label.")
    d.add_argument("out_dir")
    d.add_argument("--data", default="", help="folder with labels.csv of p-up crops (default: synthetic)")
    d.add_argument("--cells", type=int, default=30, help="synthetic metaphases (default 30)")
    d.add_argument("--max-cells", type=int, default=None, help="use at most this many real cells")
    d.add_argument("--method", choices=METHOD_CHOICES, default="hull")
    d.add_argument("--as-cut", action="store_true",
                   help="take the crops at the angles they were cut at (crops from a metaphase, e.g. BioImLab "
                        "Q-band), not turned by a known angle: a data set for `train --profile type` only")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_dataset)

    t = sub.add_parser("train", help="train the polarity (or, --profile type, the chromosome type) CNN on a data set")
    t.add_argument("dataset_dir")
    t.add_argument("run_dir")
    t.add_argument("--profile", choices=PROFILE_CHOICES, default="quick",
                   help="quick: resnet18, 64 px, 8 epochs (CPU minutes); robust: quick with the "
                        "other-laboratory augmentation; cpu: beyond the patent on a CPU (resnet18, 96 x 32 px, "
                        "tilts, upside-down images with the other label, the chromosome type as auxiliary target (crops labelled "
                        "with their type), 20 epochs, test-time flips, calibrated; about 45 minutes on all of Pki-3); "
                        "type: the 24 chromosome types (resnet18, 96 x 40 px, one scale per cell, 12 epochs); "
                        "paper: resnet101, 224 px, batch 32, 100 epochs (GPU)")
    t.add_argument("--augment", choices=("flip", "robust", "none"),
                   help="flip: the method's horizontal flip; robust: + scale, tilt, blur, contrast, gamma, noise")
    _model_options(t)
    t.add_argument("--weights", help="torchvision weights name, a local .pth file or a run's checkpoint.pt (another "
                                     "task's head, e.g. type's 24 classes for polarity, starts afresh; default: random init)")
    t.add_argument("--objective", choices=OBJECTIVE_CHOICES,
                   help="plain: cross-entropy (default); gricol: + GRiCoL's grid reconstruction branches (type); "
                        "type-aux: polarity with the chromosome type as an auxiliary target (labelled crops)")
    t.add_argument("--aux-weight", type=float, help="type-aux: weight of the type loss against the polarity loss "
                                                     "(default 0.5)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=_train)

    o = sub.add_parser("orient", help="orient every chromosome in a folder: vertical, short arm up",
                       description="Rotate each segmented chromosome image in IN_DIR to vertical and flip it when "
                                   "the polarity network says the short arm is down. Writes the oriented images "
                                   "under their own names, results.csv (file, rotation_angle, polarity, "
                                   "probability, flipped, chromosome, type_probability, needs_review, error, note) "
                                   "and karyogram.png: by type (the shipped type model of the images' stain, "
                                   "assigned over the cell: give one cell per folder) in the standard rows. Bad files "
                                   "get a reason and the rest go on; exit code 1 if any failed. Rerunning skips "
                                   "files already done.")
    o.add_argument("in_dir")
    o.add_argument("out_dir")
    o.add_argument("--model", help="a training run folder (from `chromolib train`); default: the model that ships "
                                   "with chromolib (see chromolib/models/POLARITY.md)")
    o.add_argument("--labels", help="CSV with file,chromosome columns: the types, instead of the type model's")
    o.add_argument("--stain", choices=("auto", "gband", "qband"), default="auto",
                   help="which shipped type model tells the types: auto (default) reads it from the images "
                        "(bright on black: Q-band)")
    o.add_argument("--type-model", help="a type run folder (`chromolib train --profile type`) instead of the "
                                        "shipped type model")
    o.add_argument("--method", choices=METHOD_CHOICES, default="hull")
    o.add_argument("--straighten", action="store_true",
                   help="also write each chromosome straightened along its axis (bent ones unrolled, the rest as "
                        "they are) to OUT_DIR/straightened/ and their sheet to karyogram-straightened.png, for "
                        "reading the bands; the oriented crops and karyogram.png are unchanged")
    o.add_argument("--device", default="cpu")
    o.add_argument("--quiet", action="store_true")
    o.set_defaults(func=_orient)

    b = sub.add_parser("bench", help="training speed: reference loop against the fast path, one run",
                       description="Train the same model for the same number of steps with a plain reference "
                                   "loop (files + DataLoader, fp32) and with the fast path (data on the device, "
                                   "bf16 and channels-last on CUDA); print images/s, their ratio, peak GPU "
                                   "memory and the projected paper-schedule time.")
    b.add_argument("dataset_dir", nargs="?", help="data set folder (default: 4 synthetic cells in a temp dir)")
    b.add_argument("--profile", choices=PROFILE_CHOICES, default="paper")
    _model_options(b)
    b.add_argument("--steps", type=int, default=50)
    b.add_argument("--warmup", type=int, default=5)
    b.add_argument("--workers", type=int, default=4, help="DataLoader workers of the reference loop")
    b.add_argument("--cells", type=int, default=4, help="synthetic cells when no data set is given")
    b.add_argument("--accuracy", action="store_true", help="instead of timing steps, train both loops through "
                   "the whole schedule and compare their held-out accuracy (exact McNemar test)")
    b.add_argument("--epochs", type=int, help="with --accuracy: epochs (default: the profile's)")
    b.add_argument("--ablation", action="store_true", help="instead of the reference loop, time the fast path "
                   "with each speed setting added in turn: fp32, bf16, channels-last, --compile if given")
    b.add_argument("--trace", metavar="FILE", help="also profile the fast path (torch.profiler) and write the "
                   "table of where its time goes to FILE")
    b.add_argument("--trace-steps", type=int, default=10, help="steps profiled with --trace")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.add_argument("--json", help="also write the figures to this JSON file")
    b.set_defaults(func=_bench)

    g = sub.add_parser("data", help="public data sets: `chromolib data get NAME` downloads, checks and converts one",
                       description="Public chromosome data, fetched once into a checked cache.")
    gsub = g.add_subparsers(dest="action", required=True)
    gg = gsub.add_parser("get", help="download, verify and convert a public data set (a second call does nothing)",
                         description="Download NAME from its public source (cached, resumable), verify its digest, "
                                     "and convert it to the layout chromolib reads (labels.csv + 8-bit PNG). The "
                                     "cache is $CHROMOLIB_DATA, else the user cache folder; --to puts the set "
                                     "elsewhere. Offline or on a digest mismatch: what to download and where to "
                                     "put it, exit code 2.")
    gg.add_argument("name", choices=DATA_SETS)
    gg.add_argument("--to", help="folder for the converted set (default: the cache)")
    gg.add_argument("--quiet", action="store_true", help="print only the folder")
    gg.set_defaults(func=_data_get)

    x = sub.add_parser("export", help="write a trained run as the small model that ships with chromolib",
                       description="Write RUN_DIR's network as one small file (8-bit weights, one scale per "
                                   "channel) with its normalisation, temperature and review threshold, and a model "
                                   "card beside it (default: chromolib/models/polarity.pt and POLARITY.md).")
    x.add_argument("run_dir")
    x.add_argument("--to", help="file to write (default: the package's chromolib/models/polarity.pt)")
    x.add_argument("--external", help="JSON of the external-laboratory evaluation to quote on the card "
                                      "(benchmarks/orient_cell.py --json)")
    x.add_argument("--stain", choices=("gband", "qband"), help="for a type run (train --profile type): the stain it "
                   "was trained on; it ships as chromolib/models/type-STAIN.pt")
    x.set_defaults(func=_export)

    k = sub.add_parser("karyotype", help="whole metaphase images in, karyograms out: segment, orient, type",
                       description="For each metaphase image SPREAD (a file, or a folder of images): segment the "
                                   "chromosomes (classical threshold + watershed, tuned to 768 x 576 px Q-band "
                                   "spreads), cut each object as a crop, orient every crop (vertical, short arm up) "
                                   "and tell its type over the cell, as `chromolib orient` does. Writes "
                                   "OUT_DIR/<spread name>/: results.csv (object, bbox x y w h, area, cluster, "
                                   "touches_border, chromosome, type_probability, polarity, probability, "
                                   "rotation_angle, needs_review, error, note, file), karyogram.png (clusters left "
                                   "off), overlay.png (outlines numbered on the spread; clusters orange, failed "
                                   "objects red), outlines.json (labelme; open it in labelme, correct the outlines, "
                                   "save, and rerun with --outlines), crops/ and oriented/; and OUT_DIR/summary.csv. "
                                   "A bad image (not an image, blank, a single chromosome, too large) gets a "
                                   "one-line reason and the rest go on; exit code 1 if any failed, 2 for usage "
                                   "errors. Inputs are never overwritten.",
                       epilog="example: chromolib karyotype spreads/ out/  then, after correcting "
                              "out/cell7/outlines.json in labelme: chromolib karyotype spreads/cell7.jpg out/ "
                              "--outlines out/cell7/outlines.json")
    k.add_argument("spreads", nargs="+", metavar="SPREAD", help="metaphase image(s) (8/16-bit, gray or colour), or "
                                                                "folders of them")
    k.add_argument("out_dir", metavar="OUT_DIR", help="output folder (not inside an input folder)")
    k.add_argument("--outlines", metavar="FILE", help="labelme JSON with one polygon per chromosome for the one "
                                                      "SPREAD given: use these outlines instead of segmenting")
    k.add_argument("--stain", choices=("auto", "gband", "qband"), default="auto",
                   help="which shipped type model tells the types: auto (default) reads it from the crops "
                        "(bright on black: Q-band); without a type model the karyogram is in object order")
    k.add_argument("--segmenter", choices=("auto", "classical", "unet"), default="auto",
                   help="classical: threshold + watershed; unet: the U-Net that ships with chromolib "
                        "(chromolib/models/segmenter-qband.pt, trained on Q-band spreads); auto (default): the U-Net "
                        "for bright-on-black spreads when it ships, else classical")
    k.add_argument("--quiet", action="store_true", help="no progress bar and no summary (reasons still on stderr)")
    k.set_defaults(func=_karyotype)

    e = sub.add_parser("evaluate", help="confusion matrix and accuracy of a trained run on its test split")
    e.add_argument("run_dir")
    e.add_argument("--dataset", help="data set folder (default: the one the run was trained on)")
    e.add_argument("--views", choices=tuple(VIEW_CHOICES),
                   help="give the run these test-time views (written to its config.json; the temperature is fitted "
                        "again on the cells it kept aside): one; mirror; hv, the four flips (type); turn, the four "
                        "flips with the upside-down ones read down for up (polarity); v, the image and it upside "
                        "down (type); vturn, the same read down for up (polarity)")
    e.set_defaults(func=_evaluate)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, FloatingPointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run() -> None:
    """The ``chromolib`` command: ``main``, then exit at once. Every output file is closed by
    then; skipping the interpreter's teardown (torch's takes about 0.3 s) makes a short command
    such as ``chromolib orient`` on one cell that much quicker."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
