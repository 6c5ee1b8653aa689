"ModernBERT in MLX against transformers' ModernBertModel (float32, eager attention): outputs and checkpoints."
import numpy as np
import pytest
from helpers import max_abs_diff, report
from mlx_modernbert.backend import mx
from mlx_modernbert.modernbert import ModernBertModel, ModernBertForMaskedLM, ModernBertForSequenceClassification
from mlx_modernbert.hub import load_pretrained

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
TOL = 1e-4

def hf_config(**kw):
    base = dict(vocab_size=211, hidden_size=64, intermediate_size=96, num_hidden_layers=5, num_attention_heads=4,
                local_attention=8, global_attn_every_n_layers=3, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                cls_token_id=1, sep_token_id=2, initializer_range=0.05, attn_implementation="eager")
    return transformers.ModernBertConfig(**{**base, **kw})

def batch(seed=0, B=3, L=40, vocab=211):
    "Random ids with different amounts of right padding per row (one row unpadded)."
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (B, L), generator=g)
    lengths = [L, L - 13, 9][:B]
    mask = torch.zeros(B, L, dtype=torch.long)
    for i, n in enumerate(lengths): mask[i, :n] = 1
    ids = ids * mask  # pad id 0
    return ids, mask

def to_mx(t): return mx.array(t.numpy())

CONFIGS = {
    "5-layers-every-3": dict(),
    "4-layers-every-2": dict(num_hidden_layers=4, global_attn_every_n_layers=2),
    "7-layers-biases": dict(num_hidden_layers=7, attention_bias=True, mlp_bias=True, norm_bias=True, classifier_bias=True),
    "6-layers-thetas": dict(num_hidden_layers=6, global_rope_theta=20000.0, local_rope_theta=777.0, local_attention=12),
}

@pytest.mark.parametrize("name", CONFIGS)
def test_base_model_parity(name, tmp_path):
    torch.manual_seed(0)
    ref = transformers.ModernBertModel(hf_config(**CONFIGS[name])).eval()
    ref.save_pretrained(tmp_path)
    ours = ModernBertModel.from_pretrained(tmp_path)
    ids, mask = batch()
    with torch.no_grad(): expected = ref(input_ids=ids, attention_mask=mask).last_hidden_state
    got = ours(to_mx(ids), to_mx(mask))
    valid = mask.bool().numpy()
    diff = max_abs_diff(np.array(got)[valid], expected.numpy()[valid])
    report(f"ModernBertModel last hidden state [{name}] (real tokens)", diff)
    assert diff < TOL
    diff_all = max_abs_diff(got, expected)
    report(f"ModernBertModel last hidden state [{name}] (all positions)", diff_all)
    assert diff_all < TOL
    # without a mask (no padding), too
    with torch.no_grad(): expected = ref(input_ids=ids[:1]).last_hidden_state
    assert max_abs_diff(ours(to_mx(ids[:1])), expected) < TOL

def test_masked_lm_parity_and_tied_decoder(tmp_path):
    torch.manual_seed(1)
    ref = transformers.ModernBertForMaskedLM(hf_config()).eval()
    with torch.no_grad(): ref.decoder.bias.normal_()  # a non-zero bias, so it is really loaded
    ref.save_pretrained(tmp_path)
    ours = ModernBertForMaskedLM.from_pretrained(tmp_path)
    ids, mask = batch(1)
    with torch.no_grad(): expected = ref(input_ids=ids, attention_mask=mask).logits
    diff = max_abs_diff(ours(to_mx(ids), to_mx(mask)), expected)
    report("ModernBertForMaskedLM logits", diff)
    assert diff < TOL

@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_classification_parity(pooling, tmp_path):
    torch.manual_seed(2)
    ref = transformers.ModernBertForSequenceClassification(hf_config(classifier_pooling=pooling, num_labels=3)).eval()
    ref.save_pretrained(tmp_path)
    ours = load_pretrained(tmp_path, task="sequence-classification")
    assert isinstance(ours, ModernBertForSequenceClassification) and ours.config.num_labels == 3
    ids, mask = batch(2)
    with torch.no_grad(): expected = ref(input_ids=ids, attention_mask=mask).logits
    diff = max_abs_diff(ours(to_mx(ids), to_mx(mask)), expected)
    report(f"ModernBertForSequenceClassification logits [{pooling}]", diff)
    assert diff < TOL

@pytest.mark.parametrize("task", ["base", "masked-lm", "sequence-classification"])
def test_mlx_save_transformers_load(task, tmp_path):
    "MLX save -> transformers load gives the same outputs (and transformers reports no missing weights)."
    torch.manual_seed(3)
    hf_cls = {"base": transformers.ModernBertModel, "masked-lm": transformers.ModernBertForMaskedLM,
              "sequence-classification": transformers.ModernBertForSequenceClassification}[task]
    hf_cls(hf_config(num_labels=2)).save_pretrained(tmp_path / "src")
    ours = load_pretrained(tmp_path / "src", task=task)
    # change the weights in MLX so the round trip proves the MLX side was written
    from mlx.utils import tree_map
    ours.update(tree_map(lambda p: p * 1.01 + 0.001, ours.parameters()))
    ours.save_pretrained(tmp_path / "out")
    ref, info = hf_cls.from_pretrained(tmp_path / "out", attn_implementation="eager", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    ids, mask = batch(3)
    with torch.no_grad():
        out = ref.eval()(input_ids=ids, attention_mask=mask)
        expected = out.last_hidden_state if task == "base" else out.logits
    diff = max_abs_diff(ours(to_mx(ids), to_mx(mask)), expected)
    report(f"MLX save -> transformers load [{task}]", diff)
    assert diff < TOL

def test_bfloat16_close_to_float32(tmp_path):
    torch.manual_seed(4)
    transformers.ModernBertModel(hf_config()).save_pretrained(tmp_path)
    ids, mask = batch(4)
    f32 = ModernBertModel.from_pretrained(tmp_path)(to_mx(ids), to_mx(mask))
    bf16 = ModernBertModel.from_pretrained(tmp_path, dtype="bfloat16")(to_mx(ids), to_mx(mask))
    assert bf16.dtype == mx.bfloat16
    diff = max_abs_diff(bf16.astype(mx.float32), f32)
    report("bfloat16 vs float32 last hidden state", diff)
    assert diff < 0.15  # bfloat16 keeps ~3 significant digits; hidden states are LayerNorm-scaled (~1)
