"""A Landscape shared by threads gives exactly the single-threaded answers (an explorer's worker and a
notebook cell call it at once)."""
from __future__ import annotations

import threading

import torch

import rashomon_widgets as rw


def _digits_like(seed=0):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(16, 24), torch.nn.Tanh(), torch.nn.Linear(24, 10)).double()
    x = torch.randn(64, 16, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (64,), generator=g)
    return rw.Landscape(model, torch.nn.CrossEntropyLoss(), (x, y))


def _run_threads(work, num_threads=3):
    errors, barrier = [], threading.Barrier(num_threads)

    def run(i):
        barrier.wait()
        try:
            work(i)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(num_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors


def test_three_threads_of_mixed_calls_get_the_single_threaded_answers():
    ls = _digits_like()
    g = torch.Generator().manual_seed(1)
    points = ls.theta + 0.3 * torch.randn(12, ls.num_params, generator=g, dtype=torch.float64)
    vectors = torch.randn(12, ls.num_params, generator=g, dtype=torch.float64)
    ls.hvp(vectors[0])            # the one-time form choice happens before the race, as in an explorer
    ls.losses(points[:4])         # and the losses strategy
    ref_loss = [ls.loss(p) for p in points]
    ref_hvp = [ls.hvp(v, p) for v, p in zip(vectors, points)]
    ref_losses = ls.losses(points)
    wrong = []

    def work(i):
        for k in range(400):
            j = (k * 7 + i * 5) % 12
            kind = (k + i) % 3
            if kind == 0:
                if ls.loss(points[j]) != ref_loss[j]:
                    wrong.append(("loss", i, k))
            elif kind == 1:
                if not torch.allclose(ls.hvp(vectors[j], points[j]), ref_hvp[j], rtol=1e-12, atol=1e-14):
                    wrong.append(("hvp", i, k))
            elif not torch.allclose(ls.losses(points[j:j + 3]), ref_losses[j:j + 3], rtol=1e-12, atol=0):
                wrong.append(("losses", i, k))

    errors = _run_threads(work)
    assert errors == [], f"calls raised: {errors[:3]}"
    assert wrong == [], f"{len(wrong)} of 1200 calls got another thread's numbers, e.g. {wrong[:5]}"


def test_first_calls_race_safely_and_agree():
    """The lazy choices (HVP form, losses strategy) are made once even when threads arrive together."""
    ls = _digits_like(seed=2)
    v = torch.randn(ls.num_params, dtype=torch.float64)
    thetas = ls.theta + 0.1 * torch.randn(6, ls.num_params, dtype=torch.float64)
    results = {}

    def work(i):
        results[i] = (ls.hvp(v), ls.losses(thetas), ls.eigs(2, seed=0)[0])

    assert _run_threads(work) == []
    for i in (1, 2):
        torch.testing.assert_close(results[i][0], results[0][0], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(results[i][1], results[0][1], rtol=1e-12, atol=0)
        torch.testing.assert_close(results[i][2], results[0][2], rtol=1e-8, atol=1e-12)
    assert ls.hvp_form() in ("double_backward", "forward_over_reverse")


def test_last_num_products_is_per_thread():
    ls = _digits_like(seed=3)
    seen = {}

    def work(i):
        if i == 0:
            ls.trace(method="exact")
        else:
            ls.eigs(1, method="lanczos", seed=i)
        seen[i] = ls.last_num_products

    assert _run_threads(work, 2) == []
    assert seen[0] == ls.num_params
    assert 0 < seen[1] < ls.num_params
