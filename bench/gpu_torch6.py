"""transformers + torch.compile figures for session 6 (no MLX needed): training update time and peak memory of the
ModernBERT-base shape (random weights, 32 x 512, bf16, AdamW, clipping, as `compare_torch` runs it) for several layer
counts (the slope per layer is what torch.compile keeps per layer), and compiled inference at 32 x 512 and 1 x 128.
Run on a CUDA machine: python bench/gpu_torch6.py OUT.json [layers ...] (default 22)"""
import json, sys, time
import numpy as np
import torch, transformers
GiB, B, L = 2**30, 32, 512

def build(layers:int):
    torch.manual_seed(0)
    cfg = transformers.ModernBertConfig(num_hidden_layers=layers, num_labels=2)
    cfg._attn_implementation = "sdpa"
    return transformers.ModernBertForSequenceClassification(cfg).to(torch.bfloat16).cuda().train()

def median_ms(f, n, warmup):
    for _ in range(warmup): f()
    t = []
    for _ in range(n):
        torch.cuda.synchronize(); s = time.perf_counter(); f(); torch.cuda.synchronize(); t.append(time.perf_counter() - s)
    return round(float(np.median(t)) * 1e3, 2)

def train(layers:int, steps=10, warmup=3) -> dict:
    net = build(layers); opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=0.01)
    model = torch.compile(net)
    rng = np.random.default_rng(0)
    ids = torch.tensor(rng.integers(5, 50000, (B, L)), device="cuda"); ones = torch.ones_like(ids)
    y = torch.tensor(rng.integers(0, 2, B), device="cuda")
    def step():
        loss = torch.nn.functional.cross_entropy(model(input_ids=ids, attention_mask=ones).logits.float(), y)
        loss.backward(); torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0); opt.step(); opt.zero_grad()
    for _ in range(warmup): step()
    torch.cuda.synchronize(); before = torch.cuda.memory_allocated(); torch.cuda.reset_peak_memory_stats()
    ms = median_ms(step, steps, 0)
    out = {"layers": layers, "step_ms": ms, "tokens_per_s": round(B * L / ms * 1e3), "peak_gib": round(torch.cuda.max_memory_allocated() / GiB, 3),
           "held_between_steps_gib": round(before / GiB, 3)}
    if layers == 22:
        net.eval()
        for b, l in ((32, 512), (1, 128)):
            i = ids[:b, :l].contiguous(); m = torch.ones_like(i)
            def fwd():
                with torch.inference_mode(): model(input_ids=i, attention_mask=m).logits.float().cpu()
            out[f"infer_{b}x{l}_ms"] = median_ms(fwd, 20, 5)
    del model, net, opt; torch.cuda.empty_cache()
    return out

if __name__ == "__main__":
    res = {"torch": torch.__version__, "transformers": transformers.__version__, "gpu": torch.cuda.get_device_name()}
    for n in [int(a) for a in sys.argv[2:]] or [22]:
        res[f"compiled_{n}"] = train(n); print(json.dumps(res[f"compiled_{n}"]), flush=True)
        if len(sys.argv) > 1: open(sys.argv[1], "w").write(json.dumps(res, indent=1))
