"""A Landscape shared by threads gives exactly the single-threaded answers (an explorer's worker and a
notebook cell call it at once)."""
from __future__ import annotations

import sys
import threading
import warnings

import pytest
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
        except Exception as exc:  # collected and asserted on below
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


def test_each_result_carries_its_own_products_and_the_deprecated_count_stays_per_thread():
    """Two threads, two calls: each result says what it cost, and the deprecated per-thread
    ``last_num_products`` (which warns) still matches its own thread's result."""
    ls = _digits_like(seed=3)
    seen = {}

    def work(i):
        result = ls.trace(method="exact") if i == 0 else ls.eigs(1, method="lanczos", seed=i)
        seen[i] = (result.num_products, ls.last_num_products)

    with warnings.catch_warnings():  # set before the threads start: the filters are process-wide
        warnings.simplefilter("ignore", DeprecationWarning)
        assert _run_threads(work, 2) == []
    assert seen[0] == (ls.num_params, ls.num_params)
    assert 0 < seen[1][0] == seen[1][1] < ls.num_params
    result = ls.trace(method="exact")  # this (main) thread's own last call
    with pytest.warns(DeprecationWarning, match="last_num_products is deprecated"):
        assert ls.last_num_products == result.num_products == ls.num_params


# ----------------------------------------------------------------------------- process-wide torch state
def _small_classifier():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3)).double()
    x = torch.randn(32, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (32,), generator=g)
    return model, (x, y)


@pytest.fixture
def fast_switching():
    """Threads switch every microsecond, so a race that a notebook meets once in a class shows here."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_first_calls_from_three_threads_under_fast_switching_are_all_right(fast_switching):
    """Hundreds of first calls on fresh landscapes, three threads at once, forward-mode HVPs among them:
    every answer equals the single-threaded double-backward reference and none raises. (Without the
    process-wide forward-AD lock, 60 rounds gave 7 wrong answers and 97 errors such as "Trying to access
    a forward AD level with an invalid index")."""
    model, data = _small_classifier()
    ref_ls = rw.Landscape(model, torch.nn.CrossEntropyLoss(), data)
    g = torch.Generator().manual_seed(1)
    v = torch.randn(ref_ls.num_params, generator=g, dtype=torch.float64)
    block = torch.randn(ref_ls.num_params, 3, generator=g, dtype=torch.float64)
    thetas = ref_ls.theta + 0.1 * torch.randn(5, ref_ls.num_params, generator=g, dtype=torch.float64)
    plane = rw.Plane.random(ref_ls, seed=0)
    ref = {"hvp": ref_ls.hvp(v, form="double_backward"), "block": ref_ls.hvp(block, form="double_backward"),
           "losses": ref_ls.losses(thetas), "eigs": ref_ls.eigs(2, seed=0)[0],
           "trace": torch.tensor(float(ref_ls.trace())),
           "surface": torch.as_tensor(ref_ls.surface(plane, span=0.5, resolution=5).loss),
           "spectrum_at": torch.as_tensor(rw.core.spectrum_at(ref_ls, thetas[0]).values)}

    def calls(ls):
        return {"hvp": lambda: ls.hvp(v),
                "hvp_fwd": lambda: ls.hvp(v, form="forward_over_reverse"),
                "block_fwd": lambda: ls.hvp(block, form="forward_over_reverse"),
                "losses": lambda: ls.losses(thetas),
                "eigs": lambda: ls.eigs(2, seed=0)[0],
                "trace": lambda: torch.tensor(float(ls.trace())),
                "surface": lambda: torch.as_tensor(ls.surface(plane, span=0.5, resolution=5).loss),
                "spectrum_at": lambda: torch.as_tensor(rw.core.spectrum_at(ls, thetas[0]).values)}

    want = {"hvp": "hvp", "hvp_fwd": "hvp", "block_fwd": "block"}
    orders = [["hvp_fwd", "hvp", "losses", "eigs", "block_fwd", "surface"],
              ["block_fwd", "hvp_fwd", "trace", "spectrum_at", "hvp", "losses"],
              ["hvp", "hvp_fwd", "surface", "block_fwd", "trace", "eigs"]]
    wrong, errors, done = [], [], []
    for round_ in range(60):
        todo = calls(rw.Landscape(model, torch.nn.CrossEntropyLoss(), data))   # fresh: first calls race

        def work(i, todo=todo, round_=round_):
            for name in orders[i]:
                got = todo[name]()
                done.append(name)
                if not torch.allclose(got, ref[want.get(name, name)], rtol=1e-8, atol=1e-10):
                    wrong.append((round_, i, name))

        errors += _run_threads(work)
    assert errors == [], f"{len(errors)} calls raised, e.g. {errors[:3]}"
    assert wrong == [], f"{len(wrong)} of {len(done)} calls were wrong, e.g. {wrong[:5]}"
    assert len(done) == 60 * 18


def test_forward_mode_products_wait_for_the_process_wide_lock():
    """The forward-over-reverse form runs under the one process-wide lock (forward-AD levels are not per
    thread): while another thread holds it, a product waits; once released, it finishes."""
    from rashomon_widgets.core.torch_state import FORWARD_AD_LOCK

    model, data = _small_classifier()
    ls = rw.Landscape(model, torch.nn.CrossEntropyLoss(), data)
    v = torch.ones(ls.num_params, dtype=torch.float64)
    finished = threading.Event()
    with FORWARD_AD_LOCK:
        th = threading.Thread(target=lambda: (ls.hvp(v, form="forward_over_reverse"), finished.set()))
        th.start()
        assert not finished.wait(1.0), "a forward-mode product ran while another thread held the lock"
        ls.hvp(v, form="double_backward")      # reverse mode does not wait
    th.join(30)
    assert finished.is_set()


def test_seeded_model_builders_in_threads_get_their_seeds_draws(fast_switching):
    """torch's global generator is one per process: seeded builders in three threads each get exactly
    their seed's weights (seeded blocks hold one process-wide lock), and a seeded block leaves the
    caller's generator state as it was."""
    ref = {s: [p.clone() for p in rw.models.xor_mlp(3, seed=s).parameters()] for s in range(3)}
    wrong = []

    def work(i):
        for k in range(150):
            got = rw.models.xor_mlp(3, seed=(i + k) % 3, init_std=None if k % 2 else 1.0)
            if k % 2 and any(not torch.equal(a, b) for a, b in zip(got.parameters(), ref[(i + k) % 3])):
                wrong.append(i)

    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    assert _run_threads(work) == []
    assert wrong == [], f"{len(wrong)} of 225 models had another thread's draws"
    assert torch.equal(torch.rand(3), expected)
