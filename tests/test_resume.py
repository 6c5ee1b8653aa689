"A training process killed with SIGKILL mid-epoch resumes from its last checkpoint to the same weights as an uninterrupted run."
import json, signal, subprocess, sys, textwrap
import pytest

SCRIPT = textwrap.dedent('''
    import os, signal, sys, numpy as np
    from pathlib import Path
    from mlx.utils import tree_flatten
    from mlx_modernbert.backend import mx
    from mlx_modernbert.config import ModernBertConfig
    from mlx_modernbert.modernbert import ModernBertForSequenceClassification
    from mlx_modernbert.hub import init_weights, save_safetensors
    from mlx_modernbert.loaders import TextLoader
    from mlx_modernbert.trainer import Learner, TrainConfig, Callback
    from mlx_modernbert.checkpoint import CheckpointCallback, load_checkpoint, last_checkpoint
    out, mode = Path(sys.argv[1]), sys.argv[2]
    cfg = ModernBertConfig(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                           local_attention=8, pad_token_id=0, num_labels=3, mlp_dropout=0.1)
    mx.random.seed(0)
    model = init_weights(ModernBertForSequenceClassification(cfg))
    rng = np.random.default_rng(0)
    rows = [rng.integers(1, 100, n).astype(np.int32) for n in rng.integers(5, 30, 96)]
    labels = rng.integers(0, 3, 96)
    class KillMidEpoch(Callback):
        def after_batch(self):
            if self.learn.epoch == 2 and self.learn.step == 2 * self.learn.updates_per_epoch + 3:
                os.kill(os.getpid(), signal.SIGKILL)
    cbs = [CheckpointCallback(out / "checkpoints", keep_last=2)] + ([KillMidEpoch()] if mode == "kill" else [])
    learn = Learner(model, TextLoader(rows, labels, batch_size=8, seed=5), TextLoader(rows, labels, batch_size=32, shuffle=False),
                    task="multiclass", config=TrainConfig(epochs=4, lr=2e-3), callbacks=cbs)
    if mode == "resume": load_checkpoint(learn, last_checkpoint(out / "checkpoints"))
    learn.fit()
    save_safetensors(dict(tree_flatten(learn.model.parameters())), out / "final.safetensors")
''')

def run(tmp, mode):
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp), mode], capture_output=True, text=True)

@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_straight_run(tmp_path):
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    r = run(straight, "straight"); assert r.returncode == 0, r.stderr[-3000:]
    r = run(crashed, "kill")
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr[-3000:])
    assert not (crashed / "final.safetensors").exists()
    ck = crashed / "checkpoints"
    assert sorted(p.name for p in ck.iterdir() if not p.name.startswith(".")) == ["best", "epoch-001", "epoch-002"] or \
           {"epoch-001", "epoch-002"} <= {p.name for p in ck.iterdir()}
    assert not [p for p in ck.iterdir() if ".tmp-" in p.name]  # nothing half-written
    state = json.loads((ck / "epoch-002" / "trainer_state.json").read_text())
    assert state["epoch"] == 2
    r = run(crashed, "resume"); assert r.returncode == 0, r.stderr[-3000:]
    from mlx_modernbert.backend import mx
    a, b = mx.load(str(straight / "final.safetensors")), mx.load(str(crashed / "final.safetensors"))
    diff = max(float(mx.abs(a[k] - b[k]).max()) for k in a)
    print(f"\n[resume] max |straight - killed+resumed| = {diff:.2e}")
    assert diff < 1e-6
