"""The core on a CUDA device against the same calls on the CPU (skipped where torch sees no GPU: CI never
has one; run it wherever one is lent: ``python -m pytest tests/core/test_cuda.py``)."""
import copy

import pytest
import torch

import rashomon_widgets as rw

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (torch.cuda.is_available())")


def _pair(dtype):
    """The same 5-16-3 tanh MLP and data as a CPU and a CUDA landscape (P = 147)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).to(dtype)
    x = torch.randn(64, 5, dtype=dtype)
    y = torch.randint(0, 3, (64,))
    rw.models.train(model, rw.models.cross_entropy, (x, y), epochs=30, lr=1e-2, seed=0)
    cpu = rw.Landscape(model, rw.models.cross_entropy, (x, y))
    gpu = rw.Landscape(copy.deepcopy(model).cuda(), rw.models.cross_entropy, (x.cuda(), y.cuda()))
    return cpu, gpu


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-9), (torch.float32, 2e-4)])
def test_products_spectra_and_losses_match_the_cpu(dtype, rtol):
    cpu, gpu = _pair(dtype)
    assert gpu.device.type == "cuda" and gpu.theta.device.type == "cuda"
    v = torch.randn(cpu.num_params, generator=torch.Generator().manual_seed(1), dtype=dtype)
    torch.testing.assert_close(gpu.hvp(v.cuda()).cpu(), cpu.hvp(v), rtol=rtol,
                               atol=rtol * float(cpu.hvp(v).abs().max()))

    values, vectors = gpu.eigs(3, method="lanczos")
    assert values.device.type == "cuda" and vectors.device.type == "cuda"
    torch.testing.assert_close(values.cpu(), cpu.eigs(3, method="dense")[0], rtol=max(rtol, 1e-6), atol=0)
    near = gpu.theta + 1e-3 * vectors[:, 0]
    warm, _ = gpu.eigs(3, theta=near, method="lanczos", start=vectors)
    torch.testing.assert_close(warm.cpu(), cpu.eigs(3, theta=near.cpu(), method="dense")[0],
                               rtol=max(rtol, 1e-6), atol=0)

    assert gpu.trace(method="exact") == pytest.approx(cpu.trace(method="exact"), rel=max(rtol, 1e-6))
    est = rw.core.spectrum_at(gpu, gpu.theta, exact=False, slq_vectors=2, slq_steps=10, top_k=2)
    torch.testing.assert_close(torch.as_tensor(est.top_values), cpu.eigs(2, method="dense")[0].double(),
                               rtol=max(rtol, 1e-6), atol=0)

    plane = rw.Plane.random(cpu, seed=0)
    thetas = plane.points(*plane.grid(1.0, 5))
    expected = cpu.losses(thetas, strategy="loop")
    for strategy in ("vmap", "loop"):
        torch.testing.assert_close(gpu.losses(thetas.cuda(), strategy=strategy).cpu(), expected, rtol=rtol, atol=rtol)
    assert gpu.losses_strategy == "vmap"  # the fixed rule: vmap on a GPU


def test_surface_and_tangent_projection_match_the_cpu():
    cpu, gpu = _pair(torch.float64)
    plane = rw.Plane.random(cpu, seed=0)
    assert rw.Plane.random(gpu, seed=0).d1.device.type == "cuda"
    gplane = rw.Plane(plane.origin.cuda(), plane.d1.cuda(), plane.d2.cuda())  # the same plane on the device
    s_cpu, s_gpu = cpu.surface(plane, span=0.5, resolution=7), gpu.surface(gplane, span=0.5, resolution=7)
    torch.testing.assert_close(torch.as_tensor(s_gpu.loss), torch.as_tensor(s_cpu.loss), rtol=1e-9, atol=1e-12)
    v = torch.randn(cpu.num_params, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    torch.testing.assert_close(gpu.project_tangent(v.cuda()).cpu(), cpu.project_tangent(v), rtol=1e-7, atol=1e-9)
