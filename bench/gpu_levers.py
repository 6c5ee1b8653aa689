"""MLX-side levers for the GPU training step (ModernBERT-base shape, 32 x 512, bf16), each timed as the trainer runs it
(median of 8 updates after 3) with its peak memory: baseline, memory limits, recomputing the GeGLU product in the
backward pass, checkpointing whole layers, and a compiled forward pass for inference. Run after bench/gpu_state.py in
the same call so the torch.compile figures are from the same machine: python bench/gpu_levers.py OUT.json [names]"""
import json, sys, time
import numpy as np
from mlx_modernbert.backend import mx, nn
from mlx_modernbert import layers, modernbert
from mlx_modernbert.benchmark import benchmark_model, _cast
from mlx_modernbert.loaders import TextLoader
from mlx_modernbert.trainer import Learner, TrainConfig
GiB, B, L = 2**30, 32, 512

def geglu_recompute(mlp, x):
    "`Wo(act(inp) * gate)` with the GELU product recomputed in the backward pass (only the Wi output is kept)."
    inp, gate = mx.split(mlp.Wi(x), 2, axis=-1)
    return mlp.Wo(mlp.drop(_product(inp, gate)))
_product = mx.checkpoint(lambda a, g: nn.gelu(a) * g)

def time_step(setup=None, teardown=None, updates=8, warmup=3) -> dict:
    originals = (modernbert.ModernBertEncoderLayer.__call__, layers.ModernBertMLP.__call__)
    if setup: setup()
    try:
        net = _cast(benchmark_model("modernbert-base"), "bfloat16")
        rng = np.random.default_rng(0)
        rows = [rng.integers(5, 50000, L).astype(np.int32) for _ in range(B * (updates + warmup))]
        learn = Learner(net, TextLoader(rows, rng.integers(0, 2, len(rows)), B, pad_multiple=1), task="binary",
                        config=TrainConfig(epochs=1, dtype="bfloat16", warmup_ratio=0, schedule="constant"))
        learn.time_updates(warmup); mx.reset_peak_memory()
        t = learn.time_updates(updates)
        return {"step_ms": round(float(np.median(t)) * 1e3, 2), "tokens_per_s": round(B * L / float(np.median(t))),
                "peak_memory_gib": round(mx.get_peak_memory() / GiB, 2), "cache_gib": round(mx.get_cache_memory() / GiB, 2)}
    finally:
        modernbert.ModernBertEncoderLayer.__call__, layers.ModernBertMLP.__call__ = originals
        if teardown: teardown()
        mx.clear_cache()

def checkpoint_layers():
    plain = modernbert.ModernBertEncoderLayer.__call__
    def call(self, x, bias, positions=None):   # the mask is closed over: MLX's fused attention has no VJP for it
        return nn.utils.checkpoint(self, lambda x: plain(self, x, bias, positions))(x)
    modernbert.ModernBertEncoderLayer.__call__ = call

def limit(gib): return lambda: mx.set_memory_limit(int(gib * GiB))
unlimited = mx.get_memory_limit()
LEVERS = {
    "baseline": {},
    "memory_limit_14": dict(setup=limit(14), teardown=lambda: mx.set_memory_limit(unlimited)),
    "memory_limit_10": dict(setup=limit(10), teardown=lambda: mx.set_memory_limit(unlimited)),
    "cache_limit_0": dict(setup=lambda: mx.set_cache_limit(0), teardown=lambda: mx.set_cache_limit(unlimited)),
    "geglu_recompute": dict(setup=lambda: setattr(layers.ModernBertMLP, "__call__", geglu_recompute)),
    "checkpoint_layers": dict(setup=checkpoint_layers),
    "checkpoint_layers_limit_10": dict(setup=lambda: (checkpoint_layers(), limit(10)()), teardown=lambda: mx.set_memory_limit(unlimited)),
}

def inference(compiled:bool, repeats=10) -> dict:
    net = _cast(benchmark_model("modernbert-base"), "bfloat16"); net.eval()
    ids = mx.array(np.random.default_rng(0).integers(5, 50000, (B, L)).astype(np.int32)); mask = mx.ones((B, L), mx.int32)
    fwd = mx.compile(net) if compiled else net
    for _ in range(3): mx.eval(fwd(ids, mask))
    t = []
    for _ in range(repeats):
        s = time.perf_counter(); mx.eval(fwd(ids, mask).astype(mx.float32)); t.append(time.perf_counter() - s)
    return {"ms": round(float(np.median(t)) * 1e3, 2), "tokens_per_s": round(B * L / float(np.median(t)))}

if __name__ == "__main__":
    names = sys.argv[2:] or list(LEVERS)
    out = {}
    for name in names:
        out[name] = time_step(**LEVERS[name]); print(name, out[name], flush=True)
    out["inference_plain"] = inference(False); out["inference_compiled"] = inference(True)
    print("inference", out["inference_plain"], out["inference_compiled"], flush=True)
    if len(sys.argv) > 1: open(sys.argv[1], "w").write(json.dumps(out, indent=1))
