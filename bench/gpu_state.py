"""Same-call GPU figures for the performance issue: this package's trainer against transformers eager and
torch.compile (ModernBERT-base shape, 32 x 512, bf16, random weights), then quantized inference (8/4-bit) against
full precision. Run on a CUDA machine with MLX's CUDA build: python bench/gpu_state.py OUT.json"""
import json, sys, time, tempfile
import numpy as np
from mlx.utils import tree_flatten
from mlx_modernbert.backend import mx
from mlx_modernbert.benchmark import compare_torch, benchmark_model
from mlx_modernbert.quantize import quantize_model
from mlx_modernbert.hub import load_pretrained

def step_flops(cfg, batch:int, length:int) -> float:
    "Matrix-product FLOPs of one training update (forward x3), attention computed over the full length in every layer."
    h, i, n = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    per_token = 2 * (h * 3 * h + h * h + h * 2 * i + i * h) * n + 2 * h * h   # layers + the head's dense
    attention = 2 * 2 * length * h * n                                           # QK^T and PV, per token
    return 3 * batch * length * (per_token + attention)

def quantized_speed(folder, bits, batch, length, repeats=10) -> dict:
    "Median forward tokens/s, peak memory and weight bytes of the bf16 model, optionally quantized."
    mx.clear_cache(); mx.reset_peak_memory()
    model = load_pretrained(folder, task="sequence-classification"); model.set_dtype(mx.bfloat16)
    if bits: quantize_model(model, bits, 64)
    model.eval(); mx.eval(model.parameters())
    weights = sum(v.nbytes for _, v in tree_flatten(model.parameters()))
    ids = mx.array(np.random.default_rng(0).integers(1000, 20000, (batch, length))); mask = mx.ones_like(ids)
    for _ in range(3): mx.eval(model(ids, mask))
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); mx.eval(model(ids, mask)); times.append(time.perf_counter() - start)
    return {"tokens_per_s": round(batch * length / float(np.median(times))), "ms": round(float(np.median(times)) * 1e3, 2),
            "peak_memory_gib": round(mx.get_peak_memory() / 2**30, 3), "weights_mib": round(weights / 2**20, 1)}

if __name__ == "__main__":
    out = {}
    cmp = compare_torch("modernbert-base", 32, 512, steps=5, rounds=4, warmup=3, dtype="bfloat16")
    flops = step_flops(benchmark_model("modernbert-base").config, 32, 512)
    cmp["step_tflop"] = round(flops / 1e12, 2)
    cmp["achieved_tflops"] = {k: round(flops / (v / 1e3) / 1e12, 1) for k, v in cmp["step_ms"].items()}
    out["compare"] = cmp
    print(json.dumps(cmp, indent=1), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        benchmark_model("modernbert-base").save_pretrained(tmp)
        out["quantized"] = {f"{b}x{l}": {("full" if bits is None else f"{bits}-bit"): quantized_speed(tmp, bits, b, l)
                                         for bits in (None, 8, 4)} for b, l in ((32, 512), (1, 128))}
    print(json.dumps(out["quantized"], indent=1), flush=True)
    if len(sys.argv) > 1: open(sys.argv[1], "w").write(json.dumps(out, indent=1))
