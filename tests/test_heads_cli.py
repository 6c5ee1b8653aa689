"""Every head through the command line, on tables a user would bring: multilabel (several 0/1 columns, tuned thresholds),
ordinal, multi-output regression, a chosen loss, and a separate validation file."""
import json
import numpy as np
import pandas as pd
import pytest
from test_e2e import cli, run_folder, DATA, ROOT

@pytest.fixture(autouse=True)
def _tiny(tiny_model_env):
    "Every run here trains conftest's tiny BERT: these tests check each head's flags, files and predictions, not what MiniLM learns."

TINY = ["--epochs", "1", "--max-length", "48", "--batch-size", "16", "--no-mlflow"]

@pytest.fixture(scope="module")
def penguins():
    return pd.read_csv(DATA / "penguins" / "penguins.csv").dropna().reset_index(drop=True)

@pytest.mark.slow
def test_multilabel_from_comma_separated_targets(tmp_path, penguins):
    df = penguins.assign(is_adelie=(penguins.species == "Adelie").astype(int), is_male=(penguins.sex == "male").astype(int),
                         heavy=(penguins.body_mass_g > 4200).astype(int)).drop(columns=["species", "sex", "body_mass_g"])
    df.iloc[:120].to_csv(tmp_path / "train.csv", index=False)
    df.iloc[120:160].drop(columns=["is_adelie", "is_male", "heavy"]).to_csv(tmp_path / "test.csv", index=False)
    r = cli("train", "--train", tmp_path / "train.csv", "--target", "is_adelie,is_male,heavy", "--folds", "2",
            "--test", tmp_path / "test.csv", *TINY, "--output", tmp_path / "runs")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    run = run_folder(r.stdout)
    scores = json.loads((run / "scores.json").read_text())
    assert scores["metric"] == "log_loss" and np.isfinite(scores["oof_score"])
    thresholds = json.loads((run / "thresholds.json").read_text())
    assert list(thresholds) == ["is_adelie", "is_male", "heavy"] and all(0 < t < 1 for t in thresholds.values())
    oof = pd.read_csv(run / "oof.csv")
    assert {"prediction_is_adelie", "prob_is_adelie", "is_adelie"} <= set(oof.columns) and len(oof) == 120
    assert ((oof.prob_heavy > thresholds["heavy"]).astype(int) == oof.prediction_heavy).all()   # the tuned threshold decides
    sub = pd.read_csv(run / "submission.csv")
    assert list(sub.columns) == ["is_adelie", "is_male", "heavy"] and len(sub) == 40 and set(np.unique(sub.values)) <= {0, 1}

@pytest.mark.slow
def test_ordinal_task_predicts_the_ordered_labels(tmp_path):
    hp = pd.read_csv(DATA / "house_prices" / "train.csv").iloc[:200]
    hp.to_csv(tmp_path / "train.csv", index=False)
    r = cli("train", "--train", tmp_path / "train.csv", "--target", "OverallQual", "--task", "ordinal", "--folds", "0", *TINY, "--output", tmp_path / "runs")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    run = run_folder(r.stdout)
    extra = json.loads((run / "model" / "checkpoints" / "final" / "extra.json").read_text())
    classes = sorted(hp.OverallQual.unique())
    assert extra["task"] == "ordinal" and extra["label_encoding"]["classes"] == classes
    config = json.loads((run / "model" / "checkpoints" / "final" / "config.json").read_text())
    assert len(config["id2label"]) == len(classes) - 1   # cumulative logits: one per threshold
    hp.drop(columns=["OverallQual"]).iloc[:30].to_csv(tmp_path / "test.csv", index=False)
    r = cli("predict", "--test", tmp_path / "test.csv", "--checkpoint", run, "--output", tmp_path / "sub.csv")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert set(pd.read_csv(tmp_path / "sub.csv").OverallQual) <= set(classes)

@pytest.mark.slow
def test_multi_output_regression_and_huber_loss(tmp_path):
    hp = pd.read_csv(DATA / "house_prices" / "train.csv").iloc[:160]
    hp.to_csv(tmp_path / "train.csv", index=False)
    r = cli("train", "--train", tmp_path / "train.csv", "--target", "SalePrice,GrLivArea", "--id-column", "Id", "--loss", "huber",
            "--lr", "3e-4", "--folds", "0", *TINY, "--output", tmp_path / "runs")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    run = run_folder(r.stdout)
    val = pd.read_csv(run / "validation_predictions.csv")
    assert {"SalePrice", "GrLivArea", "prediction_SalePrice", "prediction_GrLivArea"} <= set(val.columns)
    assert 20_000 < val.prediction_SalePrice.median() < 1_000_000 and 300 < val.prediction_GrLivArea.median() < 5_000   # original units
    hp.drop(columns=["SalePrice", "GrLivArea"]).iloc[:20].to_csv(tmp_path / "test.csv", index=False)
    r = cli("predict", "--test", tmp_path / "test.csv", "--checkpoint", run, "--output", tmp_path / "sub.csv")
    assert r.returncode == 0, r.stderr[-3000:]
    assert list(pd.read_csv(tmp_path / "sub.csv").columns) == ["Id", "SalePrice", "GrLivArea"]

@pytest.mark.slow
def test_focal_loss_and_validation_file(tmp_path):
    titanic = pd.read_csv(ROOT / "mlx_modernbert" / "data" / "titanic" / "train.csv")
    titanic.iloc[:150].to_csv(tmp_path / "tr.csv", index=False); titanic.iloc[150:200].to_csv(tmp_path / "va.csv", index=False)
    r = cli("train", "--train", tmp_path / "tr.csv", "--val", tmp_path / "va.csv", "--target", "Survived", "--id-column", "PassengerId",
            "--loss", "focal", *TINY, "--output", tmp_path / "runs")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    val = pd.read_csv(run_folder(r.stdout) / "validation_predictions.csv")
    assert sorted(val.PassengerId) == sorted(titanic.PassengerId[150:200])   # validated on exactly the file's rows

@pytest.mark.parametrize("args, message", [
    (["--loss", "mse"], "loss 'mse' does not fit task 'binary'"),
    (["--val", "VAL"], "values [7] that the training file never has"),
])
def test_bad_loss_or_validation_labels_are_one_line(tmp_path, args, message):
    titanic = pd.read_csv(ROOT / "mlx_modernbert" / "data" / "titanic" / "train.csv")
    titanic.iloc[:100].to_csv(tmp_path / "tr.csv", index=False); titanic.iloc[100:120].assign(Survived=7).to_csv(tmp_path / "va.csv", index=False)
    args = [str(tmp_path / "va.csv") if a == "VAL" else a for a in args]
    r = cli("train", "--train", tmp_path / "tr.csv", "--target", "Survived", "--folds", "0", *args, *TINY, "--output", tmp_path / "runs")
    assert r.returncode == 2 and message in r.stdout and "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr[-2000:]
