"""Where this CPU's training-step gap to PyTorch comes from: the elementwise work of a MiniLM layer (softmax over
16 x 12 x 128 x 128 attention scores, exact GELU over 16 x 128 x 1536), MLX (eager, `mx.compile`d, and split over two
CPU streams) against PyTorch (2 threads), each in its own process.

    .venv/bin/python bench/cpu_elementwise.py            # runs both sides, prints one JSON line each
"""
import json, subprocess, sys, time
import numpy as np

def median_ms(f, n=10, warm=3, sync=lambda r: None) -> float:
    for _ in range(warm): sync(f())
    ts = []
    for _ in range(n):
        t = time.perf_counter(); sync(f()); ts.append(time.perf_counter() - t)
    return round(float(np.median(ts)) * 1e3, 2)

def mlx_side() -> dict:
    from mlx_modernbert.backend import mx
    from mlx_modernbert.layers import softmax_cpu, gelu
    B = 16
    scores, hidden = mx.random.normal((B, 12, 128, 128)), mx.random.normal((B, 128, 1536)); mx.eval(scores, hidden)
    streams = [mx.default_stream(mx.cpu), mx.new_stream(mx.cpu)]
    def halves(f, x):   # each half of the batch on its own stream (MLX runs one thread per stream)
        out = []
        for s, part in zip(streams, (x[: B // 2], x[B // 2:])):
            with mx.stream(s): out.append(f(part))
        return out
    sm, ge, sync = mx.compile(softmax_cpu), mx.compile(gelu), mx.eval
    return {"side": "mlx", "softmax_eager_ms": median_ms(lambda: softmax_cpu(scores), sync=sync),
            "softmax_compiled_ms": median_ms(lambda: sm(scores), sync=sync),
            "softmax_two_streams_ms": median_ms(lambda: halves(sm, scores), sync=lambda r: mx.eval(*r)),
            "gelu_eager_ms": median_ms(lambda: gelu(hidden), sync=sync), "gelu_compiled_ms": median_ms(lambda: ge(hidden), sync=sync),
            "gelu_two_streams_ms": median_ms(lambda: halves(ge, hidden), sync=lambda r: mx.eval(*r))}

def torch_side() -> dict:
    import torch
    torch.set_num_threads(2)
    scores, hidden = torch.randn(16, 12, 128, 128), torch.randn(16, 128, 1536)
    return {"side": "torch", "threads": torch.get_num_threads(), "softmax_ms": median_ms(lambda: torch.softmax(scores, -1)),
            "gelu_ms": median_ms(lambda: torch.nn.functional.gelu(hidden))}

if __name__ == "__main__":
    if len(sys.argv) > 1: print(json.dumps(mlx_side() if sys.argv[1] == "mlx" else torch_side()))
    else:
        for side in ("mlx", "torch"): subprocess.run([sys.executable, __file__, side], check=True)
