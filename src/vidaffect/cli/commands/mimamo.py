"""``vidaffect train mimamo`` and ``vidaffect eval va``: MIMAMO-Net training and VA evaluation."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

DATA_HELP = ("folder of aligned face crops, one sub-folder per video: ROOT/<video>/<video>_aligned/"
             "frame_det_00_000001.bmp (OpenFace layout) or ROOT/<video>/*.bmp|jpg|png")
ANN_HELP = "annotation folder: DIR/[train/]<label>/<video>.txt, one float per line (line i = frame i+1)"
FEAT_HELP = ("per-frame ResNet-50 FER+ features FEATURES/<video>/00001.npy (2048 floats); without it they are "
             "computed with --resnet-checkpoint and cached")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="ROOT", help=DATA_HELP)
    p.add_argument("--annotations", required=True, metavar="DIR", help=ANN_HELP)
    p.add_argument("--features", metavar="DIR", help=FEAT_HELP)
    p.add_argument("--resnet-checkpoint", metavar="PTH",
                   help="resnet50_ferplus_dag.pth, needed when --features is not given")
    p.add_argument("--cache", metavar="DIR",
                   help="feature cache: phase differences (and computed ResNet features) stored once per video "
                        "as npy (default: OUT/cache for training, none for evaluation)")
    p.add_argument("--videos", nargs="+", metavar="NAME", help="use only these videos (default: all in ROOT)")
    p.add_argument("--labels", default="valence_arousal",
                   help="label names joined by '_', in output order (default: valence_arousal)")
    p.add_argument("--length", type=int, default=64, help="frames per snippet (default 64)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")


def _feature_fn(args: argparse.Namespace):
    if args.features:
        return None
    if not args.resnet_checkpoint:
        from vidaffect.errors import VidaffectError

        raise VidaffectError("give --features DIR (per-frame ResNet features) or --resnet-checkpoint PTH")
    from vidaffect.models.mimamo.checkpoints import load_strict, read_resnet_checkpoint
    from vidaffect.models.mimamo.inference import MimamoRunner
    from vidaffect.models.mimamo.network import TwoStreamRNN
    from vidaffect.models.mimamo.resnet50_ferplus_dag import Resnet50FerplusDag

    resnet = Resnet50FerplusDag()
    load_strict(resnet, read_resnet_checkpoint(args.resnet_checkpoint), args.resnet_checkpoint)
    return MimamoRunner(TwoStreamRNN(), resnet, args.device).resnet_features


def _train(args: argparse.Namespace) -> int:
    from vidaffect.training.mimamo import MimamoTrainConfig, train_mimamo

    cfg = MimamoTrainConfig(out_dir=args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                            patience=args.patience, folds=args.folds, only_fold=args.fold, loss=args.loss,
                            length=args.length, stride=args.stride, rescale=args.rescale, label_name=args.labels,
                            seed=args.seed, device=args.device)
    cache = args.cache or str(Path(args.out) / "cache")
    summary = train_mimamo(args.data, args.annotations, args.videos, args.features, cache, _feature_fn(args), cfg)
    for f in summary["folds"]:
        print(f"fold {f['fold']}: best validation CCC {f['best_ccc']:.4f} after {f['epochs']} epochs")
    print(f"mean best CCC {summary['mean_best_ccc']:.4f}; checkpoints and logs in {args.out}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import numpy as np

    from vidaffect.models.mimamo.checkpoints import load_strict, read_mimamo_checkpoint
    from vidaffect.models.mimamo.dataset import FaceDataset
    from vidaffect.models.mimamo.network import TwoStreamRNN
    from vidaffect.training.mimamo import evaluate
    from vidaffect.utils.atomic import atomic_write_text

    state, meta = read_mimamo_checkpoint(args.checkpoint)
    net = TwoStreamRNN()
    load_strict(net, state, args.checkpoint)
    net.legacy_gru_axis = args.legacy_gru_axis or meta.get("gru_axis") == "batch"
    root = Path(args.data)
    videos = args.videos
    if not videos and root.is_dir():
        videos = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not videos:
        from vidaffect.errors import VidaffectError

        raise VidaffectError(f"{root}: no videos found")
    ds = FaceDataset(root, args.features, args.annotations, videos, label_name=args.labels, length=args.length,
                     stride=args.length, cache_dir=args.cache, augment=False, feature_fn=_feature_fn(args),
                     legacy_unwrap=net.legacy_gru_axis)
    train_std = np.array(args.rescale_std, np.float64) if args.rescale_std else None
    report, loss = evaluate(net.to(args.device), ds, args.length, args.device, train_std)
    print(f"{'dimension':<10} {'CCC':>7} {'PCC':>7} {'RMSE':>7} {'frames':>8}")
    for dim, r in report.items():
        print(f"{dim:<10} {r['ccc']:7.4f} {r['pcc']:7.4f} {r['rmse']:7.4f} {r['n']:8d}")
    if args.output:
        atomic_write_text(args.output, json.dumps({"checkpoint": str(args.checkpoint), "videos": videos,
                                                    "metrics": report, "ccc_loss": loss}, indent=2))
    return 0


def register(cli) -> None:
    p = cli.group("train").add_parser(
        "mimamo", help="train MIMAMO-Net (valence/arousal) with k-fold cross-validation",
        description="Train MIMAMO-Net on Aff-Wild-style data with the reference recipe: CCC loss, SGD "
                    "(momentum 0.9, weight decay 5e-4), lr x0.1 at epochs 10 and 20, early stopping on "
                    "validation CCC, k-fold cross-validation over videos. Writes fold_{i}_{checkpoint,"
                    "best_loss,best_ccc}.pth.tar in the original format, per-fold CSV logs and summary.json.")
    _common(p)
    p.add_argument("--out", default="runs/mimamo", help="output folder (default runs/mimamo)")
    p.add_argument("--epochs", type=int, default=25, help="maximum epochs per fold (default 25)")
    p.add_argument("--batch-size", type=int, default=16, help="snippets per batch (default 16)")
    p.add_argument("--lr", type=float, default=1e-3, help="initial SGD learning rate (default 1e-3)")
    p.add_argument("--patience", type=int, default=5,
                   help="stop a fold after this many epochs without validation-CCC gain (default 5)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds over videos (default 5)")
    p.add_argument("--fold", type=int, help="run only this fold (0-based)")
    p.add_argument("--loss", choices=("ccc", "mse"), default="ccc",
                   help="ccc: negative sum of per-output CCC (reference); mse: mean squared error")
    p.add_argument("--stride", type=int, default=32, help="step between training snippets (default 32)")
    p.add_argument("--rescale", action="store_true",
                   help="validate with the rescale correction: pred = mean + (pred - mean) * std_train / std_pred")
    p.add_argument("--seed", type=int, default=0, help="random seed of the folds, init and augmentation")
    p.set_defaults(func=_train)

    e = cli.group("eval").add_parser(
        "va", help="evaluate a MIMAMO checkpoint: CCC, PCC and RMSE per dimension",
        description="Predict every frame of the given videos with a MIMAMO checkpoint (non-overlapping "
                    "windows, last one aligned to the end) and report CCC, PCC and RMSE per dimension.")
    _common(e)
    e.add_argument("--checkpoint", required=True, metavar="PTH",
                   help="model_weights.pth.tar (original) or fold_*_best_ccc.pth.tar (trained here)")
    e.add_argument("--legacy-gru-axis", action="store_true",
                   help="reproduce the original code's defects for original checkpoints: GRU recurring over the "
                        "batch axis, phase unwrap that ignores negative jumps")
    e.add_argument("--rescale-std", type=float, nargs="+", metavar="STD",
                   help="apply the rescale correction with these training-label stds (one per label)")
    e.add_argument("--output", metavar="JSON", help="also write the metrics to this JSON file")
    e.set_defaults(func=_eval)
