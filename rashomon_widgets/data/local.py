"""Readers for CIFAR-10 and MNIST files a user already has on disk. They never download anything.

CIFAR-10 is read from its *binary* version (``cifar-10-batches-bin``: records of 1 label byte and
3072 pixel bytes), MNIST from its IDX files (optionally gzipped), both with numpy alone: no pickle,
no torchvision. A missing file raises ``FileNotFoundError`` naming the path looked for and the page
where the files can be fetched by hand.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from ..core.validation import check_choice, check_float_dtype, check_int, check_path, check_seed, describe

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
MNIST_URL = "https://yann.lecun.com/exdb/mnist/"

_CIFAR_RECORD = 1 + 3 * 32 * 32
_CIFAR_FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}
_MNIST_PREFIX = {"train": "train", "test": "t10k"}
_IDX_UBYTE = 0x08


def _as_root(root) -> Path:
    return check_path(root, "root", "a folder path")


def _check_limit(limit) -> int | None:
    return None if limit is None else check_int(limit, "limit")


# ---------------------------------------------------------------------------------------- CIFAR-10
def _cifar_folder(root: Path, split: str) -> Path:
    first = _CIFAR_FILES[split][0]
    for folder in (root / "cifar-10-batches-bin", root):
        if (folder / first).is_file():
            return folder
    hint = ""
    if (root / "cifar-10-batches-py").exists():
        hint = (f" ({root / 'cifar-10-batches-py'} holds the Python/pickle version, which is not read: "
                "get the binary version)")
    raise FileNotFoundError(
        f"CIFAR-10 {split} split: expected the file {root / 'cifar-10-batches-bin' / first} "
        f"(or {root / first}), which does not exist{hint}. Download 'CIFAR-10 binary version "
        f"(suitable for C programs)', cifar-10-binary.tar.gz, by hand from {CIFAR10_URL} and unpack "
        f"it into {root}; rashomon_widgets never downloads data.")


def read_cifar10(root, split: str = "train", *, limit: int | None = None,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Read CIFAR-10 from its binary version on disk.

    Args:
        root: folder holding ``cifar-10-batches-bin/`` (as unpacked from cifar-10-binary.tar.gz),
            or that folder itself.
        split: ``"train"`` (``data_batch_1.bin`` .. ``data_batch_5.bin``, 50000 images) or
            ``"test"`` (``test_batch.bin``, 10000 images).
        limit: read at most this many images, from the first file on (the full train split is
            600 MB as float32).
        dtype: floating-point dtype of the images.

    Returns:
        ``(images, labels)``: images of shape (N, 3, 32, 32) with values in [0, 1], int64 labels
        0..9 of shape (N,).

    Raises:
        FileNotFoundError: a batch file is missing (the message names it and where to get it).
        ValueError: a bad ``split``, a file whose size is not a whole number of 3073-byte records,
            or a label outside 0..9.
        TypeError: ``root`` is not a path, or a bad ``limit`` / ``dtype``.

    Example:
        >>> images, labels = read_cifar10("~/data", "test")        # doctest: +SKIP
        >>> images.shape                                            # doctest: +SKIP
        torch.Size([10000, 3, 32, 32])
    """
    root = _as_root(root)
    split = check_choice(split, "split", tuple(_CIFAR_FILES))
    limit = _check_limit(limit)
    dtype = check_float_dtype(dtype)
    folder = _cifar_folder(root, split)
    parts, count = [], 0
    for name in _CIFAR_FILES[split]:
        if limit is not None and count >= limit:
            break
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"CIFAR-10 {split} split: expected the file {path}, which does not "
                                    f"exist; the binary version from {CIFAR10_URL} has all five "
                                    "data_batch_*.bin files. rashomon_widgets never downloads data.")
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % _CIFAR_RECORD:
            raise ValueError(f"{path}: expected a CIFAR-10 binary file of whole {_CIFAR_RECORD}-byte "
                             f"records (1 label byte + 3072 pixel bytes), got {raw.size} bytes")
        records = raw.reshape(-1, _CIFAR_RECORD)
        if limit is not None:
            records = records[:limit - count]
        if records[:, 0].max() > 9:
            raise ValueError(f"{path}: expected labels 0..9 in the first byte of each record, got "
                             f"{int(records[:, 0].max())}; is this the CIFAR-100 or another format?")
        parts.append(records)
        count += len(records)
    records = np.concatenate(parts)
    labels = torch.from_numpy(records[:, 0].astype(np.int64))
    images = torch.from_numpy(records[:, 1:].reshape(-1, 3, 32, 32)).to(dtype) / 255.0
    return images, labels


def synthetic_cifar(n: int = 8, seed: int = 0, *, num_classes: int = 10,
                    dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Random tensors shaped like CIFAR-10, for tests and for running the seed-scale code without data.

    Args:
        n: number of images.
        seed: seed of the values (the same seed gives the same tensors).
        num_classes: labels are drawn from 0 .. num_classes - 1.
        dtype: floating-point dtype of the images.

    Returns:
        ``(images, labels)``: images (n, 3, 32, 32) uniform in [0, 1], int64 labels (n,).

    Raises:
        TypeError / ValueError: a non-integer or non-positive ``n`` / ``num_classes``, a bad seed
            or dtype.

    Example:
        >>> images, labels = synthetic_cifar(4)
        >>> images.shape, labels.shape
        (torch.Size([4, 3, 32, 32]), torch.Size([4]))
    """
    n = check_int(n, "n")
    seed = check_seed(seed)
    num_classes = check_int(num_classes, "num_classes")
    dtype = check_float_dtype(dtype)
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand((n, 3, 32, 32), generator=generator, dtype=torch.float64).to(dtype)
    labels = torch.randint(num_classes, (n,), generator=generator)
    return images, labels


# ------------------------------------------------------------------------------------------- MNIST
def _mnist_file(root: Path, split: str, kind: str) -> Path:
    prefix = _MNIST_PREFIX[split]
    ndim = 3 if kind == "images" else 1
    names = (f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte")
    for folder in (root, root / "MNIST" / "raw"):
        for name in names:
            for suffix in ("", ".gz"):
                if (folder / (name + suffix)).is_file():
                    return folder / (name + suffix)
    raise FileNotFoundError(
        f"MNIST {split} {kind}: expected the file {root / names[0]} (or {root / names[0]}.gz, or the "
        f"same under {root / 'MNIST' / 'raw'}), which does not exist. Download {names[0]}.gz by hand "
        f"from {MNIST_URL} (or a mirror) into {root}; rashomon_widgets never downloads data.")


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    expected = (_IDX_UBYTE << 8) | ndim
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: expected an IDX file with a {4 + 4 * ndim}-byte header, "
                         f"got {len(raw)} bytes")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected:
        raise ValueError(f"{path}: expected IDX magic number {expected} (unsigned bytes, {ndim} "
                         f"dimension{'s' if ndim > 1 else ''}), got {magic}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: the header announces shape {dims} ({int(np.prod(dims))} bytes), "
                         f"but the file holds {body.size} data bytes")
    return body.reshape(dims)


def read_mnist(root, split: str = "train", *, dtype: torch.dtype = torch.float32
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Read MNIST from its IDX files on disk (plain or gzipped).

    Args:
        root: folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``; the
            ``train-images.idx3-ubyte`` spelling and torchvision's ``MNIST/raw`` sub-folder work too).
        split: ``"train"`` (60000 images) or ``"test"`` (the t10k files, 10000 images).
        dtype: floating-point dtype of the images.

    Returns:
        ``(images, labels)``: images (N, 1, 28, 28) with values in [0, 1], int64 labels (N,).

    Raises:
        FileNotFoundError: a file is missing (the message names it and where to get it).
        ValueError: a bad ``split``, a wrong magic number, a header that does not match the data,
            image and label counts that differ, or labels outside 0..9.
        TypeError: ``root`` is not a path, or a bad ``dtype``.

    Example:
        >>> images, labels = read_mnist("~/data/mnist", "test")     # doctest: +SKIP
        >>> images.shape                                            # doctest: +SKIP
        torch.Size([10000, 1, 28, 28])
    """
    root = _as_root(root)
    split = check_choice(split, "split", tuple(_MNIST_PREFIX))
    dtype = check_float_dtype(dtype)
    image_path, label_path = _mnist_file(root, split, "images"), _mnist_file(root, split, "labels")
    images, labels = _read_idx(image_path, 3), _read_idx(label_path, 1)
    if len(images) != len(labels):
        raise ValueError(f"MNIST {split}: expected as many labels as images, got {len(images)} images "
                         f"in {image_path} and {len(labels)} labels in {label_path}")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{label_path}: expected labels 0..9, got {int(labels.max())}")
    images_t = torch.from_numpy(images.copy()).to(dtype).unsqueeze(1) / 255.0
    return images_t, torch.from_numpy(labels.astype(np.int64))


def mnist_as_cifar(images: torch.Tensor) -> torch.Tensor:
    """Make MNIST images fit a CIFAR-10 model: pad 28x28 to 32x32 with zeros, repeat to 3 channels.

    Args:
        images: tensor (N, 1, 28, 28) or (N, 28, 28), as from :func:`read_mnist`.

    Returns:
        Tensor (N, 3, 32, 32) of the same dtype (the digit centred, the three channels equal).

    Raises:
        TypeError: ``images`` is not a tensor.
        ValueError: any other shape.

    Example:
        >>> mnist_as_cifar(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 3, 32, 32])
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images: expected a tensor of shape (N, 1, 28, 28), got {describe(images)}")
    if images.ndim == 3:
        images = images.unsqueeze(1)
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"images: expected shape (N, 1, 28, 28) or (N, 28, 28), got {tuple(images.shape)}")
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    return padded.expand(-1, 3, -1, -1).contiguous()
