"""The GPU training step (issue #31): ModernBERT-base shape, random weights, 32 x 512, bf16, AdamW, clipping, on one
CUDA GPU; every mode merges its figures into OUT.json (name it by card and date, e.g. bench/h100-2026-12-06-step.json).

  python bench/gpu_step.py OUT.json torch              transformers under torch.compile alone (no MLX needed): update,
                                                       peak, inference, and its kernels by class (PyTorch's profiler)
  python bench/gpu_step.py OUT.json check              bf16 gradients against float32 ones (2 layers, 4 x 128), the
                                                       package before and now; the LayerNorm kernel against MLX ops
  python bench/gpu_step.py OUT.json levers NAME...     the trainer's update (median of 8 after 3) per lever
  python bench/gpu_step.py OUT.json profile NAME       MLX's kernels by class over 3 compiled updates
  python bench/gpu_step.py OUT.json compare            `compare_torch` as `benchmark --compare torch` runs it
  python bench/gpu_step.py OUT.json infer NAME...      forward pass, 32 x 512, per lever
  python bench/gpu_step.py OUT.json mem NAME...        live peak of one update at 2, 5 and 22 layers (the slope is what a
                                                       layer keeps); run under MLX_MAX_OPS_PER_BUFFER=1 MLX_MAX_MB_PER_BUFFER=1

Levers are `layers.CUDA_FUSIONS` settings: `before` (the package before issue #31: only the GeGLU kernels), `ln_kernel`
(LayerNorm backward as one kernel, weight gradient summed by a matrix product), `ln_matmul` (the same VJP from MLX ops),
`projections` (q, k, v as three products, row-major weight gradients), `base` (the package at commit ab79afc: `ln_kernel`),
`geglu_vec` (`base` + GeGLU kernels with 16-byte loads, the product written by the backward kernel), `qkv_rope` (`base` +
the q/k/v split and rotary embedding as one kernel each way), `grad_norm` (`base` + the clipping norm as one kernel per 32
gradients, no concatenation), `new` (`base` + all three), `now` (what the package runs), `memory` (`now` with `projections`). Every model here
is built with `layers.LayerNorm` in place of `nn.LayerNorm` (what `nbs/04_modernbert.ipynb` is asked to use)."""
import json, os, sys, time
GiB, MiB, B, L = 2**30, 2**20, 32, 512

def save(path:str, key:str, value):
    "Merge `value` under `key` into the JSON file at `path` (several processes of one call share the file)."
    data = json.load(open(path)) if os.path.exists(path) else {}
    data[key] = value
    open(path, "w").write(json.dumps(data, indent=1))
    print(key, json.dumps(value), flush=True)

KERNEL_CLASSES = [   # first match wins; lower-case substrings of CUDA kernel names (torch.compile's Triton names list the fused ops)
    ("attention", ("sdpa", "flash", "fmha", "dot_do_o", "convert_dq")), ("matmul", ("nvjet", "gemm", "cutlass", "splitk", "gemv")),
    ("layer norm", ("layer_norm", "layernorm")), ("rope", ("rope", "cos_mul_neg_sin")), ("geglu", ("geglu", "gelu")),
    ("copies", ("copy", "memcpy", "stack_transpose")), ("optimizer and clipping", ("multi_tensor", "adam", "reduce_kernel")),
    ("memset", ("memset",)), ("reductions", ("reduce", "triton_red", "triton_per")), ("elementwise", ("",))]

def kernel_table(prof, steps:int) -> dict:
    "Per-step GPU time by kernel class and the 25 largest kernels, from a PyTorch profiler run over `steps` updates."
    rows = [(e.key, e.self_device_time_total / 1e3 / steps, e.count // steps) for e in prof.key_averages() if e.self_device_time_total > 0]
    classes = {}
    for name, ms, _ in rows:
        cls = next(c for c, keys in KERNEL_CLASSES if any(k in name.lower() for k in keys))
        classes[cls] = round(classes.get(cls, 0) + ms, 2)
    top = sorted(rows, key=lambda r: -r[1])[:25]
    return {"total_ms_per_step": round(sum(r[1] for r in rows), 2), "by_class_ms_per_step": dict(sorted(classes.items(), key=lambda kv: -kv[1])),
            "top": [{"kernel": n[:110], "ms_per_step": round(ms, 3), "calls_per_step": c} for n, ms, c in top]}

# ---------- transformers under torch.compile alone (no MLX)
def torch_side(path:str):
    import numpy as np, torch, transformers
    from torch.profiler import profile, ProfilerActivity
    torch.manual_seed(0)
    cfg = transformers.ModernBertConfig(num_labels=2); cfg._attn_implementation = "sdpa"
    net = transformers.ModernBertForSequenceClassification(cfg).to(torch.bfloat16).cuda().train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=0.01); model = torch.compile(net)
    rng = np.random.default_rng(0)
    ids = torch.tensor(rng.integers(5, 50000, (B, L)), device="cuda"); ones = torch.ones_like(ids)
    y = torch.tensor(rng.integers(0, 2, B), device="cuda")
    def step():   # as compare_torch runs it
        loss = torch.nn.functional.cross_entropy(model(input_ids=ids, attention_mask=ones).logits.float(), y)
        loss.backward(); torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0); opt.step(); opt.zero_grad()
    def median_ms(f, n):
        t = []
        for _ in range(n): torch.cuda.synchronize(); s = time.perf_counter(); f(); torch.cuda.synchronize(); t.append(time.perf_counter() - s)
        return round(float(np.median(t)) * 1e3, 2)
    for _ in range(3): step()
    torch.cuda.synchronize(); held = torch.cuda.memory_allocated(); torch.cuda.reset_peak_memory_stats()
    out = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "transformers": transformers.__version__,
           "update_ms": median_ms(step, 10), "peak_gib": round(torch.cuda.max_memory_allocated() / GiB, 3), "held_gib": round(held / GiB, 3)}
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(3): step()
        torch.cuda.synchronize()
    out["kernels"] = kernel_table(prof, 3)
    net.eval()
    def fwd():
        with torch.inference_mode(): model(input_ids=ids, attention_mask=ones).logits.float().cpu()
    for _ in range(3): fwd()
    out["infer_32x512_ms"] = median_ms(fwd, 20)
    save(path, "torch_compile", out)

# ---------- MLX side
def mlx_setup():
    global np, mx, nn, layers, tree_flatten
    import numpy as np
    from mlx.utils import tree_flatten
    from mlx_modernbert.backend import mx, nn
    from mlx_modernbert import layers
    nn.LayerNorm = layers.LayerNorm   # every model below: what nbs/04_modernbert.ipynb is asked to build

NEW = ("geglu_vector", "qkv_rope", "grad_norm")   # the switches added on 2026-12-06 after the LayerNorm kernel
OFF = {k: False for k in NEW}
LEVERS = {"before": dict(layer_norm=False, projections=False, **OFF),
          "ln_kernel": dict(layer_norm=True, layer_norm_kernel=True, projections=False, **OFF),
          "ln_matmul": dict(layer_norm=True, layer_norm_kernel=False, projections=False, **OFF),
          "projections": dict(layer_norm=False, projections=True, **OFF),
          "base": dict(projections=False, **OFF),   # the package at commit ab79afc: the LayerNorm kernel, none of NEW
          "geglu_vec": dict(projections=False, **(OFF | {"geglu_vector": True})),
          "qkv_rope": dict(projections=False, **(OFF | {"qkv_rope": True})),
          "grad_norm": dict(projections=False, **(OFF | {"grad_norm": True})),
          "new": dict(projections=False, **{k: True for k in NEW}),   # `base` + all three
          "now": {}, "memory": dict(projections=True)}

def lever(name:str):
    "Set `layers.CUDA_FUSIONS` for lever `name` (`now`: the package's defaults)."
    layers.CUDA_FUSIONS.update(DEFAULTS); layers.CUDA_FUSIONS.update(LEVERS[name])

def model(n_layers=22):
    from mlx_modernbert import modernbert
    from mlx_modernbert.config import modernbert_base
    from mlx_modernbert.hub import init_weights
    mx.random.seed(0)
    net = init_weights(modernbert.ModernBertForSequenceClassification(modernbert_base(num_labels=2, num_hidden_layers=n_layers)))
    net.set_dtype(mx.bfloat16); mx.eval(net.parameters()); return net

def learner(n_layers=22, updates=11):
    from mlx_modernbert.loaders import TextLoader
    from mlx_modernbert.trainer import Learner, TrainConfig
    rng = np.random.default_rng(0)
    rows = [rng.integers(5, 50000, L).astype(np.int32) for _ in range(B * updates)]
    return Learner(model(n_layers), TextLoader(rows, rng.integers(0, 2, len(rows)), B, pad_multiple=1), task="binary",
                   config=TrainConfig(epochs=1, dtype="bfloat16", warmup_ratio=0, schedule="constant"))

def time_step(name:str, updates=8, warmup=3) -> dict:
    lever(name); learn = learner(updates=updates + warmup)
    learn.time_updates(warmup); mx.synchronize(); mx.reset_peak_memory()
    t = learn.time_updates(updates); peak = mx.get_peak_memory()
    del learn; mx.clear_cache()
    return {"update_ms": round(float(np.median(t)) * 1e3, 2), "min_ms": round(min(t) * 1e3, 2), "peak_gib": round(peak / GiB, 2)}

def check() -> dict:
    "bf16 gradients (2 layers, 4 x 128) of each lever against float32 ones with the same weights; the LayerNorm kernel against MLX ops."
    out = {}
    rng = np.random.default_rng(0)
    ids, mask = mx.array(rng.integers(5, 50000, (4, 128)).astype(np.int32)), mx.ones((4, 128), mx.int32)
    y = mx.array(rng.integers(0, 2, 4).astype(np.int32))
    def grads(net):
        loss = lambda m: nn.losses.cross_entropy(m(ids, mask).astype(mx.float32), y).sum()
        l, g = nn.value_and_grad(net, loss)(net)
        return float(l), {k: v.astype(mx.float32) for k, v in tree_flatten(g)}
    net = model(2); net.train()
    runs = {}
    for name in ("before", "base", "geglu_vec", "qkv_rope", "new", "now"):
        lever(name); runs[name] = grads(net)
    from mlx_modernbert import trainer
    bf16 = {k: v.astype(mx.bfloat16) for k, v in runs["before"][1].items()}   # the clipping norm of bf16 gradients: float64, concatenation, kernel
    out["global_norm_float64"] = float(sum((np.array(v.astype(mx.float32)).astype(np.float64) ** 2).sum() for v in bf16.values()) ** 0.5)
    for name in ("base", "new"): lever(name); out[f"global_norm_{name}"] = float(trainer.global_norm(bf16))
    lever("before"); net.set_dtype(mx.float32); ref_l, ref = grads(net)
    for name, (l, g) in runs.items():
        num = sum(float(mx.sum((g[k] - ref[k]) ** 2)) for k in ref); den = sum(float(mx.sum(ref[k] ** 2)) for k in ref)
        per = {k: float(mx.linalg.norm(g[k] - ref[k]) / (mx.linalg.norm(ref[k]) + 1e-12)) for k in ref}
        worst = max(per, key=per.get)
        def group(part):   # relative error over the gradients whose names contain `part`
            ks = [k for k in ref if part in k]
            return round((sum(float(mx.sum((g[k] - ref[k]) ** 2)) for k in ks) / sum(float(mx.sum(ref[k] ** 2)) for k in ks)) ** 0.5, 5)
        out[name] = {"loss_bf16": round(l, 5), "loss_f32": round(ref_l, 5), "grad_rel_err_all": round((num / den) ** 0.5, 5),
                     "worst": round(per[worst], 5), "worst_name": worst, **{f"rel_err_{p}": group(p) for p in ("norm", "Wqkv", "attn.Wo", "Wi", "mlp.Wo")}}
    for shape in ((32, 512, 768), (3, 37, 768), (5, 11, 1024), (2, 9, 256)):   # kernel vs the same VJP from MLX ops (float32)
        x = (mx.random.normal(shape) * 2 + 0.5).astype(mx.bfloat16); w = mx.random.normal(shape[-1:]).astype(mx.bfloat16)
        dy = mx.random.normal(shape).astype(mx.bfloat16)
        layers.CUDA_FUSIONS["layer_norm_kernel"] = True; kx, kw = layers.layer_norm_backward(x, w, dy, 1e-5)
        layers.CUDA_FUSIONS["layer_norm_kernel"] = False
        rx, rw = layers.layer_norm_backward(x.astype(mx.float32), w.astype(mx.float32), dy.astype(mx.float32), 1e-5)
        _, (mx_dx, mx_dw) = mx.vjp(lambda a, b: mx.fast.layer_norm(a, b, None, 1e-5), [x, w], [dy])   # MLX's own, bf16
        rel = lambda a, r: float(mx.linalg.norm(a.astype(mx.float32) - r) / mx.linalg.norm(r))
        out[f"kernel_{'x'.join(map(str, shape))}"] = {"dx_rel_err": rel(kx, rx), "dw_rel_err": rel(kw, rw), "mlx_dx_rel_err": rel(mx_dx, rx),
                                                      "mlx_dw_rel_err": rel(mx_dw, rw), "finite": bool(mx.isfinite(kx).all() and mx.isfinite(kw).all())}
    out.update(check_new_kernels())
    layers.CUDA_FUSIONS.update(DEFAULTS)
    return out

def check_new_kernels() -> dict:
    "GeGLU (16-byte) and q/k/v-rotary kernels against the MLX-ops path of the same functions in float32, at 32 x 512."
    out, rel = {}, lambda a, r: float(mx.linalg.norm((a.astype(mx.float32) - r).reshape(-1)) / mx.linalg.norm(r.reshape(-1)))
    def ops(f, *a):
        layers.CUDA_FUSIONS.update(geglu_linear=False, qkv_rope=False); r = f(*a); mx.eval(r)
        layers.CUDA_FUSIONS.update(DEFAULTS); return r
    wi = (mx.random.normal((B, L, 2 * 1152)) * 2).astype(mx.bfloat16); dy = mx.random.normal((B, L, 1152)).astype(mx.bfloat16)
    rf, rb = ops(layers.geglu_forward, wi.astype(mx.float32)), ops(layers.geglu_backward, wi.astype(mx.float32), dy.astype(mx.float32))
    for name in ("base", "new"):
        lever(name); f = layers.geglu_forward(wi); b, p = layers.geglu_backward(wi, dy, product=True)
        out[f"kernel_geglu_{name}"] = {"fwd_rel_err": rel(f, rf), "bwd_rel_err": rel(b, rb), "product_equals_forward": bool(mx.array_equal(p, f))}
    qkv = mx.random.normal((B, L, 3 * 768)).astype(mx.bfloat16); cots = [mx.random.normal((B, 12, L, 64)).astype(mx.bfloat16) for _ in range(3)]
    f = lambda t: layers.qkv_rope(t, 12, 160000.0)
    refs, (rg,) = ops(lambda: mx.vjp(f, [qkv.astype(mx.float32)], [c.astype(mx.float32) for c in cots]))
    lever("new"); outs, (g,) = mx.vjp(f, [qkv], cots)
    out["kernel_qkv_rope"] = {"q_rel_err": rel(outs[0], refs[0]), "k_rel_err": rel(outs[1], refs[1]), "v_equal": bool(mx.array_equal(outs[2], qkv[..., 1536:].reshape(B, L, 12, 64).transpose(0, 2, 1, 3))),
                       "grad_rel_err": rel(g, rg)}
    lever("base"); q0 = mx.fast.rope(qkv[..., :768].reshape(B, L, 12, 64).transpose(0, 2, 1, 3), 64, traditional=False, base=160000.0, scale=1.0, offset=0)
    out["kernel_qkv_rope"]["q_vs_mlx_rope_bf16_rel"] = rel(outs[0], q0.astype(mx.float32))
    return out

def profile_step(name:str) -> dict:
    import torch
    from torch.profiler import profile, ProfilerActivity
    torch.zeros(1, device="cuda")
    lever(name); learn = learner(updates=12)
    learn.time_updates(3); mx.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        learn.time_updates(3); mx.synchronize()
    return kernel_table(prof, 3)

def infer(name:str, repeats=20) -> dict:
    lever(name); net = model(); net.eval()
    ids = mx.array(np.random.default_rng(0).integers(5, 50000, (B, L)).astype(np.int32)); mask = mx.ones((B, L), mx.int32)
    f = lambda: mx.eval(net(ids, mask).astype(mx.float32))
    for _ in range(3): f()
    t = []
    for _ in range(repeats): s = time.perf_counter(); f(); t.append(time.perf_counter() - s)
    return {"32x512_ms": round(float(np.median(t)) * 1e3, 2)}

def update_peak(n_layers:int, name:str) -> dict:
    lever(name); learn = learner(n_layers, 6); learn.time_updates(2); mx.synchronize(); mx.clear_cache()
    held = mx.get_active_memory(); mx.reset_peak_memory()
    learn.time_updates(2); mx.synchronize(); peak = mx.get_peak_memory()
    del learn; mx.clear_cache()
    return {"held_mib": round(held / MiB), "peak_mib": round(peak / MiB), "over_held_mib": round((peak - held) / MiB)}

def mem(name:str) -> dict:
    out = {n: update_peak(n, name) for n in (2, 5, 22)}
    out["per_layer_mib"] = round((out[5]["over_held_mib"] - out[2]["over_held_mib"]) / 3)
    return out

if __name__ == "__main__":
    path, mode, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "torch": torch_side(path); sys.exit()
    mlx_setup()
    try:   # a kernel that does not build must not cost the call: the MLX-ops VJP stands in, and the JSON says so
        x = mx.random.normal((4, 768)).astype(mx.bfloat16); mx.eval(layers.layer_norm_backward(x, x[0], x, 1e-5))
        kernel_error = None
    except Exception as e: kernel_error = repr(e)[:2000]; layers.CUDA_FUSIONS["layer_norm_kernel"] = False
    DEFAULTS = dict(layers.CUDA_FUSIONS)
    env = {k: os.environ.get(k) for k in ("MLX_MAX_OPS_PER_BUFFER", "MLX_MAX_MB_PER_BUFFER")}
    save(path, f"mlx/{mode}", {"version": mx.__version__, "device": str(mx.default_device()), "fusions": DEFAULTS, "kernel_error": kernel_error})
    if mode == "check": save(path, "check", check())
    elif mode == "levers":
        for n in names:
            done = json.load(open(path)) if os.path.exists(path) else {}
            key = next(k for k in [f"update/{n}"] + [f"update/{n}/{i}" for i in range(2, 10)] if k not in done)   # repeats numbered
            try: save(path, key, time_step(n))
            except Exception as e: save(path, key, {"error": repr(e)[:2000]})
    elif mode == "profile": save(path, f"profile/{names[0]}", profile_step(names[0]))
    elif mode == "infer":
        for n in names: save(path, f"infer/{n}", infer(n))
    elif mode == "mem":
        for n in names: save(path, f"mem/{n}", mem(n) | {"env": env})
    elif mode == "compare":
        from mlx_modernbert.benchmark import compare_torch
        save(path, "compare", compare_torch("modernbert-base", 32, 512, steps=5, rounds=4, warmup=3, dtype="bfloat16"))
    else: raise SystemExit(__doc__)
