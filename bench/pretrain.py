"""Does masked-LM domain adaptation help fine-tuning? Pretrain on a table's own rows, then fine-tune with and without it, same seeds.

Usage: .venv/bin/python bench/pretrain.py [--dataset titanic] [--train CSV] [--test CSV] [--model all-MiniLM-L6-v2] [--pretrain-epochs 2]
                                          [--folds 5] [--epochs 2] [--max-length 96] [--seed 42] [--out /tmp/bench-pretrain]
Runs the CLI end to end: `pretrain` on the dataset's training and test rows (never the target), then `train` k-fold
from the original model (baseline) and from the adapted one, with the same folds, seeds and settings. Prints the
held-out masked-LM loss and accuracy before and after, the out-of-fold scores, and how the two test-file submissions
compare. Steps whose output exists are reused, so an interrupted measurement continues.
"""
import argparse, json, subprocess, sys, time
from pathlib import Path
import pandas as pd

CLI = [sys.executable, "-m", "mlx_modernbert"]

def run(args:list[str], log:Path) -> float:
    "Run one CLI command, its output appended to `log`; returns its seconds."
    start = time.perf_counter()
    with open(log, "a") as f:
        f.write(f"$ mlx-modernbert {' '.join(args)}\n"); f.flush()
        subprocess.run(CLI + args, stdout=f, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - start

def data_args(a) -> list[str]:
    "A training (and test) CSV to use instead of the dataset's bundled files (penguins and house-prices bundle none)."
    return (["--train", a.train] if a.train else []) + (["--test", a.test] if a.test else [])

def train_run(out:Path, name:str, model:str, a, log:Path) -> dict:
    "The k-fold run `name` (trained unless it already finished): scores.json, the fold scores and the submission."
    folder = out / name
    if not (folder.exists() and list(folder.glob("*/scores.json"))):
        run(["train", "--dataset", a.dataset, *data_args(a), "--model", model, "--folds", str(a.folds), "--epochs", str(a.epochs),
             "--max-length", str(a.max_length), "--seed", str(a.seed), "--no-mlflow", "--output", str(folder)], log)
    run_dir = sorted(folder.glob("*/scores.json"))[-1].parent
    return {"run": str(run_dir), **json.loads((run_dir / "scores.json").read_text())}

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="titanic"); p.add_argument("--train"); p.add_argument("--test"); p.add_argument("--model", default="all-MiniLM-L6-v2")
    p.add_argument("--pretrain-epochs", type=int, default=2); p.add_argument("--pretrain-lr", type=float, default=1e-4)
    p.add_argument("--folds", type=int, default=5); p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--max-length", type=int, default=96); p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", default="/tmp/bench-pretrain")
    a = p.parse_args()
    out = Path(a.out) / a.dataset; out.mkdir(parents=True, exist_ok=True)
    log = out / "log.txt"
    base = train_run(out, "baseline", a.model, a, log)
    adapted_dir = out / "pretrained"
    if not (adapted_dir / "pretrain.json").exists():
        run(["pretrain", "--dataset", a.dataset, *data_args(a), "--model", a.model, "--epochs", str(a.pretrain_epochs), "--lr", str(a.pretrain_lr),
             "--max-length", str(a.max_length), "--seed", str(a.seed), "--no-mlflow", "--output", str(adapted_dir)]
            + (["--resume"] if (adapted_dir / "pretrain_config.json").exists() else []), log)
    mlm = json.loads((adapted_dir / "pretrain.json").read_text())
    adapted = train_run(out, "adapted", str(adapted_dir / "model"), a, log)
    result = {"settings": vars(a), "masked_lm": {k: mlm[k] for k in ("before", "after", "mask_prob", "rows", "tokens", "seconds")},
              "baseline": {k: base[k] for k in ("metric", "scores", "mean", "oof_score", "seconds")},
              "adapted": {k: adapted[k] for k in ("metric", "scores", "mean", "oof_score", "seconds")}}
    if base.get("submission") and adapted.get("submission"):
        s0, s1 = pd.read_csv(base["submission"]), pd.read_csv(adapted["submission"])
        target = s0.columns[-1]
        result["test_file"] = {"rows": len(s0), "agreement": float((s0[target] == s1[target]).mean()),
                               "positive_rate_baseline": float(s0[target].mean()), "positive_rate_adapted": float(s1[target].mean())}
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))

if __name__ == "__main__":
    main()
