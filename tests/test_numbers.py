"""Numbers as relative-magnitude tokens (`--numbers bins|both`) or percentile tokens on a learnt line (`--numbers embed`) through the CLI: the tokens and bins travel with each checkpoint,
each fold's bins come from its own training rows, and predict, serve and the ONNX export give the training-time outputs."""
import json, subprocess, sys
from pathlib import Path
import numpy as np
import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def _tiny(tiny_model_env):
    "Every run here trains conftest's tiny BERT: these tests check that magnitude tokens travel with each checkpoint, not what MiniLM learns."

CLI = str(Path(sys.executable).with_name("mlx-modernbert"))
PENGUINS = Path(__file__).parent / "data" / "penguins" / "penguins.csv"
BINS = 8

@pytest.fixture(scope="module", params=["both", "embed"])
def binned_run(request, tmp_path_factory, tiny_model):
    "Penguins (344 rows, 6 numeric columns), 2 folds, a short fit raised to 12 updates by min_updates; magnitude tokens then digits, or percentile tokens on a learnt line."
    out = tmp_path_factory.mktemp("numbers")
    r = subprocess.run([CLI, "train", "--train", PENGUINS, "--target", "species", "--numbers", request.param, "--number-bins", str(BINS),
                        "--folds", "2", "--epochs", "1", "--max-length", "64", "--batch-size", "32", "--min-updates", "12",
                        "--blend", "none", "--model", tiny_model, "--output", out, "--no-mlflow"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run = next(p.parent for p in out.glob("*/scores.json"))
    from mlx_modernbert.runconfig import RunConfig, read_config_file
    from mlx_modernbert.prepare import Prepared
    return run, Prepared(RunConfig(**read_config_file(run / "config.yaml")))

def checkpoint(run, k): return run / f"fold-{k}" / "checkpoints" / "final"

def test_each_checkpoint_carries_its_tokens_and_its_folds_bins(binned_run):
    from mlx_modernbert.blend import run_splits
    from mlx_modernbert.checkpoint import NUMBER_LINES_FILE
    from mlx_modernbert.templates import percentile_grid, magnitude_tokens, NUMBER_LEVELS
    run, prep = binned_run
    assert "epochs of" in (run / "run.log").read_text()                          # min_updates raised the epochs and said so
    frame = prep.ds.frame
    numbers = prep.cfg.numbers
    columns = prep.template.number_columns                                      # embed: each numeric column its percentile tokens (on a line of BINS pieces)
    assert (columns is not None) == (numbers == "embed") and (columns is None or len(columns) >= 4)
    tokens = NUMBER_LEVELS * len(columns) if columns else BINS
    for k, split in enumerate(run_splits(run, "multiclass")):
        ck = checkpoint(run, k)
        vocab = {t["content"]: t["id"] for t in json.loads((ck / "tokenizer.json").read_text())["added_tokens"]}
        names = magnitude_tokens(NUMBER_LEVELS, len(columns)) if columns else magnitude_tokens(BINS)
        assert [vocab[t] for t in names] == list(range(30522, 30522 + tokens))
        assert json.loads((ck / "config.json").read_text())["vocab_size"] == 30522 + tokens
        template = json.loads((ck / "extra.json").read_text())["template"]
        assert (template["numbers"], template["bins"], template["number_columns"]) == (numbers, NUMBER_LEVELS if columns else BINS, columns)
        assert (ck / NUMBER_LINES_FILE).exists() == (numbers == "embed")         # the line's parameters, beside the merged matrix
        train_rows = frame.drop(index=split["rows"])
        for column, grid in template["percentiles"].items():
            assert grid == percentile_grid(train_rows[column]), column                # the fold's training rows alone
            assert grid != percentile_grid(frame[column]), column                    # not the whole table's
    assert (run / "oof.csv").exists()

def test_predict_serve_and_onnx_give_the_training_time_outputs(binned_run):
    from mlx_modernbert.blend import run_splits
    from mlx_modernbert.outputs import output_predictions
    from mlx_modernbert.predict import predict_run
    from mlx_modernbert.serve import load_served_model
    run, prep = binned_run
    split = run_splits(run, "multiclass")[0]
    rows = prep.ds.frame.iloc[split["rows"]]
    expected = output_predictions("multiclass", split["outputs"])
    classes = prep.ds.encoding.classes
    got = predict_run(rows.drop(columns="species"), checkpoint(run, 0), probabilities=True, blend=False)
    np.testing.assert_allclose(got[[f"prob_{c}" for c in classes]].to_numpy(), expected, atol=1e-5)
    served = load_served_model(checkpoint(run, 0))
    answers = served.predict(rows.drop(columns="species").head(40))
    np.testing.assert_allclose([[a["probabilities"][c] for c in classes] for a in answers], expected[:40], atol=1e-5)
    pytest.importorskip("onnxruntime"); pytest.importorskip("torch")
    from mlx_modernbert.export import export_run
    [exported] = export_run(checkpoint(run, 0), run / "model.onnx")
    assert exported["max_abs_diff"] < 1e-4, exported                             # onnxruntime reads the same token ids

def test_bad_settings_are_one_line(tmp_path):
    for args, message in ((["--numbers", "words"], "numbers='words'"), (["--numbers", "bins", "--number-bins", "1"], "number_bins=1")):
        r = subprocess.run([CLI, "train", "--train", PENGUINS, "--target", "species", *args, "--output", tmp_path, "--no-mlflow"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and message in r.stdout and "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr

def test_wide_table_keeps_every_column(tmp_path, tiny_model):
    "Breast cancer's 30 columns as magnitude tokens (~180 tokens a row): left unset, max_length fits the longest row, so the last columns (the telling *worst* ones) are not cut, and predict reads rows at the same length."
    from sklearn.datasets import load_breast_cancer
    df = load_breast_cancer(as_frame=True).frame.sample(80, random_state=0)
    df.to_csv(tmp_path / "train.csv", index=False); df.drop(columns="target").head(10).to_csv(tmp_path / "test.csv", index=False)
    r = subprocess.run([CLI, "train", "--train", tmp_path / "train.csv", "--target", "target", "--test", tmp_path / "test.csv", "--folds", "0",
                        "--epochs", "1", "--blend", "none", "--model", tiny_model, "--output", tmp_path / "runs", "--no-mlflow"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run = next((tmp_path / "runs").glob("*/scores.json")).parent
    from mlx_modernbert.runconfig import RunConfig, read_config_file
    from mlx_modernbert.prepare import Prepared
    prep = Prepared(RunConfig(**read_config_file(run / "config.yaml")))
    longest = max(len(ids) for ids in prep.rows.values()) if isinstance(prep.rows, dict) else max(len(ids) for ids in prep.rows)
    assert 128 < longest <= prep.cfg.max_length == -(-longest // 8) * 8, (longest, prep.cfg.max_length)   # recorded, not None
    assert "rows longer than" not in (run / "run.log").read_text()
    saved = [json.loads(p.read_text()) for p in run.rglob("final/extra.json")]   # what predict and serve read rows with
    assert saved and all(s["max_length"] == prep.cfg.max_length for s in saved), saved
    assert len(pd.read_csv(run / "submission.csv")) == 10
