"""``vidaffect eval expressions``: accuracy, macro-F1, per-class recall and confusion matrix of a model on a data set."""
from __future__ import annotations

import argparse
from pathlib import Path


def resolve_model(name: str, checkpoint: str | None, device: str):
    """A registered model name, a ``.safetensors`` checkpoint or a Keras ``.hdf5`` file -> model."""
    from vidaffect.models import create_model

    if checkpoint is None and Path(name).suffix.lower() in (".hdf5", ".h5"):
        return create_model("mini-xception", checkpoint=name, device=device)
    return create_model(name, checkpoint=checkpoint, device=device)


def _eval(args: argparse.Namespace) -> int:
    import numpy as np

    from vidaffect.errors import VidaffectError
    from vidaffect.evaluation.expressions import evaluate_calibrated, evaluate_model, write_eval_outputs
    from vidaffect.training.expressions_cli import load_split
    from vidaffect.utils.device import resolve_device

    args.device = resolve_device(args.device)
    model = resolve_model(args.model, args.checkpoint, args.device)
    if hasattr(model, "set_precision"):
        model.set_precision(args.precision)
    elif args.precision != "fp32":
        raise VidaffectError(f"--precision {args.precision}: model {model.name} runs in fp32 only")
    data = load_split(args, args.data, args.split, model.crop.size, model.crop.color)
    extra: dict = {}
    if args.detect:
        from vidaffect.evaluation.face_crops import detect_and_align

        crops, found = detect_and_align(data.images, model.crop, show_progress=True)
        subset = data.subset(np.flatnonzero(found))
        plain = evaluate_model(model, subset, args.batch_size, args.tta_flip).report
        subset.images = crops
        data = subset
        extra = {"detect": True, "faces_found": int(found.sum()), "images": int(len(found)),
                 "accuracy_same_images_without_detection": plain.accuracy,
                 "macro_f1_same_images_without_detection": plain.macro_f1}
        print(f"faces found in {found.sum()} of {len(found)} images; metrics below use the pipeline's aligned crops "
              f"(without detection on the same images: accuracy {plain.accuracy:.4f}, macro-F1 {plain.macro_f1:.4f})")
    # a calibrated checkpoint (temperature != 1): also its uncalibrated probabilities (T = 1), `before`
    result, before = evaluate_calibrated(model, data, args.batch_size, args.tta_flip, show_progress=True)
    temperature = float(getattr(model, "temperature", 1.0))
    print(f"model {model.name}  data {args.data} [{args.split}]  tta_flip {args.tta_flip}  "
          f"precision {getattr(model, 'precision', 'fp32')}")
    if result.skipped:
        print(f"skipped samples of classes the model lacks: {result.skipped}")
    print(result.report.format())
    if before is None:
        print(f"\ncalibration: ECE (15 bins) {result.calibration.ece:.4f}")
    else:
        print(f"\ncalibration: ECE (15 bins) {result.calibration.ece:.4f} with the checkpoint's temperature "
              f"T={temperature:.4f}; {before.calibration.ece:.4f} uncalibrated (T=1)")
        if before.report.accuracy != result.report.accuracy:  # only a model without logit-level TTA can differ
            print(f"accuracy uncalibrated (T=1): {before.report.accuracy:.4f}")
    if args.out:
        meta = {"model": model.name, "model_info": {k: v for k, v in model.describe().items() if k != "crop"},
                "data": str(args.data), "split": args.split, "tta_flip": args.tta_flip, "temperature": temperature,
                **extra}
        files = write_eval_outputs(args.out, result, meta, before)
        print("wrote " + ", ".join(str(f) for f in files.values()))
    return 0


def register(cli) -> None:
    p = cli.group("eval").add_parser(
        "expressions", help="evaluate an expression classifier on a labelled data set",
        description="Classify every face of a data set split with a model and print accuracy, macro-F1, per-class "
                    "recall/precision/F1, the confusion matrix and the expected calibration error (ECE, 15 bins; "
                    "for a temperature-calibrated checkpoint both with its temperature and uncalibrated, T=1); "
                    "with --out also write metrics.json, confusion.png, reliability.png (and "
                    "reliability_uncalibrated.png) and predictions.csv. Faces are resized to the model's input size. "
                    "Calibrate a checkpoint with 'vidaffect calibrate expressions'.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    from vidaffect.training.expressions_cli import add_data_arguments

    add_data_arguments(p, split_default="val")
    m = p.add_argument_group("model")
    m.add_argument("--model", default="exprnet-s",
                   help="registered model name (see 'vidaffect models list'), a .safetensors checkpoint, or a Keras "
                        "mini-Xception .hdf5")
    m.add_argument("--checkpoint", default=None, metavar="PATH", help="weights to load into --model instead of its own")
    m.add_argument("--tta-flip", action="store_true",
                   help="average each face with its mirror image: the logits for ExprNet and mini-Xception (as "
                        "'analyze --tta-flip'), the probabilities for other frame models")
    m.add_argument("--detect", action="store_true",
                   help="re-crop every image with the analysis pipeline (face detection + alignment to the model's "
                        "crop) to check that pipeline crops match the training distribution; images without a "
                        "detected face are left out and counted")
    m.add_argument("--device", default="auto", help="auto (a CUDA GPU when present, else CPU), cpu, cuda or cuda:N")
    m.add_argument("--batch-size", type=int, default=256, help="faces per forward pass")
    m.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="fp32",
                   help="inference arithmetic of frame models: fp32 (the model card's figures), bf16 (autocast, "
                        "as `analyze --precision auto` uses on AMX CPUs), auto")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write metrics.json (with calibration), confusion.png, reliability.png (and "
                        "reliability_uncalibrated.png for a calibrated checkpoint), predictions.csv here")
    p.set_defaults(func=_eval)
