"mlx-embeddings (test-only, GPL-3.0) and this package on the same folders: outputs, its quantized checkpoints, speed."
import importlib.util, shutil, sys, time, types
from pathlib import Path
import numpy as np
import pytest
from helpers import max_abs_diff, report
from mlx_modernbert.backend import mx, nn
from mlx_modernbert.hub import load_pretrained, resolve_model_dir

if importlib.util.find_spec("mlx_embeddings") is None: pytest.skip("mlx-embeddings is not installed", allow_module_level=True)
if importlib.util.find_spec("mlx_vlm") is None:
    # mlx_embeddings.utils imports mlx_vlm at module level (for vision-language models only); it is installed without
    # mlx-vlm and OpenCV (pyproject's dependency-metadata), so a stand-in answers that import.
    vlm, vlm_utils = types.ModuleType("mlx_vlm"), types.ModuleType("mlx_vlm.utils")
    vlm_utils.sanitize_weights = lambda model_class, weights, config=None: weights
    vlm.utils = vlm_utils
    sys.modules.setdefault("mlx_vlm", vlm); sys.modules.setdefault("mlx_vlm.utils", vlm_utils)
import importlib
me_convert, me_utils = importlib.import_module("mlx_embeddings.convert"), importlib.import_module("mlx_embeddings.utils")

MINILM = resolve_model_dir("all-MiniLM-L6-v2")

def batch(vocab:int, rows:int=3, length:int=24, seed:int=0):
    "Random token ids and a padding mask (the rows after the first end early)."
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, (rows, length))
    mask = np.ones((rows, length), np.int32)
    for r in range(1, rows): mask[r, length - 4 * r:] = 0
    return mx.array(ids), mx.array(mask), mask.astype(bool)

def theirs(folder:Path):
    "mlx-embeddings' model for `folder`, through its own loader (quantized where config.json says so)."
    return me_utils.load_model(Path(folder))

def hidden_theirs(model, ids, mask):
    "Its last hidden state (for ModernBERT from its encoder: its `Model` without a head returns mean-pooled states there)."
    if hasattr(model, "model"): return model.model(ids, attention_mask=mask)["last_hidden_state"]
    return model(ids, attention_mask=mask).last_hidden_state

@pytest.fixture(scope="module")
def tiny_modernbert(tmp_path_factory) -> Path:
    "A small random ModernBERT written by transformers (widths divisible by 64, so every layer can be quantized)."
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.ModernBertConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                                           num_attention_heads=2, global_attn_every_n_layers=3, local_attention=16,
                                           pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1, sep_token_id=2,
                                           initializer_range=0.3)   # wide weights: activations where the GELUs part
    folder = tmp_path_factory.mktemp("modernbert")
    transformers.ModernBertModel(config).eval().save_pretrained(folder, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):   # its converter copies one
        if (MINILM / name).exists(): shutil.copy2(MINILM / name, folder / name)
    return folder

def test_minilm_same_hidden_states():
    ids, mask, real = batch(30522)
    ours = load_pretrained(MINILM)(ids, mask)
    diff = max_abs_diff(np.array(ours)[real], np.array(hidden_theirs(theirs(MINILM), ids, mask))[real])
    report("BERT all-MiniLM-L6-v2: ours vs mlx-embeddings, last hidden state (real tokens)", diff)
    assert diff < 1e-4

def test_modernbert_differs_only_by_tanh_gelu(tiny_modernbert):
    ids, mask, real = batch(256, length=40)   # longer than the local window: local and global layers both matter
    ours = np.array(load_pretrained(tiny_modernbert)(ids, mask))
    model = theirs(tiny_modernbert)
    diff = max_abs_diff(ours[real], np.array(hidden_theirs(model, ids, mask))[real])
    report("ModernBERT (tiny, random): ours (erf GELU, as transformers) vs mlx-embeddings (tanh GELU)", diff)
    assert diff < 5e-2
    for layer in model.model.layers: layer.mlp.act = nn.GELU()   # its one approximation replaced by the exact GELU
    exact = max_abs_diff(ours[real], np.array(hidden_theirs(model, ids, mask))[real])
    report("ModernBERT (tiny, random): ours vs mlx-embeddings with the exact GELU", exact)
    assert exact < 1e-4 and exact < diff

def convert_quantized(src:Path, dst:Path, bits:int=4) -> Path:
    "mlx-embeddings' own conversion with quantization (its `convert`, run offline on a local folder)."
    me_convert.convert(str(src), str(dst), quantize=True, q_bits=bits, q_group_size=64)
    return dst

def test_minilm_quantized_by_mlx_embeddings_loads_here(tmp_path):
    folder = convert_quantized(MINILM, tmp_path / "minilm-4bit")
    ids, mask, real = batch(30522)
    ours = load_pretrained(folder)   # float32 around the stored integers (it wrote float16 scales)
    assert type(ours.encoder.layer[0].attention.self.query).__name__ == "QuantizedLinear"
    assert type(ours.embeddings.word_embeddings).__name__ == "QuantizedEmbedding"   # mlx-embeddings quantizes those too
    assert ours.quantization["bits"] == 4
    model = theirs(folder); model.set_dtype(mx.float32)
    diff = max_abs_diff(np.array(ours(ids, mask))[real], np.array(hidden_theirs(model, ids, mask))[real])
    report("BERT all-MiniLM-L6-v2 4-bit by mlx-embeddings: ours vs its loader (both float32 around the same integers)", diff)
    assert diff < 1e-4
    clf = load_pretrained(folder, task="sequence-classification", num_labels=2)   # the encoder quantized, a new head
    assert clf(ids, mask).shape == (3, 2)

def test_modernbert_quantized_by_mlx_embeddings_loads_here(tiny_modernbert, tmp_path):
    folder = convert_quantized(tiny_modernbert, tmp_path / "modernbert-8bit", bits=8)
    ids, mask, real = batch(256, length=40)
    ours = load_pretrained(folder)
    assert type(ours.layers[1].attn.Wqkv).__name__ == "QuantizedLinear"
    model = theirs(folder)
    model.set_dtype(mx.float32)
    for layer in model.model.layers: layer.mlp.act = nn.GELU()
    diff = max_abs_diff(np.array(ours(ids, mask))[real], np.array(hidden_theirs(model, ids, mask))[real])
    report("ModernBERT (tiny) 8-bit by mlx-embeddings: ours vs its loader (float32, exact GELU)", diff)
    assert diff < 1e-4

def test_ours_quantized_loads_in_mlx_embeddings(tmp_path):
    from mlx_modernbert.quantize import quantize_checkpoint
    folder = quantize_checkpoint(MINILM, tmp_path / "minilm-8bit", bits=8)
    ids, mask, real = batch(30522)
    diff = max_abs_diff(np.array(load_pretrained(folder)(ids, mask))[real], np.array(hidden_theirs(theirs(folder), ids, mask))[real])
    report("BERT all-MiniLM-L6-v2 8-bit by this package: ours vs mlx-embeddings' loader", diff)
    assert diff < 1e-3

def tokens_per_second(fn, ids, mask, repeats:int=3) -> float:
    "Median tokens/s of `fn(ids, mask)` after a warm-up call."
    mx.eval(fn(ids, mask))
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); mx.eval(fn(ids, mask)); times.append(time.perf_counter() - start)
    return ids.size / float(np.median(times))

@pytest.mark.slow
def test_speed_at_32x128():
    "Inference tokens/s at batch 32 x 128, full precision, MiniLM: printed, not asserted; the timed outputs agree."
    ids, mask, _ = batch(30522, rows=32, length=128)
    mask = mx.ones_like(ids)
    ours, ref = load_pretrained(MINILM), theirs(MINILM)
    ours_tps = tokens_per_second(lambda i, m: ours(i, m), ids, mask)
    ref_tps = tokens_per_second(lambda i, m: ref(i, attention_mask=m).last_hidden_state, ids, mask)
    print(f"\n[speed] all-MiniLM-L6-v2 32x128 float32 on {mx.default_device()}: ours {ours_tps:,.0f} tokens/s, "
          f"mlx-embeddings {ref_tps:,.0f} tokens/s, ratio {ours_tps / ref_tps:.2f}x")
    assert max_abs_diff(ours(ids, mask), ref(ids, attention_mask=mask).last_hidden_state) < 1e-4
