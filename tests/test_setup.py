"The README's set-up path, from a fresh clone in a clean environment: only Python and pip, no uv, no venv."
import os, subprocess, sys, json
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Which shared library the process's `cblas_sgemm` comes from, after importing the backend (Linux: /proc/self/maps).
SGEMM_OWNER = """
import ctypes, json
from mlx_modernbert.backend import BLAS_PATH
fn = getattr(ctypes.CDLL(None), "cblas_sgemm", None)
addr = ctypes.cast(fn, ctypes.c_void_p).value if fn is not None else None
maps = [l.split() for l in open("/proc/self/maps") if len(l.split()) > 5]
owner = next((m[5] for m in maps if addr is not None and int(m[0].split("-")[0], 16) <= addr < int(m[0].split("-")[1], 16)), None)
print(json.dumps({"blas_path": str(BLAS_PATH), "sgemm_from": owner}))
"""

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
        # MLX binds to the process's global cblas_sgemm: it must be the OpenBLAS the backend loaded, not a missing symbol
        # (MLX's bundled reference BLAS, ~30x slower, exports none)
        probe = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-c", SGEMM_OWNER], cwd=clone, env=env,
                               capture_output=True, text=True)
        assert probe.returncode == 0, probe.stderr[-2000:]
        found = json.loads(probe.stdout)
        assert found["sgemm_from"] and "openblas" in Path(found["sgemm_from"]).name.lower(), found
        assert Path(found["sgemm_from"]).resolve() == Path(found["blas_path"]).resolve(), found
