"End to end through the installed console script: train (tiny settings) and predict on Titanic, House Prices, Penguins."
import json, subprocess, sys
import yaml
from pathlib import Path
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("mlx-modernbert"))
DATA = ROOT / "tests" / "data"
TINY = ["--epochs", "1", "--max-length", "64", "--batch-size", "16", "--limit-rows", "96"]

def cli(*args, cwd=None):
    proc = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd)
    return proc

def run_folder(stdout:str) -> Path:
    return Path(next(l.split("run folder:")[1].strip() for l in stdout.splitlines() if "run folder:" in l))

@pytest.mark.slow
def test_titanic_train_and_predict(tmp_path):
    r = cli("train", "--dataset", "titanic", "--folds", "0", *TINY, "--output", tmp_path / "runs", "--mlflow")
    assert r.returncode == 0, r.stderr[-3000:]
    run = run_folder(r.stdout)
    names = {p.name for p in run.iterdir()}
    assert {"config.yaml", "run.log", "scores.json", "validation_predictions.csv", "model", "mlflow.db"} <= names, names
    assert (run / "model" / "metrics.csv").exists() and (run / "model" / "checkpoints" / "final" / "config.json").exists()
    test_csv = ROOT / "mlx_modernbert" / "data" / "titanic" / "test.csv"
    r = cli("predict", "--test", test_csv, "--checkpoint", run, "--output", tmp_path / "submission.csv")
    assert r.returncode == 0, r.stderr[-3000:]
    sub, test = pd.read_csv(tmp_path / "submission.csv"), pd.read_csv(test_csv)
    assert list(sub.columns) == ["PassengerId", "Survived"] and len(sub) == 418
    assert (sub.PassengerId == test.PassengerId).all()
    assert sub.Survived.dtype.kind == "i" and set(sub.Survived) <= {0, 1}

@pytest.mark.slow
def test_house_prices_regression_in_price_scale(tmp_path, tiny_model_env):   # the plumbing of a regression run: conftest's tiny BERT
    hp = DATA / "house_prices"
    r = cli("train", "--train", hp / "train.csv", "--target", "SalePrice", "--id-column", "Id", "--test", hp / "test.csv", "--folds", "0",
            *TINY, "--output", tmp_path, "--no-mlflow", "--lr", "3e-4")   # a user's own file, not the registry's name
    assert r.returncode == 0, r.stderr[-3000:]
    assert "target SalePrice is right-skewed" in (run_folder(r.stdout) / "run.log").read_text()   # sale prices: fitted as log1p, and the log says so
    assert yaml.safe_load((run_folder(r.stdout) / "config.yaml").read_text())["log_target"] is True   # what predict reads
    sub = pd.read_csv(run_folder(r.stdout) / "submission.csv")
    assert list(sub.columns) == ["Id", "SalePrice"] and len(sub) == 1459
    assert 20_000 < sub.SalePrice.median() < 1_000_000   # dollars, not standardised log units
    scores = json.loads((run_folder(r.stdout) / "scores.json").read_text())
    assert scores["metric"] == "rmse" and scores["scores"][0] > 1000   # scored in dollars

@pytest.mark.slow
def test_penguins_multiclass_names_back(tmp_path, tiny_model_env):   # the plumbing of class names: conftest's tiny BERT
    df = pd.read_csv(DATA / "penguins" / "penguins.csv")
    df.drop(columns=["species"]).to_csv(tmp_path / "test.csv", index=False)
    r = cli("train", "--train", DATA / "penguins" / "penguins.csv", "--target", "species", "--folds", "2", *TINY,
            "--output", tmp_path / "runs", "--no-mlflow")
    assert r.returncode == 0, r.stderr[-3000:]
    run = run_folder(r.stdout)
    assert {"fold-0", "fold-1", "oof.csv"} <= {p.name for p in run.iterdir()}
    r = cli("predict", "--test", tmp_path / "test.csv", "--checkpoint", run, "--output", tmp_path / "sub.csv", "--probabilities")
    assert r.returncode == 0, r.stderr[-3000:]
    sub = pd.read_csv(tmp_path / "sub.csv")
    assert set(sub.species) <= {"Adelie", "Chinstrap", "Gentoo"} and len(sub) == len(df)
    assert {"prob_Adelie", "prob_Chinstrap", "prob_Gentoo"} <= set(sub.columns)

@pytest.mark.parametrize("args,message", [
    (["train", "--train", "missing.csv", "--target", "y"], "missing.csv: file not found"),
    (["train", "--preset", "turbo"], "unknown preset 'turbo'"),
    (["train", "--dataset", "titanic", "--target", "Survivd", "--no-mlflow"], "['Survivd'] not found"),
    (["predict", "--test", "missing.csv", "--checkpoint", "."], "holds no checkpoint"),
    (["kaggle", "submit", "missing.csv", "-m", "x"], "submission file missing.csv not found"),
])
def test_errors_are_one_line_with_exit_code_2(args, message, tmp_path):
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr[-2000:])
    assert message in r.stdout and "Traceback" not in r.stdout + r.stderr

def test_debug_shows_the_traceback(tmp_path):
    r = cli("--debug", "train", "--preset", "turbo", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" in r.stderr

def test_kaggle_without_package_or_network_says_so(tmp_path):
    (tmp_path / "sub.csv").write_text("PassengerId,Survived\n892,0\n")
    r = cli("kaggle", "submit", tmp_path / "sub.csv", "-m", "test", cwd=tmp_path)
    assert r.returncode == 2 and ("kaggle package is not installed" in r.stdout or "credentials" in r.stdout or "failed" in r.stdout)

def test_config_init_and_validate(tmp_path):
    r = cli("config", "init", tmp_path / "c.yaml"); assert r.returncode == 0
    assert cli("config", "validate", tmp_path / "c.yaml").returncode == 0
    (tmp_path / "bad.yaml").write_text("epochs: lots\n")
    r = cli("config", "validate", tmp_path / "bad.yaml")
    assert r.returncode == 2 and "should be int" in r.stdout

def test_benchmark_prints_figures(tmp_path):
    r = cli("benchmark", "--batch-size", "2", "--seq-length", "16", "--steps", "2", "--warmup", "1", "--output", tmp_path / "b.json")
    assert r.returncode == 0, r.stderr[-2000:]
    figures = json.loads((tmp_path / "b.json").read_text())
    assert figures["train_tokens_per_s"] > 0 and figures["infer_tokens_per_s"] > 0 and figures["peak_memory_gib"] > 0

def test_benchmark_compare_torch(tmp_path):
    pytest.importorskip("torch")
    r = cli("benchmark", "--batch-size", "2", "--seq-length", "16", "--steps", "2", "--warmup", "1", "--compare", "torch",
            "--output", tmp_path / "b.json")
    assert r.returncode == 0, r.stderr[-2000:]
    cmp = json.loads((tmp_path / "b.json").read_text())["compare_torch"]
    assert cmp["mlx_step_s"] > 0 and cmp["torch_step_s"] > 0 and cmp["speedup_vs_torch"] > 0
