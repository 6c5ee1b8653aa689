"The README's set-up path, from a fresh clone in a clean environment: only Python and pip, no uv, no venv."
import os, subprocess, sys, json, shutil
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

@pytest.mark.slow
def test_fresh_clone_runs_main_job(tmp_path):
    "`./dev run info --json` in a fresh clone installs uv itself, builds .venv from uv.lock and reports a fast BLAS."
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    # A bare Python with only pip: a new venv; PATH without any uv.
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "py")], check=True)
    python = tmp_path / "py" / "bin" / "python"
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if not (Path(p) / "uv").exists() and ".venv" not in p)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    env.update(PATH=path, PYTHON=str(python))
    if "UV_CACHE_DIR" in os.environ: env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    proc = subprocess.run(["./dev", "run", "info", "--json"], cwd=clone, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    info = json.loads(proc.stdout)
    assert (clone / ".venv" / "bin" / "mlx-modernbert").exists()
    assert "installing uv" in proc.stderr  # it really started without uv
    if sys.platform == "linux":
        assert info["blas"].startswith("OpenBLAS"), info["blas"]
        # the bundled reference BLAS gives ~5 GFLOP/s here, OpenBLAS ~170-200 on an idle machine
        assert info["matmul_gflops_fp32"] > 30, info
