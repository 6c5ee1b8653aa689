"""NeoBERT against a PyTorch transcription of the reference (chandar-lab/NeoBERT `model.py`, `rotary.py`, `rmsnorm.py`):
each block, whole models on the published checkpoint's layout (outputs and gradients), save/load, training, the CLI."""
import json, math, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from helpers import max_abs_diff, report
from mlx_modernbert.backend import mx, nn as mnn
from mlx.utils import tree_flatten
from mlx_modernbert.errors import CheckpointError, ConfigError
from mlx_modernbert.hub import load_pretrained, load_safetensors, save_safetensors, resolve_model_dir, TOKENIZER_FILES
from mlx_modernbert.neobert import (NeoBertConfig, NeoBertEncoderBlock, NeoBertModel, NeoBertForSequenceClassification,
                                    SwiGLU, rotary)

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOL = 1e-5
ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("mlx-modernbert"))
PENGUINS = ROOT / "tests" / "data" / "penguins" / "penguins.csv"

# ---- the reference, transcribed (names, layouts and conventions as in chandar-lab/NeoBERT) ----

class RMSNorm(torch.nn.Module):
    "rmsnorm.py: `x * rsqrt(mean(x^2) + eps) * weight`."
    def __init__(self, dim, eps=1e-6):
        super().__init__(); self.eps = eps; self.weight = torch.nn.Parameter(torch.ones(dim))
    def forward(self, x): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

class PackedSwiGLU(torch.nn.Module):
    "xformers.ops.SwiGLU with packed weights, bias=False: w1, w2 = unbind(w12.view(2, hidden, in)); w3(silu(x w1) * x w2)."
    def __init__(self, in_features, hidden_features, out_features):
        super().__init__()
        self.w12 = torch.nn.Linear(in_features, 2 * hidden_features, bias=False)
        self.w3 = torch.nn.Linear(hidden_features, out_features, bias=False)
    def forward(self, x):
        w1, w2 = self.w12.weight.view(2, -1, self.w12.weight.shape[1]).unbind(0)
        return self.w3(F.silu(F.linear(x, w1)) * F.linear(x, w2))

def precompute_freqs_cis(dim, end, theta=10000.0):
    "rotary.py: complex64 exp(i * t * theta^(-2i/dim)) with torch.polar."
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2).float() / dim))
    freqs = torch.outer(torch.arange(end), freqs).float()
    return torch.polar(torch.ones_like(freqs), freqs)

def apply_rotary_emb(xq, xk, freqs_cis):
    "rotary.py: consecutive pairs as complex numbers (view_as_complex), times freqs_cis, back to pairs; x is (B, L, H, D)."
    xq_ = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    xk_ = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
    assert freqs_cis.shape == (xq_.shape[1], xq_.shape[-1])
    f = freqs_cis.view(1, xq_.shape[1], 1, xq_.shape[-1])
    return torch.view_as_real(xq_ * f).flatten(3).type_as(xq), torch.view_as_real(xk_ * f).flatten(3).type_as(xk)

def ffn_width(intermediate_size):
    multiple_of = 8
    n = int(2 * intermediate_size / 3)
    return multiple_of * ((n + multiple_of - 1) // multiple_of)

class EncoderBlock(torch.nn.Module):
    "model.py EncoderBlock (rope, rms_norm, swiglu; SDPA branch with the additive mask)."
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.qkv = torch.nn.Linear(c["hidden_size"], 3 * c["hidden_size"], bias=False)
        self.wo = torch.nn.Linear(c["hidden_size"], c["hidden_size"], bias=False)
        self.ffn = PackedSwiGLU(c["hidden_size"], ffn_width(c["intermediate_size"]), c["hidden_size"])
        self.attention_norm = RMSNorm(c["hidden_size"], c["norm_eps"])
        self.ffn_norm = RMSNorm(c["hidden_size"], c["norm_eps"])
    def forward(self, x, pad_mask, freqs_cis):
        x = x + self._att_block(self.attention_norm(x), pad_mask, freqs_cis)
        return x + self.ffn(self.ffn_norm(x))
    def _att_block(self, x, pad_mask, freqs_cis):
        B, L, _ = x.shape
        H = self.c["num_attention_heads"]; D = self.c["hidden_size"] // H
        xq, xk, xv = self.qkv(x).view(B, L, H, D * 3).chunk(3, axis=-1)
        xq, xk = apply_rotary_emb(xq, xk, freqs_cis)
        attn = F.scaled_dot_product_attention(xq.transpose(1, 2), xk.transpose(1, 2), xv.transpose(1, 2), attn_mask=pad_mask).transpose(1, 2)
        return self.wo(attn.reshape(B, L, H * D))

class NeoBERT(torch.nn.Module):
    "model.py NeoBERT: `encoder` embedding, `transformer_encoder` layers, final `layer_norm`; an additive (B, L) pad_mask."
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.encoder = torch.nn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=c["pad_token_id"])
        self.freqs_cis = precompute_freqs_cis(c["hidden_size"] // c["num_attention_heads"], c["max_length"])   # not in the state dict
        self.transformer_encoder = torch.nn.ModuleList(EncoderBlock(c) for _ in range(c["num_hidden_layers"]))
        self.layer_norm = RMSNorm(c["hidden_size"], c["norm_eps"])
    def forward(self, src, pad_mask=None):
        if pad_mask is not None:
            assert pad_mask.dtype != torch.bool and 1.0 not in pad_mask, "NeoBERT expects an additive pad_mask"
            pad_mask = pad_mask.unsqueeze(1).unsqueeze(1).repeat(1, self.c["num_attention_heads"], pad_mask.size(-1), 1)
        freqs_cis = self.freqs_cis[: src.shape[1]]
        x = self.encoder(src)
        for layer in self.transformer_encoder: x = layer(x, pad_mask, freqs_cis)
        return self.layer_norm(x)

class NeoBERTLMHead(torch.nn.Module):
    def __init__(self, c):
        super().__init__(); self.model = NeoBERT(c); self.decoder = torch.nn.Linear(c["hidden_size"], c["vocab_size"])
    def forward(self, src, pad_mask=None): return self.decoder(self.model(src, pad_mask))

class NeoBERTForSequenceClassification(torch.nn.Module):
    def __init__(self, c, num_labels=2, classifier_dropout=0.1):
        super().__init__()
        self.model = NeoBERT(c)
        self.dense = torch.nn.Linear(c["hidden_size"], c["hidden_size"])
        self.dropout = torch.nn.Dropout(classifier_dropout)
        self.classifier = torch.nn.Linear(c["hidden_size"], num_labels)
    def forward(self, src, pad_mask=None):
        x = self.model(src, pad_mask)[:, 0, :]
        return self.classifier(self.dropout(torch.tanh(self.dense(self.dropout(x)))))

def additive(mask):
    "The reference's mask: 0 where attended, -inf at padding (as its MTEB wrapper builds it from a 0/1 attention mask)."
    return torch.where(mask == 1, 0.0, float("-inf"))

# ---- fixtures ----

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48, vocab_size=30522,
            max_length=128, norm_eps=1e-5, pad_token_id=0)
PUBLISHED_KEYS = {"architectures": ["NeoBERTLMHead"], "classifier_init_range": 0.02, "decoder_init_range": 0.02,
                  "embedding_init_range": 0.02, "kwargs": {"classifier_init_range": 0.02, "trust_remote_code": True},
                  "model_type": "neobert", "torch_dtype": "float32", "transformers_version": "4.48.2",
                  "auto_map": {"AutoConfig": "model.NeoBERTConfig", "AutoModel": "model.NeoBERT",
                               "AutoModelForMaskedLM": "model.NeoBERTLMHead",
                               "AutoModelForSequenceClassification": "model.NeoBERTForSequenceClassification"}}

def randomise(module, seed):
    "Weights large enough that every block matters (norm scales around 1, projections of unit-scale outputs)."
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in module.named_parameters():
            if p.ndim == 1 and "norm" in n: p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1: p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif n.endswith("encoder.weight"): p.copy_(torch.randn(p.shape, generator=g))
            else: p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))
    return module

def write_folder(module, folder:Path, architecture:str, **extra):
    "A model folder as the reference's Hugging Face export writes it: config.json, model.safetensors, a BERT tokenizer."
    from safetensors.torch import save_file
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = {**PUBLISHED_KEYS, **TINY, "dim_head": TINY["hidden_size"] // TINY["num_attention_heads"],
              "architectures": [architecture], **extra}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    minilm = resolve_model_dir("all-MiniLM-L6-v2")   # NeoBERT uses bert-base-uncased's WordPiece vocabulary, as MiniLM does
    for f in TOKENIZER_FILES:
        if (minilm / f).exists(): shutil.copy(minilm / f, folder / f)
    return folder

@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    "The masked-LM reference (the published checkpoint's layout) and a classifier on the same encoder, each saved as a folder."
    root = tmp_path_factory.mktemp("neobert")
    torch.manual_seed(0)
    lm = randomise(NeoBERTLMHead(TINY), 1).eval()
    clf = NeoBERTForSequenceClassification(TINY, num_labels=3)
    clf.model.load_state_dict(lm.model.state_dict())
    randomise(clf.dense, 2); randomise(clf.classifier, 3)
    clf.eval()
    return {"lm": (lm, write_folder(lm, root / "lm", "NeoBERTLMHead")),
            "clf": (clf, write_folder(clf, root / "clf", "NeoBERTForSequenceClassification", num_labels=3,
                                      id2label={"0": "a", "1": "b", "2": "c"}))}

def batch(seed=0, B=3, L=24):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, 30000, (B, L), generator=g)
    mask = torch.ones(B, L, dtype=torch.long); mask[1, 15:] = 0; mask[2, 6:] = 0
    ids[:, 0] = 101
    return ids * mask, mask

def to_mx(t): return mx.array(t.detach().numpy())

# ---- blocks ----

def test_rmsnorm_block():
    torch.manual_seed(0)
    ref = randomise(RMSNorm(48, 1e-5), 0)
    ours = mnn.RMSNorm(48, eps=1e-5); ours.weight = to_mx(ref.weight)
    x = torch.randn(2, 7, 48) * 3
    diff = max_abs_diff(ours(to_mx(x)), ref(x).detach())
    report("RMSNorm", diff)
    assert diff < TOL

def test_swiglu_block_with_packed_w12():
    ref = randomise(PackedSwiGLU(32, ffn_width(48), 32), 1)
    ours = SwiGLU(32, ffn_width(48), 32)
    ours.load_weights([(k, to_mx(v)) for k, v in ref.state_dict().items()], strict=True)
    x = torch.randn(2, 7, 32, requires_grad=True)
    out = ref(x); out.square().sum().backward()
    diff = max_abs_diff(ours(to_mx(x)), out.detach())
    grad = mx.grad(lambda t: ours(t).square().sum())(to_mx(x))   # the CPU SiLU's own gradient against autograd's
    report("SwiGLU (packed w12)", diff)
    assert diff < TOL and max_abs_diff(grad, x.grad) < 1e-4 * float(x.grad.abs().max())

@pytest.mark.parametrize("length,tol", [(16, TOL), (512, 1e-4)])
def test_rotary_block_complex_convention(length, tol):
    "Both compute angles in float32, so far positions differ by float32 rounding of the angle (measured 5e-5 at 512)."
    x = torch.randn(2, length, 3, 8)   # (B, L, H, D) as the reference holds them
    k = torch.randn(2, length, 3, 8)
    rq, rk = apply_rotary_emb(x, k, precompute_freqs_cis(8, 1024)[:length])
    ours = lambda t: rotary(to_mx(t).transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    diff = max(max_abs_diff(ours(x), rq), max_abs_diff(ours(k), rk))
    report(f"rotary, {length} positions", diff)
    assert diff < tol

def test_encoder_block_and_attention_mask():
    "One layer with padding: the reference's additive (B, H, L, L) mask and the HF port's boolean mask against ours."
    ref = randomise(EncoderBlock(TINY), 4).eval()
    ours = NeoBertEncoderBlock(NeoBertConfig(**TINY))
    ours.load_weights([(k, to_mx(v)) for k, v in ref.state_dict().items()], strict=True)
    from mlx_modernbert.layers import padding_bias
    x = torch.randn(3, 24, 32)
    _, mask = batch()
    H, L = TINY["num_attention_heads"], 24
    expand = lambda m: m.unsqueeze(1).unsqueeze(1).repeat(1, H, L, 1)
    with torch.no_grad():
        expected = ref(x, expand(additive(mask)), precompute_freqs_cis(8, 128)[:L])
        as_bool = ref(x, expand(mask).bool(), precompute_freqs_cis(8, 128)[:L])   # the Hugging Face port's form
    assert max_abs_diff(as_bool, expected) < 1e-6
    diff = max_abs_diff(ours(to_mx(x), padding_bias(to_mx(mask))), expected)
    report("encoder block with padding", diff)
    assert diff < TOL

# ---- whole models on the published layout ----

def test_published_layout_loads_strictly_into_every_task(reference, caplog):
    lm, folder = reference["lm"]
    ids, mask = batch(1)
    with torch.no_grad():
        hidden, logits = lm.model(ids, additive(mask)), lm(ids, additive(mask))
    mlm = load_pretrained(folder, task="masked-lm")
    assert (mlm.new_weights, mlm.dropped_weights) == ([], [])
    diff = max_abs_diff(mlm(to_mx(ids), to_mx(mask)), logits)
    report("NeoBERTLMHead -> masked-lm: logits", diff)
    assert diff < TOL * 10   # logits over 30522 tokens sum 32 products of unit-scale states
    base = load_pretrained(folder)
    diff = max_abs_diff(base(to_mx(ids), to_mx(mask)), hidden)
    report("NeoBERTLMHead -> base: last hidden state", diff)
    assert diff < TOL and base.dropped_weights == ["decoder.bias", "decoder.weight"]
    clf = load_pretrained(folder, task="sequence-classification", num_labels=2)
    assert clf.new_weights == ["classifier.bias", "classifier.weight", "dense.bias", "dense.weight"]
    assert clf.dropped_weights == ["decoder.bias", "decoder.weight"]

def test_classifier_outputs_and_gradients_match_reference(reference):
    ref, folder = reference["clf"]
    ours = load_pretrained(folder, task="sequence-classification")
    assert ours.new_weights == [] and ours.config.id2label == {"0": "a", "1": "b", "2": "c"}
    ids, mask = batch(2)
    y = torch.tensor([0, 2, 1])
    ref.zero_grad()
    logits = ref(ids, additive(mask))
    F.cross_entropy(logits, y).backward()
    diff = max_abs_diff(ours(to_mx(ids), to_mx(mask)), logits.detach())
    report("NeoBERTForSequenceClassification: logits", diff)
    assert diff < TOL
    _, grads = mnn.value_and_grad(ours, lambda m: mnn.losses.cross_entropy(m(to_mx(ids), to_mx(mask)), to_mx(y)).mean())(ours)
    grads = dict(tree_flatten(grads))
    expected = {k: p.grad for k, p in ref.named_parameters() if p.grad is not None}
    assert set(grads) == {k for k, _ in ref.named_parameters()}
    worst = max(max_abs_diff(grads[k], g) / (float(g.abs().max()) + 1e-8) for k, g in expected.items()
                if k != "model.encoder.weight")   # the embedding's gradient is dense here, sparse there: same values
    worst = max(worst, max_abs_diff(grads["model.encoder.weight"], expected["model.encoder.weight"].to_dense()))
    report("NeoBERTForSequenceClassification: gradients (relative)", worst)
    assert worst < 1e-4

def test_save_load_round_trip_through_the_hub(reference, tmp_path):
    _, folder = reference["clf"]
    ours = load_pretrained(folder, task="sequence-classification")
    ours.save_pretrained(tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["model_type"] == "neobert" and config["architectures"] == ["NeoBERTForSequenceClassification"]
    assert {k: config[k] for k in TINY} == TINY and config["dim_head"] == 8 and "auto_map" not in config
    assert (tmp_path / "saved" / "tokenizer.json").exists()   # copied from the source folder
    again = load_pretrained(tmp_path / "saved", task="sequence-classification")
    assert type(again).__name__ == "NeoBertForSequenceClassification" and again.config == ours.config
    ids, mask = batch(3)
    assert max_abs_diff(again(to_mx(ids), to_mx(mask)), ours(to_mx(ids), to_mx(mask))) == 0
    assert set(load_safetensors(tmp_path / "saved")) == set(load_safetensors(folder))   # the reference's names, nothing else
    weights = load_safetensors(tmp_path / "saved")
    del weights["model.transformer_encoder.1.ffn.w12.weight"]
    save_safetensors(weights, tmp_path / "saved" / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"missing 1 encoder weight\(s\): transformer_encoder\.1\.ffn\.w12\.weight"):
        load_pretrained(tmp_path / "saved")

def test_unsupported_variants_are_refused(reference, tmp_path):
    _, folder = reference["lm"]
    shutil.copytree(folder, tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, "ngpt": True}))
    with pytest.raises(ConfigError, match="ngpt=True"): load_pretrained(tmp_path / "m")

# ---- training ----

def test_training_step_reduces_the_loss_and_freezing_works(reference):
    from mlx_modernbert.loaders import TextLoader
    from mlx_modernbert.runconfig import TrainConfig
    from mlx_modernbert.trainer import Learner
    from mlx_modernbert.finetune import freeze_bottom_layers
    _, folder = reference["lm"]
    mx.random.seed(0)
    model = load_pretrained(folder, task="sequence-classification", num_labels=2, classifier_dropout=0.0)
    rng = np.random.default_rng(0)
    rows = [np.concatenate([[101], rng.integers(1000, 30000, n), [102]]).astype(np.int32) for n in rng.integers(5, 20, 8)]
    labels = np.array([0, 1] * 4)
    loader = TextLoader(rows, labels, batch_size=8, shuffle=False, prefetch=0)
    learn = Learner(model, loader, task="binary", config=TrainConfig(epochs=1, lr=1e-3, warmup_ratio=0, schedule="constant"))
    loss = lambda: learn.evaluate(loader)["val_loss"]
    before = loss()
    learn.train_epoch()
    assert learn.step == 1 and loss() < before, (before, loss())
    freeze_bottom_layers(model, 1)   # reaches NeoBERT's `encoder` through `embeddings`, its layers through `encoder_layers`
    trainable = {k for k, _ in tree_flatten(model.trainable_parameters())}
    assert not any(k.startswith(("model.encoder.", "model.transformer_encoder.0.")) for k in trainable)
    assert "model.transformer_encoder.1.qkv.weight" in trainable and "classifier.weight" in trainable

# ---- the CLI ----

@pytest.fixture(scope="module")
def cli_model(reference, tmp_path_factory):
    "The masked-LM folder (the published layout, MiniLM's BERT tokenizer) the CLI fine-tunes."
    return reference["lm"][1]

def run_cli(*args, cwd):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd)

def run_folder(stdout:str) -> Path:
    return Path(next(l for l in stdout.splitlines() if "run folder:" in l).split("run folder:")[1].strip())

@pytest.mark.slow
def test_cli_finetunes_and_predicts(cli_model, tmp_path):
    df = pd.read_csv(PENGUINS)
    df.drop(columns=["species"]).head(20).to_csv(tmp_path / "test.csv", index=False)
    r = run_cli("train", "--train", PENGUINS, "--target", "species", "--model", cli_model, "--folds", "2", "--epochs", "1",
                "--max-length", "64", "--limit-rows", "64", "--no-mlflow", "--output", tmp_path / "runs", cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run_dir = run_folder(r.stdout)
    log = (run_dir / "run.log").read_text()
    assert "newly initialised 4 weight(s) (not in the checkpoint): classifier.bias, classifier.weight, dense.bias, dense.weight" in log
    assert "dropped 2 checkpoint weight(s) this task does not use: decoder.bias, decoder.weight" in log
    assert sorted(p.name for p in run_dir.glob("fold-*")) == ["fold-0", "fold-1"]
    saved = json.loads(next(run_dir.glob("fold-0/checkpoints/final/config.json")).read_text())
    assert saved["model_type"] == "neobert" and saved["num_hidden_layers"] == 2
    r = run_cli("predict", "--test", tmp_path / "test.csv", "--checkpoint", run_dir, "--output", tmp_path / "sub.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    sub = pd.read_csv(tmp_path / "sub.csv")
    assert len(sub) == 20 and set(sub.species) <= {"Adelie", "Chinstrap", "Gentoo"}

@pytest.mark.slow
def test_cli_finetunes_with_lora(cli_model, tmp_path):
    r = run_cli("train", "--train", PENGUINS, "--target", "species", "--model", cli_model, "--lora", "--folds", "0", "--epochs", "1",
                "--max-length", "64", "--limit-rows", "48", "--no-mlflow", "--output", tmp_path / "runs", cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    log = (run_folder(r.stdout) / "run.log").read_text()
    assert "LoRA r8" in log and "trainable of" in log
    final = load_pretrained(run_folder(r.stdout) / "model" / "checkpoints" / "final", task="sequence-classification")
    assert type(final).__name__ == "NeoBertForSequenceClassification"   # adapters merged: plain NeoBERT names

@pytest.mark.slow
def test_cli_pretrains(cli_model, tmp_path):
    "`pretrain` adapts NeoBERT on a text file (20% masking, as the reference) and writes a folder `train --model` reads."
    (tmp_path / "docs.txt").write_text("\n".join(f"penguin number {i} has a bill of {30 + i % 17} mm" for i in range(48)))
    r = run_cli("pretrain", "--text", tmp_path / "docs.txt", "--model", cli_model, "--epochs", "1", "--max-length", "32",
                "--no-mlflow", "--output", tmp_path / "adapted", cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = json.loads((tmp_path / "adapted" / "pretrain.json").read_text())
    assert report["mask_prob"] == 0.2 and report["after"]["val_loss"] < report["before"]["val_loss"]
    again = load_pretrained(tmp_path / "adapted" / "model", task="masked-lm")
    assert type(again).__name__ == "NeoBertForMaskedLM"
