"Data-parallel training with MLX's ring backend: 2 processes x batch b equal 1 process x batch 2b."
import os, shutil, subprocess, sys, textwrap
from pathlib import Path
import pytest

pytestmark = pytest.mark.xdist_group("mlx-launch")   # mlx.launch's ring backend takes fixed local ports: one launch at a time

SCRIPT = textwrap.dedent('''
    import sys, numpy as np
    from pathlib import Path
    from mlx.utils import tree_flatten
    from mlx_modernbert.backend import mx
    from mlx_modernbert.config import ModernBertConfig
    from mlx_modernbert.modernbert import ModernBertForSequenceClassification
    from mlx_modernbert.hub import init_weights, save_safetensors
    from mlx_modernbert.loaders import TextLoader
    from mlx_modernbert.trainer import Learner, TrainConfig
    from mlx_modernbert.tracking import MetricsLogger
    out, mode = Path(sys.argv[1]), sys.argv[2]
    group = mx.distributed.init(strict=True, backend=sys.argv[3]) if mode == "dist" else None
    rank, world = (group.rank(), group.size()) if group else (0, 1)
    cfg = ModernBertConfig(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                           local_attention=8, pad_token_id=0, num_labels=2)
    mx.random.seed(0)
    model = init_weights(ModernBertForSequenceClassification(cfg))
    rng = np.random.default_rng(0)
    rows = [rng.integers(1, 100, n).astype(np.int32) for n in rng.integers(5, 30, 70)]
    labels = rng.integers(0, 2, 70)
    loader = TextLoader(rows, labels, batch_size=8 // world, seed=1, rank=rank, world=world)
    val = TextLoader(rows[:45], labels[:45], batch_size=8)   # whole on every process; predictions are split among them
    learn = Learner(model, loader, val, task="binary", config=TrainConfig(epochs=2, lr=3e-3), callbacks=[MetricsLogger(out / mode)])
    learn.fit()
    if rank == 0: save_safetensors(dict(tree_flatten(model.parameters())), out / f"{mode}.safetensors")
    seen = []
    class Counting:   # the model, counting the rows this process predicts
        def eval(self): model.eval()
        def __call__(self, ids, mask): seen.append(ids.shape[0]); return model(ids, mask)
    from mlx_modernbert.trainer import predict_outputs
    out_all, idx = predict_outputs(Counting(), val, group=group)
    print(f"rank {rank}/{world}: {learn.step} updates, predicted {sum(seen)} of {len(idx)} rows, sum {float(out_all.sum()):.6f}, "
          f"rows {sorted(idx.tolist()) == list(range(45))}", flush=True)
''')

def train_one_process(tmp_path) -> Path:
    "Write SCRIPT and run it in one process (batch 8): the reference weights."
    script = tmp_path / "train.py"; script.write_text(SCRIPT)
    r = subprocess.run([sys.executable, str(script), str(tmp_path), "single"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return script

def assert_same_weights_as_one_process(r, tmp_path, backend:str):
    "The 2-process run `r` succeeded on both ranks and ended with the one-process weights."
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "rank 0/2" in r.stdout and "rank 1/2" in r.stdout
    from mlx_modernbert.backend import mx
    a, b = mx.load(str(tmp_path / "single.safetensors")), mx.load(str(tmp_path / "dist.safetensors"))
    diff = max(float(mx.abs(a[k] - b[k]).max()) for k in a)
    print(f"\n[distributed, {backend}] max |1 process x 8 - 2 processes x 4| after 2 epochs = {diff:.2e}")
    assert diff < 1e-5

@pytest.mark.slow
def test_two_processes_equal_one_process_with_double_batch(tmp_path):
    script = train_one_process(tmp_path)
    launch = Path(sys.executable).with_name("mlx.launch")
    r = subprocess.run([str(launch), "-n", "2", "--backend", "ring", "--python", sys.executable, str(script), str(tmp_path), "dist", "ring"],
                       capture_output=True, text=True, timeout=600)
    assert_same_weights_as_one_process(r, tmp_path, "ring")
    single_log = (tmp_path / "single" / "metrics.jsonl").read_text().splitlines()
    dist_log = (tmp_path / "dist" / "metrics.jsonl").read_text().splitlines()
    assert len(dist_log) == len(single_log)   # written once (rank 0), not once per process
    # validation: each process predicted part of the rows, every process got all outputs, metrics match one process
    import json, re
    shares = [int(n) for n in re.findall(r"predicted (\d+) of 45 rows", r.stdout)]
    assert len(shares) == 2 and sum(shares) == 45 and max(shares) < 45, r.stdout
    sums = re.findall(r"sum (-?[\d.]+), rows True", r.stdout)
    assert len(sums) == 2 and sums[0] == sums[1], r.stdout
    epochs = lambda log: [r for r in map(json.loads, log) if "val_loss" in r]
    assert len(epochs(single_log)) == 2
    for a, b in zip(epochs(single_log), epochs(dist_log)):
        assert abs(a["val_loss"] - b["val_loss"]) < 1e-5 and a["accuracy"] == b["accuracy"], (a, b)

@pytest.mark.slow
@pytest.mark.skipif(shutil.which("mpirun") is None, reason="MPI is not installed (Debian: apt-get install openmpi-bin)")
def test_mpi_backend_two_processes_equal_one_process(tmp_path):
    "The same equivalence through MPI: mpirun starts the processes, MLX's MPI backend sums the gradients."
    script = train_one_process(tmp_path)
    env = dict(os.environ)
    libdir = tmp_path / "mpilib"
    if not any(Path(d, "libmpi.so").exists() for d in ["/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib"]):
        found = sorted(Path("/usr/lib/x86_64-linux-gnu").glob("libmpi.so.*"))   # Debian's runtime package lacks the dev symlink
        if found: libdir.mkdir(); (libdir / "libmpi.so").symlink_to(found[0]); env["LD_LIBRARY_PATH"] = f"{libdir}:{env.get('LD_LIBRARY_PATH', '')}"
    r = subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-x", "LD_LIBRARY_PATH", "-np", "2",
                        sys.executable, str(script), str(tmp_path), "dist", "mpi"], capture_output=True, text=True, timeout=600, env=env)
    assert_same_weights_as_one_process(r, tmp_path, "MPI")

@pytest.mark.slow
def test_cli_train_under_mlx_launch_writes_one_run_folder(tmp_path, tiny_model_env):
    launch = Path(sys.executable).with_name("mlx.launch")
    cli = Path(sys.executable).with_name("mlx-modernbert")
    r = subprocess.run([str(launch), "-n", "2", "--backend", "ring", "--python", sys.executable, str(cli), "train",
                        "--preset", "test", "--output", str(tmp_path), "--no-mlflow"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    runs = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1, runs                                    # rank 0 alone writes
    assert (runs[0] / "submission.csv").exists() and (runs[0] / "model" / "checkpoints" / "final").exists()

@pytest.mark.slow
def test_folds_placed_on_different_processes(tmp_path, tiny_model_env):
    launch = Path(sys.executable).with_name("mlx.launch")
    cli = Path(sys.executable).with_name("mlx-modernbert")
    r = subprocess.run([str(launch), "-n", "2", "--backend", "ring", "--python", sys.executable, str(cli), "train",
                        "--preset", "test", "--folds", "3", "--distribute", "folds", "--output", str(tmp_path), "--no-mlflow"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    runs = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1, runs                                     # one shared run folder
    run = runs[0]
    assert "fold-0: 64 train rows, 32 validation rows (process 0 of 2)" in (run / "run.log").read_text()
    assert "fold-1: 64 train rows, 32 validation rows (process 1 of 2)" in (run / "run-rank1.log").read_text()
    assert "(process 0 of 2)" in (run / "run.log").read_text().split("fold-2:")[1]   # rank 0 took fold 2 as well
    import json, pandas as pd
    scores = json.loads((run / "scores.json").read_text())
    assert len(scores["scores"]) == 3 and all(0 <= s <= 1 for s in scores["scores"])
    oof = pd.read_csv(run / "oof.csv")
    assert sorted(oof["row"]) == list(range(96))                     # every row predicted by the fold that did not see it
    assert len(pd.read_csv(run / "submission.csv")) == 418

KILL_SCRIPT = textwrap.dedent('''
    import os, signal, sys, numpy as np
    from pathlib import Path
    from mlx_modernbert.backend import mx
    from mlx_modernbert.config import ModernBertConfig
    from mlx_modernbert.modernbert import ModernBertForSequenceClassification
    from mlx_modernbert.hub import init_weights
    from mlx_modernbert.loaders import TextLoader
    from mlx_modernbert.trainer import Learner, TrainConfig, Callback
    from mlx_modernbert.checkpoint import CheckpointCallback
    out = Path(sys.argv[1])
    g = mx.distributed.init(); rank, world = g.rank(), g.size()
    cfg = ModernBertConfig(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, pad_token_id=0)
    model = init_weights(ModernBertForSequenceClassification(cfg))
    rng = np.random.default_rng(0)
    rows = [rng.integers(1, 100, 12).astype(np.int32) for _ in range(160)]; labels = rng.integers(0, 2, 160)
    class Die(Callback):
        def after_batch(self):
            if rank == 1 and self.learn.epoch == 1 and self.learn.step == self.learn.updates_per_epoch + 3: os.kill(os.getpid(), signal.SIGKILL)
    Learner(model, TextLoader(rows, labels, 4, rank=rank, world=world), config=TrainConfig(epochs=3),
            callbacks=[Die(), CheckpointCallback(out / "checkpoints", keep_last=2, best_only=False)]).fit()
    print(f"rank {rank} finished", flush=True)
''')

@pytest.mark.slow
def test_a_dead_process_stops_the_others_and_keeps_the_checkpoint(tmp_path):
    script = tmp_path / "kill.py"; script.write_text(KILL_SCRIPT)
    launch = Path(sys.executable).with_name("mlx.launch")
    # the subprocess timeout is the "never hang" check: the launcher must end the survivors itself
    r = subprocess.run([str(launch), "-n", "2", "--backend", "ring", "--python", sys.executable, str(script), str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert "rank 0 finished" not in r.stdout and "rank 1 finished" not in r.stdout
    ck = tmp_path / "checkpoints" / "epoch-001"
    assert (ck / "trainer_state.json").exists() and not list((tmp_path / "checkpoints").glob(".*tmp*"))
    from mlx_modernbert.modernbert import ModernBertForSequenceClassification
    assert ModernBertForSequenceClassification.from_pretrained(ck).config.num_labels == 2   # intact, loadable
