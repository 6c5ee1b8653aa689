"""Held-out score of a run's blend with its tabular parts as saved (fold models averaged) against the same parts refitted on
all training rows, same weights: .venv/bin/python bench/accuracy_refit.py iris,wine,penguins,diabetes,breast_cancer,house_prices
(after bench/accuracy.py --out /tmp/bacc6)."""
import pickle, sys
from pathlib import Path
import numpy as np, pandas as pd, yaml
from mlx_modernbert.runconfig import RunConfig
from mlx_modernbert.prepare import Prepared
from mlx_modernbert.predict import predict_run
from mlx_modernbert.blend import fit_part, predict_part, table_schema, gbdt_frame, MODELS_FILE
from mlx_modernbert.metrics import task_score
out = Path("/tmp/bacc6")
for name in sys.argv[1].split(","):
    held_csv = out / f"{name}-heldout.csv"
    run_dir = next(r.parent for r in sorted((out / "runs").glob("*/scores.json")) if f"test: {held_csv}\n" in (r.parent / "config.yaml").read_text())
    cfg = RunConfig(**yaml.safe_load((run_dir / "config.yaml").read_text()))
    prep = Prepared(cfg); ds, task, enc = prep.ds, prep.ds.task, prep.ds.encoding
    if not (run_dir / MODELS_FILE).exists(): print(name, "no blend"); continue
    saved = pickle.loads((run_dir / MODELS_FILE).read_bytes())
    target = ds.targets[0]
    import importlib.util
    spec = importlib.util.spec_from_file_location("acc", "bench/accuracy.py"); acc = importlib.util.module_from_spec(spec); spec.loader.exec_module(acc)
    path, tgt, _ = acc.table(name, out); df = pd.read_csv(path); df = df[df[tgt].notna()].reset_index(drop=True)
    held = df.sample(frac=0.25, random_state=42)
    y_held = enc.encode(held[tgt])
    text = predict_run(held_csv, run_dir, probabilities=True, blend=False)
    tp = text[[f"prob_{c}" for c in enc.classes]].to_numpy() if task != "regression" else enc.encode(text[tgt]).reshape(-1, 1)
    schema = table_schema(ds.frame, ds.features); X, H = gbdt_frame(ds.frame, schema), gbdt_frame(held, schema)
    w = saved["weights"]; k = saved["num_classes"]
    avg = w["text"] * tp; refit = w["text"] * tp
    for part in saved["parts"]:
        folds = np.mean([predict_part(s["models"][part], task, gbdt_frame(held, s["schema"]), k) for s in saved["splits"]], axis=0)
        one = predict_part(fit_part(part, task, X, prep.y, cfg.seed), task, H, k)
        avg = avg + w[part] * folds; refit = refit + w[part] * one
        print(name, part, "fold-avg", round(task_score(prep.metric, task, y_held, folds, enc.decode), 4), "refit", round(task_score(prep.metric, task, y_held, one, enc.decode), 4))
    print(name, "BLEND fold-avg", round(task_score(prep.metric, task, y_held, avg, enc.decode), 4), "refit", round(task_score(prep.metric, task, y_held, refit, enc.decode), 4), w, flush=True)
