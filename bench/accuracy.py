"""Accuracy of the default run on tables it has never seen, next to a default GBDT and a logistic (or ridge) regression on the same split.

Usage: .venv/bin/python bench/accuracy.py [--datasets iris,wine,penguins,diabetes,breast_cancer,titanic] [--folds K] [--out /tmp/bench-accuracy]

The user's protocol from issue 16: each table is split once (seeded) into 75% training rows and a held-out 25% whose
labels are put aside; `train --train X --target Y` runs with the defaults (5 folds on tables of at most 3,000 rows; --folds overrides) and `predict`
scores the held-out rows (the default run blends its tabular models in); a default scikit-learn HistGradientBoosting
and a logistic regression (ridge for regression) are fitted on the same 75% and scored on the same 25%.
Also reported: the text model alone on the held-out rows (`predict --no-blend`), and each part's validation score
as the run's `blend.json` has it (out-of-fold with --folds k; the validation split otherwise).
"""
import argparse, json, os, time
from pathlib import Path
import numpy as np
import pandas as pd

SKLEARN = {"iris": "load_iris", "wine": "load_wine", "breast_cancer": "load_breast_cancer", "diabetes": "load_diabetes"}

def table(name:str, folder:Path) -> tuple[Path, str, str|None]:
    "The table as a CSV with a named target column: (path, target, id column)."
    if name in SKLEARN:
        from sklearn import datasets
        d = getattr(datasets, SKLEARN[name])(as_frame=True)
        df = d.frame.copy()
        if name != "diabetes": df["target"] = np.asarray(d.target_names)[d.target]   # class names, not codes
        path = folder / f"{name}.csv"; df.to_csv(path, index=False)
        return path, "target", None
    shared = Path(os.environ.get("BENCH_DATASETS") or Path(__file__).resolve().parents[2] / "shared" / "datasets")   # penguins/, house_prices/
    if name == "titanic": return Path(__file__).resolve().parents[1] / "mlx_modernbert" / "data" / "titanic" / "train.csv", "Survived", "PassengerId"
    if name == "penguins": return shared / "penguins" / "penguins.csv", "species", None
    if name == "house_prices": return shared / "house_prices" / "train.csv", "SalePrice", "Id"
    raise SystemExit(f"unknown table {name}")

def baselines(task:str, metric:str, train:pd.DataFrame, held:pd.DataFrame, features:list[str], y_train, y_held, decode) -> dict:
    "Default GBDT and linear model fitted on `train`, scored on `held` (the package's own fitting code: `mlx_modernbert.blend`)."
    from mlx_modernbert.blend import fit_part, predict_part, table_schema, gbdt_frame
    from mlx_modernbert.metrics import task_score
    schema = table_schema(train, features)
    X, H = gbdt_frame(train, schema), gbdt_frame(held, schema)
    k = int(np.max(y_train)) + 1 if task != "regression" else 0
    return {part: task_score(metric, task, y_held, predict_part(fit_part(part, task, X, y_train), task, H, k), decode) for part in ("gbdt", "linear")}

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="iris,wine,penguins,diabetes,breast_cancer,titanic")
    ap.add_argument("--folds", type=int, default=None, help="default: the package's (5 folds up to 3,000 rows); 0: one validation split; k: k folds")
    ap.add_argument("--epochs", type=int, default=None, help="default: RunConfig's")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="/tmp/bench-accuracy")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a run setting for every table, as the CLI's flags take it (e.g. --set numbers=bins --set min_updates=300)")
    ap.add_argument("--reuse", action="store_true", help="reuse a finished run folder of the same table under --out (its blend is refitted with the current code)")
    a = ap.parse_args()
    from mlx_modernbert.runconfig import resolve_config
    from mlx_modernbert.run import train_run
    from mlx_modernbert.predict import predict_run
    from mlx_modernbert.prepare import Prepared
    from mlx_modernbert.metrics import task_score
    from mlx_modernbert.datasets import LabelEncoding
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    results = []
    for name in a.datasets.split(","):
        path, target, id_column = table(name, out)
        df = pd.read_csv(path)
        df = df[df[target].notna()].reset_index(drop=True)
        held = df.sample(frac=0.25, random_state=a.seed)
        train = df.drop(held.index)
        train_csv, test_csv = out / f"{name}-train.csv", out / f"{name}-heldout.csv"
        train.to_csv(train_csv, index=False); held.drop(columns=[target]).to_csv(test_csv, index=False)
        flags = dict(dataset="none", train=str(train_csv), target=target, test=str(test_csv), folds=a.folds, mlflow=False,
                     output=str(out / "runs"), epochs=a.epochs, seed=a.seed)
        if id_column: flags["id_column"] = id_column
        flags.update(dict(kv.split("=", 1) for kv in a.set))
        if name == "titanic": flags.update(dataset="titanic", train=str(train_csv), target=None)   # its curated template
        cfg = resolve_config(flags={k: v for k, v in flags.items() if v is not None}, env={})
        t = time.perf_counter()
        done = [r.parent for r in sorted((out / "runs").glob("*/scores.json")) if f"train: {train_csv}\n" in (r.parent / "config.yaml").read_text()]
        if a.reuse and done:
            run_dir, summary = done[-1], json.loads((done[-1] / "scores.json").read_text())
            if summary.get("blend"):
                from mlx_modernbert.blend import blend_run
                b = blend_run(run_dir, tuple(summary["blend"]["weights"])[1:])
                summary["blend"] = {k: b[k] for k in ("metric", "text", *b["parts"], "blend", "weights")}
        else: run_dir, summary = train_run(cfg)
        seconds = summary["seconds"] if a.reuse and done else time.perf_counter() - t
        prep = Prepared(cfg)
        ds, metric = prep.ds, prep.metric
        enc = ds.encoding
        y_held = enc.encode(held[target])
        blended = predict_run(test_csv, run_dir, probabilities=True)
        text = predict_run(test_csv, run_dir, probabilities=True, blend=False)
        def probs(sub): return sub[[f"prob_{c}" for c in enc.classes]].to_numpy() if ds.task != "regression" else enc.encode(sub[target]).reshape(-1, 1)
        held_scores = {"text": task_score(metric, ds.task, y_held, probs(text), enc.decode),
                       "default run": task_score(metric, ds.task, y_held, probs(blended), enc.decode)}
        raw = LabelEncoding.fit(ds.frame[target], ds.task) if enc.log_target else enc   # the baselines fit the target as it is (default scikit-learn)
        held_scores.update(baselines(ds.task, metric, ds.frame, held, ds.features, raw.encode(ds.frame[target]), raw.encode(held[target]), raw.decode))
        row = dict(table=name, settings=dict(kv.split("=", 1) for kv in a.set), rows=len(df), task=ds.task, metric=metric, template=prep.template.name, held_out=held_scores,
                   validation=summary.get("blend") or {"text": summary.get("oof_score") or summary["scores"][0]}, seconds=round(seconds))
        results.append(row); print(json.dumps(row), flush=True)
        (out / "results.json").write_text(json.dumps(results, indent=1))
    print("| table | rows | metric | default run | text alone | GBDT | linear | better baseline | validation: text / gbdt / linear / blend (weights) | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        h, v, higher = r["held_out"], r["validation"], r["metric"] not in ("rmse", "rmse_log", "mae", "log_loss")
        best = max(h["gbdt"], h["linear"]) if higher else min(h["gbdt"], h["linear"])
        vtext = " / ".join(f"{v[k]:.4f}" for k in ("text", "gbdt", "linear", "blend") if k in v)
        weights = ", ".join(f"{k} {w:.2f}" for k, w in v.get("weights", {}).items())
        print(f"| {r['table']} | {r['rows']} | {r['metric']} | {h['default run']:.4f} | {h['text']:.4f} | {h['gbdt']:.4f} | {h['linear']:.4f} | {best:.4f} | {vtext} ({weights}) | {r['seconds']} |")

if __name__ == "__main__": main()
