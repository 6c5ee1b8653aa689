"`mlx-modernbert tune` end to end: two trials on Titanic `--preset test` settings, a resume that adds one, and a best config `train` reads."
import functools
import optuna
import pytest

@pytest.fixture(scope="module")
def cli():
    import typer
    from typer.testing import CliRunner
    from mlx_modernbert.errors import MlxModernBertError
    from mlx_modernbert.tune import tune_command
    app = typer.Typer()
    @functools.wraps(tune_command)
    def tune(**kwargs):
        try: return tune_command(**kwargs)
        except MlxModernBertError as e: typer.echo(f"error: {e}"); raise typer.Exit(2)
    app.command("tune")(tune); app.command("other")(lambda: None)
    return lambda *args: CliRunner().invoke(app, ["tune", *map(str, args)])

@pytest.mark.slow
def test_two_trials_then_resume(cli, tmp_path):
    from mlx_modernbert.runconfig import resolve_config
    args = ["--preset", "test", "--dataset", "titanic", "--folds", "2", "--max-epochs", "1", "--folder", tmp_path / "study"]
    got = cli("--trials", "2", *args)
    assert got.exit_code == 0, got.output
    storage = f"sqlite:///{tmp_path / 'study' / 'study.db'}"
    study = optuna.load_study(study_name="tune", storage=storage)
    assert len(study.trials) == 2 and study.direction == optuna.study.StudyDirection.MAXIMIZE   # accuracy
    assert study.trials[0].params["lr"] == 1e-4 and "template" not in study.trials[0].params    # the base first; Titanic keeps its template
    assert all(t.params["epochs"] == 1 for t in study.trials)
    best = resolve_config(config_file=tmp_path / "study" / "best.yaml", env={})
    assert {k: getattr(best, k) for k in study.best_params} == study.best_params and best.limit_rows == 96
    got = cli("--trials", "1", *args)
    assert got.exit_code == 0, got.output
    assert len(optuna.load_study(study_name="tune", storage=storage).trials) == 3

def test_bad_preset_is_one_line(cli, tmp_path):
    got = cli("--preset", "nope", "--folder", tmp_path)
    assert got.exit_code == 2 and "unknown preset" in got.output
