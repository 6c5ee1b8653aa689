"Classic BERT in MLX against transformers on the real all-MiniLM-L6-v2 weights, and checkpoint round trips."
import numpy as np
import pytest
from helpers import max_abs_diff, report
from mlx_modernbert.backend import mx
from mlx_modernbert.bert import BertModel, BertForSequenceClassification
from mlx_modernbert.hub import resolve_model_dir

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
TOL = 1e-4
MINILM = resolve_model_dir("sentence-transformers/all-MiniLM-L6-v2")
SENTENCES = ["Mr. Owen Harris Braund, third class, male, 22 years old, embarked at Southampton.",
             "Mrs. John Bradley Cumings, first class, travelled with one sibling or spouse, fare 71.28.",
             "Survived?", "The quick brown fox jumps over the lazy dog, twice, and then sleeps."]

def encode(sentences):
    tok = transformers.AutoTokenizer.from_pretrained(MINILM)
    return tok(sentences, padding=True, return_tensors="pt")

def test_minilm_matches_transformers():
    ref = transformers.BertModel.from_pretrained(MINILM, attn_implementation="eager").eval()
    ours = BertModel.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
    enc = encode(SENTENCES)
    assert (enc["attention_mask"] == 0).any()  # the batch really has padding
    with torch.no_grad(): out = ref(**enc)
    got = ours(mx.array(enc["input_ids"].numpy()), mx.array(enc["attention_mask"].numpy()),
               mx.array(enc["token_type_ids"].numpy()))
    real = enc["attention_mask"].numpy().astype(bool)
    diff = max_abs_diff(np.array(got)[real], out.last_hidden_state.numpy()[real])
    report("BertModel (all-MiniLM-L6-v2) last hidden state, real sentences (real tokens)", diff)
    assert diff < TOL
    # padded positions carry no meaning, but they are computed the same way too (looser: rounding grows there)
    diff_all = max_abs_diff(got, out.last_hidden_state)
    report("BertModel (all-MiniLM-L6-v2) last hidden state (all positions, padding included)", diff_all)
    assert diff_all < 1e-3
    pooled = max_abs_diff(ours.pooler(got), out.pooler_output)
    report("BertModel (all-MiniLM-L6-v2) pooler output", pooled)
    assert pooled < TOL

def test_classifier_round_trip_both_ways(tmp_path):
    "transformers save -> MLX load, and MLX save -> transformers load, give the same logits."
    torch.manual_seed(0)
    ref = transformers.BertForSequenceClassification.from_pretrained(MINILM, num_labels=3).eval()
    ref.save_pretrained(tmp_path / "hf")
    ours = BertForSequenceClassification.from_pretrained(tmp_path / "hf")
    assert ours.new_weights == [] and ours.config.num_labels == 3
    enc = encode(SENTENCES)
    ids, mask = mx.array(enc["input_ids"].numpy()), mx.array(enc["attention_mask"].numpy())
    with torch.no_grad(): expected = ref(**enc).logits
    diff = max_abs_diff(ours(ids, mask), expected)
    report("transformers save -> MLX load, BertForSequenceClassification logits", diff)
    assert diff < TOL
    ours.classifier.weight = ours.classifier.weight * 2.0  # an MLX-side change the round trip must carry
    ours.save_pretrained(tmp_path / "mlx", tokenizer_dir=MINILM)
    assert (tmp_path / "mlx" / "tokenizer.json").exists()
    back, info = transformers.BertForSequenceClassification.from_pretrained(tmp_path / "mlx", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    with torch.no_grad(): expected = back.eval()(**encode(SENTENCES)).logits
    diff = max_abs_diff(ours(ids, mask), expected)
    report("MLX save -> transformers load, BertForSequenceClassification logits", diff)
    assert diff < TOL
    assert transformers.AutoTokenizer.from_pretrained(tmp_path / "mlx")("hello")["input_ids"][0] == 101
