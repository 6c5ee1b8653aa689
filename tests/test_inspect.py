"`mlx-modernbert inspect`: the description of a trained checkpoint, as tables and JSON, and a row's attention map."
import json
import pytest

@pytest.fixture(scope="module")
def cli():
    from typer.testing import CliRunner
    from mlx_modernbert.cli import app   # the real command line, wired as users get it
    return lambda *args: CliRunner().invoke(app, ["inspect", *map(str, args)])

def test_json_matches_the_model(cli, run_dir):
    from mlx.utils import tree_flatten
    from mlx_modernbert.hub import load_pretrained
    got = cli(run_dir, "--json")
    assert got.exit_code == 0, got.output
    info = json.loads(got.stdout)
    model = load_pretrained(run_dir / "model" / "checkpoints" / "final", task="sequence-classification")
    assert info["parameters"] == sum(v.size for _, v in tree_flatten(model.parameters())) == sum(info["blocks"].values())
    assert info["architecture"]["model_type"] == "bert" and info["architecture"]["num_hidden_layers"] == 6
    assert [b for b in info["blocks"] if ".layer." in b] == [f"bert.encoder.layer.{i}" for i in range(6)]
    assert info["memory_bytes"] == 4 * info["parameters"] and list(info["dtype"]) == ["F32"]
    assert (info["task"], info["labels"], info["targets"]) == ("binary", [0, 1], ["Survived"])
    assert info["template"]["class"] == "TitanicTemplate" and "ticket_counts" not in info["template"]
    assert info["training"]["limit_rows"] == 96 and info["final_metrics"]["epoch"] == 1
    assert info["scores"]["metric"] == "accuracy"

def test_tables(cli, run_dir):
    got = cli(run_dir)
    assert got.exit_code == 0, got.output
    for title in ("model", "parameters per block", "data and labels", "training configuration", "final metrics"):
        assert title in got.output
    assert "bert.encoder.layer.5" in got.output and "TitanicTemplate" in got.output

def test_attention_png(cli, run_dir, tmp_path):
    got = cli(run_dir, "--row", 2, "--attention", tmp_path / "att.png", "--json")
    assert got.exit_code == 0, got.output
    assert (tmp_path / "att.png").read_bytes()[:4] == b"\x89PNG"
    from mlx_modernbert.datasets import DATA_DIR
    got = cli(run_dir, "--row", 1, "--attention", tmp_path / "att.svg", "--rows", DATA_DIR / "titanic" / "train.csv", "--layer", 0, "--head", 3, "--json")
    assert got.exit_code == 0 and "<svg" in (tmp_path / "att.svg").read_text()[:500]

@pytest.mark.parametrize("args, message", [
    (["--row", 3], "--row and --attention go together"),
    (["--row", 10000, "--attention", "x.png"], "out of range"),
    (["--row", 0, "--attention", "x.png", "--head", 12], "the model has 12 heads"),
])
def test_errors_are_one_line(cli, run_dir, args, message):
    got = cli(run_dir, *args)
    assert got.exit_code == 2 and message in got.output, got.output

def test_not_a_checkpoint(cli, tmp_path):
    got = cli(tmp_path / "nothing")
    assert got.exit_code == 2 and "not found" in got.output
