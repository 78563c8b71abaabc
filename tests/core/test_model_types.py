"""Model types that used to get a wrong answer or a raw torch error: recurrent nets, attention, LayerNorm.

Every value is checked against an independent dense float64 reference
(``torch.autograd.functional.hessian`` on a closure of the flat parameters, or finite differences).
"""
from __future__ import annotations

import warnings

import pytest
import torch
from torch.func import functional_call
from torch.nn.attention import SDPBackend, sdpa_kernel

import rashomon_widgets as rw
from rashomon_widgets.core.curvature import hvp as hvp_module


def mse(out, target):
    return ((out - target) ** 2).mean()


def _dense_hessian(model, loss_fn, x, y):
    """Reference Hessian by torch.autograd.functional.hessian, under the math attention kernel."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    shapes, numels = [p.shape for _, p in named], [p.numel() for _, p in named]
    theta = torch.cat([p.detach().reshape(-1) for _, p in named])
    model = model.eval()

    def loss_of(t):
        params = {n: c.view(s) for (n, _), c, s in zip(named, torch.split(t, numels), shapes)}
        return loss_fn(functional_call(model, params, (x,)), y)

    with sdpa_kernel(SDPBackend.MATH):
        return torch.autograd.functional.hessian(loss_of, theta)


class Recurrent(torch.nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(3, 4, batch_first=True)
        self.head = torch.nn.Linear(4, 1)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = torch.nn.TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=4, dropout=0.0,
                                                    batch_first=True)
        self.head = torch.nn.Linear(4, 1)

    def forward(self, x):
        return self.head(self.enc(x).mean(1))


@pytest.mark.parametrize("cell", [torch.nn.LSTM, torch.nn.GRU])
def test_recurrent_surfaces_fall_back_to_the_loop(cell):
    torch.manual_seed(0)
    model = Recurrent(cell).double()
    x, y = torch.randn(7, 5, 3, dtype=torch.float64), torch.randn(7, 1, dtype=torch.float64)
    ls = rw.Landscape(model, mse, (x, y))
    plane = rw.Plane.random(ls, seed=0)
    surface = ls.surface(plane, span=0.5, resolution=5)  # default strategy="auto"
    point = plane.point(surface.xs[1], surface.ys[3])
    assert surface.loss[3, 1] == pytest.approx(ls.loss(point), rel=1e-12)
    with pytest.raises(ValueError, match="vmap cannot batch this model.*strategy='loop'"):
        ls.losses(torch.stack([ls.theta, ls.theta]), strategy="vmap")
    torch.testing.assert_close(ls.hessian(), _dense_hessian(model, mse, x, y), rtol=1e-9, atol=1e-11)


def test_attention_second_order_works_without_a_context_manager():
    torch.manual_seed(0)
    model = Attention().double()
    x, y = torch.randn(5, 3, 4, dtype=torch.float64), torch.randn(5, 1, dtype=torch.float64)
    ls = rw.Landscape(model, mse, (x, y), small_limit=10)  # exercise the matrix-free paths too
    ref = _dense_hessian(model, mse, x, y)
    v = torch.randn(ls.num_params, dtype=torch.float64)
    torch.testing.assert_close(ls.hvp(v), ref @ v, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(ls.hessian(), ref, rtol=1e-9, atol=1e-11)
    values, _ = ls.eigs(3, method="lanczos")
    torch.testing.assert_close(values, torch.linalg.eigvalsh(ref).flip(0)[:3], rtol=1e-7, atol=1e-9)
    assert ls.trace(method="exact") == pytest.approx(float(ref.trace()), rel=1e-9)
    # the process-wide attention flags are restored afterwards
    assert torch.backends.cuda.flash_sdp_enabled() and torch.backends.cuda.mem_efficient_sdp_enabled()


def test_layernorm_hvp_matches_finite_differences():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.Tanh(),
                                torch.nn.Linear(4, 1)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x, y = torch.randn(10, 3, dtype=torch.float64), torch.randn(10, 1, dtype=torch.float64)
    ls = rw.Landscape(model, mse, (x, y))
    v = torch.randn(ls.num_params, dtype=torch.float64)
    eps = 1e-5
    fd = (ls.grad(ls.theta + eps * v) - ls.grad(ls.theta - eps * v)) / (2 * eps)
    for form in ("auto", "double_backward", "forward_over_reverse"):
        torch.testing.assert_close(ls.hvp(v, form=form), fd, rtol=1e-6, atol=1e-8)


def test_disagreeing_hvp_forms_fall_back_to_double_backward_with_a_warning(monkeypatch):
    """torch's forward-mode rules have been wrong for some layers (LayerNorm weights under torch 2.13 on
    another machine); a forward-over-reverse that is off must never be chosen, however fast."""
    right = hvp_module.hvp_forward_over_reverse

    def off_by_a_bit(f, theta, v):
        return right(f, theta, v) * 1.01

    monkeypatch.setitem(hvp_module.HVP_FUNCTIONS, "forward_over_reverse", off_by_a_bit)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 1)).double()
    x, y = torch.randn(10, 3, dtype=torch.float64), torch.randn(10, 1, dtype=torch.float64)
    with pytest.warns(hvp_module.HVPFormWarning, match="disagree.*using double backward"):
        ls = rw.Landscape(model, mse, (x, y))   # the forms are compared where the model is wrapped
    v = torch.randn(ls.num_params, dtype=torch.float64)
    hv = ls.hvp(v)
    assert ls.hvp_form() == "double_backward"
    eps = 1e-5
    fd = (ls.grad(ls.theta + eps * v) - ls.grad(ls.theta - eps * v)) / (2 * eps)
    torch.testing.assert_close(hv, fd, rtol=1e-6, atol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per landscape, not per call
        ls.hvp(v)


def test_a_loss_that_cannot_be_differentiated_twice_quotes_both_errors():
    class FirstOrderOnly(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return z.abs()

        @staticmethod
        def backward(ctx, g):
            (z,) = ctx.saved_tensors
            return g * torch.sign(z).detach()  # no graph: second derivatives impossible

    def loss(out, target):
        return FirstOrderOnly.apply(out - target).sum() + 0.0 * (out ** 2).sum()

    model = torch.nn.Linear(2, 1).double()
    ls = rw.Landscape(model, loss, (torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 1, dtype=torch.float64)))
    v = torch.ones(ls.num_params, dtype=torch.float64)
    hv = ls.hvp(v)  # the sign's derivative is zero almost everywhere: double backward gives the true H v = 0
    torch.testing.assert_close(hv, torch.zeros_like(hv))


def test_frozen_layers_are_constants_and_the_model_is_untouched():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    model[0].weight.requires_grad_(False)
    before = {n: p.detach().clone() for n, p in model.state_dict().items()}
    x, y = torch.randn(9, 3, dtype=torch.float64), torch.randn(9, 1, dtype=torch.float64)
    ls = rw.Landscape(model, mse, (x, y))
    assert ls.num_params == 4 + 4 + 1
    torch.testing.assert_close(ls.hessian(), _dense_hessian(model, mse, x, y), rtol=1e-10, atol=1e-12)
    for n, p in model.state_dict().items():
        assert torch.equal(p, before[n])
    assert model[0].weight.requires_grad is False
