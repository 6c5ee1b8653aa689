"""Exploratory (not an option yet): warm the new masked-LM head with the encoder frozen (1 epoch, lr 1e-3), then adapt the whole model (1 epoch, lr 1e-4); writes /tmp/bench-warm/pretrained/model.

Then: .venv/bin/python -m mlx_modernbert train --dataset titanic --model /tmp/bench-warm/pretrained/model --folds 5 --epochs 1 --max-length 96 --seed 42 --no-mlflow
"""
import json
from pathlib import Path
from mlx_modernbert.backend import mx
from mlx_modernbert.pretrain import *
from mlx_modernbert.pretrain import table_texts, keep_pooler, heldout_rows
from mlx_modernbert.tokenize import TextTokenizer
from mlx_modernbert.hub import resolve_model_dir, load_pretrained
from mlx_modernbert.runconfig import TrainConfig
from mlx_modernbert.trainer import ProgressCallback
out = Path("/tmp/bench-warm/pretrained")
cfg = PretrainConfig(dataset="titanic", max_length=96)
texts, _ = table_texts(cfg); model_dir = resolve_model_dir("all-MiniLM-L6-v2"); tok = TextTokenizer.from_folder(model_dir)
mx.random.seed(42); model = load_pretrained(model_dir, task="masked-lm"); keep_pooler(model, model_dir)
vocab = MaskingVocab.from_tokenizer(tok, model.config.vocab_size); rows = encode_for_mlm(tok, texts, 96)
tr, va = heldout_rows(len(texts), 0.1, 42)
train_dl = MaskedLMLoader(rows.subset(tr), vocab, 0.15, seed=42, batch_size=16, pad_id=tok.pad_id)
val_dl = MaskedLMLoader(rows.subset(va), vocab, 0.15, shuffle=False, seed=43, batch_size=16, pad_id=tok.pad_id)
before = evaluate_masked_lm(model, val_dl)
model.bert.freeze()
MaskedLMLearner(model, train_dl, val_dl, TrainConfig(epochs=1, lr=1e-3, seed=42), [ProgressCallback()]).fit()
head_only = evaluate_masked_lm(model, val_dl)
model.unfreeze(); model.bert.pooler.freeze()
MaskedLMLearner(model, train_dl, val_dl, TrainConfig(epochs=1, lr=1e-4, seed=43), [ProgressCallback()]).fit()
after = evaluate_masked_lm(model, val_dl)
model.save_pretrained(out / "model", tokenizer_dir=model_dir)
(out / "warm.json").write_text(json.dumps({"before": before, "head_only": head_only, "after": after}, indent=1))
print("RESULT", before, head_only, after)
