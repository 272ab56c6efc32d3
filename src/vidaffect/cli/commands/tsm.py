"""``vidaffect train tsm`` (train the ResNet-18-TSM model) and ``vidaffect build-sequences`` (clips from videos)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from vidaffect.errors import VidaffectError


def _parse_source(spec: str) -> tuple[str, float]:
    """``PATH`` or ``PATH@WEIGHT`` -> (path, weight)."""
    if "@" in spec:
        path, _, w = spec.rpartition("@")
        try:
            return path, float(w)
        except ValueError:
            pass
    return spec, 1.0


def _load_frames(path: str, fmt: str, split: str, size: int):
    try:
        from vidaffect.data.expressions.dispatch import load_expression_dataset
    except ImportError:  # older installs: image folders only
        from vidaffect.data.expressions.imagefolder import load_image_folder

        if fmt not in ("auto", "imagefolder"):
            raise VidaffectError(f"data set format {fmt!r} is not available in this installation") from None
        return load_image_folder(path, split, size=size, color="rgb")
    return load_expression_dataset(path, format=fmt, split=split, size=size, color="rgb")


def _train(args: argparse.Namespace) -> int:
    from vidaffect.data.sequences import load_face_sequences
    from vidaffect.training.tsm import FrameSource, TSMAugment, TSMTrainConfig, train_tsm_frames, train_tsm_sequences

    if not args.frames and not args.sequences:
        raise VidaffectError("nothing to train: give --frames DATASET (frame stage) and/or --sequences DIR")
    if args.input_size < 32:
        raise VidaffectError(f"--input-size {args.input_size} is too small (at least 32)")
    aug = TSMAugment() if not args.no_augment else TSMAugment(shift=0, scale=0, flip=False, noise_prob=0,
                                                                brightness_prob=0, blur_prob=0)
    common = dict(out_dir=args.out, input_size=args.input_size, buffer_length=args.buffer_length, width=args.width,
                  loss=args.loss,
                  lr=args.lr, weight_decay=args.weight_decay, batch_size=args.batch_size,
                  steps_per_epoch=args.steps_per_epoch, patience=args.patience, neutral_weight=args.neutral_weight,
                  val_stride=args.val_stride, seed=args.seed, device=args.device, threads=args.threads,
                  checkpoint_every=args.checkpoint_every, augment=aug)
    say = print
    result: dict = {}
    init = args.init
    if args.frames:
        sources = []
        for spec in args.frames:
            path, weight = _parse_source(spec)
            data = _load_frames(path, args.frames_format, args.frames_split, args.input_size)
            say(f"frames: {path}: {len(data)} images, weight {weight}")
            sources.append(FrameSource(data, weight, path))
        val = _load_frames(args.frames_val, args.frames_format, args.frames_val_split, args.input_size) \
            if args.frames_val else None
        cfg = TSMTrainConfig(epochs=args.epochs, **common)
        result["frames"] = train_tsm_frames(sources, val, cfg, resume=args.resume, progress=say)
        init = init or result["frames"]["best_checkpoint"]
    if args.sequences:
        train = load_face_sequences(args.sequences, size=args.input_size)
        val = load_face_sequences(args.sequences_val, size=args.input_size) if args.sequences_val else None
        say(f"sequences: {len(train)} clips, {train.num_frames} frames")
        cfg = TSMTrainConfig(epochs=args.seq_epochs, **common)
        result["sequences"] = train_tsm_sequences(train, val, cfg, init, resume=args.resume, progress=say)
    final = (result.get("sequences") or result["frames"])["best_checkpoint"]
    result["model"] = final
    from vidaffect.utils.atomic import atomic_write_text

    atomic_write_text(Path(args.out) / "summary.json", json.dumps(result, indent=2))
    say(f"model: {final}  (use: vidaffect analyze VIDEO --model resnet18-tsm --checkpoint {final})")
    return 0


def _build(args: argparse.Namespace) -> int:
    from vidaffect.data.sequences import build_sequences_from_video

    if args.label is None and args.annotations is None:
        raise VidaffectError("give --label CLASS (whole video) or --annotations CSV (start_s,end_s,label)")
    if args.annotations and len(args.videos) > 1:
        raise VidaffectError("--annotations describes one video; give one video per run")
    total = 0
    for video in args.videos:
        names = build_sequences_from_video(video, args.out, args.label, args.annotations, args.size, args.fps,
                                           args.detector, args.min_length, args.max_gap)
        print(f"{video}: {len(names)} clips")
        total += len(names)
    print(f"{total} clips written to {args.out}")
    return 0


def register(cli) -> None:
    p = cli.group("train").add_parser(
        "tsm", help="train the ResNet-18 temporal-shift model (resnet18-tsm)",
        description="Train resnet18-tsm as the VTT Friends reference: frame pre-training on still-image data sets "
                    "(frame mode, no shift), then fine-tuning on face sequences (clips of --buffer-length frames). "
                    "Each stage writes OUT/<stage>/{best,last}.safetensors+json, log.csv, curves.png; --resume "
                    "continues an interrupted run.")
    d = p.add_argument_group("data")
    d.add_argument("--frames", action="append", metavar="PATH[@WEIGHT]",
                   help="still-image data set for the frame stage (repeatable); WEIGHT is its share of the sampling "
                        "mix, e.g. --frames raf@0.2 --frames affectnet@0.8 (default 1 each)")
    d.add_argument("--frames-format", default="auto",
                   help="format of the --frames data sets: auto, imagefolder, fer2013, ferplus, rafdb, affectnet, npz "
                        "(default auto)")
    d.add_argument("--frames-split", default="train", help="split of the --frames data sets (default train)")
    d.add_argument("--frames-val", metavar="PATH", help="still-image validation data set for the frame stage")
    d.add_argument("--frames-val-split", default="val", help="split of --frames-val (default val)")
    d.add_argument("--sequences", metavar="DIR", help="face-sequence folder for the sequence stage "
                   "(<clip>/<frames> + labels.csv; see vidaffect build-sequences)")
    d.add_argument("--sequences-val", metavar="DIR", help="face-sequence folder for validation of the sequence stage")
    d.add_argument("--neutral-weight", type=float, default=0.33,
                   help="sampling weight of neutral images relative to other classes in the frame stage (default 0.33)")
    m = p.add_argument_group("model and optimisation")
    m.add_argument("--out", default="runs/tsm", help="run folder (default runs/tsm)")
    m.add_argument("--init", metavar="CHECKPOINT", help="start the sequence stage from this checkpoint "
                   "(default: the frame stage's best when --frames is given, else random)")
    m.add_argument("--input-size", type=int, default=224, help="crop size in pixels (default 224, the reference)")
    m.add_argument("--buffer-length", type=int, default=4, help="frames per clip T (default 4)")
    m.add_argument("--width", type=int, default=64,
                   help="channels of the first ResNet stage (default 64 = ResNet-18; smaller for quick experiments)")
    m.add_argument("--loss", choices=["vtt", "ce"], default="vtt",
                   help="vtt: 0.5 BCE(neutral vs rest) + 0.5 per-class BCE (reference, default); ce: cross-entropy")
    m.add_argument("--lr", type=float, default=1e-4, help="Adam (amsgrad) learning rate (default 1e-4)")
    m.add_argument("--weight-decay", type=float, default=5e-5, help="weight decay (default 5e-5)")
    m.add_argument("--batch-size", type=int, default=4, help="images (frame stage) or clips (sequence stage) per step "
                   "(default 4)")
    m.add_argument("--epochs", type=int, default=10, help="epochs of the frame stage (default 10)")
    m.add_argument("--seq-epochs", type=int, default=10, help="epochs of the sequence stage (default 10)")
    m.add_argument("--steps-per-epoch", type=int, default=0,
                   help="steps per epoch (default 0: one pass over the data on average)")
    m.add_argument("--patience", type=int, default=5, help="early stop after this many epochs without improvement")
    m.add_argument("--val-stride", type=int, default=1, help="score every k-th frame of validation clips (default 1)")
    m.add_argument("--no-augment", action="store_true", help="turn off the reference augmentation")
    r = p.add_argument_group("run")
    r.add_argument("--resume", action="store_true", help="continue from OUT/<stage>/state.pt")
    r.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    r.add_argument("--device", default="cpu", help="torch device (default cpu)")
    r.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    r.add_argument("--checkpoint-every", type=int, default=200, help="save resume state every N steps (default 200)")
    p.set_defaults(func=_train)

    b = cli.top.add_parser(
        "build-sequences", help="cut face-sequence clips (for train tsm) from videos",
        description="Track the faces of videos and write each track as clips of consecutive square crops "
                    "(the resnet18-tsm crop) into OUT/<video>_face<id>_<frame>/, with OUT/labels.csv.")
    b.add_argument("videos", nargs="+", metavar="VIDEO", help="video file(s)")
    b.add_argument("--out", required=True, help="output folder (clips are added to what is there)")
    b.add_argument("--label", help="emotion class of every frame of the video(s), e.g. happy")
    b.add_argument("--annotations", help="CSV start_s,end_s,label giving per-frame labels (unannotated frames skipped)")
    b.add_argument("--size", type=int, default=224, help="crop size in pixels (default 224)")
    b.add_argument("--fps", type=float, default=None, help="sample the video at this rate (default: every frame)")
    b.add_argument("--detector", choices=["short", "full"], default="short", help="BlazeFace model (default: %(default)s)")
    b.add_argument("--min-length", type=int, default=4, help="drop clips shorter than this many frames (default 4)")
    b.add_argument("--max-gap", type=float, default=0.5,
                   help="split a track where it is lost for more than this many seconds (default 0.5)")
    b.set_defaults(func=_build)
