"""``losses``: the in-place loop (a private per-thread copy, theta written into one flat tensor) and the fixed
strategy rule (the same answer in every fresh process, whatever the load); pickling a Landscape."""
from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.curvature import _losses

ROOT = Path(__file__).resolve().parents[2]

# one process: the strategies of a 9-parameter XOR net, a 26,122-parameter digits-sized MLP, an LSTM
_RULE_SCRIPT = """
import torch, rashomon_widgets as rw
X, y = rw.data.xor(torch.float64)
xor = rw.Landscape(rw.models.xor_minimum(seed=0), rw.models.sum_of_squares, (X, y))
g = torch.Generator().manual_seed(0)
mlp = rw.Landscape(rw.models.digits_mlp(seed=0), rw.models.cross_entropy,
                   (torch.randn(1797, 64, generator=g), torch.randint(0, 10, (1797,), generator=g)))
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn, self.head = torch.nn.LSTM(3, 4, batch_first=True), torch.nn.Linear(4, 1)
    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])
lstm = rw.Landscape(Net().double(), torch.nn.MSELoss(), (torch.randn(5, 4, 3, generator=g, dtype=torch.float64),
                                                        torch.randn(5, 1, generator=g, dtype=torch.float64)))
print(xor.losses_strategy, mlp.num_params, mlp.losses_strategy, lstm.losses_strategy)
"""


def test_the_strategy_is_the_same_in_repeated_fresh_processes():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    answers = [subprocess.run([sys.executable, "-c", _RULE_SCRIPT], capture_output=True, text=True, env=env,
                              timeout=300, check=True).stdout.split() for _ in range(3)]
    assert answers == [["vmap", "26122", "loop", "loop"]] * 3


def _mlp(hidden=(32,), samples=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    model = rw.models.digits_mlp(hidden, seed=seed).double()
    data = (torch.randn(samples, 64, generator=g, dtype=torch.float64), torch.randint(0, 10, (samples,), generator=g))
    return model, rw.models.cross_entropy, data


def test_the_rule_reads_size_device_and_kind_not_a_clock(monkeypatch):
    small = rw.Landscape(*_mlp(samples=64))            # 2,410 parameters x 64 samples: ~150k multiply-adds
    assert small.losses_strategy == "vmap" and small._profile()[1] <= _losses.VMAP_MAX_MACS
    big = rw.Landscape(*_mlp(samples=2000))             # ~4.8M multiply-adds over the data
    assert big.losses_strategy == "loop" and big._profile()[1] > _losses.VMAP_MAX_MACS
    monkeypatch.setattr(_losses, "VMAP_MAX_MACS", 10 ** 9)
    assert rw.Landscape(*_mlp(samples=2000)).losses_strategy == "vmap"
    # a convolution counts its weight once per output position, not once per sample
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(8 * 16, 2))
    x, y = torch.randn(4, 3, 4, 4), torch.randn(4, 2)
    ls = rw.Landscape(conv, torch.nn.MSELoss(), (x, y))
    assert ls._profile()[1] == 4 * (8 * 27 * 16 + 2 * 128)  # weights x output positions, per sample


def test_the_loop_equals_the_functional_loss_and_leaves_the_model_alone():
    model, loss_fn, data = _mlp(samples=50)
    before = copy.deepcopy(model.state_dict())
    ls = rw.Landscape(model, loss_fn, data)
    thetas = ls.theta + 0.3 * torch.randn(9, ls.num_params, generator=torch.Generator().manual_seed(1),
                                          dtype=torch.float64)
    reference = torch.stack([ls._total_loss(t) for t in thetas]).detach()
    torch.testing.assert_close(ls.losses(thetas, strategy="loop"), reference, rtol=1e-13, atol=0)
    torch.testing.assert_close(ls.losses(thetas, strategy="vmap"), reference, rtol=1e-12, atol=0)
    assert ls.loss(thetas[3]) == pytest.approx(float(reference[3]), rel=1e-13)
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert torch.equal(ls.theta, rw.core.curvature._params.ParamLayout(model).flatten(model))


def test_two_threads_in_the_loop_at_once_get_their_own_answers():
    ls = rw.Landscape(*_mlp(samples=40))
    g = torch.Generator().manual_seed(2)
    sets = [ls.theta + 0.5 * torch.randn(16, ls.num_params, generator=g, dtype=torch.float64) for _ in range(2)]
    expected = [ls.losses(s, strategy="vmap") for s in sets]
    barrier, wrong, errors = threading.Barrier(2), [], []

    def work(i):
        barrier.wait()
        try:
            for k in range(60):
                got = ls.losses(sets[i], strategy="loop")
                if not torch.allclose(got, expected[i], rtol=1e-12, atol=0):
                    wrong.append((i, k))
                if ls.loss(sets[i][k % 16]) != pytest.approx(float(expected[i][k % 16]), rel=1e-12):
                    wrong.append((i, k, "loss"))
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and wrong == []


def test_tied_parameters_stay_tied_in_the_private_copy():
    emb = torch.nn.Linear(4, 4, bias=False)
    model = torch.nn.Sequential(emb, torch.nn.Tanh(), torch.nn.Linear(4, 4), torch.nn.Tanh(), emb).double()
    x, y = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    ls = rw.Landscape(model, torch.nn.MSELoss(), (x, y))
    thetas = ls.theta + 0.2 * torch.randn(3, ls.num_params, dtype=torch.float64)
    torch.testing.assert_close(ls.losses(thetas, strategy="loop"), ls.losses(thetas, strategy="vmap"),
                               rtol=1e-12, atol=0)


def test_a_landscape_pickles_without_its_locks_and_caches():
    ls = rw.Landscape(*_mlp(samples=30))
    thetas = ls.theta + 0.1 * torch.randn(5, ls.num_params, dtype=torch.float64)
    ls.losses(thetas)
    ls.hvp(thetas[0])
    assert ls._losses_strategy is not None and ls._hvp_form is not None
    copied = pickle.loads(pickle.dumps(ls))
    assert copied._losses_strategy is None and copied._hvp_form is None
    assert copied._lock is not ls._lock and not hasattr(copied._f._local, "in_place")
    torch.testing.assert_close(copied.losses(thetas), ls.losses(thetas), rtol=0, atol=0)
    torch.testing.assert_close(copied.hvp(thetas[1]), ls.hvp(thetas[1]), rtol=1e-12, atol=1e-14)
    assert copied.losses_strategy == ls.losses_strategy
