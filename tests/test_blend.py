"`blend_run` on a real run folder: the GBDT on the run's own folds, the blend weight from out-of-fold rows, a blended submission."
import json
import numpy as np
import pandas as pd
import pytest

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    "A one-epoch, 3-fold Titanic run on 96 rows (MiniLM) with the bundled test file."
    from mlx_modernbert.runconfig import resolve_config
    from mlx_modernbert.run import train_run
    return train_run(resolve_config("test", flags={"output": str(tmp_path_factory.mktemp("blend")), "folds": 3}, env={}))

def test_blend_scores_and_submission(run):
    from mlx_modernbert.blend import blend_run
    run_dir, summary = run
    b = blend_run(run_dir)
    assert b["text"] == pytest.approx(summary["oof_score"])                     # the text part is the run's own OOF score
    assert b["blend"] == max(b["weights"].values()) >= max(b["text"], b["gbdt"])  # accuracy: higher is better
    assert set(b["gbdt_splits"]) == {"fold-0", "fold-1", "fold-2"} and 0 <= b["weight"] <= 1
    assert json.loads((run_dir / "blend.json").read_text())["blend"] == b["blend"]
    text, blended = pd.read_csv(run_dir / "submission.csv"), pd.read_csv(b["submission"])
    assert list(blended.columns) == list(text.columns) == ["PassengerId", "Survived"]
    assert (blended.PassengerId == text.PassengerId).all() and set(blended.Survived) <= {0, 1}
    if b["weight"] == 1.0: assert (blended.Survived == text.Survived).all()

def test_gbdt_never_sees_its_fold(run, monkeypatch):
    "Each fold's GBDT is fitted on the complement of that fold's held-out rows."
    import mlx_modernbert.blend as blend
    run_dir, _ = run
    fitted, real = [], blend.gbdt_predict
    def spy(task, X, y, predict, num_classes=0, seed=42):
        fitted.append((set(X.index), set(predict[0].index))); return real(task, X, y, predict, num_classes, seed)
    monkeypatch.setattr(blend, "gbdt_predict", spy)
    blend.blend_run(run_dir, submission=False)
    assert len(fitted) == 3
    for train, held in fitted: assert not train & held and len(train | held) == 96

def test_refuses_other_tasks(tmp_path):
    from mlx_modernbert.blend import blend_run
    from mlx_modernbert.errors import DataError
    from mlx_modernbert.runconfig import RunConfig, write_run_config
    df = pd.DataFrame({"x": np.arange(30.0), "a": [0, 1] * 15, "b": [1, 1, 0] * 10})
    df.to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "run").mkdir()
    write_run_config(RunConfig(dataset=None, train=str(tmp_path / "t.csv"), target="a,b", task="multilabel", folds=3, mlflow=False, output=str(tmp_path)), tmp_path / "run" / "config.yaml")
    with pytest.raises(DataError, match="blending supports"): blend_run(tmp_path / "run")
