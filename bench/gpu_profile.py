"GPU kernel times of three compiled trainer steps (ModernBERT-base shape, 32 x 512, bf16) from PyTorch's profiler, which sees MLX's CUDA kernels too. Run on a CUDA machine: python bench/gpu_profile.py step (or: layer)"
import sys
import numpy as np
import torch
from torch.profiler import profile, ProfilerActivity
from mlx_modernbert.backend import mx, nn
from mlx_modernbert.config import modernbert_base
from mlx_modernbert.modernbert import ModernBertEncoderLayer, ModernBertForSequenceClassification
from mlx_modernbert.layers import attention_biases
from mlx_modernbert.hub import init_weights
torch.zeros(1, device="cuda")
B, Lq = 32, 512
cfg = modernbert_base(num_labels=2)
mode = sys.argv[1]
if mode == "layer":
    layer = ModernBertEncoderLayer(cfg, 1); layer.set_dtype(mx.bfloat16); mx.eval(layer.parameters())
    bias = attention_biases(mx.ones((B, Lq)), Lq, 128, mx.bfloat16)["sliding_attention"]
    x = mx.random.normal((B, Lq, 768)).astype(mx.bfloat16); mx.eval(x, bias)
    g = nn.value_and_grad(layer, lambda m, x: m(x, bias).astype(mx.float32).sum())
    run = lambda: g(layer, x)
else:
    from mlx_modernbert.trainer import Learner, TrainConfig
    from mlx_modernbert.loaders import TextLoader
    net = init_weights(ModernBertForSequenceClassification(cfg)); net.set_dtype(mx.bfloat16)
    rng = np.random.default_rng(0)
    rows = [rng.integers(5, 50000, Lq).astype(np.int32) for _ in range(B * 4)]
    learn = Learner(net, TextLoader(rows, rng.integers(0, 2, len(rows)), B, pad_multiple=1), task="binary",
                    config=TrainConfig(epochs=100, dtype="bfloat16", warmup_ratio=0))
    b = next(iter(learn.train_dl.epoch_batches(0)))
    def run():
        loss, _ = learn._step(b.input_ids, b.attention_mask, b.labels, None, mx.array(float(B)), True)
        return [loss, learn.model.state, learn.opt.state]
for _ in range(3): mx.eval(run())
mx.synchronize()
with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as prof:
    for _ in range(3): mx.eval(run())
    mx.synchronize()
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=40, max_name_column_width=90))
