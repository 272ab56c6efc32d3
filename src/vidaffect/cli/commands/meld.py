"""``vidaffect meld subset|features|eval``: MELD subsets, per-utterance multimodal features, late-fusion baseline."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vidaffect.errors import VidaffectError


def _subset(args: argparse.Namespace) -> int:
    from vidaffect.meld.data import read_meld_csv
    from vidaffect.meld.subsets import SIZES, build_subset, subset_name, write_subset

    df = read_meld_csv(args.csv)
    plans = {args.name or subset_name(tuple(args.dialogues)): tuple(args.dialogues)} if args.dialogues else dict(SIZES)
    for name, counts in plans.items():
        subset = build_subset(df, counts, seed=args.seed)
        paths = write_subset(subset, args.output, name)
        if not args.quiet:
            sizes = ", ".join(f"{s} {len(subset[s])} utterances" for s in subset)
            print(f"{name} ({'/'.join(map(str, counts))} dialogues): {sizes} -> {paths[0].parent}")
    return 0


def _features(args: argparse.Namespace) -> int:
    import logging

    from vidaffect.cli.commands.analyze import options_from_args, setup_logging
    from vidaffect.meld.data import attach_clips
    from vidaffect.meld.features import read_meld_table, utterance_features

    setup_logging(None, args.quiet)
    modalities = tuple(m.strip() for m in args.modalities.split(",") if m.strip())
    out = Path(args.output)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise VidaffectError(f"{out}: output must end in .csv or .parquet")
    table = read_meld_table(args.csv)
    if args.clips:
        table = attach_clips(table, args.clips)
    elif set(modalities) - {"text", "textemb"}:
        raise VidaffectError("--clips is needed for the audio and face modalities (or use --modalities text)")
    analyzer = gallery = None
    if "face" in modalities:
        from vidaffect.pipeline.analyzer import Analyzer

        analyzer = Analyzer(options_from_args(args))
        if args.gallery:
            from vidaffect.identity.gallery import Gallery

            gallery = Gallery.load(args.gallery)
    try:
        feats = utterance_features(table, modalities, analyzer, gallery,
                                   progress=not args.quiet and sys.stderr.isatty())
    finally:
        if analyzer is not None:
            analyzer.close()
    from vidaffect.utils.atomic import atomic_path

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        feats.to_parquet(tmp) if out.suffix.lower() == ".parquet" else feats.to_csv(tmp)
    missing = int(table["clip"].isna().sum()) if "clip" in table.columns else 0
    if not args.quiet:
        print(f"{len(feats)} utterance(s), {feats.shape[1]} column(s) -> {out}"
              + (f" ({missing} clip(s) missing: text only)" if missing else ""))
    logging.getLogger("vidaffect.meld").info("features written to %s", out)
    return 0


def _read_features(path: str):
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise VidaffectError(f"{p}: features file not found (make it with 'vidaffect meld features')")
    df = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p, index_col="key")
    if "Emotion" not in df.columns:
        raise VidaffectError(f"{p}: not a MELD features table (no Emotion column)")
    return df


def _eval(args: argparse.Namespace) -> int:
    from vidaffect.meld.fusion import format_report, late_fusion
    from vidaffect.utils.atomic import atomic_write_text

    modalities = tuple(m.strip() for m in args.modalities.split(",") if m.strip())
    res = late_fusion(_read_features(args.train), _read_features(args.test), modalities, label=args.label,
                      seed=args.seed)
    if args.output:
        atomic_write_text(args.output, json.dumps(res.report, indent=1))
    if not args.quiet:
        print(format_report(res.report))
        if args.output:
            print(f"\nreport -> {args.output}")
    return 0


def register(cli) -> None:
    from vidaffect.cli.commands.analyze import add_analysis_arguments

    meld = cli.group("meld")
    p = meld.add_parser(
        "subset", help="write small/medium/large MELD subsets as JSON",
        description="Draw disjoint train/dev/test dialogues from one MELD CSV (normally train_sent_emo.csv) with a "
                    "seeded permutation and write OUT/<name>/{train,dev,test}.json, each keyed "
                    "'{dialogue}_{utterance}' holding the CSV fields. Without --dialogues, writes the three standard "
                    "subsets small (16/2/2), medium (32/4/4) and large (64/8/8); smaller ones are inside larger ones.")
    p.add_argument("--csv", required=True, help="MELD CSV to draw from (original or dyadic variant)")
    p.add_argument("--dialogues", type=int, nargs=3, metavar=("TRAIN", "DEV", "TEST"),
                   help="numbers of dialogues per split (default: all three standard sizes)")
    p.add_argument("--name", help="subset folder name (default: small/medium/large for the standard sizes)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the dialogue permutation (default: %(default)s)")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output directory")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=_subset)

    p = meld.add_parser(
        "features", help="per-utterance text, audio and speaker-face features",
        description="For every utterance of a MELD CSV or subset JSON: VADER text sentiment, eGeMAPS audio "
                    "functionals (openSMILE) of the clip's audio, and the annotated speaker's face emotions "
                    "(gallery match of the speaker, else the face whose mouth moves most) averaged over the clip. "
                    "Missing clips keep their text features. Needs the 'meld' extra.")
    p.add_argument("--csv", required=True, help="MELD CSV or subset JSON")
    p.add_argument("--clips", metavar="DIR", help="folder with the utterance clips dia{D}_utt{U}.mp4")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="features table (.csv or .parquet)")
    p.add_argument("--modalities", default="text,audio,face", help="comma-separated: text (VADER), audio (eGeMAPS), face (speaker's emotions), textemb (all-MiniLM-L6-v2 "
                        "sentence embedding, extra 'meld-text') (default: %(default)s)")
    p.add_argument("--gallery", metavar="FILE", help="gallery of the speakers (from 'vidaffect people enroll', names as in "
                                                     "the Speaker column) to find the speaker's face by identity")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    add_analysis_arguments(p)
    p.set_defaults(func=_features)

    p = meld.add_parser(
        "eval", help="late-fusion baseline: weighted F1 per modality and fused",
        description="Fit a logistic regression per modality on the training features, average their class "
                    "probabilities (late fusion) and report on the test features: weighted F1 (MELD's metric), "
                    "macro F1, accuracy, per-class F1 and the confusion matrix.")
    p.add_argument("--train", required=True, metavar="FEATURES", help="features table of the training utterances")
    p.add_argument("--test", required=True, metavar="FEATURES", help="features table of the test utterances")
    p.add_argument("--modalities", default="text,audio,face,textemb",
                   help="comma-separated modalities to use; those absent from the features are skipped (default: %(default)s)")
    p.add_argument("--label", default="Emotion", choices=["Emotion", "Sentiment"], help="target (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("-o", "--output", metavar="FILE", help="also write the full report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(func=_eval)
