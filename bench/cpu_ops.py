"Per-op CPU timings of one ModernBERT tiny layer (batch 16 x 128): where a training step's time goes. Run: .venv/bin/python bench/cpu_ops.py"
import time, numpy as np
from mlx_modernbert.backend import mx, nn
from mlx_modernbert.config import modernbert_tiny
from mlx_modernbert.modernbert import ModernBertForSequenceClassification
from mlx_modernbert.layers import attention_biases, attention
from mlx_modernbert.hub import init_weights
def timeit(f, n=10, warm=3):
    for _ in range(warm): mx.eval(f())
    ts = []
    for _ in range(n):
        t = time.perf_counter(); mx.eval(f()); ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e3
B, L = 16, 128
net = init_weights(ModernBertForSequenceClassification(modernbert_tiny(num_labels=2))); net.train(); mx.eval(net.parameters())
m = net.model; layer = m.layers[1]; a = layer.attn
ids = mx.array(np.random.default_rng(0).integers(5, 50000, (B, L)).astype(np.int32)); mask = mx.ones((B, L), mx.int32)
x = m.embeddings(ids); mx.eval(x)
bias = attention_biases(mask, L, 128, mx.float32); mx.eval(bias)
print("embeddings", timeit(lambda: m.embeddings(ids)))
print("layernorm", timeit(lambda: layer.mlp_norm(x)))
print("Wqkv", timeit(lambda: a.Wqkv(x)))
qkv = a.Wqkv(x); mx.eval(qkv)
q, k, v = (t.reshape(B, L, 4, 64).transpose(0, 2, 1, 3) for t in mx.split(qkv, 3, axis=-1))
print("rope q", timeit(lambda: a.rope(q)))
qc, kc, vc = mx.contiguous(q), mx.contiguous(k), mx.contiguous(v); mx.eval(qc, kc, vc)
print("attention sliding", timeit(lambda: attention(qc, kc, vc, 0.125, bias["sliding_attention"])))
print("attention full", timeit(lambda: attention(qc, kc, vc, 0.125, bias["full_attention"])))
o = attention(qc, kc, vc, 0.125, bias["full_attention"]); mx.eval(o)
print("out transpose+Wo", timeit(lambda: a.Wo(o.transpose(0, 2, 1, 3).reshape(B, L, -1))))
print("attn block", timeit(lambda: a(x, bias["sliding_attention"])))
print("mlp block", timeit(lambda: layer.mlp(x)))
print("Wi", timeit(lambda: layer.mlp.Wi(x)))
print("layer", timeit(lambda: layer(x, bias["sliding_attention"])))
print("model fwd", timeit(lambda: net(ids, mask)))
g = nn.value_and_grad(layer, lambda l, x: l(x, bias["sliding_attention"]).sum())
print("layer fwd+bwd", timeit(lambda: g(layer, x)))
gm = nn.value_and_grad(layer.mlp, lambda l, x: l(x).sum()); print("mlp fwd+bwd", timeit(lambda: gm(layer.mlp, x)))
ga = nn.value_and_grad(a, lambda l, x: l(x, bias["sliding_attention"]).sum()); print("attn fwd+bwd", timeit(lambda: ga(a, x)))
W = layer.mlp.Wi.weight
print("matmul fwd+bwd of Wi alone", timeit(lambda: mx.grad(lambda w, x: (x @ w.T).sum(), argnums=(0, 1))(W, x)))
