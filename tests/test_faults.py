"""Faults while training, injected: SIGTERM, two runs in one output folder, two writers of one token cache, an MLflow
server that is down from the start. None of them may cost a finished epoch or show a traceback."""
import json, multiprocessing as mp, signal, socket, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from helpers import wait_for

@pytest.fixture(autouse=True)
def _tiny(tiny_model_env):
    "Every run here trains conftest's tiny BERT: these tests check faults and recovery, not what MiniLM learns."

CLI = str(Path(sys.executable).with_name("mlx-modernbert"))
TINY = ["--folds", "0", "--dataset", "titanic", "--limit-rows", "48", "--max-length", "32", "--test", "none", "--no-mlflow", "--seed", "7"]

def cli(*args, timeout=600):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)

def runs(output:Path) -> list[Path]:
    return sorted(p for p in output.glob("*") if (p / "config.yaml").exists()) if output.exists() else []

@pytest.mark.slow
def test_sigterm_stops_gracefully_and_the_run_resumes(tmp_path):
    proc = subprocess.Popen([CLI, "train", *TINY, "--epochs", "8", "--output", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        last = lambda: (r := runs(tmp_path)) and (r[0] / "model" / "checkpoints" / "last" / "trainer_state.json").exists()
        assert wait_for(last, proc), "the first epoch's checkpoint never appeared"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None: proc.kill(); proc.wait()
    assert proc.returncode == 130, (proc.returncode, err[-3000:])
    assert "Traceback" not in out + err and "interrupted" in out + err, (out + err)[-3000:]
    run = runs(tmp_path)[0]
    last = run / "model" / "checkpoints" / "last"
    assert (last / "optimizer.safetensors").exists() and json.loads((last / "trainer_state.json").read_text())["epoch"] < 8
    assert not list(run.rglob(".*.tmp-*")) and not list(run.rglob(".*.old-*")), "a half-written checkpoint was left"
    r = cli("train", "--resume", run)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((run / "scores.json").read_text())["scores"] and (run / "model" / "checkpoints" / "final").exists()

@pytest.mark.slow
def test_two_runs_in_one_output_folder_never_collide(tmp_path):
    procs = [subprocess.Popen([CLI, "train", *TINY, "--epochs", "1", "--output", str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, results): assert p.returncode == 0, err[-3000:]
    found = runs(tmp_path)
    assert len(found) == 2, found
    folders = {Path(line.split("run folder:", 1)[1].strip()).name for out, _ in results for line in out.splitlines() if "run folder:" in line}
    assert folders == {p.name for p in found}   # each process reports its own folder
    for run in found:
        assert json.loads((run / "scores.json").read_text())["scores"]
        assert (run / "run.log").read_text().count("data:") == 1   # one run's log, not two interleaved

def _hammer(path:str, key:str, n:int, queue):
    "Write and read the same token cache `n` times; report every read that did not give the expected rows."
    from mlx_modernbert.tokenize import _save_ragged, _load_ragged
    rows = [np.arange(k % 7 + 1, dtype=np.int32) + k for k in range(500)]
    bad = 0
    for _ in range(n):
        _save_ragged(Path(path), rows, key)
        got, _ = _load_ragged(Path(path), key)
        bad += len(got) != len(rows) or not all(np.array_equal(a, b) for a, b in zip(got, rows))
    queue.put(bad)

def test_two_processes_writing_one_token_cache(tmp_path):
    path, queue = tmp_path / "tokens-abc.safetensors", mp.get_context("spawn").Queue()
    procs = [mp.get_context("spawn").Process(target=_hammer, args=(str(path), "abc", 40, queue)) for _ in range(2)]
    for p in procs: p.start()
    for p in procs: p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert [queue.get(timeout=5) for _ in procs] == [0, 0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]   # no temporary file left behind

@pytest.mark.slow
def test_mlflow_server_down_at_start_does_not_stop_training(tmp_path):
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]   # closed once the block ends
    args = [a for a in TINY if a != "--no-mlflow"]
    r = cli("train", *args, "--epochs", "1", "--mlflow", "--mlflow-uri", f"http://127.0.0.1:{port}", "--output", tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stdout + r.stderr
    assert "MLflow tracking stopped" in r.stdout + r.stderr, (r.stdout + r.stderr)[-2000:]
    assert json.loads((runs(tmp_path)[0] / "scores.json").read_text())["scores"]

@pytest.fixture(scope="module")
def final_checkpoint(titanic_run):
    "A trained Titanic model's final checkpoint (96 rows, 1 epoch; conftest's shared run: each test damages a copy)."
    return titanic_run / "model" / "checkpoints" / "final"

def _truncate(ck, keep_checksums):
    with open(ck / "model.safetensors", "r+b") as f: f.truncate(4096)
    if not keep_checksums: (ck / "checksums.json").unlink()
def _flip_bit(ck):
    data = bytearray((ck / "model.safetensors").read_bytes()); data[len(data) // 2] ^= 4; (ck / "model.safetensors").write_bytes(bytes(data))
def _edit_config(ck):
    cfg = json.loads((ck / "config.json").read_text()); cfg["hidden_size"] *= 2; (ck / "config.json").write_text(json.dumps(cfg))

DAMAGE = {   # what is done to a copy of the checkpoint -> the file the error must name
    "truncated weights, checksum kept": (lambda ck: _truncate(ck, True), "model.safetensors"),
    "truncated weights, no checksum": (lambda ck: _truncate(ck, False), "model.safetensors"),
    "one flipped bit": (_flip_bit, "model.safetensors"),
    "weights missing": (lambda ck: (ck / "model.safetensors").unlink(), "model.safetensors"),
    "config missing": (lambda ck: (ck / "config.json").unlink(), "config.json"),
    "config does not fit the weights": (_edit_config, "final"),
    "extra.json damaged": (lambda ck: (ck / "extra.json").write_text('{"label_encoding": '), "extra.json"),
    "tokenizer damaged": (lambda ck: (ck / "tokenizer.json").write_text("{not json"), "final"),
}

@pytest.mark.slow
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_checkpoint_is_one_error_naming_the_file(final_checkpoint, tmp_path, damage):
    import shutil
    ck = tmp_path / "final"; shutil.copytree(final_checkpoint, ck)
    do, named = DAMAGE[damage]; do(ck)
    r = cli("predict", "--test", Path(__file__).parents[1] / "mlx_modernbert" / "data" / "titanic" / "test.csv", "--checkpoint", ck,
            "--output", tmp_path / "sub.csv")
    both = r.stdout + r.stderr
    errors = [l for l in both.splitlines() if l.startswith("error:")]
    assert r.returncode == 2 and "Traceback" not in both and len(errors) == 1, both[-3000:]
    assert named in errors[0], errors[0]
    assert not (tmp_path / "sub.csv").exists()

@pytest.fixture
def small_disk(tmp_path):
    "A 420 MiB tmpfs: room for one resumable MiniLM checkpoint (273 MB with its optimizer state), not for the next copy."
    mount = tmp_path / "small"; mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=420m", "tmpfs", str(mount)], capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)

@pytest.mark.slow
def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(small_disk):
    r = cli("train", *TINY, "--epochs", "3", "--model", "sentence-transformers/all-MiniLM-L6-v2", "--output", small_disk / "runs")   # sized for MiniLM
    out = r.stdout + r.stderr
    assert r.returncode == 2 and "no space left to write the checkpoint" in r.stdout and "Traceback" not in out, out[-3000:]
    assert "the previous checkpoint there is intact" in r.stdout
    run = next(p for p in (small_disk / "runs").iterdir() if (p / "config.yaml").exists())
    last = run / "model" / "checkpoints" / "last"
    assert json.loads((last / "trainer_state.json").read_text())["epoch"] == 1   # the first epoch's checkpoint, whole
    from mlx_modernbert.checkpoint import verify_checkpoint
    verify_checkpoint(last)                                                        # its weights match their recorded hashes
    assert not list(last.parent.glob(".*tmp*"))                                    # the half-written copy is gone
