"A k-fold CLI run killed with SIGKILL in its second fold, then `train --resume RUN`, ends with the scores of an uninterrupted run."
import json, signal, subprocess, sys
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from helpers import wait_for

@pytest.fixture(autouse=True)
def _tiny(tiny_model_env):
    "Every run here trains conftest's tiny BERT: these tests check that a killed run resumes to the same result, not what MiniLM learns."

CLI = str(Path(sys.executable).with_name("mlx-modernbert"))
SETTINGS = ["train", "--dataset", "titanic", "--limit-rows", "64", "--max-length", "32", "--folds", "2", "--epochs", "3",
            "--no-mlflow", "--seed", "7"]

def cli(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=600)

def the_run(output:Path) -> Path|None:
    runs = [p for p in output.glob("*") if (p / "config.yaml").exists()] if output.exists() else []
    return runs[0] if runs else None

@pytest.mark.slow
def test_sigkill_in_second_fold_then_resume_matches_uninterrupted(tmp_path):
    r = cli(*SETTINGS, "--output", tmp_path / "straight")
    assert r.returncode == 0, r.stderr[-3000:]
    straight = the_run(tmp_path / "straight")

    proc = subprocess.Popen([CLI, *SETTINGS, "--output", str(tmp_path / "killed")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        ready = lambda: (run := the_run(tmp_path / "killed")) is not None and (run / "fold-0" / "heldout.npz").exists() \
                        and (run / "fold-1" / "checkpoints" / "last" / "trainer_state.json").exists()
        assert wait_for(ready, proc), "fold 1's first epoch checkpoint never appeared"
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None: proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    run = the_run(tmp_path / "killed")
    assert not (run / "fold-1" / "heldout.npz").exists() and not (run / "scores.json").exists()   # killed inside fold 1
    last = run / "fold-1" / "checkpoints" / "last"
    assert (last / "optimizer.safetensors").exists() and json.loads((last / "trainer_state.json").read_text())["epoch"] < 3

    r = cli("train", "--resume", run)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = json.loads((straight / "scores.json").read_text()), json.loads((run / "scores.json").read_text())
    for key in ("scores", "mean", "std", "oof_score"):
        np.testing.assert_allclose(b[key], a[key], atol=1e-6, err_msg=key)
    oof_a, oof_b = pd.read_csv(straight / "oof.csv"), pd.read_csv(run / "oof.csv")
    assert list(oof_a.columns) == list(oof_b.columns) and (oof_a.row.values == oof_b.row.values).all()
    prob = [c for c in oof_a.columns if c.startswith("prob_")]
    np.testing.assert_allclose(oof_b[prob].values, oof_a[prob].values, atol=1e-6)
    pd.testing.assert_frame_equal(pd.read_csv(run / "submission.csv"), pd.read_csv(straight / "submission.csv"), atol=1e-6)
    # lean once finished: each fold's final model without optimizer state, no resumable `last` left
    assert sorted(p.name for p in run.glob("fold-*/checkpoints/*")) == ["final", "final"]
    assert not list(run.rglob("optimizer.safetensors")) and not list(run.rglob(".*.tmp-*"))
    assert "finished before the interruption" in (run / "run.log").read_text()
