"""``vidaffect demo``: make the embedded demo video and analyse it."""
from __future__ import annotations

import argparse
from pathlib import Path


def run_demo(args: argparse.Namespace) -> int:
    from vidaffect.cli.commands.analyze import check_output_dir
    from vidaffect.pipeline.analyzer import analyze
    from vidaffect.video.demo import make_demo_video

    out = Path(args.output)
    check_output_dir(out)
    video = out / "demo.mp4"
    if not video.exists():
        print(f"making the demo video (scikit-image's astronaut, animated): {video}")
        make_demo_video(video)
    res = analyze(video, smoothing_size=0.3)
    paths = res.save(out, ("csv", "json"))
    s = res.summary()
    print(f"analysed {res.metadata['frames_analysed']} frames at {res.metadata['fps']} fps; "
          f"{len(s)} face track(s); VA source: {res.metadata['va_source']}")
    print(s[["face_id", "first_s", "last_s", "dominant_emotion", "mean_valence", "mean_arousal"]].to_string(index=False))
    print("results:")
    for kind, p in paths.items():
        print(f"  {kind:>9}: {p}")
    return 0


def register(cli) -> None:
    p = cli.top.add_parser("demo", help="make the built-in demo video and analyse it",
                           description="Generate an 8-second demo video (scikit-image's astronaut photograph, "
                                       "animated with pans, zooms and a second face entering) and analyse it with "
                                       "the default model; prints where the results are.")
    p.add_argument("-o", "--output", default="demo_out", help="output directory (default: %(default)s)")
    p.set_defaults(func=run_demo)
