import numpy as np
import pytest
import torch

from rashomon_widgets.data import font_digits, ood_families, photo_patches
from rashomon_widgets.data.ood import OOD_FAMILIES


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


# ------------------------------------------------------------------------------- several families
def _summary(images: torch.Tensor, size: int = 8) -> np.ndarray:
    """Pixel mean, pixel spread, roughness (mean |difference| of neighbours), share of saturated pixels."""
    x = images.double().numpy().reshape(-1, size, size)
    return np.array([x.mean(), x.std(), np.abs(np.diff(x, axis=2)).mean(), ((x <= 1e-3) | (x >= 1 - 1e-3)).mean()])


@pytest.fixture(scope="module")
def families():
    return ood_families(150, seed=0)


def test_families_shapes_ranges_and_order(families):
    assert tuple(families) == OOD_FAMILIES
    for name, x in families.items():
        assert x.shape == (150, 64) and x.dtype == torch.float32, name
        assert torch.isfinite(x).all() and float(x.min()) >= 0.0 and float(x.max()) <= 1.0, name
        assert float(x.std(dim=1).mean()) > 0.05, name          # images, not flat fields
        assert float(x.std(dim=0).mean()) > 0.05, name          # and not one image repeated
    # the photos family is photo_patches, drawn with a seed of its own stream
    stream = np.random.default_rng([0, OOD_FAMILIES.index("photos")])
    assert torch.equal(families["photos"], photo_patches(150, seed=int(stream.integers(2**31))))


def test_families_are_deterministic_and_streams_independent(families):
    again = ood_families(150, seed=0)
    assert all(torch.equal(families[k], again[k]) for k in families)
    other = ood_families(150, seed=1)
    assert not any(torch.equal(families[k], other[k]) for k in families)
    # a subset draws the same inputs as the full set (one stream per family)
    subset = ood_families(150, seed=0, families=["rotated digits", "gratings"])
    assert list(subset) == ["gratings", "rotated digits"]
    assert all(torch.equal(subset[k], families[k]) for k in subset)


def test_families_differ(families):
    stats = {name: _summary(x) for name, x in families.items()}
    names = list(stats)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            # every two families differ clearly in at least one summary statistic
            assert np.abs(stats[a] - stats[b]).max() > 0.03, (a, b, stats[a], stats[b])
    # what each family is meant to be
    assert stats["photos"][2] < 0.06 < stats["uniform noise"][2]             # photos are smooth, noise rough
    assert stats["gaussian noise"][3] > 0.02 > stats["uniform noise"][3]     # the Gaussian is clipped at 0 and 1
    assert stats["smooth noise"][2] < stats["gaussian noise"][2] / 1.5       # low-pass filtered
    assert stats["inverted digits"][0] > 0.5 > stats["rotated digits"][0]    # white background after inversion


def test_altered_digits_are_scikit_learn_digits(families):
    from sklearn.datasets import load_digits

    source = {tuple(np.round(img.ravel(), 6)) for img in load_digits().images / 16.0}
    inverted = (1.0 - families["inverted digits"].double().numpy()).reshape(-1, 8, 8)
    assert all(tuple(np.round(img.ravel(), 6)) in source for img in inverted)
    rotated = families["rotated digits"].double().numpy().reshape(-1, 8, 8)
    # turned back by a quarter turn one way or the other, each is a digit of the data set, and it was turned
    assert all(any(tuple(np.round(np.rot90(img, k).ravel(), 6)) in source for k in (1, 3)) for img in rotated)
    assert not all(tuple(np.round(img.ravel(), 6)) in source for img in rotated)


def test_families_at_cifar_size_and_dtype():
    sets = ood_families(6, seed=2, size=32, channels=3, dtype=torch.float64)
    for name, x in sets.items():
        assert x.shape == (6, 3 * 32 * 32) and x.dtype == torch.float64, name
        images = x.reshape(6, 3, 32, 32)
        assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 0], images[:, 2]), name
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0, name


def test_font_digits_are_readable_digits():
    from sklearn.datasets import load_digits

    images, labels = font_digits(300, seed=0)
    assert images.shape == (300, 64) and labels.shape == (300,) and labels.dtype == torch.int64
    assert set(labels.tolist()) == set(range(10))
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    again, same = font_digits(300, seed=0)
    assert torch.equal(images, again) and torch.equal(labels, same)
    assert not torch.equal(images, font_digits(300, seed=1)[0])
    # the label matches the picture: the nearest class mean of the handwritten digits is right far
    # more often than chance (a renderer that ignored the label, or cut the glyph off, would fail)
    bunch = load_digits()
    centroids = np.stack([bunch.data[bunch.target == c].mean(axis=0) / 16.0 for c in range(10)])
    nearest = np.argmin(((images.double().numpy()[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    assert np.mean(nearest == labels.numpy()) > 0.3


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n": 0}, ValueError, "n: expected an int >= 1, got 0"),
    ({"channels": 0}, ValueError, "channels: expected an int >= 1, got 0"),
    ({"families": ["photos", "stars"]}, ValueError, "families: expected distinct names"),
    ({"families": ["photos", "photos"]}, ValueError, "families: expected distinct names"),
    ({"families": []}, ValueError, "families: expected distinct names"),
    ({"families": "photos"}, TypeError, "families: expected a list of names"),
    ({"size": 12, "families": ["inverted digits"]}, ValueError, "size: expected a multiple of 8"),
    ({"seed": -1}, ValueError, "seed: expected an int >= 0"),
    ({"dtype": torch.int64}, TypeError, "dtype"),
])
def test_bad_family_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        ood_families(**kwargs)
