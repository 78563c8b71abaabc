"""Writers of tiny CIFAR-10 (binary version) and MNIST (IDX) files for tests of the local-file readers.

Plain functions, not fixtures: test modules anywhere under tests/ import them with
``from ..local_files import write_cifar, write_mnist`` (tests/ is a package).
"""
from __future__ import annotations

import gzip

import numpy as np


def write_cifar(folder, name, labels, seed):
    """Write CIFAR-10 binary records (1 label byte, 3072 random pixel bytes each) to ``folder / name``;
    return the pixels as a (len(labels), 3072) uint8 array."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    records = np.concatenate([np.asarray(labels, dtype=np.uint8)[:, None], pixels], axis=1)
    folder.mkdir(parents=True, exist_ok=True)
    records.tofile(folder / name)
    return pixels


def idx_bytes(array, magic=None):
    """The IDX encoding of a uint8 array (magic number 0x0800 | ndim unless given, big-endian sizes)."""
    array = np.asarray(array, dtype=np.uint8)
    magic = (0x08 << 8 | array.ndim) if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write_mnist(folder, prefix, n, seed, *, gz=False, dotted=False):
    """Write ``n`` random 28x28 MNIST images and labels as ``{prefix}-images-idx3-ubyte`` and
    ``{prefix}-labels-idx1-ubyte`` (``.idx3`` with ``dotted``, gzipped with ``gz``); return both arrays."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    sep = "." if dotted else "-"
    for kind, ndim, array in (("images", 3, images), ("labels", 1, labels)):
        name = f"{prefix}-{kind}{sep}idx{ndim}-ubyte"
        data = idx_bytes(array)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return images, labels


def write_cifar_tree(root, train_labels, test_labels, seed=0):
    """A ``root/cifar-10-batches-bin`` with the five training batches (``train_labels``: one label list
    per batch) and the test batch; return (list of training pixel arrays, test pixel array)."""
    folder = root / "cifar-10-batches-bin"
    if len(train_labels) != 5:
        raise ValueError(f"train_labels: expected 5 label lists (one per batch), got {len(train_labels)}")
    train = [write_cifar(folder, f"data_batch_{i + 1}.bin", labels, seed=seed + i + 1)
             for i, labels in enumerate(train_labels)]
    return train, write_cifar(folder, "test_batch.bin", test_labels, seed=seed)
