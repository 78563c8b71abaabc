"""Planes through points, random (filter-normalised) and eigen planes, and loss surfaces."""
import numpy as np
import pytest
import torch

import rashomon_widgets as rw

from ..conftest import make_case


@pytest.fixture
def ls():
    model, loss_fn, data, reduction = make_case("tanh_mlp")
    return rw.Landscape(model, loss_fn, data, reduction=reduction)


def test_plane_through_three_points_uses_garipov_coordinates(ls):
    a = ls.theta
    b = a + torch.randn_like(a)
    c = a + torch.randn_like(a)
    plane = rw.Plane.through(a, b, c)
    assert float(plane.d1 @ plane.d2) == pytest.approx(0.0, abs=1e-12)
    assert float(plane.d1.norm()) == pytest.approx(1.0) and float(plane.d2.norm()) == pytest.approx(1.0)
    coords = plane.coordinates(torch.stack([a, b, c]))
    np.testing.assert_allclose(coords[0], [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(coords[1], [float((b - a).norm()), 0.0], atol=1e-10)
    torch.testing.assert_close(plane.point(*coords[2]), c)
    (x0, x1), (y0, y1) = plane.extent
    assert x0 < 0 < coords[1, 0] < x1 and y0 < 0 < coords[2, 1] < y1


def test_surface_values_are_the_losses_at_the_grid_points(ls):
    plane = rw.Plane.random(ls, seed=1)
    surf = ls.surface(plane, span=0.5, resolution=7)
    assert surf.loss.shape == (7, 7)
    i, j = 2, 5
    assert surf.loss[i, j] == pytest.approx(ls.loss(plane.point(surf.xs[j], surf.ys[i])), rel=1e-12)
    assert surf.loss[3, 3] == pytest.approx(ls.loss(), rel=1e-12)  # the centre is the origin
    assert surf.range > 0


def test_filter_normalisation_matches_filter_norms(ls):
    plane = rw.Plane.random(ls, seed=2, normalization="filter")
    sl = ls.layout.slices()
    for name, shape in zip(ls.layout.names, ls.layout.shapes):
        d, w = plane.d1[sl[name]], ls.theta[sl[name]]
        if len(shape) == 1:
            assert float(d.abs().max()) == 0.0  # biases are not moved
        else:
            torch.testing.assert_close(d.view(shape[0], -1).norm(dim=1), w.view(shape[0], -1).norm(dim=1))


def test_random_plane_is_reproducible_by_seed(ls):
    a, b = rw.Plane.random(ls, seed=5), rw.Plane.random(ls, seed=5)
    assert torch.equal(a.d1, b.d1) and torch.equal(a.d2, b.d2)
    assert not torch.equal(a.d1, rw.Plane.random(ls, seed=6).d1)
    raw = rw.Plane.random(ls, seed=5, normalization=None)
    assert float(raw.d1.norm()) == pytest.approx(1.0)


def test_eigen_plane_is_flatter_than_a_random_plane(xor_min):
    flat = xor_min.surface(rw.Plane.eigen(xor_min, "smallest"), span=1.0, resolution=9)
    rand = xor_min.surface(rw.Plane.random(xor_min, seed=0, normalization=None), span=1.0, resolution=9)
    assert flat.range < rand.range


def test_bad_planes_are_rejected(ls):
    a = ls.theta
    with pytest.raises(ValueError, match="different from a"):
        rw.Plane.through(a, a.clone(), a + 1)
    with pytest.raises(ValueError, match="collinear"):
        rw.Plane.through(a, a + 1, a + 2)
    with pytest.raises(ValueError, match=f"b: expected {a.numel()} entries like a \\(the same model\\), got 3"):
        rw.Plane.through(a, torch.zeros(3, dtype=a.dtype), a + 1)
    with pytest.raises(TypeError,
                       match=r"origin: expected a flat parameter vector \(a torch.Tensor of shape \(P,\)\), got list"):
        rw.Plane([0.0], a, a)
    with pytest.raises(ValueError, match="d2: expected finite values, got NaN or inf"):
        rw.Plane(a, a + 1, a * float("nan"))
    with pytest.raises(ValueError, match="positive"):
        ls.surface(rw.Plane.random(ls), span=-1.0)
    other = rw.Plane(torch.zeros(3, dtype=a.dtype), torch.ones(3, dtype=a.dtype), torch.ones(3, dtype=a.dtype))
    with pytest.raises(ValueError, match="parameter space"):
        ls.surface(other)
    with pytest.raises(ValueError, match="normalization"):
        rw.Plane.random(ls, normalization="weird")


def test_surface_built_in_row_chunks_equals_one_block_and_counts_progress(ls, monkeypatch):
    plane = rw.Plane.random(ls, seed=2)
    xs, ys = plane.grid(0.5, 9)
    whole = ls.losses(plane.points(xs, ys)).reshape(9, 9).numpy()
    row_bytes = 9 * ls.num_params * ls.theta.element_size()
    monkeypatch.setattr(rw.core.geometry.plane, "GRID_CHUNK_BYTES", 2 * row_bytes)  # two rows per block: 5 blocks
    seen = []
    surf = ls.surface(plane, span=0.5, resolution=9, strategy="loop", progress=lambda d, n: seen.append((d, n)))
    np.testing.assert_allclose(surf.loss, whole, rtol=1e-12)
    assert seen[-1] == (81, 81) and all(n == 81 for _, n in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 5
