"""Out-of-distribution inputs for digits models: photo patches, noise, textures and altered digits.

They play the role MNIST played for the CIFAR-10 models of write-up 2: inputs of the right shape that
the models never saw, on which two equally good models are free to disagree. Nothing is downloaded:

- :func:`photo_patches`: small grayscale patches of the two photographs shipped with scikit-learn
  (``china.jpg`` and ``flower.jpg`` from ``sklearn.datasets.load_sample_images``, read with Pillow);
- :func:`font_digits`: digits typeset in the fonts that ship with matplotlib;
- :func:`ood_families`: several families at once (photos, uniform and Gaussian noise, smooth noise,
  gratings, typeset, inverted and rotated digits), ``{family: tensor}``, deterministic from a seed.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch

from ..core.validation import check_float_dtype, check_int, check_seed

# ITU-R BT.601 luma weights, the usual RGB -> grayscale conversion
_LUMA = np.array([0.299, 0.587, 0.114])


@functools.lru_cache(maxsize=1)
def _gray_photos() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_sample_images

    images = load_sample_images().images
    return tuple((np.asarray(img, dtype=np.float64) @ _LUMA) / 255.0 for img in images)


def photo_patches(n: int = 500, seed: int = 0, size: int = 8, dtype: torch.dtype = torch.float32, *,
                  zoom: int = 4, match_contrast: bool = False) -> torch.Tensor:
    """Grayscale photo patches shaped like the digits: ``size x size`` pixels in [0, 1], flattened.

    Each patch is a ``size * zoom`` square cut at a uniformly random position of a uniformly chosen
    photo, shrunk to ``size x size`` by averaging ``zoom x zoom`` blocks (the digits, too, are 32x32
    bitmaps averaged down to 8x8; ``zoom=1`` cuts raw pixels, which look almost flat at this size).

    Args:
        n: number of patches.
        seed: seed of the positions (the same seed gives the same patches).
        size: side of a patch in pixels (8 matches the digits).
        dtype: floating-point dtype of the result.
        zoom: block size of the averaging, a positive integer with ``size * zoom <= 427``.
        match_contrast: stretch each patch linearly to span [0, 1], as a digit's strokes span the
            full ink range (a flat patch becomes all zeros). Off: photo intensities as they are.

    Returns:
        Tensor of shape (n, size * size) with values in [0, 1].

    Raises:
        TypeError: a non-integer count, size, zoom or seed, or a non-floating dtype.
        ValueError: ``n``, ``size`` or ``zoom`` below 1, or a cut larger than the photos.

    Example:
        >>> ood = photo_patches(100)
        >>> ood.shape
        torch.Size([100, 64])
    """
    n = check_int(n, "n")
    seed = check_seed(seed)
    size = check_int(size, "size")
    zoom = check_int(zoom, "zoom")
    dtype = check_float_dtype(dtype)
    photos = _gray_photos()
    side = size * zoom
    smallest = min(min(p.shape) for p in photos)
    if side > smallest:
        raise ValueError(f"size * zoom: expected at most {smallest} pixels (the photos' shorter side), "
                         f"got {size} * {zoom} = {side}")
    rng = np.random.default_rng(seed)
    which = rng.integers(len(photos), size=n)
    out = np.empty((n, size, size))
    for i, k in enumerate(which):
        photo = photos[k]
        r = rng.integers(photo.shape[0] - side + 1)
        c = rng.integers(photo.shape[1] - side + 1)
        cut = photo[r:r + side, c:c + side]
        out[i] = cut.reshape(size, zoom, size, zoom).mean(axis=(1, 3))
    out = out.reshape(n, size * size)
    if match_contrast:
        low = out.min(axis=1, keepdims=True)
        span = out.max(axis=1, keepdims=True) - low
        out = np.where(span > 0, (out - low) / np.where(span > 0, span, 1.0), 0.0)
    return torch.as_tensor(np.clip(out, 0.0, 1.0), dtype=dtype)


# ----------------------------------------------------------------------------- several families
#: the families of :func:`ood_families`, in the order they are returned
OOD_FAMILIES = ("photos", "uniform noise", "gaussian noise", "smooth noise", "gratings", "font digits",
                "inverted digits", "rotated digits")
#: the fonts of :func:`font_digits` (all ship with matplotlib)
FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf")


def _block_mean(images: np.ndarray, zoom: int) -> np.ndarray:
    """(n, S*zoom, S*zoom) -> (n, S, S) by averaging zoom x zoom blocks."""
    n, side = images.shape[0], images.shape[1] // zoom
    return images.reshape(n, side, zoom, side, zoom).mean(axis=(2, 4))


def _stretch(images: np.ndarray) -> np.ndarray:
    """Each image linearly to span [0, 1] (a flat image becomes all zeros)."""
    low = images.min(axis=(1, 2), keepdims=True)
    span = images.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (images - low) / np.where(span > 0, span, 1.0), 0.0)


def _uniform_noise(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return rng.uniform(0.0, 1.0, size=(n, size, size))


def _gaussian_noise(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return np.clip(rng.normal(0.5, 0.25, size=(n, size, size)), 0.0, 1.0)


def _smooth_noise(rng: np.random.Generator, n: int, size: int, zoom: int = 4) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    side = size * zoom
    out = np.empty((n, side, side))
    widths = rng.uniform(0.1, 0.3, size=n) * side     # correlation length: a tenth to a third of the image
    for i in range(n):
        out[i] = gaussian_filter(rng.normal(size=(side, side)), widths[i], mode="wrap")
    return _stretch(_block_mean(out, zoom))


def _gratings(rng: np.random.Generator, n: int, size: int, zoom: int = 4) -> np.ndarray:
    side = size * zoom
    coords = (np.arange(side) + 0.5) / side                # in [0, 1): one image is one unit
    y, x = np.meshgrid(coords, coords, indexing="ij")
    angle = rng.uniform(0.0, np.pi, size=(n, 1, 1))
    cycles = rng.uniform(0.5, 0.375 * size, size=(n, 1, 1))  # up to 3/4 of the Nyquist limit
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, 1, 1))
    contrast = rng.uniform(0.5, 1.0, size=(n, 1, 1))
    wave = np.sin(2 * np.pi * cycles * (x * np.cos(angle) + y * np.sin(angle)) + phase)
    return _block_mean(0.5 + 0.5 * contrast * wave, zoom)


def _sklearn_digits(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    from sklearn.datasets import load_digits

    if size % 8:
        raise ValueError(f"size: expected a multiple of 8 for the families made of scikit-learn's 8x8 digits, "
                         f"got {size}")
    images = load_digits().images[rng.integers(1797, size=n)] / 16.0
    k = size // 8
    return np.kron(images, np.ones((1, k, k))) if k > 1 else images


def _inverted_digits(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return 1.0 - _sklearn_digits(rng, n, size)


def _rotated_digits(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    images = _sklearn_digits(rng, n, size)
    turns = rng.choice([1, 3], size=n)                     # a quarter turn either way
    return np.stack([np.rot90(img, k) for img, k in zip(images, turns)])


@functools.lru_cache(maxsize=8)
def _font(name: str, points: int):
    from pathlib import Path

    import matplotlib
    from PIL import ImageFont

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), points)


def _render_digits(rng: np.random.Generator, n: int, size: int, zoom: int = 4) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, ImageDraw

    side = size * zoom
    labels = rng.integers(10, size=n)
    fonts = rng.integers(len(FONTS), size=n)
    heights = rng.uniform(0.7, 1.0, size=n)               # of the image side
    angles = rng.uniform(-15.0, 15.0, size=n)             # degrees
    shifts = rng.uniform(-0.08, 0.08, size=(n, 2)) * side
    out = np.empty((n, side, side))
    big = 2 * side                                        # drawn on a larger canvas, then cut: no clipping
    for i in range(n):
        canvas = Image.new("L", (big, big), 0)
        draw = ImageDraw.Draw(canvas)
        font = _font(FONTS[fonts[i]], max(4, round(float(heights[i]) * side * 1.3)))
        text = str(labels[i])
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        # the glyph's box centred on the canvas, then shifted
        x = (big - (right - left)) / 2 - left + shifts[i, 0]
        y = (big - (bottom - top)) / 2 - top + shifts[i, 1]
        draw.text((x, y), text, fill=255, font=font)
        canvas = canvas.rotate(angles[i], resample=Image.BILINEAR, center=(big / 2, big / 2))
        cut = np.asarray(canvas, dtype=np.float64)[side // 2:side // 2 + side, side // 2:side // 2 + side]
        out[i] = cut / 255.0
    return _block_mean(out, zoom), labels


def font_digits(n: int = 500, seed: int = 0, size: int = 8, dtype: torch.dtype = torch.float32
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Digits typeset in the fonts that ship with matplotlib, shaped like scikit-learn's digits.

    Each image is one digit 0..9 drawn white on black in one of :data:`FONTS` (Pillow, offscreen), at a
    random height (70% to 100% of the image), rotated by up to 15 degrees and shifted by up to 8% of the
    side, on a ``4 * size`` square, then shrunk to ``size x size`` by averaging 4x4 blocks (as the
    scikit-learn digits were made from 32x32 bitmaps). They are digits, but not handwritten: the
    nearest of the out-of-distribution families, and the only one with a right answer.

    Args:
        n: number of images.
        seed: seed of the digits, fonts, sizes, angles and shifts (the same seed gives the same images).
        size: side of an image in pixels (8 matches the digits).
        dtype: floating-point dtype of the images.

    Returns:
        ``(images, labels)``: images (n, size * size) in [0, 1], labels (n,) int64 in 0..9.

    Raises:
        TypeError: a non-integer count, size or seed, or a non-floating dtype.
        ValueError: ``n`` or ``size`` below 1, or a negative seed.

    Example:
        >>> images, labels = font_digits(20)
        >>> images.shape, labels.shape
        (torch.Size([20, 64]), torch.Size([20]))
    """
    n, size = check_int(n, "n"), check_int(size, "size")
    seed, dtype = check_seed(seed), check_float_dtype(dtype)
    images, labels = _render_digits(np.random.default_rng(seed), n, size)
    return (torch.as_tensor(np.clip(images, 0.0, 1.0).reshape(n, -1), dtype=dtype),
            torch.as_tensor(labels, dtype=torch.int64))


def ood_families(n: int = 200, seed: int = 0, size: int = 8, channels: int = 1, dtype: torch.dtype = torch.float32,
                 *, families: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Out-of-distribution inputs for digits models, in several families: ``{family: (n, D) tensor}``.

    One family alone says little: on photo patches, say, a digits model may call almost everything one
    class, and then any two models "agree". The families (all generated or shipped, nothing downloaded):

    - ``"photos"``: patches of scikit-learn's two sample photographs (:func:`photo_patches`);
    - ``"uniform noise"``: every pixel uniform in [0, 1], independently;
    - ``"gaussian noise"``: every pixel normal with mean 0.5 and standard deviation 0.25, clipped to [0, 1];
    - ``"smooth noise"``: white noise low-pass filtered (a Gaussian of width 10% to 30% of the image, at 4x
      resolution), block-averaged and stretched to span [0, 1]: blobs, no edges;
    - ``"gratings"``: sinusoidal gratings of random orientation, phase, contrast (0.5 to 1) and frequency
      (0.5 cycles per image up to 3/4 of the Nyquist limit), anti-aliased by 4x4 averaging;
    - ``"font digits"``: typeset digits (:func:`font_digits`), the nearest family;
    - ``"inverted digits"``: scikit-learn's handwritten digits with black and white swapped (``1 - x``);
    - ``"rotated digits"``: scikit-learn's handwritten digits turned by a quarter turn either way.

    The last two reuse the training images of a digits model (altered); at ``size`` above 8 they are
    enlarged by repeating pixels (``size`` must then be a multiple of 8).

    Args:
        n: inputs per family.
        seed: the seed of everything random (the same seed gives the same inputs; each family draws from
            its own stream, so choosing fewer families does not change the others).
        size: side of an image in pixels (8 matches the digits; e.g. 32 for CIFAR-10 models).
        channels: each grayscale image is repeated over this many channels (3 for CIFAR-10), channel first.
        dtype: floating-point dtype of the inputs.
        families: the families wanted, a subset of :data:`OOD_FAMILIES` (default: all), in that order.

    Returns:
        ``{family: tensor (n, channels * size * size)}`` with values in [0, 1], in the order of ``families``.

    Raises:
        TypeError: a non-integer count, size, channel count or seed, a non-floating dtype, or ``families``
            that is not a list of names.
        ValueError: ``n``, ``size`` or ``channels`` below 1, a negative seed, an unknown or repeated family,
            or a ``size`` the photos or the digits cannot give.

    Example:
        >>> sets = ood_families(50)
        >>> list(sets)[:3], sets["gratings"].shape
        (['photos', 'uniform noise', 'gaussian noise'], torch.Size([50, 64]))
    """
    n, size, channels = check_int(n, "n"), check_int(size, "size"), check_int(channels, "channels")
    seed, dtype = check_seed(seed), check_float_dtype(dtype)
    if families is None:
        families = OOD_FAMILIES
    if isinstance(families, str) or not isinstance(families, Sequence):
        raise TypeError(f"families: expected a list of names from {list(OOD_FAMILIES)}, got {families!r}")
    unknown = [f for f in families if f not in OOD_FAMILIES]
    if unknown or len(set(families)) != len(families) or not families:
        raise ValueError(f"families: expected distinct names from {list(OOD_FAMILIES)}, got {list(families)}")
    makers = {"uniform noise": _uniform_noise, "gaussian noise": _gaussian_noise, "smooth noise": _smooth_noise,
              "gratings": _gratings, "font digits": lambda rng, n, size: _render_digits(rng, n, size)[0],
              "inverted digits": _inverted_digits, "rotated digits": _rotated_digits}
    out = {}
    for name in [f for f in OOD_FAMILIES if f in families]:
        # one stream per family, fixed by its place in OOD_FAMILIES
        stream = np.random.default_rng([seed, OOD_FAMILIES.index(name)])
        if name == "photos":
            images = photo_patches(n, seed=int(stream.integers(2**31)), size=size, dtype=torch.float64).numpy()
        else:
            images = makers[name](stream, n, size)
        images = np.clip(np.asarray(images, dtype=np.float64).reshape(n, 1, size * size), 0.0, 1.0)
        out[name] = torch.as_tensor(np.repeat(images, channels, axis=1).reshape(n, -1), dtype=dtype)
    return out
