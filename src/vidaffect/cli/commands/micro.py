"""``vidaffect micro preprocess|train|eval|spot``: DSSN/SSSN micro-expression tools.

Option names follow the reference re-implementation (``--num_classes``,
``--combination_mode``, ``--image_mode F G``, ``--batch_size``, ``--epochs``,
``--learning_rate``, ``--weight_save_path``, ``--model``, ``--catego``); the
hyphenated spellings (``--num-classes`` ...) work too.
"""
from __future__ import annotations

import argparse
import json


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` only where there is a meaningful default (not None / False)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, argparse.SUPPRESS) or action.required:
            return action.help or ""
        return super()._get_help_string(action)


def _dataset_name(text: str) -> str:
    """``CASME``/``casme2``/``CASME_II`` -> ``casme2`` (the reference's ``--catego`` spelling works)."""
    t = text.lower().replace("_", "").replace("-", "")
    return {"casme": "casme2", "casmeii": "casme2"}.get(t, t)


def _opt(*names: str) -> list[str]:
    """``--num_classes`` -> [``--num_classes``, ``--num-classes``] (both spellings)."""
    out = []
    for n in names:
        out.append(n)
        alt = n.replace("_", "-")
        if alt != n:
            out.append(alt)
    return out


def _preprocess(args: argparse.Namespace) -> int:
    from vidaffect.micro.layouts import load_samples
    from vidaffect.micro.preprocess import PreprocessConfig, preprocess_samples

    samples = load_samples(args.csv, args.root, args.dataset)
    cfg = PreprocessConfig(size=args.size, crop=args.crop)
    manifest = preprocess_samples(samples, args.out, args.dataset, cfg, workers=args.workers, progress=not args.quiet)
    print(f"{len(samples)} samples of {manifest['subject'].nunique()} subjects cached in {args.out}")
    return 0


def _train_config(args: argparse.Namespace):
    from vidaffect.micro.train import MicroTrainConfig

    modes = args.image_mode or (["G"] if args.model.upper() == "SSSN" else ["F", "G"])
    return MicroTrainConfig(
        model=args.model, image_mode=tuple(modes), combination_mode=args.combination_mode, num_classes=args.num_classes,
        batch_size=args.batch_size, epochs=args.epochs, learning_rate=args.learning_rate, dropout=args.dropout,
        input_size=args.input_size, protocol=args.protocol, alexnet=args.alexnet, seed=args.seed, threads=args.threads, device=args.device,
        classes=tuple(c.strip() for c in args.classes.split(",")) if args.classes else (),
    )  # fmt: skip


def _train(args: argparse.Namespace) -> int:
    from vidaffect.micro.datasets import MicroFeatureSet
    from vidaffect.micro.train import run_training

    cfg = _train_config(args)
    cfg.validate()
    data = MicroFeatureSet(args.cache, input_size=cfg.input_size, labels_csv=args.path, classes=cfg.classes or None)
    result = run_training(data, cfg, args.weight_save_path, progress=not args.quiet)
    if cfg.protocol == "full":
        print(f"model written to {result['checkpoint']}")
    else:
        p = result["pooled"]
        m = result["mean_over_folds"]
        print(f"LOSO over {len(result['folds'])} subjects: mean fold accuracy {m['accuracy']:.4f}, weighted F1 {m['weighted_f1']:.4f}; "
              f"pooled accuracy {p['accuracy']:.4f}, UF1 {p['uf1']:.4f}, UAR {p['uar']:.4f}")  # fmt: skip
        print(f"results in {args.weight_save_path}/results.csv, results.json, confusion_matrix.png")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from vidaffect.micro.evaluate import evaluate_checkpoints

    result = evaluate_checkpoints(args.checkpoint, args.cache, args.out, batch_size=args.batch_size, labels_csv=args.path)
    print(json.dumps({"pooled": result["pooled"], "mean_over_folds": result["mean_over_folds"]}, indent=2))
    print(f"results in {args.out}")
    return 0


def _spot(args: argparse.Namespace) -> int:
    from vidaffect.micro.spot_video import SpotOptions, spot_video

    opts = SpotOptions(
        fps=args.fps, detector=args.detector, crop_size=args.crop_size, flow_size=args.flow_size, flow=args.flow,
        signal=args.signal, baseline_s=args.baseline, max_duration_s=args.max_duration, min_duration_s=args.min_duration, threshold=args.threshold,
        min_motion=args.min_motion, checkpoint=args.checkpoint,
    )  # fmt: skip
    table = spot_video(args.video, args.output, opts, progress=not args.quiet)
    print(f"{len(table)} candidate interval(s) in {table['face_id'].nunique() if len(table) else 0} face track(s); "
          f"written to {args.output}/intervals.csv, intervals.json, motion.png")  # fmt: skip
    return 0


def register(cli) -> None:
    group = cli.group("micro")
    fmt = _HelpFormatter

    p = group.add_parser("preprocess", help="onset/apex frames -> cached TV-L1 flow, strain, gray maps", formatter_class=fmt,
                         description="Compute DSSN inputs (TV-L1 flow u, v, flow magnitude, optical strain, grayscale apex; "
                         "each min-max scaled to 0..255) for every sample of a CASME II / SAMM / SMIC annotation CSV, "
                         "in parallel, into compressed npz files plus manifest.csv. Re-running skips finished samples.")  # fmt: skip
    p.add_argument(*_opt("--csv", "--csv_path"), dest="csv", required=True, help="annotation CSV (subject, filename, onset/apex/offset frame, estimated emotion)")
    p.add_argument("--root", required=True, help="image root folder of the data set")
    p.add_argument(*_opt("--dataset", "--catego"), dest="dataset", required=True, type=_dataset_name,
                   choices=["casme2", "samm", "smic"], help="folder layout and file naming")  # fmt: skip
    p.add_argument(*_opt("--out", "--save_path"), dest="out", required=True, help="cache folder to write")
    p.add_argument("--size", type=int, default=227, help="resize frames to SIZE x SIZE before the flow (0: native size)")
    p.add_argument("--crop", choices=["none", "face"], default="none",
                   help="face: detect the face on the onset frame and cut the same aligned crop from onset and apex "
                   "(for uncropped frames); none: frames are already face crops (CASME II reg_img, SMIC reg_)")  # fmt: skip
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU core)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_preprocess_entry)

    t = group.add_parser("train", help="train SSSN/DSSN with leave-one-subject-out evaluation", formatter_class=fmt,
                         description="Train SSSN or DSSN on a preprocessed cache. Protocol loso (default) trains one model "
                         "per held-out subject and writes per-fold and pooled accuracy, weighted F1, UF1, UAR, a confusion "
                         "matrix, results.csv/json and the fold checkpoints; protocol full trains one model on every sample.")  # fmt: skip
    _train_args(t)
    t.set_defaults(func=_train)

    e = group.add_parser("eval", help="evaluate SSSN/DSSN checkpoints on a preprocessed cache", formatter_class=fmt,
                         description="Score a checkpoint (.safetensors) on every sample of a cache, or a LOSO training "
                         "folder (each fold's model on its held-out subject). Writes results.csv/json, predictions.csv "
                         "and confusion_matrix.png.")  # fmt: skip
    e.add_argument("--checkpoint", required=True, help="model.safetensors, or a `micro train` output folder with folds/")
    e.add_argument(*_opt("--cache", "--img_root", "--pre"), dest="cache", required=True, help="preprocessed cache folder")
    e.add_argument("--path", default=None, help="optional annotation CSV whose labels replace the cache's (matched by subject and filename)")
    e.add_argument("-o", "--out", required=True, help="output folder for the results")
    e.add_argument(*_opt("--batch_size"), dest="batch_size", type=int, default=32, help="evaluation batch size")
    e.set_defaults(func=_eval)

    s = group.add_parser("spot", help="find (and classify) micro-expression intervals in a video", formatter_class=fmt,
                         description="Track faces, measure the motion of 9 facial regions relative to a sliding baseline, "
                         "report intervals shorter than --max-duration whose peak stands out, and classify each with "
                         "--checkpoint. Writes intervals.csv/json, motion.csv and motion.png to the output folder.")  # fmt: skip
    s.add_argument("video", help="video file")
    s.add_argument("-o", "--output", required=True, help="output folder")
    s.add_argument("--checkpoint", default=None, help="DSSN/SSSN model.safetensors (from `micro train --protocol full`) to classify intervals")
    s.add_argument("--fps", type=float, default=None, help="analyse at this frame rate (default: every frame; micro-expressions need >= 25 fps)")
    s.add_argument("--detector", choices=["short", "full"], default="short", help="BlazeFace model (default: %(default)s)")
    s.add_argument("--flow", choices=["farneback", "tvl1"], default="farneback", help="optical flow for spotting (tvl1: ~10x slower)")
    s.add_argument("--signal", choices=["flow", "strain"], default="flow", help="flow magnitude or optical strain of the displacement from rest")
    s.add_argument("--baseline", type=float, default=2.0, help="sliding baseline window (seconds)")
    s.add_argument("--max-duration", type=float, default=0.5, help="keep intervals shorter than this (seconds)")
    s.add_argument("--min-duration", type=float, default=0.06, help="drop intervals shorter than this (seconds; one-frame spikes are alignment glitches)")
    s.add_argument("--threshold", type=float, default=4.0, help="peak height in robust standard deviations (1.4826 MAD)")
    s.add_argument("--min-motion", type=float, default=0.05, help="minimum peak height above the median (pixels at --flow-size, or strain)")
    s.add_argument("--crop-size", type=int, default=128, help="aligned face crop size kept per frame")
    s.add_argument("--flow-size", type=int, default=64, help="crops are resized to this for the spotting flow")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=_spot)


def _preprocess_entry(args: argparse.Namespace) -> int:
    from vidaffect.micro.preprocess import default_workers

    if args.workers is None:
        args.workers = default_workers()
    return _preprocess(args)


def _train_args(t: argparse.ArgumentParser) -> None:
    t.add_argument(*_opt("--cache", "--img_root", "--pre"), dest="cache", required=True, help="preprocessed cache folder (from `micro preprocess`)")
    t.add_argument("--path", default=None, help="optional annotation CSV whose labels replace the cache's (matched by subject and filename); samples not in it are left out")
    t.add_argument("--model", default="DSSN", type=str.upper, choices=["DSSN", "SSSN"], help="network")
    t.add_argument(*_opt("--combination_mode"), dest="combination_mode", default="add",
                   choices=["add", "multiply", "concatenate", "mul", "cat"], help="how DSSN merges its two streams")  # fmt: skip
    t.add_argument(*_opt("--image_mode"), dest="image_mode", nargs="+", default=None,
                   help="image modes: F flow magnitude, G grayscale apex, S optical strain; one for SSSN, two for DSSN (default: G / F G)")  # fmt: skip
    t.add_argument(*_opt("--num_classes"), dest="num_classes", type=int, default=None,
                   help="number of classes; must equal the emotions in the data (default: that number, 5 for the usual CASME II/SAMM CSVs)")  # fmt: skip
    t.add_argument("--classes", default=None, help="comma-separated emotions to keep, in this order (others are dropped)")
    t.add_argument(*_opt("--batch_size"), dest="batch_size", type=int, default=32, help="batch size")
    t.add_argument("--epochs", type=int, default=15, help="epochs per fold")
    t.add_argument(*_opt("--learning_rate"), dest="learning_rate", type=float, default=1e-4, help="Adam learning rate")
    t.add_argument("--dropout", type=float, default=0.5, help="dropout before the classifier")
    t.add_argument(*_opt("--input_size"), dest="input_size", type=int, default=227, help="network input size")
    t.add_argument("--protocol", choices=["loso", "full"], default="loso", help="loso: leave-one-subject-out evaluation; full: one model on all samples")
    t.add_argument("--alexnet", default=None, help="ImageNet AlexNet state dict (torchvision key names, .pth or .safetensors) to initialise the streams")
    t.add_argument(*_opt("--weight_save_path", "--out"), dest="weight_save_path", default="runs/micro", help="output folder for checkpoints and results")
    t.add_argument("--seed", type=int, default=0, help="random seed")
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    t.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
