import pytest
import torch

from rashomon_widgets.data import Split, digits, xor


def test_xor_points_and_targets():
    X, y = xor()
    assert X.shape == (4, 2) and y.shape == (4, 1) and X.dtype == y.dtype == torch.float64
    for (a, b), t in zip(X.tolist(), y.flatten().tolist()):
        assert t == float(int(a) ^ int(b))
    assert set(map(tuple, X.tolist())) == {(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)}
    assert xor(torch.float32)[0].dtype == torch.float32
    with pytest.raises(TypeError, match="dtype: expected a floating-point torch.dtype"):
        xor(torch.int64)


def test_digits_shapes_ranges_and_types():
    split = digits()
    assert isinstance(split, Split)
    (X, y), (Xt, yt) = split
    assert X.shape == (1347, 64) and Xt.shape == (450, 64)
    assert y.shape == (1347,) and yt.shape == (450,)
    assert X.dtype == torch.float32 and y.dtype == yt.dtype == torch.int64
    both = torch.cat([X, Xt])
    assert float(both.min()) == 0.0 and float(both.max()) == 1.0
    assert set(torch.cat([y, yt]).tolist()) == set(range(10))
    # pixel values were 0..16: scaled values are multiples of 1/16
    assert torch.allclose(both * 16, (both * 16).round())


def test_digits_split_is_stratified_and_seeded():
    (X, y), (Xt, yt) = digits(test_size=0.3, seed=1)
    overall = torch.bincount(torch.cat([y, yt]), minlength=10).double() / (len(y) + len(yt))
    for part in (y, yt):
        share = torch.bincount(part, minlength=10).double() / len(part)
        assert float((share - overall).abs().max()) < 0.01
    again = digits(test_size=0.3, seed=1)
    assert torch.equal(again.train[0], X) and torch.equal(again.test[1], yt)
    other = digits(test_size=0.3, seed=2)
    assert not torch.equal(other.train[0], X)
    assert digits(dtype=torch.float64).train[0].dtype == torch.float64


@pytest.mark.parametrize("test_size, error", [(0.0, ValueError), (1.0, ValueError), (1.5, ValueError),
                                              (0.001, ValueError), ("0.2", TypeError)])
def test_digits_bad_test_size(test_size, error):
    with pytest.raises(error, match="test_size: expected"):
        digits(test_size=test_size)
