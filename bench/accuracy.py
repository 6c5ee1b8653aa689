"""Accuracy of the default text model next to HistGradientBoosting, logistic regression and their blend, on the same folds.

Usage: .venv/bin/python bench/accuracy.py [--datasets wine,breast_cancer,titanic] [--epochs N] [--limit-rows N] [--folds 5] [--out /tmp/bench-accuracy]
Every score is out-of-fold on the text run's own folds; the blend weight is chosen on those out-of-fold rows (see blend.json).
"""
import argparse, json, time
from pathlib import Path
import numpy as np
import pandas as pd

def write_sklearn_csv(name:str, folder:Path) -> tuple[str, str]:
    "One of scikit-learn's bundled tables as a CSV with a named target column; returns (path, target)."
    from sklearn import datasets
    d = {"wine": datasets.load_wine, "breast_cancer": datasets.load_breast_cancer}[name](as_frame=True)
    df = d.frame.copy()
    df["target"] = np.asarray(d.target_names)[d.target]   # class names, not codes
    path = folder / f"{name}.csv"; df.to_csv(path, index=False)
    return str(path), "target"

def logistic_oof(prep, splits) -> float:
    "Out-of-fold score of a scaled logistic regression (one-hot categories, median-imputed numbers) on the run's folds."
    from sklearn.compose import make_column_transformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from mlx_modernbert.blend import gbdt_frame
    from mlx_modernbert.metrics import task_score
    ds = prep.ds
    X = gbdt_frame(ds.frame, ds.features)
    for c in X.select_dtypes("category"): X[c] = X[c].astype(object).where(X[c].notna(), "missing")
    pre = make_column_transformer((make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), make_column_selector(dtype_include="number")),
                                  (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_include=object)))
    k = len(ds.encoding.classes)
    rows, preds = [], []
    for s in splits:
        train = np.setdiff1d(np.arange(len(ds.frame)), s["rows"])
        model = make_pipeline(pre, LogisticRegression(max_iter=2000)).fit(X.iloc[train], prep.y[train])
        p = np.zeros((len(s["rows"]), k)); p[:, model.classes_] = model.predict_proba(X.iloc[s["rows"]])
        rows.append(s["rows"]); preds.append(p)
    rows = np.concatenate(rows)
    return task_score(prep.metric, ds.task, prep.y[rows], np.concatenate(preds))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="wine,breast_cancer,titanic")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=None, help="default: RunConfig's")
    ap.add_argument("--limit-rows", type=int, default=None, help="a seeded sample of N rows per table (CPU budget)")
    ap.add_argument("--out", default="/tmp/bench-accuracy")
    a = ap.parse_args()
    from mlx_modernbert.runconfig import resolve_config
    from mlx_modernbert.run import train_run
    from mlx_modernbert.blend import blend_run, run_splits
    from mlx_modernbert.prepare import Prepared
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    lines = ["| table | rows | metric | text model | GBDT | logistic regression | blend (text weight) | text run s |", "|---|---|---|---|---|---|---|---|"]
    for name in a.datasets.split(","):
        flags = dict(folds=a.folds, mlflow=False, output=str(out / "runs"), epochs=a.epochs, limit_rows=a.limit_rows)
        if name == "titanic": flags["dataset"] = "titanic"
        else: flags["train"], flags["target"] = write_sklearn_csv(name, out); flags["dataset"] = "none"
        cfg = resolve_config(flags=flags, env={})
        t = time.perf_counter()
        run_dir, summary = train_run(cfg)
        seconds = time.perf_counter() - t
        b = blend_run(run_dir, submission=False)
        prep = Prepared(cfg)
        lr = logistic_oof(prep, run_splits(run_dir, prep.ds.task))
        row = dict(table=name, rows=len(prep.ds), metric=b["metric"], text=b["text"], gbdt=b["gbdt"], logistic=lr, blend=b["blend"], weight=b["weight"], seconds=round(seconds))
        print(json.dumps(row), flush=True)
        lines.append(f"| {name} | {row['rows']} | {row['metric']} | {row['text']:.4f} | {row['gbdt']:.4f} | {lr:.4f} | {row['blend']:.4f} ({row['weight']}) | {row['seconds']} |")
    print("\n".join(lines))

if __name__ == "__main__": main()
