"""MLflow against a real `mlflow server` on 127.0.0.1: the server killed mid-run loses nothing locally; a run registered
through the CLI is a model MLflow loads and predicts raw rows with, and `runs` lists it."""
import json, os, signal, socket, subprocess, sys, time, urllib.request, warnings
from pathlib import Path
import numpy as np
import pytest
from mlx_modernbert.config import ModernBertConfig
from mlx_modernbert.modernbert import ModernBertForSequenceClassification
from mlx_modernbert.hub import init_weights
from mlx_modernbert.loaders import TextLoader
from mlx_modernbert.trainer import Learner, TrainConfig, Callback
from mlx_modernbert.tracking import MLflowCallback, MetricsLogger, read_metrics

def free_port():
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

@pytest.fixture(scope="module")
def _servers():
    started = []
    yield started
    for _, _, proc in started:
        if proc.poll() is None: os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

@pytest.fixture
def server(_servers, tmp_path_factory):
    "A live `mlflow server` on 127.0.0.1 (url, its SQLite file, its process), shared by this module's tests until one kills it."
    if _servers and _servers[-1][2].poll() is None: return _servers[-1]
    folder = tmp_path_factory.mktemp("mlflow-server")
    port, db = free_port(), folder / "server.db"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen([str(mlflow_bin), "server", "--workers", "1", "--host", "127.0.0.1", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{db}", "--default-artifact-root", str(folder / "artifacts")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _servers.append((url, db, proc))
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{url}/health", timeout=1).status == 200: break
        except OSError: time.sleep(0.5)
    else: pytest.fail("mlflow server did not become healthy in 60 s")
    return url, db, proc

class KillServerAfterEpoch(Callback):
    order = 50
    def __init__(self, proc, epoch): self.proc, self.epoch = proc, epoch
    def after_epoch(self):
        if self.learn.epoch == self.epoch: os.killpg(self.proc.pid, signal.SIGKILL); self.proc.wait()

@pytest.mark.slow
def test_cli_run_registered_as_a_pyfunc_model_and_listed(server, tmp_path):
    import pandas as pd
    from mlx_modernbert.datasets import DATASETS
    from mlx_modernbert.predict import predict_run
    url, db, _ = server
    rows = pd.read_csv(DATASETS["titanic"].test).head(6)
    rows.loc[0, "Age"], rows.loc[1, "Pclass"], rows.loc[2, "Embarked"] = None, None, None   # missing cells, an int column turned float
    rows.to_csv(tmp_path / "test.csv", index=False)
    cli = str(Path(sys.executable).with_name("mlx-modernbert"))
    r = subprocess.run([cli, "train", "--preset", "test", "--limit-rows", "48", "--mlflow", "--mlflow-uri", url, "--register", "titanic-tiny",
                        "--test", str(tmp_path / "test.csv"), "--output", str(tmp_path / "runs")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (run_dir,) = [p.parent for p in (tmp_path / "runs").glob("*/config.yaml")]
    logged = json.loads((run_dir / "scores.json").read_text())["mlflow"]
    assert logged["registered"] == "titanic-tiny" and logged["version"] == 1 and logged["uri"] == url
    import mlflow
    from mlflow.tracking import MlflowClient
    client = MlflowClient(url)
    (version,) = client.search_model_versions("name='titanic-tiny'")           # one version, of the whole run's MLflow run
    assert version.run_id == logged["run_id"]
    assert client.get_run(logged["run_id"]).data.tags["mlx_modernbert.kind"] == "run"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(url)
    try: model = mlflow.pyfunc.load_model("models:/titanic-tiny/1")
    finally: mlflow.set_tracking_uri(previous)
    got, expected = model.predict(rows), predict_run(rows, run_dir, probabilities=True)
    assert list(got.columns) == list(expected.columns) == ["PassengerId", "Survived", "prob_0", "prob_1"]
    assert got.PassengerId.tolist() == rows.PassengerId.tolist() and got.Survived.tolist() == expected.Survived.tolist()
    assert np.abs(got[["prob_0", "prob_1"]].values - expected[["prob_0", "prob_1"]].values).max() < 1e-5
    from typer.testing import CliRunner
    from mlx_modernbert.cli import app
    listed = CliRunner().invoke(app, ["runs", "--mlflow-uri", url, "--json"])
    assert listed.exit_code == 0, listed.output
    (run,) = json.loads(listed.output)                                     # the whole run (its model's own run is left out)
    summary = json.loads((run_dir / "scores.json").read_text())
    assert run["name"] == run_dir.name and run["run_id"] == logged["run_id"] and run["status"] == "FINISHED"
    assert abs(run["metrics"]["cv_mean"] - summary["mean"]) < 1e-9 and run["params"]["epochs"] == "1"
    missing = CliRunner().invoke(app, ["runs", "--mlflow-uri", url, "--experiment", "nope"])
    assert missing.exit_code == 2 and "no experiment 'nope'" in missing.output

@pytest.mark.slow
def test_server_logging_and_server_death_mid_run(server, tmp_path):
    url, db, proc = server
    cfg = ModernBertConfig(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, pad_token_id=0)
    rng = np.random.default_rng(0)
    rows = [rng.integers(1, 100, n).astype(np.int32) for n in rng.integers(5, 20, 32)]; labels = rng.integers(0, 2, 32)
    mlflow_cb = MLflowCallback(tmp_path / "run", tracking_uri=url, params={"model": "tiny"}, every=1)
    learn = Learner(init_weights(ModernBertForSequenceClassification(cfg)), TextLoader(rows, labels, 8),
                    TextLoader(rows, labels, 32, shuffle=False), config=TrainConfig(epochs=4, lr=1e-3),
                    callbacks=[MetricsLogger(tmp_path / "run"), mlflow_cb, KillServerAfterEpoch(proc, 2)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = learn.fit()
    stopped = [w for w in caught if "MLflow tracking stopped" in str(w.message)]
    assert len(stopped) == 1, [str(w.message) for w in caught]
    assert len(history) == 4                                              # training completed
    local = read_metrics(tmp_path / "run")
    assert [r["epoch"] for r in local if "epoch" in r] == [1, 2, 3, 4]     # nothing lost locally
    assert len([r for r in local if "loss" in r]) == learn.step              # one line per update
    assert local[-1] == {"step": learn.step, "outcome": "finished"}       # and how the fit ended
    from mlflow.tracking import MlflowClient                              # what reached the server before it died
    client = MlflowClient(f"sqlite:///{db}")
    run = client.get_run(mlflow_cb.run_id)
    assert run.data.params["model"] == "tiny"
    assert len(client.get_metric_history(mlflow_cb.run_id, "accuracy")) == 2
