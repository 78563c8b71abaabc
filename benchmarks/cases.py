"""The benchmark's cases: a model, its loss (one ``nn.Module`` every library gets) and its data, with the
settings of its timings; the builders of the XOR, digits-MLP and PreResNet20 cases and of the spectral-estimate
study's two small MLPs."""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

import rashomon_widgets as rw

#: references and trained weights, keyed by a fingerprint of what they were computed from (gitignored)
CACHE = Path(__file__).resolve().parent / ".cache"
#: how many of the largest eigenvalues the eigenvalue rows compute and compare
TOP_K = 5


class LossModule(nn.Module):
    """A loss function as an ``nn.Module`` with the ``reduction`` attribute curvlinops reads; every
    library gets the same one. (The package's losses spell squares out: ``nn.MSELoss`` fails under
    ``torch.func.jvp(grad(...))`` on torch 2.13, which curvlinops uses)."""

    def __init__(self, fn, reduction: str):
        super().__init__()
        self.fn, self.reduction = fn, reduction

    def forward(self, outputs, targets):
        return self.fn(outputs, targets)


@dataclass
class Case:
    """One model, its loss (an ``nn.Module`` with ``reduction``: every library gets the same one) and data."""

    key: str
    title: str
    model: nn.Module
    loss: nn.Module
    X: torch.Tensor
    y: torch.Tensor
    repeats: int
    warmup: int
    grids: tuple[int, ...]
    grid_repeats: int
    density_steps: int
    trace_products: int

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for t in [*self.model.state_dict().values(), self.X, self.y]:
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        h.update(torch.__version__.encode())
        return h.hexdigest()[:16]

    def to(self, device: torch.device) -> "Case":
        """The same case with its model and data on ``device`` (built and trained on the CPU first)."""
        self.model.to(device)
        self.X, self.y = self.X.to(device), self.y.to(device)
        return self

    def landscape(self) -> rw.Landscape:
        return rw.Landscape(self.model, self.loss, (self.X, self.y), reduction=self.loss.reduction)

    def peer_model(self) -> nn.Module:
        """A private copy for a peer library (PyHessian writes ``.grad``; loss-landscapes moves weights)."""
        return copy.deepcopy(self.model).eval()


def build_xor(quick: bool) -> Case:
    model = rw.models.xor_minimum(seed=0)  # sigmoid 2-2-1, float64, sum of squares < 1e-10
    X, y = rw.data.xor(torch.float64)
    return Case("xor", "XOR 2-2-1 (`models.xor_minimum()`: sigmoid, sum of squares, float64, at a global "
                "minimum)", model, LossModule(rw.models.sum_of_squares, "sum"), X, y,
                repeats=3 if quick else 7, warmup=1, grids=(21, 41), grid_repeats=3 if quick else 7,
                density_steps=9, trace_products=18)


def build_mlp(quick: bool) -> Case:
    split = rw.data.digits(seed=0)
    X, y = torch.cat([split.train[0], split.test[0]]), torch.cat([split.train[1], split.test[1]])
    model = rw.models.digits_mlp(seed=0)  # 64-128-128-10, tanh, float32
    rw.models.train(model, rw.models.cross_entropy, (X, y), epochs=5, batch_size=64, lr=3e-3, seed=0)
    return Case("mlp", "Digits MLP 64-128-128-10 (`models.digits_mlp()`: tanh, cross-entropy, float32, all "
                "1797 digits, 5 Adam epochs)", model, LossModule(rw.models.cross_entropy, "mean"), X, y,
                repeats=2 if quick else 5, warmup=1, grids=(21, 41), grid_repeats=1 if quick else 3,
                density_steps=100, trace_products=40)


def build_resnet(quick: bool) -> Case:
    X, y = rw.data.synthetic_cifar(64, seed=0)
    model = rw.models.preresnet20(seed=0)
    # a few full-batch steps, so that BatchNorm's running statistics are not the defaults
    rw.models.train(model, rw.models.cross_entropy, (X, y), epochs=10, lr=1e-3, seed=0)
    return Case("resnet", "PreResNet20 (`models.preresnet20()`: cross-entropy, float32, eval mode, "
                "`data.synthetic_cifar(64)`, 10 Adam steps)", model, LossModule(rw.models.cross_entropy, "mean"),
                X, y, repeats=1, warmup=0, grids=(11,) if quick else (21,), grid_repeats=1,
                density_steps=20 if quick else 30, trace_products=40)


#: the cases of ``--only`` that get the full comparison (eigs, trace, density, grids, floor)
BUILDERS = {"xor": build_xor, "mlp": build_mlp, "resnet": build_resnet}


def build_small_mlps() -> list[Case]:
    """Notebook 01's ``RASHOMON_SMALL`` model: ``digits_mlp((32,))`` (64-32-10 tanh, 2,410 parameters, float32,
    cross-entropy on the 1,437 training digits), trained for 80 full-batch Adam epochs; and the same network
    at its initialisation, away from any minimum (a Hessian with many negative eigenvalues)."""
    split = rw.data.digits()
    (X, y), out = split.train, []
    for key, epochs in (("mlp2k", 80), ("mlp2k-init", 0)):
        model = rw.models.digits_mlp((32,), seed=0)
        if epochs:
            rw.models.train(model, rw.models.cross_entropy, (X, y), epochs=epochs, lr=1e-2, seed=0)
        title = "trained (80 Adam epochs)" if epochs else "at initialisation"
        out.append(Case(key, f"digits MLP 64-32-10, {title}", model.eval(), LossModule(rw.models.cross_entropy, "mean"),
                        X, y, repeats=1, warmup=0, grids=(), grid_repeats=1, density_steps=80, trace_products=40))
    return out
