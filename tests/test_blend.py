"Blending on real run folders: tabular models on the run's own folds, weights from out-of-fold rows, predict applies the saved blend."
import json
import numpy as np
import pandas as pd
import pytest
import yaml

@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model):
    "A one-epoch, 3-fold Titanic run on 96 rows (conftest's tiny BERT: the blend's plumbing is tested, not MiniLM) with the bundled test file (curated template: no blend by default), trained once per pytest run."
    from conftest import train_once
    def train(folder):
        from mlx_modernbert.runconfig import resolve_config
        from mlx_modernbert.run import train_run
        return train_run(resolve_config("test", flags={"output": str(folder), "folds": 3, "model": str(tiny_model)}, env={}))[0]
    run_dir = train_once(tmp_path_factory, "titanic-3-folds", train)
    return run_dir, json.loads((run_dir / "scores.json").read_text())

@pytest.mark.xdist_group("titanic-3-folds")   # the two tests that blend the shared run, in this order, on one worker
def test_blend_scores_and_submission(run):
    from mlx_modernbert.predict import predict_run
    run_dir, summary = run
    assert summary["blend"] is None and not (run_dir / "blend").exists()      # the curated Titanic template: auto does not blend
    from typer.testing import CliRunner
    from mlx_modernbert.cli import app
    r = CliRunner().invoke(app, ["blend", str(run_dir)]); assert r.exit_code == 0, r.output
    b = json.loads((run_dir / "blend.json").read_text())
    assert b["text"] == pytest.approx(summary["oof_score"])                     # the text part is the run's own OOF score
    assert b["blend"] >= max(b["text"], b["gbdt"], b["linear"])                 # accuracy: higher is better
    assert set(b["splits"]["gbdt"]) == {"fold-0", "fold-1", "fold-2"} and sum(b["weights"].values()) == pytest.approx(1)
    text, blended = pd.read_csv(run_dir / "submission.csv"), pd.read_csv(run_dir / "submission_blend.csv")
    assert list(blended.columns) == list(text.columns) == ["PassengerId", "Survived"]
    assert (blended.PassengerId == text.PassengerId).all() and set(blended.Survived) <= {0, 1}
    from mlx_modernbert.datasets import DATASETS
    assert (predict_run(DATASETS["titanic"].test, run_dir).Survived == blended.Survived).all()             # predict applies the blend
    assert (predict_run(DATASETS["titanic"].test, run_dir, blend=False).Survived == text.Survived).all()   # ... unless told not to

@pytest.mark.xdist_group("titanic-3-folds")
def test_models_never_see_their_fold(run, monkeypatch):
    "Each fold's tabular models are fitted on the complement of that fold's held-out rows."
    import mlx_modernbert.blend as blend
    run_dir, _ = run
    fitted, real = [], blend.fit_part
    def spy(part, task, X, y, seed=42):
        fitted.append(set(X.index)); return real(part, task, X, y, seed)
    monkeypatch.setattr(blend, "fit_part", spy)
    blend.blend_run(run_dir)
    splits = blend.run_splits(run_dir, "binary")
    assert len(fitted) == 6
    for train, s in zip(fitted[::2], splits): assert not train & set(s["rows"]) and len(train) + len(s["rows"]) == 96

def test_default_run_blends_generic_tables(tmp_path, tiny_model_env):
    "A table without a curated template is blended by default; the CLI prints each part; predict gives the blend."
    from typer.testing import CliRunner
    from mlx_modernbert.cli import app
    from sklearn.datasets import load_wine
    wine = load_wine(as_frame=True).frame.sample(60, random_state=0)
    wine["target"] = np.asarray(["barolo", "grignolino", "barbera"])[wine.target]
    wine.iloc[:45].to_csv(tmp_path / "train.csv", index=False); wine.iloc[45:].drop(columns="target").to_csv(tmp_path / "test.csv", index=False)
    r = CliRunner().invoke(app, ["train", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "--target", "target",
                                 "--preset", "test", "--folds", "2", "--output", str(tmp_path / "runs"), "--no-mlflow"])
    assert r.exit_code == 0, r.output
    assert "blend (accuracy, out-of-fold): text" in r.output and "linear" in r.output
    run_dir = next((tmp_path / "runs").glob("*/scores.json")).parent
    scores = json.loads((run_dir / "scores.json").read_text())["blend"]
    assert scores["blend"] >= max(scores["text"], scores["gbdt"], scores["linear"])
    r = CliRunner().invoke(app, ["predict", "--test", str(tmp_path / "test.csv"), "--checkpoint", str(run_dir), "--output", str(tmp_path / "sub.csv")])
    assert r.exit_code == 0, r.output
    assert (pd.read_csv(tmp_path / "sub.csv").target == pd.read_csv(run_dir / "submission.csv").target).all()
    r = CliRunner().invoke(app, ["train", "--train", str(tmp_path / "train.csv"), "--target", "target", "--blend", "forest", "--no-mlflow"])
    assert r.exit_code == 2 and "blend='forest'" in r.output

def test_refuses_other_tasks(tmp_path):
    from mlx_modernbert.blend import blend_run
    from mlx_modernbert.errors import DataError
    from mlx_modernbert.runconfig import RunConfig, write_run_config
    df = pd.DataFrame({"x": np.arange(30.0), "a": [0, 1] * 15, "b": [1, 1, 0] * 10})
    df.to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "run").mkdir()
    write_run_config(RunConfig(dataset=None, train=str(tmp_path / "t.csv"), target="a,b", task="multilabel", folds=3, mlflow=False, output=str(tmp_path)), tmp_path / "run" / "config.yaml")
    with pytest.raises(DataError, match="blending supports"): blend_run(tmp_path / "run")

def test_small_table_is_a_five_fold_ensemble_by_default(tmp_path, tiny_model_env):
    "With no --folds, a table of at most 3,000 rows trains 5 folds; config.yaml records them; the blend is chosen on every row."
    from typer.testing import CliRunner
    from mlx_modernbert.cli import app
    from sklearn.datasets import load_wine
    wine = load_wine(as_frame=True).frame.sample(50, random_state=1)
    wine.to_csv(tmp_path / "train.csv", index=False)
    r = CliRunner().invoke(app, ["train", "--train", str(tmp_path / "train.csv"), "--target", "target", "--epochs", "1", "--max-length", "32",
                                 "--output", str(tmp_path / "runs"), "--no-mlflow"])
    assert r.exit_code == 0, r.output
    run_dir = next((tmp_path / "runs").glob("*/scores.json")).parent
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["folds"] == 5
    assert "folds: 5-fold ensemble (50 training rows" in (run_dir / "run.log").read_text()
    scores = json.loads((run_dir / "scores.json").read_text())
    assert len(scores["scores"]) == 5 and scores["oof_score"] is not None and len(pd.read_csv(run_dir / "oof.csv")) == 50
    assert sorted(p.name for p in run_dir.glob("fold-*")) == [f"fold-{k}" for k in range(5)]
