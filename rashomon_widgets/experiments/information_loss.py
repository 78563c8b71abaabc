"""Write-up 4's small constructions (information loss and basin flatness, notebook 04), shared by the tutorial
and its tests.

- :func:`contour_landscape`: the 3-parameter model on two inputs, contours at any angle.
- :func:`soft_target_classifier`: a classifier at a perfect-behaviour global minimum of cross-entropy.
- :func:`merged_inputs_landscape`, :func:`merged_later_landscape`: ReLU and tanh nets where ``num_merged``
  inputs coincide after the first (or the second) hidden layer.
- :func:`cosine_landscape`, :func:`non_global_minimum`: a sum of cosines with local minima that are not
  global, and a search for one (write-up 4's "only at global minima").

torch and numpy only; the other models sit at a perfect-behaviour global minimum by construction (their
targets are their own outputs), so write-up 4's identities hold there exactly.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..core import Landscape
from ..core.validation import check_int, check_seed


class _TanhOfLinear(nn.Module):
    """``f(theta, x) = tanh(theta . x)``: three parameters, contours are planes with normal x."""

    def __init__(self, theta):
        super().__init__()
        self.weight = nn.Parameter(torch.as_tensor(theta, dtype=torch.float64).reshape(3).clone())

    def forward(self, x):
        return torch.tanh(x @ self.weight).unsqueeze(-1)


def contour_inputs(angle_deg: float) -> torch.Tensor:
    """Two unit inputs in R^3 at an angle to each other, in the first two coordinates.

    Args:
        angle_deg: the angle in degrees.

    Returns:
        (2, 3) float64 tensor.
    """
    a = math.radians(float(angle_deg))
    return torch.tensor([[1.0, 0.0, 0.0], [math.cos(a), math.sin(a), 0.0]], dtype=torch.float64)


def contour_landscape(angle_deg: float, theta=(0.3, -0.2, 0.5)) -> Landscape:
    """Write-up 4a's 3-parameter model ``tanh(theta . x)`` on two inputs at ``angle_deg``.

    The contours of output i are the planes ``theta . x_i = const`` (normal ``x_i``): perpendicular at
    90 degrees, parallel at 0. The targets are the model's own outputs, so ``theta`` is a global minimum
    of the sum of squares and the behaviour manifold through it is its Rashomon set.

    Args:
        angle_deg: the angle between the two inputs, in degrees.
        theta: the three parameters.

    Returns:
        a :class:`Landscape` (sum of squares, ``reduction="sum"``).
    """
    model = _TanhOfLinear(theta)
    x = contour_inputs(angle_deg)
    with torch.no_grad():
        y = model(x)
    return Landscape(model, _sum_of_squares, (x, y), reduction="sum")


def _sum_of_squares(out, targets):
    return ((out - targets) ** 2).sum()


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against probability targets, summed over samples: ``-sum q log softmax(z)``.

    Args:
        logits: (N, C) raw scores ``z``.
        targets: (N, C) probabilities ``q``.

    Returns:
        a scalar tensor.
    """
    return -(targets * logits.log_softmax(-1)).sum()


def soft_target_classifier(seed: int = 0, *, num_inputs: int = 6, num_classes: int = 3, hidden: int = 6):
    """A tanh MLP classifier at a perfect-behaviour global minimum of cross-entropy (write-up 4c).

    Its targets are its own probabilities ``q = softmax(f(x))``, so the gradient of the loss in the
    logits, ``p - q``, is exactly zero and the Hessian is the Gauss-Newton matrix
    ``J^T (diag p - p p^T) J``.

    Args:
        seed: seed of the weights and inputs.
        num_inputs: samples.
        num_classes: outputs.
        hidden: tanh units of the hidden layer.

    Returns:
        ``(model, soft_cross_entropy, (x, q))``: build ``rw.Landscape(model, loss_fn, data,
        reduction="sum")`` with raw logits as behaviour, or add ``behaviour=lambda z: z.softmax(-1)``
        for probabilities.
    """
    g = torch.Generator().manual_seed(int(seed))
    model = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, num_classes)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
        x = torch.randn(num_inputs, 2, generator=g, dtype=torch.float64)
        q = model(x).softmax(-1)
    return model, soft_cross_entropy, (x, q)


def merged_inputs_landscape(num_merged: int, *, num_inputs: int = 8, seed: int = 0) -> Landscape:
    """A 4-6-8-1 net (ReLU, then tanh; 95 parameters) on ``num_inputs`` inputs, ``num_merged`` of them
    merged at the first layer (write-up 4d).

    The first layer is built so that every unit is off (pre-activation < 0) for ``x_1 < -0.8`` and on
    for ``x_1 > 0.8`` (other coordinates in [-1, 1]): the merged inputs (``x_1`` in [-3, -1]) all have
    the activation 0 after it, so they have identical outputs, identical gradients for every later
    parameter, and zero gradients for the first layer's (the ReLU destroyed the information that told
    them apart). The others (``x_1`` in [1, 3]) keep distinct activations. The targets are the net's
    own outputs (a perfect-behaviour global minimum of the sum of squares).

    Args:
        num_merged: how many of the inputs are merged, 0 to ``num_inputs``.
        num_inputs: samples.
        seed: seed of the weights and inputs.

    Returns:
        a :class:`Landscape` (sum of squares, ``reduction="sum"``).
    """
    check_int(num_inputs, "num_inputs", 1, 10**6)
    check_int(num_merged, "num_merged", 0, num_inputs)
    g = torch.Generator().manual_seed(check_seed(seed))

    def uniform(lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=torch.float64)

    d, (h1, h2) = 4, (6, 8)
    model = nn.Sequential(nn.Linear(d, h1), nn.ReLU(), nn.Linear(h1, h2), nn.Tanh(), nn.Linear(h2, 1)).double()
    with torch.no_grad():
        w = uniform(-0.2, 0.2, h1, d)
        w[:, 0] = uniform(1, 2, h1)
        model[0].weight.copy_(w)
        model[0].bias.copy_(uniform(-0.2, 0.2, h1))
        for layer, std in ((model[2], 0.5), (model[4], 1.0)):   # 0.5: keep the tanh layer unsaturated
            layer.weight.copy_(std * torch.randn(layer.weight.shape, generator=g, dtype=torch.float64))
            layer.bias.copy_(std * torch.randn(layer.bias.shape, generator=g, dtype=torch.float64))
        active = uniform(-1, 1, num_inputs - num_merged, d)
        active[:, 0] = uniform(1, 3, num_inputs - num_merged)
        merged = uniform(-1, 1, num_merged, d)
        merged[:, 0] = uniform(-3, -1, num_merged)
        x = torch.cat([active, merged])
        y = model(x)
    return Landscape(model, _sum_of_squares, (x, y), reduction="sum")


class CosineSum(nn.Module):
    """``f(theta, x) = sum_j cos(theta_j x)``: one parameter per term, a sum of squares with many local minima.

    Args:
        theta: the starting parameters, one per cosine term (float64).
    """

    def __init__(self, theta):
        super().__init__()
        self.theta = nn.Parameter(torch.as_tensor(theta, dtype=torch.float64).reshape(-1).clone())

    def forward(self, x):
        """The model's outputs.

        Args:
            x: (k, 1) input points.

        Returns:
            (k, 1): ``sum_j cos(theta_j x_i)`` for each point.
        """
        return torch.cos(x * self.theta).sum(-1, keepdim=True)


def cosine_landscape(theta, *, x=(1.0, 2.0, 3.0), theta_star=(1.0, 0.5, 0.3)) -> Landscape:
    """A :class:`CosineSum` model on the points ``x``, fitted (sum of squares) to the outputs of ``theta_star``.

    ``theta_star`` is a global minimum (loss 0); the loss has other local minima with a positive loss, where
    the residuals do not vanish (write-up 4's "only at global minima"). With as many parameters as points,
    such a minimum shows rank H != rank G (see :func:`non_global_minimum`).

    Args:
        theta: the start parameters (their number is the number of terms).
        x: the input points (one number each).
        theta_star: the parameters whose outputs are the targets (as many as ``theta``).

    Returns:
        a :class:`Landscape` (sum of squares, ``reduction="sum"``).

    Raises:
        ValueError: ``theta_star`` with another number of parameters than ``theta``.
    """
    theta = torch.as_tensor(theta, dtype=torch.float64).reshape(-1)
    star = torch.as_tensor(theta_star, dtype=torch.float64).reshape(-1)
    if star.numel() != theta.numel():
        raise ValueError(f"theta_star: expected {theta.numel()} parameters like theta, got {star.numel()}")
    xs = torch.as_tensor(x, dtype=torch.float64).reshape(-1, 1)
    with torch.no_grad():
        y = CosineSum(star)(xs)
    return Landscape(CosineSum(theta), _sum_of_squares, (xs, y), reduction="sum")


def non_global_minimum(ls: Landscape, *, starts: int = 50, scale: float = 3.0, seed: int = 0,
                       min_loss: float = 1e-3, steps: int = 200):
    """A strict local minimum of a small landscape that is not global, found by damped Newton from random starts.

    Each start (uniform in ``[-scale, scale]^N``) is descended with Levenberg-Marquardt steps on the exact
    Hessian; the first end point with gradient norm below 1e-10, loss above ``min_loss`` and a Hessian whose
    smallest eigenvalue exceeds 1e-6 of its largest is returned.

    Args:
        ls: a :class:`Landscape` small enough for its dense Hessian.
        starts: random starts tried at most.
        scale: half-width of the box of starts.
        seed: seed of the starts.
        min_loss: the least loss of a minimum that counts as not global.
        steps: Newton steps per start.

    Returns:
        (N,) float64 tensor: the minimum, or ``None`` when no start ends at one.
    """
    check_int(starts, "starts", 1, 10**6)
    check_int(steps, "steps", 1, 10**6)
    g = torch.Generator().manual_seed(check_seed(seed))
    eye = torch.eye(ls.num_params, dtype=ls.dtype, device=ls.device)
    for _ in range(starts):
        theta = (2 * torch.rand(ls.num_params, generator=g, dtype=ls.dtype) - 1).to(ls.device) * float(scale)
        loss, damping = ls.loss(theta), 1.0
        for _ in range(steps):
            step = torch.linalg.solve(ls.hessian(theta) + damping * eye, ls.grad(theta))
            trial = theta - step
            trial_loss = ls.loss(trial)
            if trial_loss <= loss:
                theta, loss, damping = trial, trial_loss, max(damping / 3, 1e-12)
            else:
                damping *= 4
        values = torch.linalg.eigvalsh(ls.hessian(theta))
        if (loss > min_loss and float(ls.grad(theta).norm()) < 1e-10
                and float(values.min()) > 1e-6 * float(values.abs().max())):
            return theta
    return None


#: Widths of :func:`merged_later_landscape`'s net: inputs, first and second hidden layer.
LATER_WIDTHS = (4, 16, 8)


def merged_later_landscape(num_merged: int, *, num_inputs: int = 8, seed: int = 0) -> Landscape:
    """A 4-16-8-1 tanh net (225 parameters) on ``num_inputs`` inputs, ``num_merged`` of them merged at
    the **second** hidden layer, with no dead unit anywhere (write-up 4d, the comments' harder case).

    The inputs are distinct and so are their first-layer activations ``a_1(x_i)`` (tanh is one-to-one).
    The second layer's weights are chosen so that the differences ``a_1(x_i) - a_1(x_j)`` of the merged
    inputs lie in their null space: ``W_2 = A (I - P)`` with ``P`` the projection onto those differences
    and ``A`` random. So the merged inputs have identical second-layer activations and outputs, and their
    behavioural gradients are identical for the output layer's 9 parameters (the last 9 of ``theta``),
    but differ for the 216 parameters before it, which still see distinct activations. The targets are the
    net's own outputs (a perfect-behaviour global minimum of the sum of squares).

    Args:
        num_merged: how many inputs are merged, 0 to ``min(num_inputs, 16)`` (their differences must fit in
            the first layer's 16 dimensions).
        num_inputs: samples.
        seed: seed of the weights and inputs.

    Returns:
        a :class:`Landscape` (sum of squares, ``reduction="sum"``).

    Example:
        >>> ls = merged_later_landscape(3)
        >>> G = ls.jacobian().T                     # parameters x inputs
        >>> bool(torch.allclose(G[-9:, -3:], G[-9:, -1:].expand(-1, 3)))   # output layer: identical
        True
    """
    check_int(num_inputs, "num_inputs", 1, 10**6)
    d, h1, h2 = LATER_WIDTHS
    check_int(num_merged, "num_merged", 0, min(num_inputs, h1))
    g = torch.Generator().manual_seed(check_seed(seed))
    model = nn.Sequential(nn.Linear(d, h1), nn.Tanh(), nn.Linear(h1, h2), nn.Tanh(), nn.Linear(h2, 1)).double()
    with torch.no_grad():
        for layer in model[::2]:
            scale = layer.in_features ** 0.5
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=g, dtype=torch.float64) / scale)
            layer.bias.copy_(0.1 * torch.randn(layer.bias.shape, generator=g, dtype=torch.float64))
        x = torch.randn(num_inputs, d, generator=g, dtype=torch.float64)
        merged = x[num_inputs - num_merged:]
        a1 = model[1](model[0](merged))
        if num_merged > 1:
            q = torch.linalg.qr((a1[1:] - a1[:1]).T).Q               # h1 x (m - 1): the differences' span
            w2 = model[2].weight
            model[2].weight.copy_(w2 - (w2 @ q) @ q.T)
        y = model(x)
    return Landscape(model, _sum_of_squares, (x, y), reduction="sum")
