import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, jvp

from rashomon_widgets.models import cross_entropy, mse_loss, sum_of_squares

# torch 2.13 scripts its forward-AD decompositions with the deprecated torch.jit.script on the first
# forward-mode call (torch's internals, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")


def test_mse_and_sum_of_squares_values():
    out = torch.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=torch.float64)
    y = torch.tensor([[0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    assert float(sum_of_squares(out, y)) == pytest.approx(1 + 0 + 4 + 4)
    assert float(mse_loss(out, y)) == pytest.approx(9 / 4)
    assert float(mse_loss(out, y)) == pytest.approx(float(F.mse_loss(out, y)))


@pytest.mark.parametrize("loss", [mse_loss, sum_of_squares])
def test_shape_mismatch_is_rejected(loss):
    with pytest.raises(ValueError, match=r"same shape.*\(4, 1\) and \(4,\)"):
        loss(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(TypeError, match="tensor"):
        loss(torch.zeros(4), [0.0] * 4)


def test_cross_entropy_matches_torch_and_checks_targets():
    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(6, 4, generator=g), torch.randint(4, (6,), generator=g)
    assert torch.allclose(cross_entropy(logits, y), F.cross_entropy(logits, y))
    with pytest.raises(TypeError, match="integer class-index targets"):
        cross_entropy(logits, y.float())
    with pytest.raises(ValueError, match=r"logits \(N, C\) and targets \(N,\)"):
        cross_entropy(logits, y[:3])


@pytest.mark.parametrize("loss", [mse_loss, sum_of_squares, cross_entropy])
def test_forward_over_reverse_hvp_matches_double_backward(loss):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4)).double()
    X = torch.randn(7, 3, dtype=torch.float64)
    y = torch.randint(4, (7,)) if loss is cross_entropy else torch.randn(7, 4, dtype=torch.float64)
    params = {k: v.detach() for k, v in model.named_parameters()}
    v = {k: torch.randn_like(t) for k, t in params.items()}

    def f(p):
        return loss(functional_call(model, p, (X,)), y)

    _, hv = jvp(grad(f), (params,), (v,))
    # reference: double backward
    p = {k: t.clone().requires_grad_(True) for k, t in params.items()}
    g = torch.autograd.grad(f(p), list(p.values()), create_graph=True)
    ref = torch.autograd.grad(sum((gi * vi).sum() for gi, vi in zip(g, v.values())), list(p.values()))
    for name, r in zip(params, ref):
        assert torch.allclose(hv[name], r, atol=1e-12)
