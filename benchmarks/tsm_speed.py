"""Per-frame cost of ``analyze --model resnet18-tsm`` (224 and 112 px) against the default model.

Usage: ``python benchmarks/tsm_speed.py [--video PATH] [--end SECONDS] [--threads N] [--device cpu]``.
The TSM weights are random (speed does not depend on them).  Prints one row
per configuration: analysed frames, faces, end-to-end fps and ms per frame,
model ms per frame, and the ratio of both to the default model.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

VIDEO = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos" / "WolfgangLanger_Pexels.mp4"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", default=str(VIDEO), help="video to analyse (default: the shared WolfgangLanger clip)")
    ap.add_argument("--end", type=float, default=None, help="analyse only the first SECONDS")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu)")
    ap.add_argument("--sizes", default="224,112", help="TSM input sizes (default 224,112)")
    args = ap.parse_args()
    if not Path(args.video).is_file():
        print(f"skipped: {args.video} not found")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    from vidaffect.errors import ModelError
    from vidaffect.models import create_model
    from vidaffect.models.registry import DEFAULT_MODEL
    from vidaffect.models.tsm import ResNet18TSM
    from vidaffect.models.tsm.checkpoint import save_tsm_checkpoint
    from vidaffect.pipeline import Analyzer

    try:
        default = create_model(DEFAULT_MODEL, device=args.device)
    except ModelError:  # shipped weights not built yet: same network, random weights (speed is the same)
        default = create_model(DEFAULT_MODEL, pretrained=False, device=args.device)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = str(save_tsm_checkpoint(Path(tmp) / "random", ResNet18TSM(7, 4).eval()))
        models = [default] + [create_model("resnet18-tsm", checkpoint=ckpt, input_size=int(s), device=args.device)
                              for s in args.sizes.split(",")]
    rows = []
    for model in models:
        with Analyzer(model_instance=model, end=args.end, device=args.device) as analyzer:
            meta = analyzer.analyze(args.video).metadata
        speed = meta["speed_ms_per_frame"]
        rows.append({"model": model.name, "input": model.crop.size, "frames": meta["frames_analysed"],
                     "faces": meta["faces_found"], "fps": meta["fps"], "total_ms": speed["total"],
                     "model_ms": speed.get("model", float("nan"))})
    base = rows[0]
    print(f"video: {args.video}  device: {args.device}  torch threads: {torch.get_num_threads()}")
    print(f"{'model':<14}{'input':>6}{'frames':>8}{'faces':>7}{'fps':>8}{'ms/frame':>10}{'model ms':>10}"
          f"{'x total':>9}{'x model':>9}")
    for r in rows:
        print(f"{r['model']:<14}{r['input']:>6}{r['frames']:>8}{r['faces']:>7}{r['fps']:>8.2f}{r['total_ms']:>10.1f}"
              f"{r['model_ms']:>10.1f}{r['total_ms'] / base['total_ms']:>9.2f}{r['model_ms'] / base['model_ms']:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
