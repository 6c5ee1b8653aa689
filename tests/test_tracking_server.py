"MLflow against a real `mlflow server` on 127.0.0.1; the server killed mid-run loses nothing locally."
import os, signal, socket, subprocess, sys, time, urllib.request, warnings
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

@pytest.fixture
def server(tmp_path):
    port, db = free_port(), tmp_path / "server.db"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen([str(mlflow_bin), "server", "--workers", "1", "--host", "127.0.0.1", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{db}", "--default-artifact-root", str(tmp_path / "artifacts")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{url}/health", timeout=1).status == 200: break
        except OSError: time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL); pytest.fail("mlflow server did not become healthy in 60 s")
    yield url, db, proc
    if proc.poll() is None: os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

class KillServerAfterEpoch(Callback):
    order = 50
    def __init__(self, proc, epoch): self.proc, self.epoch = proc, epoch
    def after_epoch(self):
        if self.learn.epoch == self.epoch: os.killpg(self.proc.pid, signal.SIGKILL); self.proc.wait()

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
