"Run every notebook in `nbs/` as one test case, each in its own process, so a failing notebook is named."
import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts and not p.name.startswith("_"))

RUNNER = """
import sys
from nbdev.test import test_nb
ok, secs = test_nb(sys.argv[1], skip_flags=sys.argv[2].split(',') if sys.argv[2] else None,
                   force_flags=sys.argv[3].split(',') if sys.argv[3] else None, cell_timeout=1200)
print(f"{sys.argv[1]}: {'ok' if ok else 'FAILED'} in {secs:.1f}s")
sys.exit(0 if ok else 1)
"""

# Tutorials train for real; here they run with tiny settings and conftest's tiny BERT (environment variables outrank their presets;
# the browser test runs the Titanic tutorial with all-MiniLM-L6-v2 in JupyterLab).
TUTORIAL_ENV = {"MLX_MODERNBERT_LIMIT_ROWS": "96", "MLX_MODERNBERT_EPOCHS": "1", "MLX_MODERNBERT_FOLDS": "2",
                "MLX_MODERNBERT_MAX_LENGTH": "48"}

@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "nbs")))
def test_notebook(notebook, request):
    slow = request.config.getoption("--slow-notebooks") and not request.config.getoption("--quick")
    skip, force = ("", "slow") if slow else ("slow", "")
    tutorial = {**TUTORIAL_ENV, "MLX_MODERNBERT_MODEL": str(request.getfixturevalue("tiny_model"))} if "tutorials" in notebook.parts else {}
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **tutorial}
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(notebook), skip, force],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, f"{notebook.name} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-12000:]}"
