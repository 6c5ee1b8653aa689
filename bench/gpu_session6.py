"""Session 6 (H200) experiments on the MLX side, ModernBERT-base shape, 32 x 512, bf16, bench/README.md "Session 6":
`check LEVER...`: bf16 gradients of the plain path and of the lever against float32 ones (2 layers, 4 x 128);
`step LEVER...`: the trainer update (median of 8 after 3) and its peak memory, with the lever patched in;
`infer LEVER...`: the forward pass at 32 x 512 and 1 x 128, with and without the attention mask;
`mem LEVER...`: one whole update's peak over what is held between updates, at 2 and 5 layers (the slope per layer);
`mem22 LEVER...`: the same at 22 layers. Run `mem`/`mem22` under MLX_MAX_OPS_PER_BUFFER=1 MLX_MAX_MB_PER_BUFFER=1 to see
live memory without MLX's in-flight retention.
Levers: `package` (as the package runs: since session 6 `layers.geglu_linear` on CUDA), `off` (the package's CUDA fusions
off), `geglu_kernel` (GeGLU forward/backward kernels only), `geglu_wo` (kernels + Wo in one recomputing VJP, what the
package now does), `geglu_vjp` (same math as MLX ops), `norm_linear` (pre-norm + projection with the
normalised input recomputed; call 4's `norm_only` was this inside the package, since removed: now the same as `off`), `ln_custom` (LayerNorm weight gradient as a two-stage float32 reduction), `ln_warp`
(bench/gpu_layernorm.py), `qkv_contiguous` (q, k, v made row-contiguous before RoPE), and the diagnostics `act_identity`,
`no_rope`, `ln_identity`; `a+b` combines. Run on a CUDA machine: python bench/gpu_session6.py OUT.json MODE [LEVER ...]"""
import json, os, sys, time
from contextlib import contextmanager, ExitStack
import numpy as np
from mlx.utils import tree_flatten
from mlx_modernbert.backend import mx, nn
from mlx_modernbert import layers, modernbert
from mlx_modernbert.config import modernbert_base
from mlx_modernbert.hub import init_weights
from mlx_modernbert.trainer import make_optimizer, TrainConfig
sys.path.insert(0, os.path.dirname(__file__))
GiB, MiB, B, L = 2**30, 2**20, 32, 512

# ---------- LayerNorm: MLX's fused forward, custom backward (weight gradient without MLX's 24-block column reduction)
def _row_split(n:int) -> int:
    return next((k for k in (128, 64, 32, 16, 8) if n % k == 0 and n // k >= 8), 1)

_ln_cache = {}
def ln_custom_fn(eps:float):
    if eps in _ln_cache: return _ln_cache[eps]
    plain = lambda t: mx.fast.layer_norm(t, None, None, eps)
    @mx.custom_function
    def ln(x, w): return mx.fast.layer_norm(x, w, None, eps)
    @ln.vjp
    def ln_vjp(primals, cotangent, output):
        x, w = primals
        _, (dx,) = mx.vjp(plain, [x], [cotangent * w])
        H = x.shape[-1]; n = x.size // H; k = _row_split(n)
        prod = (cotangent.astype(mx.float32) * plain(x).astype(mx.float32)).reshape(k, n // k, H)
        return dx, prod.sum(1).sum(0).astype(w.dtype)
    _ln_cache[eps] = ln
    return ln

def ln_custom_call(self, x):
    if "bias" in self or "weight" not in self: return mx.fast.layer_norm(x, self.get("weight"), self.get("bias"), self.eps)
    return ln_custom_fn(self.eps)(x, self["weight"])

# ---------- GeGLU: gelu(a) * g of the split Wi output, forward and backward as one CUDA kernel each
GEGLU_FWD = """
const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
if (idx >= (size_t)N * I) return;
const size_t r = idx / I, c = idx - r * I;
const float a = static_cast<float>(wi[r * 2 * I + c]);
const float g = static_cast<float>(wi[r * 2 * I + I + c]);
out[idx] = static_cast<T>(0.5f * a * (1.0f + erff(a * 0.7071067811865476f)) * g);
"""
GEGLU_BWD = """
const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
if (idx >= (size_t)N * I) return;
const size_t r = idx / I, c = idx - r * I;
const float a = static_cast<float>(wi[r * 2 * I + c]);
const float g = static_cast<float>(wi[r * 2 * I + I + c]);
const float d = static_cast<float>(dy[idx]);
const float cdf = 0.5f * (1.0f + erff(a * 0.7071067811865476f));
const float pdf = 0.3989422804014327f * __expf(-0.5f * a * a);
dwi[r * 2 * I + c] = static_cast<T>(d * g * (cdf + a * pdf));
dwi[r * 2 * I + I + c] = static_cast<T>(d * a * cdf);
"""
_k = {}
def _kernel(name, src, ins, outs):
    if name not in _k: _k[name] = mx.fast.cuda_kernel(name=name, input_names=ins, output_names=outs, source=src)
    return _k[name]

def geglu_fwd(wi):
    I = wi.shape[-1] // 2; n = wi.size // (2 * I)
    if layers.on_cpu(): a, g = mx.split(wi, 2, axis=-1); return nn.gelu(a) * g   # local check of the wiring only
    out = _kernel("geglu_fwd", GEGLU_FWD, ["wi"], ["out"])(
        inputs=[wi], template=[("T", wi.dtype), ("N", n), ("I", I)], grid=(-(-n * I // 256) * 256, 1, 1),
        threadgroup=(256, 1, 1), output_shapes=[(*wi.shape[:-1], I)], output_dtypes=[wi.dtype])[0]
    return out

def geglu_bwd(wi, dy):
    I = wi.shape[-1] // 2; n = wi.size // (2 * I)
    if layers.on_cpu(): return _geglu_grad(wi, dy)
    return _kernel("geglu_bwd", GEGLU_BWD, ["wi", "dy"], ["dwi"])(
        inputs=[wi, dy], template=[("T", wi.dtype), ("N", n), ("I", I)], grid=(-(-n * I // 256) * 256, 1, 1),
        threadgroup=(256, 1, 1), output_shapes=[wi.shape], output_dtypes=[wi.dtype])[0]

@mx.custom_function
def geglu_k(wi): return geglu_fwd(wi)
@geglu_k.vjp
def _geglu_k_vjp(primals, cotangent, output):
    wi = primals[0] if isinstance(primals, (list, tuple)) else primals
    return geglu_bwd(wi, cotangent)

@mx.custom_function
def geglu_m(wi):
    a, g = mx.split(wi, 2, axis=-1); return nn.gelu(a) * g
@geglu_m.vjp
def _geglu_m_vjp(primals, cotangent, output):
    return _geglu_grad(primals[0] if isinstance(primals, (list, tuple)) else primals, cotangent)
def _geglu_grad(wi, cotangent):
    a, g = (t.astype(mx.float32) for t in mx.split(wi, 2, axis=-1)); d = cotangent.astype(mx.float32)
    cdf = 0.5 * (1 + mx.erf(a * 0.7071067811865476)); pdf = 0.3989422804014327 * mx.exp(-0.5 * a * a)
    return mx.concatenate([d * g * (cdf + a * pdf), d * a * cdf], axis=-1).astype(wi.dtype)

def mlp_with(fn):
    def call(self, x, norm=None): return self.Wo(self.drop(fn(self.Wi(x if norm is None else norm(x)))))
    return call

def mlp_identity_act(self, x, norm=None):
    a, g = mx.split(self.Wi(x if norm is None else norm(x)), 2, axis=-1); return self.Wo(self.drop(a * g))

@contextmanager
def fusions(**switches):
    "The package's CUDA fusions (`layers.CUDA_FUSIONS`) set as given for the block."
    old = dict(layers.CUDA_FUSIONS); layers.CUDA_FUSIONS.update(switches)
    try: yield
    finally: layers.CUDA_FUSIONS.clear(); layers.CUDA_FUSIONS.update(old)

@contextmanager
def patched(obj, name, value):
    old = getattr(obj, name); setattr(obj, name, value)
    try: yield
    finally: setattr(obj, name, old)


# ---------- recompute instead of save: LayerNorm output (norm + projection as one VJP), GeGLU product (GeGLU + Wo as one VJP)
_nl = {}
def norm_linear_fn(eps:float):
    if eps in _nl: return _nl[eps]
    @mx.custom_function
    def f(x, w, W): return mx.fast.layer_norm(x, w, None, eps) @ W.T
    @f.vjp
    def f_vjp(primals, dy, out):
        x, w, W = primals
        h = mx.fast.layer_norm(x, w, None, eps); O, H = W.shape
        dW = dy.reshape(-1, O).T @ h.reshape(-1, H)
        _, (dx, dw) = mx.vjp(lambda a, b: mx.fast.layer_norm(a, b, None, eps), [x, w], [dy @ W])
        return dx, dw, dW
    _nl[eps] = f
    return f

@mx.custom_function
def geglu_wo(wi, W): return geglu_fwd(wi) @ W.T
@geglu_wo.vjp
def _geglu_wo_vjp(primals, dy, out):
    wi, W = primals; O, I = W.shape
    dW = dy.reshape(-1, O).T @ geglu_fwd(wi).reshape(-1, I)
    return geglu_bwd(wi, dy @ W), dW

FLAGS = set()
def _norm_then(norm, lin, x):
    if "norm_linear" in FLAGS and isinstance(norm, nn.LayerNorm) and "bias" not in norm and "bias" not in lin:
        return norm_linear_fn(norm.eps)(x, norm.weight, lin.weight)
    return lin(norm(x))

def _attn_from_qkv(attn, qkv, bias, positions):
    B, L, _ = qkv.shape
    q, k, v = (t.reshape(B, L, attn.num_heads, attn.head_dim).transpose(0, 2, 1, 3) for t in mx.split(qkv, 3, axis=-1))
    if positions is None: q, k = attn.rope(q), attn.rope(k)
    else: q, k = layers.rope_at(q, positions, attn.rope.base), layers.rope_at(k, positions, attn.rope.base)
    if bias is not None: bias = bias.astype(q.dtype)
    out = layers.attention(q, k, v, attn.scale, bias)
    return attn.out_drop(attn.Wo(out.transpose(0, 2, 1, 3).reshape(B, L, -1)))

def layer_call(self, x, bias, positions=None):
    x = x + _attn_from_qkv(self.attn, _norm_then(self.attn_norm, self.attn.Wqkv, x), bias, positions)
    wi, mlp = _norm_then(self.mlp_norm, self.mlp.Wi, x), self.mlp
    if "geglu_wo" in FLAGS and "bias" not in mlp.Wo: return x + geglu_wo(wi, mlp.Wo.weight)   # (mlp dropout is 0 here)
    if "geglu_kernel" in FLAGS: return x + mlp.Wo(mlp.drop(geglu_k(wi)))
    a, g = mx.split(wi, 2, axis=-1)
    return x + mlp.Wo(mlp.drop(mlp.act(a) * g))

@contextmanager
def flag(name):
    FLAGS.add(name)
    try:
        with patched(modernbert.ModernBertEncoderLayer, "__call__", layer_call): yield
    finally: FLAGS.discard(name)


def attn_contiguous(self, x, bias=None, positions=None):
    "ModernBertAttention.__call__ with q, k, v made row-contiguous (B, H, L, D) before RoPE and attention."
    B, L, _ = x.shape
    q, k, v = (mx.contiguous(t.reshape(B, L, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)) for t in mx.split(self.Wqkv(x), 3, axis=-1))
    if positions is None: q, k = self.rope(q), self.rope(k)
    else: q, k = layers.rope_at(q, positions, self.rope.base), layers.rope_at(k, positions, self.rope.base)
    if bias is not None: bias = bias.astype(q.dtype)
    out = layers.attention(q, k, v, self.scale, bias)
    return self.out_drop(self.Wo(out.transpose(0, 2, 1, 3).reshape(B, L, -1)))

def lever_patches(name:str):
    "Context managers for a lever name (`a+b` combines)."
    out = []
    for part in filter(None, name.split("+")):
        if part in ("baseline", "baseline_again", "package", "package_again"): continue
        if part == "off": out.append(fusions(norm_linear=False, geglu_linear=False)); continue
        if part == "geglu_only": out.append(fusions(norm_linear=False)); continue
        if part == "norm_only": out.append(fusions(geglu_linear=False)); continue
        if part == "ln_custom": out.append(patched(nn.LayerNorm, "__call__", ln_custom_call))
        elif part == "ln_warp":
            import gpu_layernorm; out.append(patched(nn.LayerNorm, "__call__", gpu_layernorm.patched_call))
        elif part == "geglu_kernel": out.append(patched(layers.ModernBertMLP, "__call__", mlp_with(geglu_k)))
        elif part == "geglu_vjp": out.append(patched(layers.ModernBertMLP, "__call__", mlp_with(geglu_m)))
        elif part == "act_identity": out.append(patched(layers.ModernBertMLP, "__call__", mlp_identity_act))
        elif part in ("norm_linear", "geglu_wo"): out.append(flag(part))
        elif part == "qkv_contiguous": out.append(patched(layers.ModernBertAttention, "__call__", attn_contiguous))
        elif part == "no_rope": out.append(patched(nn.RoPE, "__call__", lambda self, x, offset=0: x))
        elif part == "ln_identity": out.append(patched(nn.LayerNorm, "__call__", lambda self, x: x))
        else: raise SystemExit(f"unknown lever {part}")
    return out

def model(n_layers=22):
    mx.random.seed(0)
    net = init_weights(modernbert.ModernBertForSequenceClassification(modernbert_base(num_labels=2, num_hidden_layers=n_layers)))
    net.set_dtype(mx.bfloat16); mx.eval(net.parameters()); return net

def batch(b=B, l=L):
    rng = np.random.default_rng(0)
    return mx.array(rng.integers(5, 50000, (b, l)).astype(np.int32)), mx.ones((b, l), mx.int32), mx.array(rng.integers(0, 2, b).astype(np.int32))

# ---------- correctness of the levers: bf16 gradients of the plain path and of the lever against float32 ones (same weights, batch)
def check(lever:str) -> dict:
    net = model(2); ids, mask, y = batch(4, 128)
    loss = lambda m: nn.losses.cross_entropy(m(ids, mask).astype(mx.float32), y).sum()
    def grads(patches):
        with ExitStack() as st:
            for p in patches: st.enter_context(p)
            l, g = nn.value_and_grad(net, loss)(net)
        return float(l), {k: v.astype(mx.float32) for k, v in tree_flatten(g)}
    plain_l, plain = grads([fusions(norm_linear=False, geglu_linear=False)])
    lever_l, lev = grads(lever_patches(lever))
    net.set_dtype(mx.float32)
    ref_l, ref = grads([fusions(norm_linear=False, geglu_linear=False)])
    def err(g):   # over all gradients together, and the worst single tensor
        num = sum(float(mx.sum((g[k] - ref[k]) ** 2)) for k in ref); den = sum(float(mx.sum(ref[k] ** 2)) for k in ref)
        per = {k: float(mx.linalg.norm(g[k] - ref[k]) / (mx.linalg.norm(ref[k]) + 1e-12)) for k in ref}
        worst = max(per, key=per.get)
        return {"all": round((num / den) ** 0.5, 5), "worst": round(per[worst], 5), "worst_name": worst}
    return {"loss_f32": ref_l, "loss_plain_bf16": plain_l, "loss_lever_bf16": lever_l,
            "grad_err_plain_bf16_vs_f32": err(plain), "grad_err_lever_bf16_vs_f32": err(lev)}

# ---------- timing
def time_step(lever:str, updates=8, warmup=3) -> dict:
    import gpu_levers as g
    with ExitStack() as st:
        for p in lever_patches(lever): st.enter_context(p)
        return g.time_step(updates=updates, warmup=warmup)

def infer(lever:str, repeats=20) -> dict:
    net = model(); net.eval(); out = {}
    with ExitStack() as st:
        for p in lever_patches(lever): st.enter_context(p)
        for b, l in ((32, 512), (1, 128)):
            ids, mask, _ = batch(b, l)
            for masked in (True, False):
                f = lambda: mx.eval(net(ids, mask if masked else None).astype(mx.float32))
                for _ in range(3): f()
                t = []
                for _ in range(repeats): s = time.perf_counter(); f(); t.append(time.perf_counter() - s)
                out[f"{b}x{l}{'' if masked else '_nomask'}_ms"] = round(float(np.median(t)) * 1e3, 2)
    return out

# ---------- memory attribution: one whole trainer update (forward, backward, clipping, AdamW) per layer count
def learner(n_layers:int, updates:int):
    from mlx_modernbert.loaders import TextLoader
    from mlx_modernbert.trainer import Learner
    rng = np.random.default_rng(0)
    rows = [rng.integers(5, 50000, L).astype(np.int32) for _ in range(B * updates)]
    return Learner(model(n_layers), TextLoader(rows, rng.integers(0, 2, len(rows)), B, pad_multiple=1), task="binary",
                   config=TrainConfig(epochs=1, dtype="bfloat16", warmup_ratio=0, schedule="constant"))

def update_peak(n_layers:int, lever:str="baseline") -> dict:
    with ExitStack() as st:
        for p in lever_patches(lever): st.enter_context(p)
        learn = learner(n_layers, 6); learn.time_updates(2); mx.synchronize(); mx.clear_cache()
        held = mx.get_active_memory(); mx.reset_peak_memory()
        t = learn.time_updates(2); mx.synchronize(); peak = mx.get_peak_memory()
    del learn; mx.clear_cache()
    return {"held_between_updates_mib": round(held / MiB), "update_peak_mib": round(peak / MiB), "over_held_mib": round((peak - held) / MiB),
            "update_ms": round(float(np.median(t)) * 1e3, 1)}

def mem(levers) -> dict:
    out = {}
    net = model(); opt = make_optimizer(net, TrainConfig(), 100); opt.init(net.trainable_parameters()); mx.eval(opt.state)
    out["weights_mib"] = round(sum(v.nbytes for _, v in tree_flatten(net.parameters())) / MiB)
    out["adamw_state_mib"] = round(sum(v.nbytes for _, v in tree_flatten(opt.state) if isinstance(v, mx.array)) / MiB)
    out["embedding_mib"] = round(net.model.embeddings.tok_embeddings.weight.nbytes / MiB)
    print(out, flush=True)
    del net, opt; mx.clear_cache()
    for lever in levers:
        for n in (2, 5):
            out[f"{lever}/{n}"] = r = update_peak(n, lever); print(lever, n, r, flush=True)
        out[f"{lever}/per_layer_mib"] = round((out[f"{lever}/5"]["over_held_mib"] - out[f"{lever}/2"]["over_held_mib"]) / 3)
        print(lever, "per layer MiB (incl. ~10 MiB of bf16 gradients)", out[f"{lever}/per_layer_mib"], flush=True)
    for lever in [l for l in levers if l in ("baseline", "geglu_kernel") or "+" in l]:
        out[f"{lever}/22"] = update_peak(22, lever); print(lever, 22, out[f"{lever}/22"], flush=True)
    return out

if __name__ == "__main__":
    path, mode, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    res = {"mlx": mx.__version__, "env": {k: os.environ.get(k) for k in ("MLX_MAX_OPS_PER_BUFFER", "MLX_MAX_MB_PER_BUFFER")}}
    save = lambda: open(path, "w").write(json.dumps(res, indent=1))
    if mode == "check":
        for n in names: res[f"check/{n}"] = check(n); print("check", n, res[f"check/{n}"], flush=True); save()
    elif mode == "step":
        for n in names:
            res[f"step/{n}"] = time_step(n); print("step", n, res[f"step/{n}"], flush=True); save()
    elif mode == "infer":
        for n in names: res[f"infer/{n}"] = infer(n); print("infer", n, res[f"infer/{n}"], flush=True); save()
    elif mode == "mem22":
        for n in names: res[f"mem22/{n}"] = update_peak(22, n); print("mem22", n, res[f"mem22/{n}"], flush=True); save()
    elif mode == "mem":
        res["mem"] = mem(names or ["baseline"]); save()
