"Peak GPU memory and time of repeated compiled steps (ModernBERT-base shape, 32 x 512, bf16), optionally under mx.set_memory_limit. Run on a CUDA machine: python bench/gpu_memory.py [limit GiB]"
import sys, time
import numpy as np
from mlx_modernbert.backend import mx, nn
from mlx_modernbert.benchmark import benchmark_model
from mlx_modernbert.trainer import make_optimizer, TrainConfig, clip_global_norm
GiB = 2**30
if len(sys.argv) > 1: print("limit was", mx.set_memory_limit(int(float(sys.argv[1]) * GiB)) / GiB)
net = benchmark_model("modernbert-base"); net.set_dtype(mx.bfloat16); net.train(); mx.eval(net.parameters())
B, L = 32, 512
ids = mx.array(np.random.default_rng(0).integers(5, 50000, (B, L)).astype(np.int32)); mask = mx.ones((B, L), mx.int32); y = mx.array(np.zeros(B, np.int32))
vg = nn.value_and_grad(net, lambda m: nn.losses.cross_entropy(m(ids, mask).astype(mx.float32), y).sum())
opt = make_optimizer(net, TrainConfig(), 100); opt.init(net.trainable_parameters())
st = [net.state, opt.state]
def grads_only(): return vg(net)
def full():
    l, g = vg(net); opt.update(net, clip_global_norm(g, 1.0)); return l
for name, f, outs in [("fwd+bwd", mx.compile(grads_only, inputs=st, outputs=st), None), ("full", mx.compile(full, inputs=st, outputs=st), st)]:
    p, t = [], []
    for i in range(8):
        mx.reset_peak_memory(); s = time.perf_counter(); r = f(); mx.eval(r, *(outs or []))
        p.append(round(mx.get_peak_memory() / GiB, 2)); t.append(round((time.perf_counter() - s) * 1e3, 1))
    print(name, p, t, flush=True)
