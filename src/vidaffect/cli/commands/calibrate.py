"""``vidaffect calibrate expressions``: fit a temperature to an ExprNet checkpoint and write a calibrated copy."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from vidaffect.errors import VidaffectError



def _out_path(out: str) -> Path:
    path = Path(out)
    if path.suffix.lower() not in ("", ".safetensors"):
        raise VidaffectError(f"--out {out}: name the new checkpoint NAME.safetensors (its NAME.json is written "
                             f"beside it)")
    path = path.with_suffix(".safetensors")
    if path.is_dir() or path.with_suffix(".json").is_dir():
        raise VidaffectError(f"--out {out}: is a folder; name the new checkpoint NAME.safetensors")
    return path


def _source_checkpoint(model, name: str) -> Path:
    """The checkpoint file the model was loaded from; only ExprNet checkpoints honour a temperature."""
    from vidaffect.models.zoo.exprnet import TorchFrameModel

    if not isinstance(model, TorchFrameModel) or model.info.get("arch") != "exprnet":
        raise VidaffectError(f"--model {name}: calibrate supports ExprNet checkpoints (config arch 'exprnet') only")
    src = model.info.get("checkpoint")
    if not src:
        raise VidaffectError(f"--model {name}: has no checkpoint file to calibrate")
    return Path(src)


def _score(model, data, args) -> tuple:
    from vidaffect.evaluation.expressions import model_labels, model_logits

    images, labels = model_labels(model, data)
    return model_logits(model, images, args.batch_size, args.tta_flip, show_progress=True), labels


def _calibrate(args: argparse.Namespace) -> int:
    from vidaffect.evaluation.calibration import calibration_config, fit_and_score, score_temperature
    from vidaffect.models import create_model
    from vidaffect.models.checkpoint import load_checkpoint_config
    from vidaffect.training.expressions_cli import load_split, stratified_split
    from vidaffect.utils.atomic import atomic_path, atomic_write_text
    from vidaffect.utils.device import resolve_device

    if not 0.0 <= args.holdout_fraction < 1.0:
        raise VidaffectError(f"--holdout-fraction must be in [0, 1) (0: fit on the whole --split), "
                             f"got {args.holdout_fraction}")
    if args.batch_size < 1:
        raise VidaffectError(f"--batch-size must be >= 1, got {args.batch_size}")
    report_split = None if args.report_split.lower() == "none" else args.report_split
    if report_split == args.split:
        raise VidaffectError(f"--report-split {report_split} is the split the temperature is fitted on (--split); "
                             f"report on another split, or pass --report-split none")
    out = _out_path(args.out)
    args.device = resolve_device(args.device)
    name = Path(args.model)
    if name.suffix.lower() in (".safetensors", ".json") and not name.is_file():
        raise VidaffectError(f"--model {args.model}: file not found")
    model = create_model(args.model, device=args.device)
    src = _source_checkpoint(model, args.model)
    if out.resolve() in (src.resolve(), src.with_suffix(".json").resolve()):
        raise VidaffectError(f"--out {args.out}: is the input checkpoint; calibrate writes a new checkpoint and never "
                             f"modifies its input")
    if not args.force and (out.exists() or out.with_suffix(".json").exists()):
        raise VidaffectError(f"--out {out}: exists (pass --force to replace it)")
    config = load_checkpoint_config(src)  # the weights are copied, never read again
    previous = config.get("calibration")
    model.set_precision(args.precision)  # the fit's logits (model_logits) never include the input's temperature

    data = load_split(args, args.data, args.split, model.crop.size, model.crop.color)
    if args.holdout_fraction:
        _, fit_data = stratified_split(data, args.holdout_fraction, args.seed)
        fitted_on = (f"{args.data} split '{args.split}': the stratified {args.holdout_fraction:g} hold-out with seed "
                     f"{args.seed} (vidaffect.training.expressions_cli.stratified_split, as 'train expressions "
                     f"--val-fraction {args.holdout_fraction:g} --seed {args.seed}' holds it out)")
    else:
        fit_data = data
        fitted_on = f"{args.data} split '{args.split}' (all of it)"
    print(f"fitting the temperature on {len(fit_data)} images", file=sys.stderr)
    logits, labels = _score(model, fit_data, args)
    try:
        fit = fit_and_score(logits, labels)
    except ValueError as exc:
        raise VidaffectError(f"cannot fit a temperature: {exc}") from None
    report = None
    if report_split is not None:
        rep_data = load_split(args, args.data, report_split, model.crop.size, model.crop.color)
        z, y = _score(model, rep_data, args)
        scored = score_temperature(z, y, fit.temperature).to_dict()
        del scored["temperature"]
        report = {"split": report_split, **scored}

    config["calibration"] = calibration_config(fit, fitted_on, args.tta_flip, model.precision, report)
    config["calibration"]["source_checkpoint"] = str(src)
    if previous is not None:
        config["calibration"]["replaces"] = previous
    with atomic_path(out) as tmp:  # the weights unchanged, byte for byte
        shutil.copyfile(src, tmp)
    atomic_write_text(out.with_suffix(".json"), json.dumps(config, indent=2, sort_keys=True))

    print(f"temperature {fit.temperature:.4f} fitted on {fit.samples} images ({'flip TTA, ' if args.tta_flip else ''}"
          f"{model.precision}): NLL {fit.nll_before:.4f} -> {fit.nll_after:.4f}, ECE (15 bins) {fit.ece_before:.4f} -> "
          f"{fit.ece_after:.4f}")
    if previous is not None:
        print(f"replaced the input's calibration (temperature {previous.get('temperature')})")
    if report is not None:
        print(f"{report_split} ({report['samples']} images, accuracy {report['accuracy']:.4f}): NLL "
              f"{report['nll_before']:.4f} -> {report['nll_after']:.4f}, ECE {report['ece_before']:.4f} -> "
              f"{report['ece_after']:.4f}")
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


def register(cli) -> None:
    p = cli.group("calibrate").add_parser(
        "expressions", help="fit a temperature to an expression classifier and write a calibrated copy",
        description="Temperature scaling: fit one temperature T > 0 that minimises the negative log-likelihood of "
                    "softmax(logits / T) on labelled data held out from training, and write a new checkpoint pair "
                    "(the same weights; the JSON config gains a 'calibration' entry with T) that every command "
                    "then uses: probabilities are softmax(logits / T), predicted classes are unchanged. The input "
                    "checkpoint is never modified. By default T is fitted on the same stratified 10% hold-out of the "
                    "training split that 'vidaffect train expressions --val-fraction 0.1' validates on, and "
                    "reported on the val split; check the result with 'vidaffect eval expressions --model OUT'.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    from vidaffect.training.expressions_cli import add_data_arguments

    add_data_arguments(p, split_default="train")
    h = p.add_argument_group("held-out data for the fit")
    h.add_argument("--holdout-fraction", type=float, default=0.1, metavar="F",
                   help="fit on this stratified fraction of --split, held out as 'train expressions --val-fraction F "
                        "--seed SEED' holds it out (use the values the model was trained with); 0: fit on the whole "
                        "--split (a split the model never saw)")
    h.add_argument("--seed", type=int, default=0, help="seed of the stratified hold-out (the training run's --seed)")
    h.add_argument("--report-split", default="val",
                   help="also report NLL and ECE before/after on this split of --data (never the fitted data); "
                        "'none' to skip")
    m = p.add_argument_group("model")
    m.add_argument("--model", required=True,
                   help="ExprNet checkpoint to calibrate: NAME.safetensors (with its NAME.json) or a registered "
                        "ExprNet model name (exprnet-s, exprnet-m)")
    m.add_argument("--out", required=True, metavar="NEW.safetensors",
                   help="the calibrated checkpoint to write (NEW.safetensors + NEW.json, atomically); must differ "
                        "from the input")
    m.add_argument("--force", action="store_true", help="replace --out if it exists")
    m.add_argument("--tta-flip", action="store_true",
                   help="fit on logits averaged with the mirror images' (for models run with --tta-flip); by "
                        "default on plain logits, the default inference of 'analyze' and 'eval expressions'")
    m.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="fp32",
                   help="inference arithmetic used to compute the logits for the fit")
    m.add_argument("--device", default="auto", help="auto (a CUDA GPU when present, else CPU), cpu, cuda or cuda:N")
    m.add_argument("--batch-size", type=int, default=256, help="faces per forward pass")
    p.set_defaults(func=_calibrate)
