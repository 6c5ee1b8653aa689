"`mlx-modernbert export`: ONNX through transformers + PyTorch, checked with onnxruntime against this package's logits on real rows."
import shutil
import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    from mlx_modernbert.export import export_run
    [result] = export_run(run_dir, tmp_path_factory.mktemp("onnx") / "model.onnx")
    return result

def test_logits_equal_on_real_rows(exported):
    print(f"\n[export] {exported['rows']} rows: max |logit diff| onnxruntime vs MLX = {exported['max_abs_diff']:.3e}")
    assert exported["rows"] == 16
    assert exported["max_abs_diff"] < 1e-4

def test_dynamic_batch_and_sequence_axes(exported, run_dir):
    import onnx
    from mlx_modernbert.export import check_rows, encoded_rows, mlx_logits, onnx_logits
    graph = onnx.load(exported["path"], load_external_data=False).graph
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in [*graph.input, *graph.output]}
    assert dims == {"input_ids": ["batch", "sequence"], "attention_mask": ["batch", "sequence"], "logits": ["batch", 2]}
    ck = run_dir / "model" / "checkpoints" / "final"
    for n, rows in [(1, None), (5, None), (40, None)]:   # other batch sizes, other padded lengths
        ids, mask = encoded_rows(ck, check_rows(ck, rows, n=n))
        np.testing.assert_allclose(onnx_logits(exported["path"], ids, mask), mlx_logits(ck, ids, mask), atol=1e-4)

def test_every_fold_or_the_one_named_through_the_cli(run_dir, tmp_path):
    "A run of two folds (the same model copied) gives model-fold-K.onnx files; --fold exports one; errors are one line."
    from typer.testing import CliRunner
    ck = run_dir / "model" / "checkpoints" / "final"
    fake = tmp_path / "run"
    for k in range(2): shutil.copytree(ck, fake / f"fold-{k}" / "checkpoints" / "final")
    from mlx_modernbert.cli import app   # the real command line, wired as users get it
    runner = CliRunner()
    got = runner.invoke(app, ["export", str(fake), "--format", "onnx", "--output", str(tmp_path / "out" / "model.onnx"), "--no-verify"])
    assert got.exit_code == 0, got.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model-fold-0.onnx", "model-fold-1.onnx"]
    got = runner.invoke(app, ["export", str(fake), "--fold", "1", "--output", str(tmp_path / "one.onnx")])
    assert got.exit_code == 0 and "max |logit diff|" in got.output, got.output
    assert (tmp_path / "one.onnx").exists()
    got = runner.invoke(app, ["export", str(fake), "--fold", "7"])
    assert got.exit_code == 2 and "no model 'fold-7'" in got.output
    got = runner.invoke(app, ["export", str(fake), "--format", "tflite"])
    assert got.exit_code == 2 and "not supported" in got.output

def test_missing_packages_name_the_extra(monkeypatch):
    import importlib.util
    from mlx_modernbert.export import require_export_packages
    from mlx_modernbert.errors import MlxModernBertError
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(MlxModernBertError, match=r"pip install 'mlx_modernbert\[export\]'"): require_export_packages()
