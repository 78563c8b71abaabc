"""Out-of-distribution inputs for digits models: small grayscale patches of real photographs.

The photographs are the two shipped with scikit-learn (``china.jpg`` and ``flower.jpg`` from
``sklearn.datasets.load_sample_images``, read with Pillow): nothing is downloaded. They play the role
MNIST played for the CIFAR-10 models of write-up 2: inputs of the right shape that the models never
saw, on which two equally good models are free to disagree.
"""
from __future__ import annotations

import functools

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
