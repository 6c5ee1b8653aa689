"""Quantized inference against full precision: a run's held-out score with every model quantized (same rows, same
models), then inference tokens/s, peak memory and weight size of one model at batch 32 x 128.

Run: .venv/bin/python bench/quantize.py RUN_DIR [--bits 8 4] [--group-size 64] [--output FILE.json]
(RUN_DIR: a finished `mlx-modernbert train` run; its folds' validation rows are predicted again by each fold's model,
in full precision and quantized with `quantize_model`, and scored with the run's metric.)"""
import argparse, json, time
from pathlib import Path
import numpy as np
from mlx.utils import tree_flatten
from mlx_modernbert.backend import mx
from mlx_modernbert.hub import load_pretrained
from mlx_modernbert.prepare import Prepared
from mlx_modernbert.run import resume_config, _splits
from mlx_modernbert.trainer import predict_outputs
from mlx_modernbert.outputs import score_outputs
from mlx_modernbert.quantize import quantize_model

def checkpoint_of(run_dir:Path, name:str) -> Path:
    "A fold's final checkpoint (or its best)."
    return next(p for p in (run_dir / name / "checkpoints" / "final", run_dir / name / "checkpoints" / "best") if p.exists())

def heldout_scores(run_dir:Path, bits_list:list[int], group_size:int) -> dict:
    "The out-of-fold score of the run's models in full precision and at each bit width, on the same held-out rows."
    cfg, _ = resume_config(run_dir)
    prep = Prepared(cfg)
    rows, outputs = [], {b: [] for b in [None, *bits_list]}
    for name, train_idx, val_idx in _splits(prep, cfg):
        ck = checkpoint_of(run_dir, name)
        _, fold_rows = prep.fold_rows(train_idx, val_idx)
        for bits in outputs:
            model = load_pretrained(ck, task="sequence-classification")
            if bits: quantize_model(model, bits, group_size)
            out, idx = predict_outputs(model, prep.loader(val_idx, train=False, rows=fold_rows))
            outputs[bits].append(out)
        rows.append(val_idx)   # predict_outputs returns them in row order
    rows = np.concatenate(rows)
    return {"metric": prep.metric, "rows": int(len(rows)),
            **{("full" if b is None else f"{b}-bit"): score_outputs(prep, rows, np.concatenate(o)) for b, o in outputs.items()}}

def speed(checkpoint:Path, bits:int|None, group_size:int, batch:int=32, length:int=128, repeats:int=5) -> dict:
    "Median tokens/s, peak memory and weight bytes of one model at `batch` x `length` (random tokens, no padding)."
    mx.clear_cache(); mx.reset_peak_memory()
    model = load_pretrained(checkpoint, task="sequence-classification")
    if bits: quantize_model(model, bits, group_size)
    mx.eval(model.parameters())
    weights = sum(v.nbytes for _, v in tree_flatten(model.parameters()))
    ids = mx.array(np.random.default_rng(0).integers(1000, 20000, (batch, length)))
    mask = mx.ones_like(ids)
    mx.eval(model(ids, mask))
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); mx.eval(model(ids, mask)); times.append(time.perf_counter() - start)
    return {"tokens_per_s": round(batch * length / float(np.median(times))), "peak_memory_mib": round(mx.get_peak_memory() / 2**20, 1),
            "weights_mib": round(weights / 2**20, 1)}

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a finished training run folder")
    p.add_argument("--bits", type=int, nargs="+", default=[8, 4], help="bit widths to compare with full precision")
    p.add_argument("--group-size", type=int, default=64, help="weights sharing one scale and bias")
    p.add_argument("--skip-scores", action="store_true", help="only the speed and memory figures")
    p.add_argument("--output", help="also write the figures as JSON")
    args = p.parse_args()
    run_dir = Path(args.run)
    result = {"run": str(run_dir), "device": str(mx.default_device()), "group_size": args.group_size}
    if not args.skip_scores:
        result["heldout"] = heldout_scores(run_dir, args.bits, args.group_size)
        h = result["heldout"]
        print(f"held-out {h['metric']} on {h['rows']} rows: full {h['full']:.4f}; " +
              "; ".join(f"{b}-bit {h[f'{b}-bit']:.4f} ({100 * (h[f'{b}-bit'] - h['full']):+.2f} points)" for b in args.bits))
    ck = checkpoint_of(run_dir, "fold-0") if (run_dir / "fold-0").exists() else checkpoint_of(run_dir, "model")
    result["speed"] = {("full" if b is None else f"{b}-bit"): speed(ck, b, args.group_size) for b in [None, *args.bits]}
    for name, s in result["speed"].items():
        print(f"{name:>6}: {s['tokens_per_s']:>8,} tokens/s at 32x128 on {result['device']}, peak memory {s['peak_memory_mib']} MiB, "
              f"weights {s['weights_mib']} MiB")
    if args.output: Path(args.output).write_text(json.dumps(result, indent=1))

if __name__ == "__main__":
    main()
