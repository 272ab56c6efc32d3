"""``vidaffect train expressions``: train the ExprNet expression classifier on a data set."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from vidaffect.errors import VidaffectError


def _train(args: argparse.Namespace) -> int:
    import torch

    from vidaffect.data.expressions.base import DatasetError
    from vidaffect.training.augment import AugmentConfig
    from vidaffect.training.expressions import TrainConfig, train_expressions
    from vidaffect.training.expressions_cli import load_split, stratified_split
    from vidaffect.utils.device import resolve_device

    if not 0.0 <= args.erase_prob <= 1.0:
        raise VidaffectError(f"--erase-prob must be between 0 and 1, got {args.erase_prob}")
    if args.mixup < 0:
        raise VidaffectError(f"--mixup must be >= 0 (0: off), got {args.mixup}")
    if not 0.0 <= args.ema < 1.0:
        raise VidaffectError(f"--ema must be in [0, 1) (0: off; 0.999 is usual), got {args.ema}")
    if not 0.0 <= args.distill_weight <= 1.0:
        raise VidaffectError(f"--distill-weight must be between 0 and 1, got {args.distill_weight}")
    if args.distill_temperature <= 0:
        raise VidaffectError(f"--distill-temperature must be > 0, got {args.distill_temperature}")
    if args.teacher and not os.path.isfile(args.teacher):
        raise VidaffectError(f"--teacher {args.teacher}: file not found")
    args.device = resolve_device(args.device)
    if args.precision == "auto":
        from vidaffect.faces.runtime.torch_runtime import auto_precision

        args.precision = "bf16" if args.device.startswith("cuda") else auto_precision(torch.device("cpu"))
    train = load_split(args, args.data, args.split, args.size)
    if args.val_fraction:
        train, val = stratified_split(train, args.val_fraction, args.seed)
        print(f"held out {len(val)} training images for validation", file=sys.stderr)
    else:
        val = load_split(args, args.val_data or args.data, args.val_split, args.size)
    if val.classes != train.classes:
        raise DatasetError(f"validation classes {list(val.classes)} differ from training classes {list(train.classes)}")
    cfg = TrainConfig(
        out_dir=args.out, width=args.width, input_size=args.size, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, weight_decay=args.weight_decay, warmup_epochs=args.warmup_epochs,
        label_smoothing=args.label_smoothing, dropout=args.dropout, patience=args.patience, seed=args.seed,
        device=args.device, threads=args.threads, checkpoint_every=args.checkpoint_every,
        tta_flip=not args.no_val_tta, max_steps_per_epoch=args.max_steps_per_epoch,
        init_from=args.init_from or "", augment=AugmentConfig(erase_prob=args.erase_prob), precision=args.precision,
        mixup=args.mixup, teacher=args.teacher or "", distill_weight=args.distill_weight,
        distill_temperature=args.distill_temperature, ema=args.ema,
    )
    summary = train_expressions(train, val, cfg, resume=args.resume,
                                progress=lambda m: print(time.strftime("%H:%M:%S"), m, file=sys.stderr, flush=True))
    print(json.dumps(summary, indent=2))
    return 0


def register(cli) -> None:
    p = cli.group("train").add_parser(
        "expressions", help="train the ExprNet facial-expression classifier",
        description="Train ExprNet (a small residual CNN for 48x48 gray faces) on an expression data set. Writes "
                    "best/last checkpoints (.safetensors + .json), state.pt (resume state), log.csv, curves.png "
                    "and summary.json into --out. Use the result with --model OUT/best.safetensors.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    from vidaffect.training.expressions_cli import add_data_arguments

    add_data_arguments(p, split_default="train")
    v = p.add_argument_group("validation (model selection, early stopping)")
    v.add_argument("--val-split", default="val", help="validation split of --data (RAF-DB: test)")
    v.add_argument("--val-data", default=None, metavar="PATH", help="take validation from another data set path")
    v.add_argument("--val-fraction", type=float, default=0.0,
                   help="hold out this fraction of the training split (stratified) instead of a validation split")
    v.add_argument("--no-val-tta", action="store_true", help="validate without horizontal-flip test-time augmentation")
    t = p.add_argument_group("training")
    t.add_argument("--out", required=True, metavar="DIR", help="output folder (checkpoints, logs, curves)")
    t.add_argument("--epochs", type=int, default=40, help="maximum number of epochs")
    t.add_argument("--batch-size", type=int, default=128, help="images per optimisation step")
    t.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate (warm-up, then cosine decay)")
    t.add_argument("--weight-decay", type=float, default=5e-4, help="AdamW weight decay")
    t.add_argument("--warmup-epochs", type=float, default=1.0, help="linear learning-rate warm-up length")
    t.add_argument("--label-smoothing", type=float, default=0.1, help="label smoothing (hard labels only)")
    t.add_argument("--dropout", type=float, default=0.3, help="dropout before the classifier")
    t.add_argument("--width", type=int, default=32, help="ExprNet base width (32: 0.68M parameters)")
    t.add_argument("--size", type=int, default=48, help="input size in pixels (faces are resized to size x size)")
    t.add_argument("--patience", type=int, default=8, help="early stop after this many epochs without improvement")
    t.add_argument("--seed", type=int, default=0, help="random seed (runs with the same seed are identical)")
    t.add_argument("--device", default="auto", help="auto (a CUDA GPU when present, else CPU), cpu, cuda or cuda:N")
    t.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch default)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/state.pt (mid-epoch included)")
    t.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="start from the weights of this ExprNet checkpoint (same width and classes): fine-tuning "
                        "or a further cosine cycle with a fresh optimiser; --resume continues a run instead")
    t.add_argument("--erase-prob", type=float, default=0.5, help="probability of random erasing per image")
    t.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="fp32",
                   help="forward pass arithmetic: bf16 autocast (1.6-1.8x faster steps on CPUs with AMX; the loss, "
                        "weights and validation stay fp32), auto = bf16 on AMX CPUs and GPUs, else fp32")
    t.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="mixup: blend each image with another of its batch by a Beta(ALPHA, ALPHA) share and the "
                        "losses of both labels the same way (0: off; 0.2-0.4 is usual)")
    t.add_argument("--teacher", default=None, metavar="CHECKPOINT",
                   help="distil from this ExprNet checkpoint (any width, same classes and input): the loss adds "
                        "KL(teacher || student) on softened outputs")
    t.add_argument("--distill-weight", type=float, default=0.5,
                   help="share of the distillation loss with --teacher (the rest: the labels' cross-entropy)")
    t.add_argument("--distill-temperature", type=float, default=4.0,
                   help="softmax temperature of teacher and student in the distillation loss")
    t.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="keep an exponential moving average of the weights with this decay per step, and validate "
                        "and save it instead of the raw weights (0: off; 0.999 is usual)")
    t.add_argument("--checkpoint-every", type=int, default=100, help="save resume state every N steps")
    t.add_argument("--max-steps-per-epoch", type=int, default=0, help="cap steps per epoch (0: whole epoch; for quick trials)")
    p.set_defaults(func=_train)
