"""``vidaffect meld subset|features|train-text|eval``: MELD subsets, per-utterance multimodal features, the
conversation-aware text model, per-modality scores and fusion."""
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
    from vidaffect.meld.features import TEXT_MODALITIES, read_meld_table, utterance_features

    setup_logging(None, args.quiet)
    modalities = tuple(m.strip() for m in args.modalities.split(",") if m.strip())
    out = Path(args.output)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise VidaffectError(f"{out}: output must end in .csv or .parquet")
    table = read_meld_table(args.csv)
    if args.clips:
        table = attach_clips(table, args.clips)
    elif set(modalities) - set(TEXT_MODALITIES):
        raise VidaffectError("--clips is needed for the audio and face modalities (or use --modalities text)")
    context_model = None
    if "context" in modalities:
        from vidaffect.meld.context import load_context_model

        context_model = load_context_model(args.context_model)
    analyzer = gallery = None
    if "face" in modalities:
        from vidaffect.pipeline.analyzer import Analyzer

        analyzer = Analyzer(options_from_args(args))
        if args.gallery:
            from vidaffect.identity.gallery import Gallery

            gallery = Gallery.load(args.gallery)
    try:
        feats = utterance_features(table, modalities, analyzer, gallery,
                                   progress=not args.quiet and sys.stderr.isatty(), context_model=context_model)
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
    dev = _read_features(args.dev) if args.dev else None
    res = late_fusion(_read_features(args.train), _read_features(args.test), modalities, label=args.label,
                      seed=args.seed, dev=dev, fusion=args.fusion, class_weight=args.class_weight)
    if args.output:
        atomic_write_text(args.output, json.dumps(res.report, indent=1))
    if not args.quiet:
        print(format_report(res.report))
        if args.output:
            print(f"\nreport -> {args.output}")
    return 0


def _train_text(args: argparse.Namespace) -> int:
    from vidaffect.meld.context import train_context_model
    from vidaffect.meld.features import read_meld_table

    out = Path(args.output)
    if out.suffix.lower() != ".safetensors":
        raise VidaffectError(f"{out}: output must end in .safetensors (its .json config is written beside it)")
    tables = {name: read_meld_table(path) for name, path in (("train", args.train), ("dev", args.dev),
                                                              ("test", args.test)) if path}
    say = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    res = train_context_model(tables["train"], tables["dev"], tables.get("test"), seed=args.seed, heads=args.heads,
                              epochs=args.epochs, k=args.context, concat=args.concat,
                              speaker_line=args.speaker_line, hidden=args.hidden, lr=args.lr,
                              class_weight_power=args.class_weight_power,
                              cache_dir=args.cache_dir, threads=args.threads, progress=say)
    out.parent.mkdir(parents=True, exist_ok=True)
    res.model.save(out)
    if not args.quiet:
        print(f"{'split':<6} {'emotion wF1':>11} {'macroF1':>8} {'sentiment wF1':>13} {'macroF1':>8}  n")
        for name, r in res.scores.items():
            e, s_ = r["emotion"], r["sentiment"]
            print(f"{name:<6} {e['weighted_f1']:11.4f} {e['macro_f1']:8.4f} {s_['weighted_f1']:13.4f} "
                  f"{s_['macro_f1']:8.4f}  {e['n']}")
        print(f"model -> {out} (+ {out.with_suffix('.json').name})")
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
                        "sentence embedding, extra 'meld-text'), context (the conversation-aware text model's "
                        "emotion and sentiment probabilities; give whole dialogues; extra 'meld-text') "
                        "(default: %(default)s)")
    p.add_argument("--context-model", metavar="FILE.safetensors",
                   help="context model from 'vidaffect meld train-text' (default: the shipped one)")
    p.add_argument("--gallery", metavar="FILE", help="gallery of the speakers (from 'vidaffect people enroll', names as in "
                                                     "the Speaker column) to find the speaker's face by identity")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    add_analysis_arguments(p)
    p.set_defaults(func=_features)

    p = meld.add_parser(
        "train-text", help="train the conversation-aware text model (context modality)",
        description="Train the context model: frozen all-MiniLM-L6-v2 embeddings of each utterance and of the "
                    "previous utterances of its dialogue (with same-speaker flags), read by a small GRU, and of "
                    "the conversation up to it as one 'Speaker: utterance | ...' text, into a head with emotion "
                    "and sentiment outputs; an ensemble of --heads heads (seeds SEED..SEED+heads-1), each "
                    "stopped at its best dev epoch (7-emotion weighted F1). Embeddings are cached under "
                    "~/.cache/vidaffect/meld ($VIDAFFECT_HOME/cache/meld). Writes OUT.safetensors and OUT.json "
                    "(config and scores), loadable with 'meld features --modalities context --context-model OUT'.")
    p.add_argument("--train", required=True, metavar="CSV", help="training utterances (MELD CSV or subset JSON)")
    p.add_argument("--dev", required=True, metavar="CSV", help="dev utterances: each head's epoch is chosen here")
    p.add_argument("--test", metavar="CSV", help="test utterances, only scored")
    p.add_argument("-o", "--output", required=True, metavar="OUT.safetensors", help="model file")
    p.add_argument("--seed", type=int, default=0, help="seed of the first head (default: %(default)s)")
    p.add_argument("--heads", type=int, default=5, help="ensemble size (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=12, help="epochs per head (default: %(default)s)")
    p.add_argument("--context", type=int, default=8, metavar="K",
                   help="previous utterances in the GRU's window (default: %(default)s)")
    p.add_argument("--concat", type=int, default=13, metavar="LINES",
                   help="lines of the 'Speaker: utterance | ...' conversation text embedded as one input, the "
                        "utterance and LINES-1 before it; 0 leaves it out (default: %(default)s)")
    p.add_argument("--no-speaker-line", dest="speaker_line", action="store_false",
                   help="leave out the embedding of 'Speaker: utterance'")
    p.add_argument("--hidden", type=int, default=256, help="hidden units (default: %(default)s)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default: %(default)s)")
    p.add_argument("--class-weight-power", type=float, default=0.5, metavar="P",
                   help="emotion loss weights (n / (7 n_class)) ** P: 0 plain, 1 balanced (default: %(default)s)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--cache-dir", metavar="DIR", help="embedding cache folder (default: ~/.cache/vidaffect/meld)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(func=_train_text)

    p = meld.add_parser(
        "eval", help="per-modality scores and their fusion (learned on dev with --dev)",
        description="Fit a logistic regression per feature modality on the training features (the context "
                    "modality's probabilities are used as they are), fuse their class probabilities and report "
                    "on the test features: weighted F1 (MELD's metric), macro F1, accuracy, per-class F1 and the "
                    "confusion matrix. With --dev the fusion is learned on the dev features (weights chosen for "
                    "the best dev weighted F1, or a stacking logistic regression); without, it is the average.")
    p.add_argument("--train", required=True, metavar="FEATURES", help="features table of the training utterances")
    p.add_argument("--dev", metavar="FEATURES", help="features table of the dev utterances: fusion and class weights "
                                                     "are chosen here")
    p.add_argument("--test", required=True, metavar="FEATURES", help="features table of the test utterances")
    p.add_argument("--fusion", choices=["mean", "weighted", "stack"],
                   help="mean of probabilities, dev-weighted log-probabilities, or stacking on dev "
                        "(default: weighted with --dev, else mean)")
    p.add_argument("--class-weight", choices=["balanced", "none", "auto"],
                   help="per-modality logistic regression class weights; auto picks the better on dev "
                        "(default: auto with --dev, else balanced)")
    p.add_argument("--modalities", default="text,audio,face,textemb,context",
                   help="comma-separated modalities to use; those absent from the features are skipped (default: %(default)s)")
    p.add_argument("--label", default="Emotion", choices=["Emotion", "Sentiment"], help="target (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("-o", "--output", metavar="FILE", help="also write the full report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(func=_eval)
