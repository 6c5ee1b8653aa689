"Masked-LM training: the loss against transformers' on the same masked batch, the masking rule, the CLI end to end, resume."
import json, shutil
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner
from helpers import report
from mlx_modernbert.backend import mx
from mlx_modernbert.hub import resolve_model_dir, load_pretrained, TOKENIZER_FILES
from mlx_modernbert.tokenize import TextTokenizer
from mlx_modernbert.datasets import DATASETS
from mlx_modernbert import pretrain as P

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
T = transformers
TOL = 1e-4
MINILM = resolve_model_dir("all-MiniLM-L6-v2")
TEXTS = [f"Sex: {'male' if i % 3 else 'female'}, Age: {18 + i}, Pclass: {1 + i % 3}, Cabin: {'unknown' if i % 2 else 'C85'}, "
         f"Embarked: {'Southampton' if i % 4 else 'Cherbourg'}, Name: Passenger number {i} of the unbelievably long voyage"[: 60 + 3 * i]
         for i in range(20)]

def tiny_config(kind:str, **kw):
    "A tiny transformers config of `kind` with MiniLM's vocabulary (its tokenizer is used)."
    if kind == "bert":
        return T.BertConfig(**{**dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                                      max_position_embeddings=128), **kw})
    return T.ModernBertConfig(**{**dict(vocab_size=30522, hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
                                        local_attention=8, global_attn_every_n_layers=2, pad_token_id=0, bos_token_id=101,
                                        eos_token_id=102, cls_token_id=101, sep_token_id=102, attn_implementation="eager"), **kw})

def write_tiny(cls, config, folder:Path):
    "A tiny random transformers model saved with MiniLM's tokenizer; biases and norms moved off their initial values."
    torch.manual_seed(0)
    ref = cls(config).eval()
    with torch.no_grad():
        for n, p in ref.named_parameters():
            if n.endswith("bias") or "norm" in n.lower(): p.add_(torch.randn_like(p) * 0.1)
    ref.save_pretrained(folder, safe_serialization=True)
    for f in TOKENIZER_FILES:
        if (MINILM / f).exists(): shutil.copy(MINILM / f, folder / f)
    return ref

def masked_batch(mask_prob:float, whole_word:bool=False):
    "One padded batch of TEXTS masked by the package's loader."
    tok = TextTokenizer.from_folder(MINILM)
    rows = P.encode_for_mlm(tok, TEXTS, 64)
    loader = P.MaskedLMLoader(rows, P.MaskingVocab.from_tokenizer(tok, 30522), mask_prob, whole_word, batch_size=len(TEXTS),
                              shuffle=False, pad_id=tok.pad_id, seed=5)
    return next(loader.epoch_batches(0))

def hf_labels(b) -> np.ndarray:
    "transformers' labels for the same batch: the original id at each selected position, -100 elsewhere."
    B, L = b.input_ids.shape
    pos, tgt = np.array(b.labels)
    labels = np.full(B * L, -100, np.int64)
    labels[pos[tgt != P.IGNORE]] = tgt[tgt != P.IGNORE]
    return labels.reshape(B, L)

@pytest.mark.parametrize("kind, ref_cls, mask_prob", [("bert", T.BertForMaskedLM, 0.15), ("modernbert", T.ModernBertForMaskedLM, 0.30)])
def test_loss_equals_transformers_on_the_same_masked_batch(tmp_path, kind, ref_cls, mask_prob):
    ref = write_tiny(ref_cls, tiny_config(kind), tmp_path)
    ours = load_pretrained(tmp_path, task="masked-lm")
    assert ours.new_weights == []
    b = masked_batch(mask_prob)
    assert (np.array(b.attention_mask) == 0).any()   # the batch really has padding
    loss_sum, right = P.masked_lm_loss(ours, b.input_ids, b.attention_mask, b.labels)
    labels = hf_labels(b)
    with torch.no_grad():
        out = ref(input_ids=torch.tensor(np.array(b.input_ids), dtype=torch.long), attention_mask=torch.tensor(np.array(b.attention_mask)),
                  labels=torch.tensor(labels))
    ours_mean = loss_sum.item() / b.masked
    report(f"{ref_cls.__name__} masked-LM loss, ours (sparse prediction) vs transformers", abs(ours_mean - out.loss.item()))
    assert b.masked == int((labels != -100).sum()) and abs(ours_mean - out.loss.item()) < TOL
    sel = labels != -100
    assert int(right.item()) == int((out.logits.argmax(-1).numpy()[sel] == labels[sel]).sum())

def test_masking_rule_on_real_rows():
    "Special tokens and padding never selected, the rate on target, 80/10/10, deterministic, whole words together."
    b = masked_batch(0.30)
    ids, mask = np.array(b.input_ids), np.array(b.attention_mask)
    pos, tgt = np.array(b.labels); pos, tgt = pos[tgt != P.IGNORE], tgt[tgt != P.IGNORE]
    assert mask.reshape(-1)[pos].all() and not np.isin(tgt, [0, 101, 102, 103]).any()
    tok = TextTokenizer.from_folder(MINILM)
    rows = P.encode_for_mlm(tok, TEXTS * 50, 64)
    vocab = P.MaskingVocab.from_tokenizer(tok, 30522)
    loader = P.MaskedLMLoader(rows, vocab, 0.15, batch_size=64, pad_id=0, seed=1)
    masks = loader.masks(0)
    candidates = sum(int((~s).sum()) for s in rows.special)
    picked = sum(len(m[1]) for m in masks)
    assert abs(picked / candidates - 0.15) < 0.01
    kinds = np.concatenate([np.where(m[0][m[1]] == vocab.mask_id, 0, np.where(m[0][m[1]] == m[2], 2, 1)) for m in masks])
    shares = np.bincount(kinds, minlength=3) / len(kinds)
    assert abs(shares[0] - 0.8) < 0.02 and abs(shares[1] - 0.1) < 0.02 and abs(shares[2] - 0.1) < 0.02, shares
    again = P.MaskedLMLoader(rows, vocab, 0.15, batch_size=7, pad_id=0, seed=1).masks(0)
    assert all((a[0] == c[0]).all() for a, c in zip(masks, again))   # a function of seed, epoch and row alone
    other = P.MaskedLMLoader(rows, vocab, 0.15, batch_size=64, pad_id=0, seed=2).masks(0)
    assert any((a[0] != c[0]).any() for a, c in zip(masks, other))
    whole = P.MaskedLMLoader(rows, vocab, 0.30, True, batch_size=64, pad_id=0, seed=1).masks(0)
    split_words = 0
    for (_, chosen, _), words in zip(whole, rows.word_ids):
        for w in set(words[chosen]) - {-1}:
            group = np.flatnonzero(words == w)
            assert set(group) <= set(chosen)
            split_words += len(group) > 1
    assert split_words > 10   # words of several pieces were selected, all pieces together

def test_cli_pretrain_then_train_and_transformers_loads(tmp_path):
    from mlx_modernbert.cli import app
    write_tiny(T.BertModel, tiny_config("bert"), tmp_path / "tiny")   # a base checkpoint with a pooler, as MiniLM's
    train = pd.read_csv(DATASETS["titanic"].train).head(64); train.to_csv(tmp_path / "train.csv", index=False)
    pd.read_csv(DATASETS["titanic"].test).head(16).to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "adapted"
    r = CliRunner().invoke(app, ["pretrain", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "--target", "Survived",
                                 "--id-column", "PassengerId", "--model", str(tmp_path / "tiny"), "--epochs", "1", "--lr", "1e-3",
                                 "--max-length", "48", "--no-mlflow", "--output", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "pretrain.json").read_text())
    assert summary["rows"] == {"train": 72, "heldout": 8} and summary["mask_prob"] == 0.15
    assert summary["before"]["masked_tokens"] == summary["after"]["masked_tokens"] > 0
    texts, _ = P.table_texts(P.PretrainConfig(train=str(tmp_path / "train.csv"), test=str(tmp_path / "test.csv"), target="Survived", id_column="PassengerId"))
    assert len(texts) == 80 and not any("Survived" in t or "PassengerId" in t or "Passenger Id" in t for t in texts)
    # transformers loads the folder as a masked-LM model: nothing missing, only the carried pooler unused, same logits
    ref, info = T.AutoModelForMaskedLM.from_pretrained(out / "model", output_loading_info=True)
    assert not info["missing_keys"] and set(info["unexpected_keys"]) <= {"bert.pooler.dense.weight", "bert.pooler.dense.bias"}, info
    ours = load_pretrained(out / "model", task="masked-lm")
    ids = np.array([[101, 2158, 1010, 2287, 103, 102]])
    with torch.no_grad(): expected = ref.eval()(torch.tensor(ids)).logits.numpy()
    assert np.abs(np.array(ours(mx.array(ids))) - expected).max() < TOL
    # and train fine-tunes it (one split, one epoch)
    r = CliRunner().invoke(app, ["train", "--folds", "0", "--train", str(tmp_path / "train.csv"), "--target", "Survived", "--model", str(out / "model"),
                                 "--epochs", "1", "--max-length", "48", "--no-mlflow", "--output", str(tmp_path / "runs")])
    assert r.exit_code == 0, r.output
    assert "accuracy" in r.output
    r = CliRunner().invoke(app, ["pretrain", "--train", str(tmp_path / "train.csv"), "--target", "Survived", "--model", str(tmp_path / "tiny"),
                                 "--output", str(out), "--no-mlflow"])
    assert r.exit_code == 2 and "already holds a pretrained model" in r.output

def test_resume_after_an_interruption_continues_the_same_run(tmp_path, monkeypatch):
    write_tiny(T.ModernBertModel, tiny_config("modernbert"), tmp_path / "tiny")
    (tmp_path / "docs.txt").write_text("\n".join(TEXTS * 3))
    cfg = lambda out: P.PretrainConfig(text=str(tmp_path / "docs.txt"), model=str(tmp_path / "tiny"), epochs=2, lr=1e-3, batch_size=8,
                                       max_length=48, mlflow=False, output=str(tmp_path / out))
    _, whole = P.pretrain(cfg("whole"))
    assert whole["mask_prob"] == 0.30 and whole["architecture"] == "modernbert"
    original = P.MaskedLMLearner.one_epoch
    def stop_in_second_epoch(self):
        if self.epoch == 1: raise KeyboardInterrupt("stopped")
        original(self)
    monkeypatch.setattr(P.MaskedLMLearner, "one_epoch", stop_in_second_epoch)
    with pytest.raises(KeyboardInterrupt): P.pretrain(cfg("cut"))
    assert (tmp_path / "cut" / "checkpoints" / "last").exists() and not (tmp_path / "cut" / "model").exists()
    monkeypatch.setattr(P.MaskedLMLearner, "one_epoch", original)
    with pytest.raises(P.DataError, match="--resume"): P.pretrain(cfg("cut"))
    _, resumed = P.pretrain(P.PretrainConfig(output=str(tmp_path / "cut")), resume=True)   # its own settings come from the folder
    assert [h["epoch"] for h in resumed["history"]] == [1, 2] and resumed["before"] == whole["before"]
    report("masked-LM held-out loss, resumed vs uninterrupted run", abs(resumed["after"]["val_loss"] - whole["after"]["val_loss"]))
    assert abs(resumed["after"]["val_loss"] - whole["after"]["val_loss"]) < 1e-3
    assert not (tmp_path / "cut" / "checkpoints").exists() and (tmp_path / "cut" / "model" / "config.json").exists()

@pytest.mark.slow
def test_two_processes_equal_one_process_with_double_batch(tmp_path):
    "Data-parallel masked-LM training (mlx.launch, ring): 2 processes x 4 rows end with the weights of 1 process x 8 rows."
    import subprocess, sys, textwrap
    write_tiny(T.BertModel, tiny_config("bert", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0), tmp_path / "tiny")
    (tmp_path / "docs.txt").write_text("\n".join(TEXTS * 2))
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent('''
        import sys
        from mlx_modernbert.pretrain import pretrain, PretrainConfig
        d, name, bs = sys.argv[1], sys.argv[2], int(sys.argv[3])
        pretrain(PretrainConfig(text=f"{d}/docs.txt", model=f"{d}/tiny", epochs=2, lr=2e-3, batch_size=bs, max_length=32, mlflow=False,
                                output=f"{d}/{name}", val_fraction=0.2))
    '''))
    P.pretrain(P.PretrainConfig(text=str(tmp_path / "docs.txt"), model=str(tmp_path / "tiny"), epochs=2, lr=2e-3, batch_size=8, max_length=32,
                                mlflow=False, output=str(tmp_path / "single"), val_fraction=0.2))   # the same run in this process
    launch = Path(sys.executable).with_name("mlx.launch")
    r = subprocess.run([str(launch), "-n", "2", "--backend", "ring", "--python", sys.executable, str(script), str(tmp_path), "dist", "4"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    a, b = (mx.load(str(tmp_path / name / "model" / "model.safetensors")) for name in ("single", "dist"))
    diff = max(float(mx.abs(a[k] - b[k]).max()) for k in a)
    report("masked-LM training, 1 process x 8 rows vs 2 processes x 4 rows, weights after 2 epochs", diff)
    assert diff < 1e-5
    s, d = (json.loads((tmp_path / name / "pretrain.json").read_text()) for name in ("single", "dist"))
    assert abs(s["after"]["val_loss"] - d["after"]["val_loss"]) < 1e-5 and s["after"]["masked_tokens"] == d["after"]["masked_tokens"]
