import pytest
import torch

from rashomon_widgets.data import photo_patches


def test_shape_range_and_dtype():
    patches = photo_patches()
    assert patches.shape == (500, 64) and patches.dtype == torch.float32
    assert float(patches.min()) >= 0.0 and float(patches.max()) <= 1.0
    # real photo content: patches differ from each other and are not flat on average
    assert float(patches.std(dim=0).mean()) > 0.05
    assert float(patches.std(dim=1).mean()) > 0.01


def test_deterministic_by_seed():
    assert torch.equal(photo_patches(50, seed=3), photo_patches(50, seed=3))
    assert not torch.equal(photo_patches(50, seed=3), photo_patches(50, seed=4))


def test_size_zoom_and_contrast():
    raw = photo_patches(20, size=4, zoom=1, dtype=torch.float64)
    assert raw.shape == (20, 16) and raw.dtype == torch.float64
    stretched = photo_patches(40, match_contrast=True)
    lows, highs = stretched.min(dim=1).values, stretched.max(dim=1).values
    flat = highs == 0
    assert torch.all(lows == 0) and torch.allclose(highs[~flat], torch.ones(int((~flat).sum())))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n": 0}, ValueError, "n: expected an int >= 1, got 0"),
    ({"size": 2.5}, TypeError, "size: expected an int"),
    ({"size": 8, "zoom": 100}, ValueError, r"size \* zoom: expected at most 427 pixels"),
    ({"seed": -3}, ValueError, "seed: expected an int >= 0"),
    ({"dtype": torch.uint8}, TypeError, "dtype"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        photo_patches(**kwargs)
