"""Shared pytest settings: both cores, the slowest tests first, trained runs shared by every worker; `--quick` skips slow tests.

The suite runs under pytest-xdist (`-n auto` in pyproject.toml's addopts; `-n 0` runs it in one process, e.g. with `-s`):
- Each worker keeps its math libraries to one thread (OpenBLAS, OpenMP, PyTorch), so two workers share two cores
  instead of four threads fighting over them; the environment is set here, before any test imports MLX or torch, and
  the CLI processes the tests start inherit it. `TEST_MATH_THREADS` overrides the count.
- Tests are ordered by their last measured duration (`tests/durations.json`, longest first; `--record-durations`
  rewrites it), and xdist hands them out in that order (`--dist loadgroup --no-loadscope-reorder`): the long ones start
  early and the short ones fill the gaps. Tests that cannot share the machine carry `@pytest.mark.xdist_group(...)`
  (port 80 for the Kaggle client, MLX's ring launcher) and run one after another on one worker.
- A trained run that many tests only read (`titanic_run`) is trained once per pytest run, by whichever worker asks
  first, under a file lock; the others wait for it and read the same folder. Tests that change a run take a copy.
- Tests of plumbing (flags, files, faults, resumes, searches) train `tiny_model`: a 2-layer, 64-wide BERT with
  all-MiniLM-L6-v2's tokenizer, random weights, written once per run; the `tiny_model_env` fixture makes it every
  run's default (`MLX_MODERNBERT_MODEL`, which CLI processes inherit). Tests of what the real model computes (parity,
  the Titanic end-to-end run, serve, inspect, export, layouts) keep all-MiniLM-L6-v2.

CI runs every test in `tests/`, slow ones included. The notebooks' slow cells are demonstrations (a real Titanic fit
with its plots, a trainer epoch timed, an ONNX export, a study of several trials, a registered run) whose behaviour
the tests in `tests/` check through the CLI (test_e2e, test_export, test_tune, test_tracking_server, ...), so CI
leaves them out to stay within its time budget; `--slow-notebooks` runs them too."""
import json, os, sys
from pathlib import Path
import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):   # a worker of `-n 2` or more: one math thread each (see the docstring)
    threads = os.environ.get("TEST_MATH_THREADS", "1")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"): os.environ[var] = threads

# The kaggle package creates its config folder when imported, with os.makedirs and no exist_ok: two workers collecting
# test_kaggle_api.py at once on a machine without the folder race, and one fails with FileExistsError. Make it first.
_kaggle_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR") or "~/.kaggle").expanduser()
if not os.environ.get("KAGGLE_CONFIG_DIR") and sys.platform.startswith("linux") and not _kaggle_dir.exists():   # kaggle's XDG rule
    _kaggle_dir = Path(os.environ.get("XDG_CONFIG_HOME") or Path("~/.config").expanduser()) / "kaggle"
_kaggle_dir.mkdir(parents=True, exist_ok=True)

DURATIONS = Path(__file__).with_name("durations.json")
UNKNOWN_SECONDS = 10.0   # a test not yet in durations.json is placed as if it took this long

def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true", help="skip slow tests (and notebook cells flagged `#| slow`)")
    parser.addoption("--slow-notebooks", action="store_true", help="also run notebook cells flagged `#| slow`")
    parser.addoption("--record-durations", action="store_true", help="write each test's measured seconds to tests/durations.json")

def plain_id(nodeid:str) -> str:
    "A node id without the `@group` suffix that xdist's loadgroup adds."
    return nodeid.split("@")[0]

def group_of(item) -> str:
    "The xdist group an item runs in (its `xdist_group` mark), or its own node id."
    mark = item.get_closest_marker("xdist_group")
    return (mark.kwargs.get("name") or mark.args[0]) if mark else plain_id(item.nodeid)

def uses_module_fixture(item) -> bool:
    "Whether the test asks for a fixture built once per module (a trained run, a server, an export)."
    return any(defs[-1].scope == "module" for defs in getattr(item, "_fixtureinfo").name2fixturedefs.values() if defs)

@pytest.hookimpl(tryfirst=True)   # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    if config.getoption("--quick"):
        skip = pytest.mark.skip(reason="--quick given")
        for item in items:
            if "slow" in item.keywords: item.add_marker(skip)
    for item in items:   # tests sharing a module's fixture run on one worker, so it is built once
        if not item.get_closest_marker("xdist_group") and uses_module_fixture(item): item.add_marker(pytest.mark.xdist_group(item.path.name))
    known = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    totals = {}
    for item in items: totals[group_of(item)] = totals.get(group_of(item), 0.0) + known.get(plain_id(item.nodeid), UNKNOWN_SECONDS)
    order = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (-totals[group_of(item)], group_of(item), order[id(item)]))   # a group's tests stay together, in file order

_measured: dict = {}

def pytest_runtest_logreport(report):
    if report.when in ("setup", "call", "teardown"): _measured[plain_id(report.nodeid)] = _measured.get(plain_id(report.nodeid), 0.0) + report.duration

def pytest_sessionfinish(session):
    if not session.config.getoption("--record-durations") or os.environ.get("PYTEST_XDIST_WORKER") or not _measured: return
    old = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    DURATIONS.write_text(json.dumps({**old, **{k: round(v, 2) for k, v in sorted(_measured.items())}}, indent=0, sort_keys=True) + "\n")

def shared_folder(tmp_path_factory) -> Path:
    "A folder that every worker of this pytest run sees (the parent of the workers' own temporary folders under xdist)."
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base

def train_once(tmp_path_factory, name:str, train) -> Path:
    "The run folder `train(folder)` returns, trained by the first worker that asks and read by the rest (a file lock orders them)."
    from filelock import FileLock
    root = shared_folder(tmp_path_factory)
    done = root / f"{name}.done"
    with FileLock(str(root / f"{name}.lock")):
        if not done.exists():
            folder = root / name
            folder.mkdir(exist_ok=True)
            done.write_text(str(train(folder)))
    return Path(done.read_text())

@pytest.fixture(scope="session")
def titanic_run(tmp_path_factory):
    "A one-epoch Titanic run (96 rows, MiniLM, the curated template, the bundled test file predicted), trained once per pytest run; read it, never change it."
    def train(folder):
        from mlx_modernbert.runconfig import resolve_config
        from mlx_modernbert.run import train_run
        return train_run(resolve_config("test", flags={"output": str(folder), "dataset": "titanic", "test": None}))[0]
    return train_once(tmp_path_factory, "titanic-run", train)

@pytest.fixture(scope="session")
def run_dir(titanic_run):
    "The shared Titanic run (`titanic_run`), for tests that only read it (export, inspect, serve)."
    return titanic_run

@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    "A random 2-layer, 64-wide BERT folder with all-MiniLM-L6-v2's tokenizer (0.6M parameters besides its 2M-row embeddings), written once per run."
    def write(folder):
        from mlx_modernbert.backend import mx
        from mlx_modernbert.bert import BertModel
        from mlx_modernbert.config import BertConfig
        from mlx_modernbert.hub import init_weights, resolve_model_dir
        mx.random.seed(0)
        config = BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
        return init_weights(BertModel(config)).save_pretrained(folder / "tiny-bert", tokenizer_dir=resolve_model_dir("all-MiniLM-L6-v2"))
    return train_once(tmp_path_factory, "tiny-bert", write)

@pytest.fixture
def tiny_model_env(tiny_model, monkeypatch) -> Path:
    "Make `tiny_model` the default model of every run the test starts, in this process and in the CLI processes it runs."
    monkeypatch.setenv("MLX_MODERNBERT_MODEL", str(tiny_model))
    return tiny_model
