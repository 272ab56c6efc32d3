"""``vidaffect eval va`` / ``train mimamo`` from the command line."""
import json

import torch

from test_mimamo_training import make_synthetic_set
from vidaffect.cli.main import main
from vidaffect.models.mimamo.checkpoints import save_mimamo_checkpoint
from vidaffect.models.mimamo.network import TwoStreamRNN


def test_eval_va_reports_metrics_per_dimension(tmp_path, capsys):
    crops, feats, ann, videos = make_synthetic_set(tmp_path, n_videos=2, n_frames=10)
    torch.manual_seed(0)
    ckpt = save_mimamo_checkpoint(tmp_path / "fold_0_best_ccc.pth.tar", TwoStreamRNN(), epoch=0)
    out = tmp_path / "metrics.json"
    rc = main(["eval", "va", "--data", str(crops), "--annotations", str(ann), "--features", str(feats),
               "--checkpoint", str(ckpt), "--length", "8", "--output", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "valence" in text and "arousal" in text and "CCC" in text
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["valence"]["n"] == 20 and metrics["arousal"]["n"] == 20
    assert -1 <= metrics["valence"]["ccc"] <= 1 and metrics["valence"]["rmse"] > 0


def test_cli_errors_are_one_line(tmp_path, capsys):
    crops, feats, ann, videos = make_synthetic_set(tmp_path, n_videos=2, n_frames=4)
    rc = main(["train", "mimamo", "--data", str(crops), "--annotations", str(ann), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and err.startswith("vidaffect: error:") and "--resnet-checkpoint" in err and "\n" not in err
    rc = main(["eval", "va", "--data", str(crops), "--annotations", str(ann), "--features", str(feats),
               "--checkpoint", str(tmp_path / "missing.pth.tar")])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "missing.pth.tar" in err and "not found" in err
