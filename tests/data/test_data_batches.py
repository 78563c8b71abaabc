import pytest
import torch

from rashomon_widgets.data import batches


def test_consecutive_batches_cover_every_sample():
    X, y = torch.arange(10.0).reshape(10, 1), torch.arange(10)
    parts = batches(X, y, 4)
    assert [len(x) for x, _ in parts] == [4, 4, 2]
    assert torch.equal(torch.cat([x for x, _ in parts]), X)
    assert all(torch.equal(x.flatten().long(), t) for x, t in parts)
    assert len(batches(X, y, 100)) == 1


def test_shuffle_is_a_seeded_permutation():
    X, y = torch.arange(10.0).reshape(10, 1), torch.arange(10)
    a, b = batches(X, y, 3, shuffle=True, seed=0), batches(X, y, 3, shuffle=True, seed=0)
    order = torch.cat([t for _, t in a])
    assert sorted(order.tolist()) == list(range(10)) and order.tolist() != list(range(10))
    assert torch.equal(order, torch.cat([t for _, t in b]))
    assert all(torch.equal(x.flatten().long(), t) for x, t in a)  # pairs stay together


@pytest.mark.parametrize("args, error, message", [
    ((torch.zeros(4, 2), torch.zeros(3), 2), ValueError, "inputs have 4 samples but targets have 3"),
    ((torch.zeros(4, 2), torch.zeros(4), 0), ValueError, "batch_size: expected an int >= 1, got 0"),
    ((torch.zeros(4, 2), torch.zeros(4), 2.0), TypeError, "batch_size: expected an int"),
    (([[0.0]], torch.zeros(1), 1), TypeError, "inputs: expected a torch.Tensor, got list"),
    ((torch.zeros(0, 2), torch.zeros(0), 1), ValueError, "at least one sample"),
])
def test_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        batches(*args)
