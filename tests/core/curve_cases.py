"""Small, fast cases for the curve tests: two digits MLPs trained from different seeds."""
from __future__ import annotations

import functools

import torch

import rashomon_widgets as rw


@functools.cache
def _digits(n_train: int, n_test: int):
    split = rw.data.digits()
    (X, y), (Xt, yt) = split.train, split.test
    return (X[:n_train].double(), y[:n_train]), (Xt[:n_test].double(), yt[:n_test])


@functools.cache
def digits_pair(hidden=(8,), n_train=300, n_test=200, epochs=150):
    """``(ls, theta_b, test_data)``: a Landscape at a float64 digits MLP (seed 0) and the flat parameters of
    a second one (seed 1), both trained full-batch with Adam (P = 610 for one hidden layer of 8)."""
    train, test = _digits(n_train, n_test)
    models = []
    for seed in (0, 1):
        model = rw.models.digits_mlp(hidden, seed=seed, dtype=torch.float64)
        rw.models.train(model, rw.models.cross_entropy, train, epochs=epochs, lr=1e-2, seed=seed)
        models.append(model)
    ls = rw.Landscape(models[0], rw.models.cross_entropy, train)
    return ls, ls.layout.flatten(models[1]), test


@functools.cache
def fitted_curve(steps=150):
    """``(ls, curve, test_data)`` with a quadratic Bezier curve fitted between the pair (a private copy
    is returned by :func:`fitted`)."""
    ls, theta_b, test = digits_pair()
    curve = rw.BezierCurve(ls.theta, theta_b, num_bends=1)
    rw.fit_curve(ls, curve, steps=steps, lr=1e-2, num_t=4)
    return ls, curve, test


def fitted(steps=150):
    ls, curve, test = fitted_curve(steps)
    return ls, curve.copy(), test
