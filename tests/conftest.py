"""Shared small cases, each with an exact dense float64 reference computed a second way."""
from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

import rashomon_widgets as rw


def mse(out, t):
    return ((out - t) ** 2).mean()


def sos(out, t):
    return ((out - t) ** 2).sum()


def ce(out, t):
    return torch.nn.functional.cross_entropy(out, t)


def _case(name, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    if name == "linear":
        model = torch.nn.Linear(3, 2)
        x = torch.randn(10, 3, generator=g)
        return model.to(dtype), mse, (x.to(dtype), torch.randn(10, 2, generator=g).to(dtype)), "mean"
    if name == "tanh_mlp":
        model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
        x = torch.randn(12, 3, generator=g)
        return model.to(dtype), sos, (x.to(dtype), torch.randn(12, 2, generator=g).to(dtype)), "sum"
    if name == "ce_mlp":
        model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
        x = torch.randn(15, 4, generator=g)
        return model.to(dtype), ce, (x.to(dtype), torch.randint(0, 3, (15,), generator=g)), "mean"
    if name == "bn_mlp":
        model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.Tanh(),
                                    torch.nn.Dropout(0.5), torch.nn.Linear(6, 2))
        model.train()
        with torch.no_grad():  # give BatchNorm non-trivial running statistics
            model(torch.randn(32, 4, generator=g) * 2 + 1)
        x = torch.randn(9, 4, generator=g)
        return model.to(dtype), mse, (x.to(dtype), torch.randn(9, 2, generator=g).to(dtype)), "mean"
    raise KeyError(name)


CASES = ["linear", "tanh_mlp", "ce_mlp", "bn_mlp"]


@pytest.fixture(params=CASES)
def case(request):
    """(model, loss_fn, (inputs, targets), reduction) for each small case, float64."""
    return _case(request.param)


def make_case(name, seed=0, dtype=torch.float64):
    return _case(name, seed, dtype)


class Stop(Exception):
    """What :func:`stopping_progress` raises: an explorer's "a newer slider value arrived"."""


def stopping_progress(at: int):
    """A ``progress(done, total)`` callback that records its calls and raises :class:`Stop` at ``done == at``.

    Returns ``(progress, calls)``; ``calls`` is the list of ``(done, total)`` it saw.
    """
    calls = []

    def progress(done, total):
        calls.append((done, total))
        if done == at:
            raise Stop(f"stopped at {done} of {total}")

    return progress, calls


def reference_loss_fn(model, loss_fn, data):
    """theta -> loss, written independently of the package (eval mode, functional_call)."""
    import copy
    m = copy.deepcopy(model).eval()
    names = [n for n, _ in m.named_parameters()]
    shapes = [p.shape for _, p in m.named_parameters()]
    sizes = [p.numel() for _, p in m.named_parameters()]
    x, y = data

    def f(theta):
        parts = dict(zip(names, (c.view(s) for c, s in zip(torch.split(theta, sizes), shapes))))
        return loss_fn(functional_call(m, parts, (x,)), y)
    theta = torch.cat([p.detach().reshape(-1) for p in m.parameters()])
    return f, theta


def reference_hessian(model, loss_fn, data):
    """The dense Hessian by torch.autograd.functional.hessian: a second method."""
    f, theta = reference_loss_fn(model, loss_fn, data)
    return torch.autograd.functional.hessian(f, theta)


@pytest.fixture(scope="session")
def xor_min():
    """A float64 XOR net (2-2-1, 9 parameters) at a global minimum of the sum-of-squares loss."""
    model = rw.models.xor_minimum(width=2, seed=0)
    x, y = rw.data.xor()
    return rw.Landscape(model, rw.models.sum_of_squares, (x, y), reduction="sum")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from a second thread, and on a shared 2-core machine an oversubscribed
    OpenMP pool makes them several times slower; restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
