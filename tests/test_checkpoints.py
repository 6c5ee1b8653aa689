"Bad checkpoints fail clearly; models train: gradients flow, frozen parameters stay put."
import json, shutil
import numpy as np
import pytest
from helpers import max_abs_diff
from mlx.utils import tree_flatten
from mlx_modernbert.backend import mx, nn, optim
from mlx_modernbert.config import ModernBertConfig, ConfigError
from mlx_modernbert.modernbert import ModernBertModel, ModernBertForSequenceClassification
from mlx_modernbert.hub import CheckpointError, init_weights, load_pretrained, save_safetensors, load_safetensors

CFG = ModernBertConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
                       local_attention=4, pad_token_id=0)

@pytest.fixture
def saved(tmp_path):
    mx.random.seed(0)
    init_weights(ModernBertModel(CFG)).save_pretrained(tmp_path / "m")
    return tmp_path / "m"

def test_missing_files(tmp_path, saved):
    with pytest.raises(FileNotFoundError, match="does not exist"): ModernBertModel.from_pretrained(tmp_path / "none")
    (saved / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="No model.safetensors"): ModernBertModel.from_pretrained(saved)

def test_wrong_shapes_and_names_are_listed(saved):
    w = load_safetensors(saved)
    w["layers.1.attn.Wqkv.weight"] = mx.zeros((5, 5))
    del w["final_norm.weight"]
    w["layers.9.mystery.weight"] = mx.zeros((2,))
    save_safetensors(w, saved / "model.safetensors")
    with pytest.raises(CheckpointError) as e: ModernBertModel.from_pretrained(saved)
    msg = str(e.value)
    assert "final_norm.weight" in msg and "layers.9.mystery.weight" in msg and "layers.1.attn.Wqkv.weight: checkpoint (5, 5)" in msg

def test_config_mismatch_is_an_error_not_random_weights(saved):
    with pytest.raises(CheckpointError, match="missing"): ModernBertModel.from_pretrained(saved, num_hidden_layers=4)

def test_unknown_model_type(saved):
    cfg = json.loads((saved / "config.json").read_text()); cfg["model_type"] = "roberta"
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="roberta"): load_pretrained(saved)

def test_sharded_checkpoint_loads(saved, tmp_path):
    w = load_safetensors(saved)
    keys = sorted(w)
    shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2], "model-00002-of-00002.safetensors": keys[len(keys) // 2:]}
    out = tmp_path / "sharded"; out.mkdir()
    shutil.copy(saved / "config.json", out)
    for name, ks in shards.items(): save_safetensors({k: w[k] for k in ks}, out / name)
    (out / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {k: n for n, ks in shards.items() for k in ks}}))
    a, b = ModernBertModel.from_pretrained(saved), ModernBertModel.from_pretrained(out)
    ids = mx.array([[1, 2, 3, 4, 5]])
    assert max_abs_diff(a(ids), b(ids)) == 0.0

def test_tiny_model_overfits_and_frozen_weights_stay(saved):
    mx.random.seed(1)
    model = ModernBertForSequenceClassification.from_pretrained(saved, num_labels=2)
    model.train()
    model.model.embeddings.freeze()
    frozen_before = np.array(model.model.embeddings.tok_embeddings.weight)
    ids = mx.random.randint(1, 64, (8, 12)); labels = mx.array([0, 1] * 4)
    loss_fn = lambda m: nn.losses.cross_entropy(m(ids), labels, reduction="mean")
    step = nn.value_and_grad(model, loss_fn)
    opt = optim.AdamW(learning_rate=3e-3, weight_decay=0.0)
    for _ in range(150):
        loss, grads = step(model)
        opt.update(model, grads)
        mx.eval(model.parameters(), opt.state)
    assert loss.item() < 0.01, loss.item()
    assert np.array_equal(np.array(model.model.embeddings.tok_embeddings.weight), frozen_before)
    assert not tree_flatten(model.trainable_parameters()["model"].get("embeddings", {}))   # nothing of the embeddings trains
    trainable = dict(tree_flatten(model.trainable_parameters()))
    assert not any(k.startswith("model.embeddings") for k in trainable) and "classifier.weight" in trainable
