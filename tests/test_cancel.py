"Every way a fit can stop early (early stopping, the NaN guard, Ctrl-C) leaves history, checkpoints, bars and the MLflow run as a user expects."
import json, math
import numpy as np
import pytest
from mlx_modernbert.backend import mx
from mlx_modernbert.config import BertConfig
from mlx_modernbert.bert import BertForSequenceClassification
from mlx_modernbert.hub import init_weights
from mlx_modernbert.loaders import TextLoader
from mlx_modernbert.errors import TrainingError
from mlx_modernbert.trainer import Learner, TrainConfig, Callback, ProgressCallback, EarlyStoppingCallback, NaNGuardCallback
from mlx_modernbert.checkpoint import CheckpointCallback, last_checkpoint, load_checkpoint
from mlx_modernbert.tracking import MLflowCallback, MetricsLogger, read_metrics

ROWS, UPDATES_PER_EPOCH = 32, 4

class Cleanups(Callback):
    "Records the cleanup events and whether the fit's end events ran."
    def __init__(self): self.events = []
    def after_fit(self): self.events.append("after_fit")
    def after_cancel_fit(self): self.events.append("after_cancel_fit")
    def cleanup_epoch(self): self.events.append("cleanup_epoch")
    def cleanup_fit(self): self.events.append("cleanup_fit")

def learner(tmp_path, *extra, lr=1e-3, epochs=4):
    "A tiny random BERT with checkpoints, a progress bar, local metrics and MLflow (a SQLite store in `tmp_path`)."
    mx.random.seed(0)
    model = init_weights(BertForSequenceClassification(BertConfig(vocab_size=120, hidden_size=16, num_hidden_layers=1,
                                                                  num_attention_heads=2, intermediate_size=32, num_labels=2)))
    rng = np.random.default_rng(0)
    rows = [rng.integers(5, 120, int(n)).astype(np.int32) for n in rng.integers(4, 12, ROWS)]
    labels = rng.integers(0, 2, ROWS)
    progress, cleanups = ProgressCallback(), Cleanups()
    mlflow_cb = MLflowCallback(tmp_path, run_name="cancel-test", every=1, checkpoint_dir=tmp_path / "checkpoints")
    cbs = [progress, cleanups, CheckpointCallback(tmp_path / "checkpoints", keep_last=10), MetricsLogger(tmp_path), mlflow_cb, *extra]
    learn = Learner(model, TextLoader(rows, labels, ROWS // UPDATES_PER_EPOCH, seed=1), TextLoader(rows, labels, ROWS, shuffle=False),
                    task="binary", config=TrainConfig(epochs=epochs, lr=lr), callbacks=cbs)
    return learn, progress, cleanups, mlflow_cb

def mlflow_run(tmp_path, cb):
    from mlflow.tracking import MlflowClient
    return MlflowClient(cb.uri).get_run(cb.run_id)

def epoch_folders(tmp_path): return sorted(p.name for p in (tmp_path / "checkpoints").glob("epoch-*"))

class NeverBetter(Callback):
    "Makes the metric worse every epoch after the first, so early stopping has something to stop."
    order = 50
    def after_validate(self): self.learn.last_metrics["accuracy"] = 1.0 / (1 + self.learn.epoch)

def test_early_stop_records_and_saves_the_stopping_epoch(tmp_path):
    learn, progress, cleanups, mlflow_cb = learner(tmp_path, NeverBetter(), EarlyStoppingCallback(patience=2), epochs=6)
    history = learn.fit()                                         # a cancel is not an error: fit returns
    assert [h["epoch"] for h in history] == [1, 2, 3]             # epoch 3 stopped the fit and is recorded
    assert (learn.outcome, learn.epoch) == ("cancelled", 3)
    assert "early stop" in str(learn.stopped_by)
    assert epoch_folders(tmp_path) == ["epoch-001", "epoch-002", "epoch-003"]
    state = json.loads((tmp_path / "checkpoints" / "epoch-003" / "trainer_state.json").read_text())
    assert (state["epoch"], len(state["history"])) == (3, 3)
    assert cleanups.events[-3:] == ["cleanup_epoch", "after_cancel_fit", "cleanup_fit"] and "after_fit" not in cleanups.events
    assert cleanups.events.count("cleanup_epoch") == 3 and progress.bar.disable
    local = read_metrics(tmp_path)
    assert [r["epoch"] for r in local if "epoch" in r] == [1, 2, 3]
    assert local[-1]["outcome"] == "cancelled" and "early stop" in local[-1]["stopped_by"]
    run = mlflow_run(tmp_path, mlflow_cb)
    assert run.info.status == "FINISHED" and "early stop" in run.data.tags["stopped_by"]
    assert len(run.data.metrics) and "accuracy" in run.data.metrics

def test_nan_guard_fails_the_fit_with_a_training_error(tmp_path):
    learn, progress, cleanups, mlflow_cb = learner(tmp_path, NaNGuardCallback(), lr=1e6, epochs=6)   # a real divergence
    with pytest.raises(TrainingError, match=r"at update \d+ .*lower the learning rate") as e: learn.fit()
    assert (learn.outcome, learn.stopped_by) == ("failed", e.value)
    step = learn.step
    assert not math.isfinite(learn.last_loss) and step > learn.epoch * UPDATES_PER_EPOCH   # it stopped mid-epoch
    assert [h["epoch"] for h in learn.history] == list(range(1, learn.epoch + 1))            # complete epochs only
    assert all(math.isfinite(h["train_loss"]) for h in learn.history)
    assert epoch_folders(tmp_path) == [f"epoch-{k:03d}" for k in range(1, learn.epoch + 1)]  # the diverged epoch is not saved
    assert cleanups.events[-2:] == ["cleanup_epoch", "cleanup_fit"] and "after_fit" not in cleanups.events
    assert progress.bar.disable
    assert read_metrics(tmp_path)[-1]["outcome"] == "failed"
    run = mlflow_run(tmp_path, mlflow_cb)
    assert run.info.status == "FAILED" and f"update {step}" in run.data.tags["stopped_by"]

class CtrlC(Callback):
    "Presses Ctrl-C on the second update of epoch 2."
    def after_batch(self):
        if self.learn.step == UPDATES_PER_EPOCH + 2: raise KeyboardInterrupt()

def test_ctrl_c_cleans_up_then_propagates(tmp_path):
    learn, progress, cleanups, mlflow_cb = learner(tmp_path, CtrlC())
    with pytest.raises(KeyboardInterrupt): learn.fit()
    assert (learn.outcome, learn.epoch, learn.step) == ("interrupted", 1, UPDATES_PER_EPOCH + 2)
    assert [h["epoch"] for h in learn.history] == [1]
    assert epoch_folders(tmp_path) == ["epoch-001"]                # the last complete epoch is on disk ...
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]   # ... and nothing half-written
    assert cleanups.events[-2:] == ["cleanup_epoch", "cleanup_fit"] and progress.bar.disable
    assert read_metrics(tmp_path)[-1] == {"step": UPDATES_PER_EPOCH + 2, "outcome": "interrupted", "stopped_by": "KeyboardInterrupt: "}
    assert mlflow_run(tmp_path, mlflow_cb).info.status == "KILLED"
    resumed, *_ = learner(tmp_path / "resumed", epochs=2)           # and the run resumes from that checkpoint
    load_checkpoint(resumed, last_checkpoint(tmp_path / "checkpoints"))
    assert (resumed.epoch, resumed.step) == (1, UPDATES_PER_EPOCH)
    assert [h["epoch"] for h in resumed.fit()] == [1, 2]

def test_a_finished_fit_ends_everything_normally(tmp_path):
    learn, progress, cleanups, mlflow_cb = learner(tmp_path, epochs=2)
    learn.fit()
    assert (learn.outcome, learn.stopped_by) == ("finished", None)
    assert cleanups.events[-3:] == ["cleanup_epoch", "after_fit", "cleanup_fit"] and progress.bar.disable
    assert mlflow_run(tmp_path, mlflow_cb).info.status == "FINISHED"
    assert read_metrics(tmp_path)[-1] == {"step": 2 * UPDATES_PER_EPOCH, "outcome": "finished"}

class BrokenCleanup(Callback):
    order = -1   # runs first: the others' cleanups must still run
    def cleanup_fit(self): raise RuntimeError("cleanup bug")

def test_a_failing_cleanup_does_not_hide_the_error_or_skip_the_others(tmp_path):
    learn, progress, cleanups, mlflow_cb = learner(tmp_path, BrokenCleanup(), CtrlC())
    with pytest.warns(RuntimeWarning, match="cleanup bug"), pytest.raises(KeyboardInterrupt): learn.fit()
    assert cleanups.events[-1] == "cleanup_fit" and mlflow_run(tmp_path, mlflow_cb).info.status == "KILLED"
