"Packed rows (block-diagonal attention, per-row rotary positions, per-row pooling) give what padded rows give."
import numpy as np
import pytest
from mlx.utils import tree_flatten
from mlx_modernbert.backend import mx, nn
from mlx_modernbert.config import modernbert_tiny
from mlx_modernbert.hub import init_weights
from mlx_modernbert.heads import task_loss
from mlx_modernbert.loaders import packed_batch
from mlx_modernbert.modernbert import ModernBertForSequenceClassification

LENGTHS = [23, 5, 17, 9, 30, 2, 12]   # rows longer than the window (8) so local layers' masks matter inside a row

def tiny(pooling:str):
    mx.random.seed(3)
    net = init_weights(ModernBertForSequenceClassification(modernbert_tiny(num_labels=3, local_attention=8, vocab_size=300,
                                                                          classifier_pooling=pooling)))
    net.eval(); return net

def batches():
    rng = np.random.default_rng(0)
    rows = [rng.integers(5, 300, n).astype(np.int32) for n in LENGTHS]
    longest = max(LENGTHS)
    padded = np.zeros((len(rows), longest), np.int32); mask = np.zeros_like(padded)
    for i, r in enumerate(rows): padded[i, :len(r)] = r; mask[i, :len(r)] = 1
    ids, seg = packed_batch(rows, capacity=40, sequence_multiple=2)
    assert ids.shape[0] < len(rows)   # really packed: several rows share a sequence
    return (mx.array(padded), mx.array(mask)), (mx.array(ids), mx.array(seg)), mx.array(rng.integers(0, 3, len(rows)))

@pytest.mark.parametrize("pooling", ["cls", "mean"])   # ModernBERT configs allow these two
def test_packed_logits_equal_padded(pooling):
    net = tiny(pooling)
    (padded, mask), (ids, seg), _ = batches()
    np.testing.assert_allclose(np.array(net(ids, segment_ids=seg, num_rows=len(LENGTHS))), np.array(net(padded, mask)), atol=2e-5)

def test_packed_loss_and_gradients_equal_padded():
    net = tiny("mean")
    (padded, mask), (ids, seg), y = batches()
    loss = task_loss("multiclass")
    grad = nn.value_and_grad(net, lambda m, f: loss(f(m), y).sum())
    l_pad, g_pad = grad(net, lambda m: m(padded, mask))
    l_pack, g_pack = grad(net, lambda m: m(ids, segment_ids=seg, num_rows=len(LENGTHS)))
    np.testing.assert_allclose(l_pack.item(), l_pad.item(), rtol=1e-5)
    pad, pack = dict(tree_flatten(g_pad)), dict(tree_flatten(g_pack))
    for name in pad: np.testing.assert_allclose(np.array(pack[name]), np.array(pad[name]), atol=1e-5, err_msg=name)

def test_packing_changes_results_without_segments():
    "The check can fail: the same packed ids read as one row each (no segments) give other logits."
    net = tiny("cls")
    (padded, mask), (ids, seg), _ = batches()
    first = np.array(net(ids, mx.ones_like(ids)))[0]
    row = int(np.array(seg)[0, 0]) - 1
    assert not np.allclose(first, np.array(net(padded, mask))[row], atol=1e-3)
