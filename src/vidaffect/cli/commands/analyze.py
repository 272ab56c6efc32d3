"""``vidaffect analyze INPUT... -o OUT_DIR``: the main job from the command line.

Inputs (see :func:`collect_inputs` and docs/pipeline.md, "Inputs"): video files, image files, directories
(searched recursively for videos and for folders of images), ``webcam:N`` and stream URLs (``rtsp://``,
``rtmp://``, ``http(s)://``).

Post-processing features (reports, annotated videos, identity...) plug in as
modules of :mod:`vidaffect.cli.analyze_plugins`: each defines
``add_arguments(parser)`` and may define ``before_save(args, video, results,
analyzer)`` (change the results, e.g. add a column) and ``after_save(args,
video, results, out_dir, paths) -> dict[str, Path]`` (write more files).
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import logging
import os
import pkgutil
import shutil
import sys
import time
from pathlib import Path

from vidaffect.errors import OutputError, VidaffectError
from vidaffect.video.formats import DEFAULT_EXTS, DEFAULT_IMAGE_EXTS, WEBCAM_PREFIX, parse_exts

DEFAULT_OUT = "vidaffect-results"


def _plugins() -> list:
    from vidaffect.cli import analyze_plugins

    return [importlib.import_module(f"{analyze_plugins.__name__}.{m.name}")
            for m in sorted(pkgutil.iter_modules(analyze_plugins.__path__), key=lambda m: m.name)]


def add_analysis_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that analyses videos (analyze, batch, watch, serve)."""
    g = p.add_argument_group("model")
    g.add_argument("--model", default="exprnet-s", help="registered model name, see `vidaffect models list` (default: %(default)s, the project's own FER model)")
    g.add_argument("--checkpoint", help="load these weights into the model (a .safetensors with its .json, or the model's original checkpoint format)")
    g.add_argument("--resnet-checkpoint", help="MIMAMO only: the ResNet-50 FER+ state dict (resnet50_ferplus_dag.pth)")
    g.add_argument("--legacy-gru-axis", action="store_true", help="MIMAMO only: reproduce the original release's batch-axis GRU recurrence (for its checkpoints)")
    g.add_argument("--input-size", type=int, help="temporal models (resnet18-tsm): crop size fed to the network (default 224)")
    g.add_argument("--tta-flip", action="store_true", help="frame models: average each face with its mirror image (slower, slightly more accurate)")
    g.add_argument("--batch-size", type=int, default=32, help="faces per model call, gathered across faces and frames (default: %(default)s)")
    g.add_argument("--device", default="cpu", help="torch device for the model and, with --face-runtime auto or torch, the face networks: cpu or cuda[:N] (default: %(default)s)")
    g.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto", help="arithmetic of the expression model (frame models) and of the face networks on the torch runtime: bf16 (autocast) is 3-4x faster on CPUs with AMX and keeps FER2013 validation accuracy (65.95 vs 65.81 %%, the same class for 99.6 %% of faces); auto = bf16 where the CPU has AMX, else fp32; fp32 reproduces earlier results exactly (default: %(default)s)")
    g.add_argument("--threads", type=int, default=1, help="torch CPU threads for the model; the face stage and the decoder use the other cores, so 1 is fastest on small CPUs (0: torch's default) (default: %(default)s)")
    g = p.add_argument_group("faces")
    g.add_argument("--detector", choices=["multiscale", "full", "short"], default="multiscale", help="face detector: multiscale = BlazeFace full range on the whole frame plus tiles, finds faces from --min-face pixels to full frame at any resolution; full = full range on the whole frame only (faces down to ~7%% of the frame's long side); short = short range (large, near faces) (default: %(default)s)")
    g.add_argument("--min-face", type=float, default=32, metavar="PX", help="multiscale: smallest face width in pixels to look for; smaller means more tiles on large frames, so slower (default: %(default)s)")
    g.add_argument("--face-runtime", choices=["auto", "litert", "torch"], default="auto", help="what runs the face networks: litert (CPU, fastest there), torch (any --device, GPU included), auto = litert on the CPU, torch on a GPU (default: %(default)s)")
    g.add_argument("--threshold", type=float, default=None, help="face detection score threshold, in (0, 1) (default: the detector's own, 0.6 for multiscale and full, 0.5 for short; at 0.5 multiscale finds a few more 24-40 px faces and also false ones, benchmarks/face_recall.py)")
    g.add_argument("--max-faces", type=int, default=10, help="at most this many faces per frame, largest first (default: %(default)s)")
    mf = g.add_mutually_exclusive_group()
    mf.add_argument("--multi-face", dest="multi_face", action="store_true", default=True, help="report every face (default)")
    mf.add_argument("--single-face", dest="multi_face", action="store_false", help="report only the largest face of each frame (as the MIMAMO API did)")
    g.add_argument("--no-landmarks", action="store_true", help="skip the face mesh: align from BlazeFace's 6 keypoints only (faster; --mask then uses an ellipse)")
    g.add_argument("--detect-every", type=int, default=6, metavar="N", help="run face detection on every N-th frame; in between, sparse optical flow (Lucas-Kanade + a RANSAC similarity) carries each face, and a face flow cannot follow is dropped until the next detection. 1 = detect on every frame (slowest, exact). Measured against 1 with the mesh on every frame (benchmarks/detection_schedule_quality.py): N=6 keeps 99-100%% of the faces, box IoU 0.91-0.95 and the dominant emotion of 90-97%% of them at 4.3-4.5x the speed; N=3 gives IoU 0.93-0.96 at 3.5x (default: %(default)s)")
    g.add_argument("--mesh-every", type=int, default=2, metavar="N", help="run the face mesh on every N-th detection frame; in between, each face's last mesh follows its keypoints (default: %(default)s)")
    g.add_argument("--face-size", type=int, default=112, help="side of the aligned face crops in pixels (saved crops, aligned-crop models) (default: %(default)s)")
    g.add_argument("--save-landmarks", action="store_true",
                   help="also write every face row's 468 face-mesh points (image pixels) to <name>.landmarks.parquet, "
                        "keyed by frame and face_id (and person_id): column 'landmarks', 936 floats x0, y0, x1, y1, ...")
    g.add_argument("--mask", action="store_true", help="keep only the face region (convex hull of the landmarks) in the crops, as the MIMAMO API did")
    g.add_argument("--max-gap", type=float, default=1.0, help="seconds a face may go undetected and still be matched to its track by position; later in the same shot it is matched by its face embedding (default: %(default)s)")
    g = p.add_argument_group("people")
    ident = g.add_mutually_exclusive_group()
    ident.add_argument("--identity", dest="identity", action="store_true", default=True,
                       help="embed faces (dlib's ResNet face descriptor, run by vidaffect) to keep a face's id when "
                            "it comes back inside a shot and to link tracks into persons: a person_id column (default)")
    ident.add_argument("--no-identity", dest="identity", action="store_false",
                       help="no face embeddings: tracks by position only, no person_id column (a little faster)")
    g.add_argument("--identity-threshold", type=float, default=None, metavar="DIST",
                   help="largest cosine distance between the mean embeddings of two tracks of one person; lower "
                        "is stricter (default: the descriptor's measured value, see docs/identity-and-meld.md)")
    g = p.add_argument_group("time")
    g.add_argument("--fps", type=float, help="analyse at most this many frames per second (default: every frame)")
    g.add_argument("--image-fps", type=float, default=None, metavar="FPS",
                   help="timestamps of a folder of images: image i is at i / FPS seconds (--fps, --start and --end "
                        "then choose images by these times) (default: 1, time_s counts images)")
    g.add_argument("--start", type=float, help="start at this time (seconds)")
    g.add_argument("--end", type=float, help="stop at this time (seconds)")
    g.add_argument("--smoothing-size", type=float, default=0.0, help="moving-average window in seconds applied per face to probabilities and VA, on real timestamps (default: 0, off)")
    g.add_argument("--strict", action="store_true", help="fail a video with damaged data; by default the damaged spans are skipped, listed in the metadata (damaged_spans) and reported as a warning")


def options_from_args(args: argparse.Namespace, progress: bool = False):
    """Build :class:`AnalyzeOptions` from parsed arguments."""
    from vidaffect.pipeline.analyzer import AnalyzeOptions

    model_kwargs = {}
    if args.resnet_checkpoint:
        model_kwargs["resnet_checkpoint"] = args.resnet_checkpoint
    if args.legacy_gru_axis:
        model_kwargs["legacy_gru_axis"] = True
    if args.input_size:
        model_kwargs["input_size"] = args.input_size
    if args.tta_flip:
        model_kwargs["tta_flip"] = True
    return AnalyzeOptions(
        model=args.model, checkpoint=args.checkpoint, model_kwargs=model_kwargs, device=args.device,
        precision=args.precision,
        batch_size=args.batch_size, detector=args.detector, min_confidence=args.threshold, max_faces=args.max_faces,
        face_runtime=args.face_runtime, min_face=args.min_face,
        multi_face=args.multi_face, landmarks=not args.no_landmarks, mesh_every=args.mesh_every, detect_every=args.detect_every, face_size=args.face_size, mask=args.mask,
        fps=args.fps, image_fps=getattr(args, "image_fps", None), start=args.start, end=args.end,
        smoothing_size=args.smoothing_size,
        save_crops=getattr(args, "save_crops", None), max_gap_s=args.max_gap, threads=args.threads, progress=progress,
        identity=args.identity, identity_threshold=args.identity_threshold, strict=getattr(args, "strict", False),
        save_landmarks=getattr(args, "save_landmarks", False),
        checkpoint_every_s=getattr(args, "checkpoint_every", 60.0),
    ).check()


def parse_formats(text: str) -> list[str]:
    """``"csv,parquet"`` -> ``["csv", "parquet"]``; a one-line error for unknown or missing formats."""
    from vidaffect.results.results import FORMATS

    formats = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise VidaffectError(f"--format: unknown format(s) {bad or formats}; choose from {', '.join(FORMATS)}")
    return formats


def collect_videos(inputs: list[str], exts: str) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and directories (recursively, by extension); return (videos, missing inputs)."""
    allowed = parse_exts(exts)
    videos, missing = [], []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in allowed)
            if not found:
                missing.append((p, f"no video files with extensions {sorted(allowed)}"))
            videos.extend(found)
        elif p.exists():
            videos.append(p)
        else:
            missing.append((p, "file not found"))
    return videos, missing


def collect_inputs(inputs: list[str], exts: str, image_exts: str = DEFAULT_IMAGE_EXTS
                   ) -> tuple[list[Path | str], list[tuple[Path | str, str]]]:
    """``vidaffect analyze``'s inputs: (inputs to analyse, (input, why) for those that give none).

    A file is one input (an image file, by its extension, is one image); a directory is searched recursively,
    and each video file in it (``exts``) is one input and each folder that directly holds image files
    (``image_exts``) and no video file is one more, its images analysed as a sequence of stills; ``webcam:N``
    and stream URLs (``rtsp://``, ``rtmp://``, ``http(s)://``) are inputs as they are.
    """
    from vidaffect.errors import VideoError
    from vidaffect.video.sources import source_kind
    from vidaffect.video.stream_backend import redact_url

    allowed, images = parse_exts(exts), parse_exts(image_exts)
    found: list[Path | str] = []
    missing: list[tuple[Path | str, str]] = []
    for item in inputs:
        if item.lower().startswith(WEBCAM_PREFIX) or "://" in item:
            try:
                source_kind(item)
            except VideoError as exc:
                label, why = redact_url(item) if "://" in item else item, str(exc)
                missing.append((label, why[len(f"{label}: "):] if why.startswith(f"{label}: ") else why))
                continue
            found.append(item)
            continue
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file())
            videos = [f for f in files if f.suffix.lower() in allowed]
            folders = sorted({f.parent for f in files if f.suffix.lower() in images and not f.name.startswith(".")}
                             - {v.parent for v in videos})
            if not videos and not folders:
                missing.append((p, f"no video files with extensions {sorted(allowed)}"
                                   + (f" and no image files ({', '.join(sorted(images))})" if images else "")))
            found.extend(videos)
            found.extend(folders)
        elif p.exists():
            found.append(p)
        else:
            missing.append((p, "file not found"))
    return found, missing


def output_names(videos: list[Path | str]) -> dict[Path | str, str]:
    """The name of each input's result set (``OUT/<name>.frames.csv``...): the file name without extension (a
    folder's name; ``webcamN``; a URL's host, port and path), or, when several inputs of the run share it
    (compared case-insensitively: ``a/clip.mp4``, ``b/clip.mp4``, ``clip.avi``), ``<name>-<first 8 hex
    digits of the SHA-1 of its absolute path (or URL)>`` for each of them.  The same inputs always get the
    same names, so a rerun replaces its own sets."""
    from vidaffect.video.sources import source_name

    def key(name: str) -> str:
        return name.casefold()

    base = {v: source_name(v) for v in videos}

    def hashed(v: Path | str, digits: int) -> str:
        where = str(v.absolute()) if isinstance(v, Path) else v
        return f"{base[v]}-{hashlib.sha1(where.encode()).hexdigest()[:digits]}"

    counts: dict[str, int] = {}
    for v in videos:
        counts[key(base[v])] = counts.get(key(base[v]), 0) + 1
    names = {v: base[v] if counts[key(base[v])] == 1 else hashed(v, 8) for v in videos}
    taken: set[str] = set()
    for v in videos:  # a file really named like another one's hashed name: give it the full hash
        if key(names[v]) in taken:
            names[v] = hashed(v, 40)
        taken.add(key(names[v]))
    return names


def unique_videos(videos: list[Path | str]) -> list[Path | str]:
    """``videos`` without repeats of the same input (given twice, or as a file and inside a directory)."""
    seen, out = set(), []
    for v in videos:
        if isinstance(v, Path):
            try:
                k = v.resolve()
            except OSError:
                k = v.absolute()
        else:
            k = v
        if k not in seen:
            seen.add(k)
            out.append(v)
    return out


def check_output_dir(out: Path) -> None:
    """Create ``out`` and make sure files can be written there (fails early, before any analysis)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".vidaffect-write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"{out}: output directory is not writable ({exc.strerror or exc})") from None


def setup_logging(log_file: str | None, quiet: bool) -> None:
    """Log to ``log_file`` at INFO level; without one, log nothing (errors are printed on their own)."""
    try:
        handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.NullHandler()
    except OSError as exc:
        raise OutputError(f"{log_file}: cannot open log file ({exc.strerror or exc})") from None
    logging.basicConfig(level=logging.INFO, handlers=[handler],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)


def _print_summary(video: Path | str, res, paths: dict[str, Path], seconds: float) -> None:
    meta = res.metadata
    s = res.summary()
    shown = video.name if isinstance(video, Path) else _label(video)
    print(f"\n{shown}: {meta['frames_analysed']} frames in {seconds:.1f} s "
          f"({meta['frames_analysed'] / max(seconds, 1e-9):.1f} fps), {len(s)} face track(s)")
    for r in s.head(8).itertuples(index=False):
        print(f"  face {r.face_id:>3}: {r.first_s:6.2f}-{r.last_s:6.2f} s  on screen {r.on_screen_s:6.2f} s  "
              f"{r.dominant_emotion or '-':>8}  valence {r.mean_valence:+.2f}  arousal {r.mean_arousal:+.2f}")
    if len(s) > 8:
        print(f"  ... {len(s) - 8} more (see the summary file)")
    print(f"  VA source: {meta['va_source']}")
    for kind, path in paths.items():
        print(f"  {kind:>9}: {path}")


def start_run(args: argparse.Namespace, expand=collect_videos) -> tuple[list[str], Path, list[Path], list[tuple[Path, str]]]:
    """Common start of commands over many videos: logging, ``--format``, the output directory (checked before
    any work) and the inputs expanded by ``expand``; inputs that yield no video are reported on stderr.
    Returns ``(formats, out_dir, videos, missing)``."""
    setup_logging(args.log_file, args.quiet)
    formats = parse_formats(args.format)
    out = Path(args.output)
    check_output_dir(out)
    videos, missing = expand(args.inputs, args.video_exts)
    for p, why in missing:
        print(f"vidaffect: error: {p}: {why}", file=sys.stderr)
    return formats, out, videos, missing


def _label(source: Path | str) -> str:
    """How messages name an input: its path, webcam:N, or its URL without password and query."""
    if isinstance(source, Path):
        return str(source)
    from vidaffect.video.sources import source_label

    return source_label(source)


PARTIAL_PREFIX = ".partial-"  # OUT_DIR/.partial-<name>/: an analysis in progress (or interrupted)


def _partial_dir(out: Path, name: str) -> Path:
    return out / f"{PARTIAL_PREFIX}{name}"


def _resume_hint(out: Path, name: str) -> None:
    """After a failed or interrupted video: keep its partial folder and say how to continue when it holds a
    restart point, else remove it (nothing to resume from)."""
    from vidaffect.pipeline.spool import checkpoint_time

    folder = _partial_dir(out, name)
    at = checkpoint_time(folder)
    if at is None:
        shutil.rmtree(folder, ignore_errors=True)
        return
    print(f"vidaffect: {name}: the rows up to {at:.1f} s are kept in {folder}; run the same command with "
          f"--resume to continue from there", file=sys.stderr)


# plugins that need a video file to read again (the report's player and the annotated copy)
VIDEO_FILE_PLUGINS = ("report",)


def run_analyze(args: argparse.Namespace) -> int:
    from vidaffect.pipeline.analyzer import Analyzer
    from vidaffect.results.results import add_outputs

    def expand(inputs: list[str], exts: str):
        return collect_inputs(inputs, exts, args.image_exts)

    formats, out, videos, failures = start_run(args, expand=expand)
    log = logging.getLogger("vidaffect.analyze")
    if not videos:
        return 1
    videos = unique_videos(videos)
    names = output_names(videos)
    plugins = _plugins()
    opts = options_from_args(args, progress=not args.quiet and sys.stderr.isatty())
    analyzer = Analyzer(opts)
    done: list[Path] = []
    current = None  # the input being analysed (its partial folder, if interrupted)
    try:
        for video in videos:
            current = video
            t0 = time.perf_counter()
            label = _label(video)
            try:
                source = video
                if isinstance(video, Path) and video.is_dir():  # a folder of images: only the --image-exts ones
                    from vidaffect.video import open_video

                    source = open_video(video, fps=opts.fps, start=opts.start, end=opts.end, strict=opts.strict,
                                        image_fps=opts.image_fps, image_exts=parse_exts(args.image_exts))
                spool = _partial_dir(out, names[video])  # rows during the pass; restart points
                res = analyzer.analyze(source, name=names[video], spool_dir=spool, resume=args.resume)
                for w in res.metadata.get("warnings", []):
                    print(f"vidaffect: warning: {label}: {w}", file=sys.stderr)
                kind = (res.metadata.get("video") or {}).get("kind", "video")
                active = plugins
                if kind != "video":  # not a video file: no report or annotated copy
                    active = [pl for pl in plugins if pl.__name__.rsplit(".", 1)[-1] not in VIDEO_FILE_PLUGINS]
                    if getattr(args, "report", False) or getattr(args, "annotate", False):
                        print(f"vidaffect: warning: {label}: --report and --annotate need a video file, skipped "
                              f"for this input ({kind})", file=sys.stderr)
                for plugin in active:
                    if hasattr(plugin, "before_save"):
                        plugin.before_save(args, video, res, analyzer)
                saved = res.save(out, formats, plot=not args.no_plot, events_form=args.events_format,
                                 name=names[video])
                paths = dict(saved)
                for plugin in active:
                    if hasattr(plugin, "after_save"):
                        paths.update(plugin.after_save(args, video, res, out, paths) or {})
                added = {k: p for k, p in paths.items() if k not in saved and Path(p).parent == out
                         and Path(p).name.startswith(f"{names[video]}.") and Path(p).is_file()}
                if added:  # the plugins' files of this set (not the folder's index) join its list of files
                    add_outputs(saved["metadata"], added)
            except VidaffectError as exc:
                why = str(exc)
                why = why[len(f"{label}: "):] if why.startswith(f"{label}: ") else why
                print(f"vidaffect: error: {label}: {why}", file=sys.stderr)
                _resume_hint(out, names[video])
                log.error("%s: %s", label, why)
                failures.append((label, why))
                continue
            done.append(video)
            log.info("%s: done in %.1f s", label, time.perf_counter() - t0)
            if not args.quiet:
                _print_summary(video, res, paths, time.perf_counter() - t0)
            del res  # an on-disk table lives in the spool folder, removed now that the set is published
            shutil.rmtree(_partial_dir(out, names[video]), ignore_errors=True)
            current = None
    except KeyboardInterrupt:
        if current is not None:
            _resume_hint(out, names[current])
        raise
    finally:
        analyzer.close()
    if len(videos) + len(failures) > 1 and not args.quiet:
        print(f"\n{len(done)} video(s) analysed, {len(failures)} failed; results in {out}")
    if failures:
        if len(videos) + len(failures) - len(done) > 0 and len(args.inputs) + len(videos) > 2:
            print(f"{len(failures)} failure(s):", file=sys.stderr)
            for p, why in failures:
                print(f"  {p}: {why}", file=sys.stderr)
        return 1
    return 0


def register(cli) -> None:
    p = cli.top.add_parser(
        "analyze", help="analyse videos: per-frame, per-face emotions, valence/arousal",
        description="Detect, track and align every face of each video (or image, folder of images, webcam, stream "
                    "URL), run the emotion model and write per-frame "
                    "per-face results (CSV/Parquet/JSON), a per-face summary, VTT emotion events, a VA trend plot "
                    "and a metadata file into OUT_DIR as <name>.<kind>.<ext>: <name> is the input's file name "
                    "without extension (a folder's name, webcamN, a URL's host and path), plus '-' and 8 hex "
                    "digits of its path's hash when several inputs share it. "
                    "The metadata file is written last and lists every file of the set: a set without it is "
                    "incomplete (docs/pipeline.md, Guarantees).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="video files, image files (each one image), directories (searched recursively: each video "
                        "file is an input, and each folder of images, its images analysed one by one as a sequence "
                        "of stills), webcam:N (camera N, needs --end) or stream URLs (rtsp://, rtmp://, http(s)://)")
    p.add_argument("-o", "--output", default=DEFAULT_OUT, metavar="OUT_DIR", help="output directory (default: %(default)s)")
    p.add_argument("--video-exts", default=DEFAULT_EXTS, help="extensions of videos looked for in directories (default: %(default)s)")
    p.add_argument("--image-exts", default=DEFAULT_IMAGE_EXTS,
                   help="extensions of images: a folder holding such files (and no video) is a sequence of stills; "
                        "empty: look for videos only (default: %(default)s)")
    add_analysis_arguments(p)
    g = p.add_argument_group("output")
    g.add_argument("--format", default="csv", help="comma-separated result formats: csv, parquet, json (default: %(default)s)")
    g.add_argument("--events-format", choices=["event", "frames"], default="event", help="VTT events: 'event' = one event per change of dominant emotion per face (JSON list), 'frames' = one JSON line per frame and face (default: %(default)s)")
    g.add_argument("--no-plot", action="store_true", help="do not write the VA trend / emotion timeline PNG")
    g.add_argument("--save-crops", metavar="DIR", help="also save every aligned face crop as DIR/<video>/face<id>/frame<n>.jpg (like the MIMAMO API's --keep_tmp)")
    g.add_argument("--resume", action="store_true",
                   help="continue an interrupted analysis of a video file from its last restart point (rows so far "
                        "are kept in OUT_DIR/.partial-<name>/ during the pass), with the same results as an "
                        "uninterrupted run; without a restart point for the same input and settings the video is "
                        "analysed from the start")
    g.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS",
                   help="restart points for --resume: at the first scene cut at least this many seconds of video "
                        "after the previous point (a video without cuts has none) (default: %(default)s)")
    g.add_argument("--log-file", help="write a log (INFO level) to this file")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary on screen")
    for plugin in _plugins():
        plugin.add_arguments(p)
    p.set_defaults(func=run_analyze)
