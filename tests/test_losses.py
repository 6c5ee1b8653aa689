"Losses against PyTorch's implementations, per row and on random inputs."
import numpy as np
import pytest
from helpers import max_abs_diff
from mlx_modernbert.backend import mx
from mlx_modernbert.heads import (cross_entropy, focal_loss, binary_cross_entropy, mse_loss, mae_loss, huber_loss, ordinal_loss)

torch = pytest.importorskip("torch")
F = torch.nn.functional
rng = np.random.default_rng(0)
LOGITS = rng.standard_normal((32, 5)).astype(np.float32) * 3
CLASSES = rng.integers(0, 5, 32)

@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_cross_entropy_label_smoothing_matches_torch(eps):
    ours = cross_entropy(mx.array(LOGITS), mx.array(CLASSES), label_smoothing=eps)
    ref = F.cross_entropy(torch.tensor(LOGITS), torch.tensor(CLASSES), label_smoothing=eps, reduction="none")
    assert max_abs_diff(ours, ref) < 1e-5

def test_label_smoothing_is_not_a_scaled_loss():
    plain = np.array(cross_entropy(mx.array(LOGITS), mx.array(CLASSES)))
    smooth = np.array(cross_entropy(mx.array(LOGITS), mx.array(CLASSES), 0.2))
    ratio = smooth / plain
    assert ratio.std() > 0.01  # a scaled loss would have a constant ratio

def test_focal_matches_reference_formula_from_torch():
    logp = F.log_softmax(torch.tensor(LOGITS), -1).gather(1, torch.tensor(CLASSES)[:, None])[:, 0]
    ref = -(1 - logp.exp()) ** 2 * logp
    assert max_abs_diff(focal_loss(mx.array(LOGITS), mx.array(CLASSES), gamma=2.0), ref) < 1e-5

def test_bce_matches_torch():
    y = rng.integers(0, 2, (32, 5)).astype(np.float32)
    ref = F.binary_cross_entropy_with_logits(torch.tensor(LOGITS), torch.tensor(y), reduction="none").mean(-1)
    assert max_abs_diff(binary_cross_entropy(mx.array(LOGITS), mx.array(y)), ref) < 1e-5

@pytest.mark.parametrize("ours,ref", [(mse_loss, lambda a, b: F.mse_loss(a, b, reduction="none")),
                                      (mae_loss, lambda a, b: F.l1_loss(a, b, reduction="none")),
                                      (huber_loss, lambda a, b: F.huber_loss(a, b, reduction="none", delta=1.0))])
def test_regression_losses_match_torch(ours, ref):
    y = rng.standard_normal((32, 5)).astype(np.float32) * 2
    assert max_abs_diff(ours(mx.array(LOGITS), mx.array(y)), ref(torch.tensor(LOGITS), torch.tensor(y)).mean(-1)) < 1e-5

def test_ordinal_is_bce_of_thresholds():
    logits = LOGITS[:, :4]
    above = (CLASSES[:, None] > np.arange(4)[None]).astype(np.float32)
    ref = F.binary_cross_entropy_with_logits(torch.tensor(logits), torch.tensor(above), reduction="none").mean(-1)
    assert max_abs_diff(ordinal_loss(mx.array(logits), mx.array(CLASSES)), ref) < 1e-5
