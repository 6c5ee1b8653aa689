"""Varied-length rows on the GPU: packed vs the trainer's bucketed padding vs transformers with padding (real tokens/s),
ModernBERT-base shape, bf16, batches of 32 rows. Run on a CUDA machine: python bench/gpu_data.py OUT.json [titanic-like longtail]"""
import json, sys
from mlx_modernbert.benchmark import data_benchmark
out = {}
args = sys.argv[2:]
capacity = int(args[args.index("--capacity") + 1]) if "--capacity" in args else None
if "--capacity" in args: del args[args.index("--capacity"):args.index("--capacity") + 2]
for data in args or ["titanic-like", "longtail"]:
    out[data] = data_benchmark(data, "modernbert-base", batch_size=32, rows=1024, max_length=512, capacity=capacity,
                               dtype="bfloat16", torch=capacity is None)
    print(json.dumps(out[data], indent=1), flush=True)
    if len(sys.argv) > 1: open(sys.argv[1], "w").write(json.dumps(out, indent=1))
# packed sequences shorter than 512 for short rows: python bench/gpu_data.py OUT.json titanic-like --capacity 128
