"""Ablation of how the text model reads numbers: each encoding x each table, through `bench/accuracy.py` (defaults otherwise).

Usage: .venv/bin/python bench/numbers_ablation.py [--tables iris,wine,penguins,diabetes] [--variants digits,digits-150,bins-150,both-150]
                                                  [--lanes 2] [--out /tmp/numbers-ablation]

A variant is `NUMBERS[-MIN_UPDATES][+FIELD=VALUE...]` (numbers: digits, bins, both or embed; min_updates: the training budget, 0 when
left out; then any run setting, e.g. `bins-300+number_bins=32` or `embed-150+head_lr=10`).
Each (variant, table) is one `bench/accuracy.py` process: the table split 75/25 (seed 42), a default 5-fold run trained
with the variant's settings, the held-out quarter scored (text alone and the default run's blend), the baselines fitted
on the same rows. `--lanes` runs that many processes at once, each with one BLAS thread (two lanes use two cores).
Prints a markdown table and writes `ablation.json` under --out.
"""
import argparse, json, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOWER_IS_BETTER = ("rmse", "rmse_log", "mae", "log_loss")

def settings(variant:str) -> list[str]:
    "The `--set` flags of a variant name such as `bins-150` or `bins-300+number_bins=32+lr=2e-4`."
    head, *extra = variant.split("+")
    numbers, _, updates = head.partition("-")
    flags = ["--set", f"numbers={numbers}", "--set", f"min_updates={updates or 0}"]
    for kv in extra: flags += ["--set", kv]
    return flags

def run_one(variant:str, table:str, out:Path, threads:int) -> dict:
    "Run bench/accuracy.py for one table under one variant; its result row (with the variant and the wall seconds)."
    folder = out / variant
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    t = time.perf_counter()
    r = subprocess.run([sys.executable, str(HERE / "accuracy.py"), "--datasets", table, *settings(variant), "--out", str(folder / table)],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0: return {"variant": variant, "table": table, "error": r.stderr[-2000:]}
    row = json.loads((folder / table / "results.json").read_text())[-1]
    return {"variant": variant, **row, "wall_s": round(time.perf_counter() - t)}

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", default="iris,wine,penguins,diabetes")
    ap.add_argument("--variants", default="digits,digits-150,bins-150,both-150")
    ap.add_argument("--lanes", type=int, default=2)
    ap.add_argument("--out", default="/tmp/numbers-ablation")
    a = ap.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    jobs = [(v, t) for t in a.tables.split(",") for v in a.variants.split(",")]
    threads = max(1, (os.cpu_count() or 1) // a.lanes)
    results = []
    with ThreadPoolExecutor(a.lanes) as pool:   # each row is saved as soon as its job ends (a killed sweep keeps what finished)
        for done in as_completed([pool.submit(run_one, *job, out, threads) for job in jobs]):
            row = done.result(); results.append(row); print(json.dumps(row), flush=True)
            (out / "ablation.json").write_text(json.dumps(results, indent=1))
    print("| table | metric | variant | text alone, CV | text alone, held out | default run (blend), CV | default run, held out | better baseline, held out (CV) | text weight | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(results, key=lambda r: (r["table"], r["variant"])):
        if "error" in r: print(f"| {r['table']} | | {r['variant']} | failed | | | | | | |"); continue
        h, v = r["held_out"], r["validation"]
        lower = r["metric"] in LOWER_IS_BETTER
        pick = min if lower else max
        base_h, base_v = pick(h["gbdt"], h["linear"]), pick(v.get("gbdt", float("nan")), v.get("linear", float("nan")))
        print(f"| {r['table']} | {r['metric']} | {r['variant']} | {v['text']:.4f} | {h['text']:.4f} | {v.get('blend', v['text']):.4f} | "
              f"{h['default run']:.4f} | {base_h:.4f} ({base_v:.4f}) | {v.get('weights', {}).get('text', float('nan')):.2f} | {r['seconds']} |")

if __name__ == "__main__": main()
