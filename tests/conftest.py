"""Shared pytest settings: `--quick` skips tests marked slow; notebook cells flagged `#| slow` run only with `--slow-notebooks`.

CI runs every test in `tests/`, slow ones included. The notebooks' slow cells are demonstrations (a real Titanic fit
with its plots, a trainer epoch timed, an ONNX export, a study of several trials, a registered run) whose behaviour
the tests in `tests/` check through the CLI (test_e2e, test_export, test_tune, test_tracking_server, ...), so CI
leaves them out to stay within its time budget; `--slow-notebooks` runs them too."""
import pytest

def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true", help="skip slow tests (and notebook cells flagged `#| slow`)")
    parser.addoption("--slow-notebooks", action="store_true", help="also run notebook cells flagged `#| slow`")

def pytest_collection_modifyitems(config, items):
    if not config.getoption("--quick"): return
    skip = pytest.mark.skip(reason="--quick given")
    for item in items:
        if "slow" in item.keywords: item.add_marker(skip)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    "A one-epoch Titanic run (96 rows, MiniLM), trained once per test module that asks for it (export, inspect, serve)."
    from mlx_modernbert.runconfig import resolve_config
    from mlx_modernbert.run import train_run
    run_dir, _ = train_run(resolve_config("test", flags={"output": str(tmp_path_factory.mktemp("run")), "dataset": "titanic", "test": None}))
    return run_dir
