"LoRA end to end through the CLI: train --lora, predict on the run, and the final checkpoint read by transformers and by the adapters."
import json, subprocess, sys
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from helpers import max_abs_diff, report

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("mlx-modernbert"))
TEST_CSV = ROOT / "mlx_modernbert" / "data" / "titanic" / "test.csv"
TINY = ["--folds", "0", "--limit-rows", "64", "--epochs", "1", "--max-length", "32", "--no-mlflow"]

def cli(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=600)

def run_folder(stdout:str) -> Path:
    return Path(next(l.split("run folder:")[1].strip() for l in stdout.splitlines() if "run folder:" in l))

@pytest.mark.slow
def test_lora_train_predict_and_transformers(tmp_path):
    r = cli("train", "--dataset", "titanic", "--lora", *TINY, "--output", tmp_path / "runs")
    assert r.returncode == 0, r.stderr[-3000:]
    run = run_folder(r.stdout)
    final = run / "model" / "checkpoints" / "final"
    names = {p.name for p in final.iterdir()}
    assert {"model.safetensors", "adapters.safetensors", "config.json", "extra.json", "trainer_state.json"} <= names, names
    assert "optimizer.safetensors" not in names and not (run / "model" / "checkpoints" / "last").exists()
    r = cli("predict", "--test", TEST_CSV, "--checkpoint", run, "--output", tmp_path / "sub.csv")
    assert r.returncode == 0, r.stderr[-3000:]
    sub = pd.read_csv(tmp_path / "sub.csv")
    assert list(sub.columns) == ["PassengerId", "Survived"] and len(sub) == 418
    pd.testing.assert_frame_equal(sub, pd.read_csv(run / "submission.csv"))   # the same models as at the end of training

    from mlx_modernbert.backend import mx
    from mlx_modernbert.hub import load_pretrained, resolve_model_dir
    from mlx_modernbert.lora import load_adapters
    from mlx_modernbert.tokenize import TextTokenizer
    from mlx_modernbert.templates import template_from_dict
    extra = json.loads((final / "extra.json").read_text())
    tok = TextTokenizer.from_folder(final)
    rows = tok.encode(template_from_dict(extra["template"]).render(pd.read_csv(TEST_CSV).head(4)), extra["max_length"])
    width = max(len(r) for r in rows)
    ids = np.array([list(r) + [tok.pad_id] * (width - len(r)) for r in rows], dtype=np.int32)
    mask = (np.arange(width)[None] < np.array([len(r) for r in rows])[:, None]).astype(np.int32)
    merged = load_pretrained(final, task="sequence-classification"); merged.eval()   # strict encoder: plain names only
    ours = np.array(merged(mx.array(ids), mx.array(mask)))
    base = load_pretrained(resolve_model_dir(extra["run_config"]["model"]), task="sequence-classification", num_labels=2)
    load_adapters(base, final / "adapters.safetensors"); base.eval()
    diff = max_abs_diff(base(mx.array(ids), mx.array(mask)), ours); report("LoRA adapters vs merged weights", diff)
    assert diff < 1e-4

    import torch
    from transformers import AutoModelForSequenceClassification
    ref = AutoModelForSequenceClassification.from_pretrained(final).eval()
    with torch.no_grad(): theirs = ref(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask)).logits
    diff = max_abs_diff(theirs, ours); report("LoRA final checkpoint, transformers vs mlx_modernbert", diff)
    assert diff < 1e-4
