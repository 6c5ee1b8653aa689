"Any checkpoint layout transformers writes (base, ForMaskedLM, ForPreTraining, ForSequenceClassification) into any task."
import logging, shutil, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from helpers import max_abs_diff, report
from mlx_modernbert.backend import mx
from mlx_modernbert.hub import load_pretrained, load_safetensors, save_safetensors, resolve_model_dir, TOKENIZER_FILES
from mlx_modernbert.errors import CheckpointError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
TOL = 1e-4
ROOT = Path(__file__).resolve().parents[1]
T = transformers

def bert_config(**kw):
    return T.BertConfig(**{**dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=37, max_position_embeddings=64, num_labels=2), **kw})

def modernbert_config(**kw):
    return T.ModernBertConfig(**{**dict(vocab_size=30522, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                                        num_attention_heads=4, local_attention=8, global_attn_every_n_layers=2,
                                        pad_token_id=0, bos_token_id=101, eos_token_id=102, cls_token_id=101,
                                        sep_token_id=102, num_labels=2, attn_implementation="eager"), **kw})

LAYOUTS = {  # name -> (transformers class, config, attribute of the encoder in the reference)
    "BertModel": (T.BertModel, bert_config, None),
    "BertForMaskedLM": (T.BertForMaskedLM, bert_config, "bert"),
    "BertForPreTraining": (T.BertForPreTraining, bert_config, "bert"),
    "BertForSequenceClassification": (T.BertForSequenceClassification, bert_config, "bert"),
    "ModernBertModel": (T.ModernBertModel, modernbert_config, None),
    "ModernBertForMaskedLM": (T.ModernBertForMaskedLM, modernbert_config, "model"),
    "ModernBertForSequenceClassification": (T.ModernBertForSequenceClassification, modernbert_config, "model"),
}
# checkpoint names of each layout's heads (the encoder is everything else)
HEADS = {
    "BertModel": [], "ModernBertModel": [],
    "BertForMaskedLM": ["cls.predictions.bias", "cls.predictions.transform.LayerNorm.bias", "cls.predictions.transform.LayerNorm.weight",
                        "cls.predictions.transform.dense.bias", "cls.predictions.transform.dense.weight"],
    "BertForSequenceClassification": ["classifier.bias", "classifier.weight"],
    "ModernBertForMaskedLM": ["decoder.bias", "head.dense.weight", "head.norm.weight"],
    "ModernBertForSequenceClassification": ["classifier.bias", "classifier.weight", "head.dense.weight", "head.norm.weight"],
}
HEADS["BertForPreTraining"] = HEADS["BertForMaskedLM"] + ["cls.seq_relationship.bias", "cls.seq_relationship.weight"]
POOLER = ["pooler.dense.bias", "pooler.dense.weight"]

def write_checkpoint(name:str, folder:Path):
    "A tiny random transformers model of layout `name`, saved as safetensors with MiniLM's tokenizer beside it."
    cls, config, _ = LAYOUTS[name]
    torch.manual_seed(sum(map(ord, name)))
    ref = cls(config()).eval()
    with torch.no_grad():  # non-zero biases and norms, so that loading them (or not) shows in the outputs
        for n, p in ref.named_parameters():
            if n.endswith("bias") or "norm" in n.lower(): p.add_(torch.randn_like(p) * 0.1)
    ref.save_pretrained(folder, safe_serialization=True)
    minilm = resolve_model_dir("all-MiniLM-L6-v2")
    for f in TOKENIZER_FILES:
        if (minilm / f).exists(): shutil.copy(minilm / f, folder / f)
    return ref

@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts")
    return {name: (root / name, write_checkpoint(name, root / name)) for name in LAYOUTS}

def batch(seed=0, B=3, L=20):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, 30000, (B, L), generator=g)
    mask = torch.ones(B, L, dtype=torch.long); mask[1, 12:] = 0; mask[2, 5:] = 0
    ids[:, 0] = 101
    return ids * mask, mask

def to_mx(t): return mx.array(t.numpy())

def encoder_of(name, ref):
    attr = LAYOUTS[name][2]
    return getattr(ref, attr) if attr else ref

def load(folder, task, caplog, **kw):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mlx_modernbert"): model = load_pretrained(folder, task=task, **kw)
    return model, caplog.text

@pytest.mark.parametrize("name", LAYOUTS)
def test_any_layout_into_base(name, checkpoints, caplog):
    folder, ref = checkpoints[name]
    ours, log = load(folder, "base", caplog)
    ids, mask = batch()
    with torch.no_grad(): expected = encoder_of(name, ref)(input_ids=ids, attention_mask=mask).last_hidden_state
    diff = max_abs_diff(ours(to_mx(ids), to_mx(mask)), expected)
    report(f"{name} -> base: last hidden state", diff)
    assert diff < TOL
    assert ours.dropped_weights == HEADS[name]
    if HEADS[name]: assert f"dropped {len(HEADS[name])} checkpoint weight(s)" in log and all(h in log for h in HEADS[name]), log
    else: assert "dropped" not in log
    assert ours.new_weights == (POOLER if name == "BertForMaskedLM" else [])   # transformers' BertForMaskedLM has no pooler

@pytest.mark.parametrize("name", LAYOUTS)
def test_any_layout_into_masked_lm(name, checkpoints, caplog):
    folder, ref = checkpoints[name]
    ours, log = load(folder, "masked-lm", caplog)
    ids, mask = batch(1)
    if name.endswith(("ForMaskedLM", "ForPreTraining")):  # the same weights: the logits equal transformers'
        with torch.no_grad():
            out = ref(input_ids=ids, attention_mask=mask)
            expected = out.prediction_logits if name.endswith("ForPreTraining") else out.logits
        diff = max_abs_diff(ours(to_mx(ids), to_mx(mask)), expected)
        report(f"{name} -> masked-lm: logits", diff)
        assert diff < TOL and ours.new_weights == []
        if name == "BertForPreTraining":
            assert ours.dropped_weights == ["bert.pooler.dense.bias", "bert.pooler.dense.weight", "cls.seq_relationship.bias",
                                            "cls.seq_relationship.weight"]
            assert "cls.seq_relationship.weight" in log and "bert.pooler.dense.weight" in log
    else:
        assert ours.new_weights and all(w in log for w in ours.new_weights), log
        assert "newly initialised" in log
        assert all(w.startswith(("cls.", "head.", "decoder.")) for w in ours.new_weights)

@pytest.mark.parametrize("name", LAYOUTS)
def test_any_layout_into_classifier(name, checkpoints, caplog):
    folder, ref = checkpoints[name]
    ours, log = load(folder, "sequence-classification", caplog, num_labels=2)
    if name.endswith("ForSequenceClassification"):
        ids, mask = batch(2)
        with torch.no_grad(): expected = ref(input_ids=ids, attention_mask=mask).logits
        diff = max_abs_diff(ours(to_mx(ids), to_mx(mask)), expected)
        report(f"{name} -> sequence-classification: logits", diff)
        assert diff < TOL and ours.new_weights == [] and ours.dropped_weights == []
        return
    new = ["classifier.bias", "classifier.weight"]
    if name.startswith("ModernBert") and name != "ModernBertForMaskedLM": new += ["head.dense.weight", "head.norm.weight"]
    if name == "BertForMaskedLM": new = ["bert." + p for p in POOLER] + new
    assert ours.new_weights == sorted(new)
    assert "newly initialised" in log and all(w in log for w in new), log
    dropped = [h for h in HEADS[name] if not h.startswith("head.")]   # ModernBERT's classifier reuses the MLM's `head.*`
    assert ours.dropped_weights == dropped and all(h in log for h in dropped)
    if name == "ModernBertForMaskedLM":
        assert max_abs_diff(ours.head.dense.weight, ref.head.dense.weight) == 0

@pytest.mark.parametrize("name", ["BertForSequenceClassification", "ModernBertForSequenceClassification"])
def test_label_count_mismatch_needs_new_head(name, checkpoints, caplog):
    folder, ref = checkpoints[name]
    with pytest.raises(CheckpointError, match="classifier has 2 labels and the model asks for num_labels=3"):
        load_pretrained(folder, task="sequence-classification", num_labels=3)
    ours, log = load(folder, "sequence-classification", caplog, num_labels=3, new_head=True)
    assert ours.new_weights == ["classifier.bias", "classifier.weight"] and "classifier.weight" in log
    assert ours.classifier.weight.shape == (3, 32)
    ids, mask = batch(3)
    with torch.no_grad(): expected = encoder_of(name, ref)(input_ids=ids, attention_mask=mask).last_hidden_state
    assert max_abs_diff(ours.backbone(to_mx(ids), to_mx(mask)), expected) < TOL

@pytest.mark.parametrize("name,weight", [("BertForPreTraining", "bert.encoder.layer.1.output.dense.weight"),
                                         ("BertModel", "embeddings.word_embeddings.weight"),
                                         ("ModernBertForMaskedLM", "model.layers.2.mlp.Wo.weight"),
                                         ("ModernBertModel", "final_norm.weight")])
@pytest.mark.parametrize("task", ["base", "masked-lm", "sequence-classification"])
def test_encoder_stays_strict(name, weight, task, checkpoints, tmp_path):
    folder, _ = checkpoints[name]
    shutil.copytree(folder, tmp_path / "m")
    w = load_safetensors(folder)
    short = weight.split(".", 1)[1] if weight.startswith(("bert.", "model.")) else weight
    del w[weight]
    save_safetensors(w, tmp_path / "m" / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"missing 1 encoder weight\(s\): .*" + short.replace(".", r"\.")):
        load_pretrained(tmp_path / "m", task=task)
    w[weight] = mx.zeros((3, 3))
    save_safetensors(w, tmp_path / "m" / "model.safetensors")
    with pytest.raises(CheckpointError, match="wrong shape for 1 encoder weight"): load_pretrained(tmp_path / "m", task=task)

@pytest.mark.parametrize("name", ["BertForMaskedLM", "ModernBertForMaskedLM"])
def test_masked_lm_round_trip_to_transformers(name, checkpoints, tmp_path):
    "Our masked-LM models save what transformers' masked-LM classes load without missing or unexpected keys."
    folder, ref = checkpoints[name]
    load_pretrained(folder, task="masked-lm").save_pretrained(tmp_path)
    again, info = LAYOUTS[name][0].from_pretrained(tmp_path, output_loading_info=True, attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    ids, mask = batch(4)
    with torch.no_grad():
        diff = max_abs_diff(again.eval()(input_ids=ids, attention_mask=mask).logits, ref(input_ids=ids, attention_mask=mask).logits)
    assert diff < TOL

CLI = str(Path(sys.executable).with_name("mlx-modernbert"))
PENGUINS = ROOT / "tests" / "data" / "penguins" / "penguins.csv"

@pytest.mark.slow
@pytest.mark.parametrize("name", ["ModernBertForMaskedLM", "BertForPreTraining"])
def test_cli_trains_and_predicts_from_a_pretraining_layout(name, checkpoints, tmp_path):
    folder, _ = checkpoints[name]
    df = pd.read_csv(PENGUINS)
    df.drop(columns=["species"]).head(20).to_csv(tmp_path / "test.csv", index=False)
    run = lambda *a: subprocess.run([CLI, *map(str, a)], capture_output=True, text=True, cwd=tmp_path)
    r = run("train", "--folds", "0", "--train", PENGUINS, "--target", "species", "--model", folder, "--epochs", "1", "--max-length", "32",
            "--limit-rows", "64", "--no-mlflow", "--output", tmp_path / "runs")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    folder_line = next(l for l in r.stdout.splitlines() if "run folder:" in l)
    run_dir = Path(folder_line.split("run folder:")[1].strip())
    log = (run_dir / "run.log").read_text()
    assert "newly initialised 2 weight(s) (not in the checkpoint): classifier.bias, classifier.weight" in log, log[-3000:]
    assert "dropped" in log and ("decoder.bias" if name.startswith("ModernBert") else "cls.seq_relationship.weight") in log
    r = run("predict", "--test", tmp_path / "test.csv", "--checkpoint", run_dir, "--output", tmp_path / "sub.csv")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    sub = pd.read_csv(tmp_path / "sub.csv")
    assert len(sub) == 20 and set(sub.species) <= {"Adelie", "Chinstrap", "Gentoo"}
