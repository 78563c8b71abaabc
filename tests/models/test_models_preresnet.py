import pytest
import torch
from torch.func import functional_call, jvp

from rashomon_widgets.data import synthetic_cifar
from rashomon_widgets.models import PreResNet, PreResNet20, preresnet20

# torch 2.13 scripts its forward-AD decompositions with the deprecated torch.jit.script on the first
# forward-mode call (torch's internals, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")


def test_parameter_count_is_about_270k():
    model = PreResNet20()
    assert sum(p.numel() for p in model.parameters()) == 272282
    assert sum(p.numel() for p in PreResNet20(num_classes=100).parameters()) == 272282 + 64 * 90 + 90


def test_forward_shape_on_synthetic_cifar():
    images, labels = synthetic_cifar(n=4)
    model = preresnet20(seed=0).eval()
    with torch.no_grad():
        logits = model(images)
    assert logits.shape == (4, 10) and torch.isfinite(logits).all()


def test_structure_three_stages_of_three_blocks():
    model = PreResNet20()
    assert [len(s) for s in (model.layer1, model.layer2, model.layer3)] == [3, 3, 3]
    assert model.layer2[0].downsample is not None and model.layer1[0].downsample is None
    assert model.bn.num_features == 64
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) == 19  # 1 stem + 18 in blocks; with the classifier: depth 20


def test_seed_and_functional_forward_mode():
    a, b = preresnet20(seed=1), preresnet20(seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    model = a.double().eval()
    images, _ = synthetic_cifar(n=2, seed=1, dtype=torch.float64)
    params = {k: v.detach() for k, v in model.named_parameters()}
    g = torch.Generator().manual_seed(0)
    tangents = {k: torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in params.items()}
    out, dout = jvp(lambda p: functional_call(model, p, (images,)), (params,), (tangents,))
    assert out.shape == dout.shape == (2, 10)
    # forward mode agrees with reverse mode: <u, J v> == <J^T u, v> (ReLU kinks rule out finite differences)
    u = torch.randn(out.shape, generator=g, dtype=out.dtype)
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    grads = torch.autograd.grad((functional_call(model, p, (images,)) * u).sum(), list(p.values()))
    reverse = sum(float((gr * tangents[k]).sum()) for gr, k in zip(grads, p))
    assert float((u * dout).sum()) == pytest.approx(reverse, rel=1e-10)


def test_bad_input_and_depth():
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 3, 32, 32\), got \(2, 1, 28, 28\)"):
        PreResNet20().eval()(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="depth: expected 6 n \\+ 2"):
        PreResNet(depth=21)
    with pytest.raises(ValueError, match="num_classes"):
        preresnet20(num_classes=0)
