"`mlx-modernbert tune` end to end through the CLI: two trials on Titanic `--preset test` settings tracked as MLflow child runs, a resume that adds one, and a best config `train` reads."
import optuna
import pytest


@pytest.fixture(autouse=True)
def _tiny(tiny_model_env):
    "Every run here trains conftest's tiny BERT: these tests check the search, its MLflow child runs and the resume, not what MiniLM learns."

@pytest.fixture(scope="module")
def cli():
    from typer.testing import CliRunner
    from mlx_modernbert.cli import app
    return lambda *args: CliRunner().invoke(app, ["tune", *map(str, args)])

@pytest.mark.slow
def test_two_trials_then_resume(cli, tmp_path):
    from mlx_modernbert.runconfig import resolve_config
    args = ["--preset", "test", "--dataset", "titanic", "--folds", "2", "--max-epochs", "1", "--folder", tmp_path / "study"]
    got = cli("--trials", "2", "--mlflow", *args)
    assert got.exit_code == 0, got.output
    storage = f"sqlite:///{tmp_path / 'study' / 'study.db'}"
    study = optuna.load_study(study_name="tune", storage=storage)
    assert len(study.trials) == 2 and study.direction == optuna.study.StudyDirection.MAXIMIZE   # accuracy
    assert study.trials[0].params["lr"] == 1e-4 and "template" not in study.trials[0].params    # the base first; Titanic keeps its template
    assert all(t.params["epochs"] == 1 for t in study.trials)
    best = resolve_config(config_file=tmp_path / "study" / "best.yaml", env={})
    assert {k: getattr(best, k) for k in study.best_params} == study.best_params and best.limit_rows == 96
    from mlflow import MlflowClient
    client = MlflowClient(f"sqlite:///{tmp_path / 'study' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("mlx-modernbert-tune").experiment_id
    parent = study.user_attrs["mlflow_parent"]["run_id"]
    children = client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent}'")
    assert sorted(int(r.data.tags["optuna.trial"]) for r in children) == [0, 1]      # every trial a child run of the study's
    for r in children:
        t = study.trials[int(r.data.tags["optuna.trial"])]
        assert r.info.status == ("FINISHED" if t.value is not None else "KILLED")
        if t.value is not None: assert r.data.metrics["oof_score"] == pytest.approx(t.value)
    got = cli("--trials", "1", "--mlflow", *args)
    assert got.exit_code == 0, got.output
    assert len(optuna.load_study(study_name="tune", storage=storage).trials) == 3
    assert len(client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent}'")) == 3   # the resumed study adds under the same parent

def test_bad_preset_is_one_line(cli, tmp_path):
    got = cli("--preset", "nope", "--folder", tmp_path)
    assert got.exit_code == 2 and "unknown preset" in got.output
