"""Small reference models, their builders, losses that compose with ``torch.func``, and training.

- :class:`ToyQuadratic` / :func:`toy_quadratic`: write-up 1's L(x, y, z) = a x^2 + b y^2.
- :class:`MLP`, :func:`xor_mlp` (9 parameters, write-up 3), :func:`digits_mlp` (26,122 parameters).
- :class:`MnistCNN` / :func:`mnist_cnn`: a CNN for 28x28 MNIST digits (596,042 or 1,199,882 parameters).
- :class:`PreResNet20` / :func:`preresnet20`: Garipov et al.'s CIFAR-10 network (272,282 parameters).
- :func:`mse_loss`, :func:`sum_of_squares`, :func:`cross_entropy`.
- :func:`train`, :func:`accuracy`, :func:`xor_minimum`.

Example:
    >>> from rashomon_widgets import models
    >>> model, loss_fn, data = models.toy_quadratic(a=1.0, b=0.25, point=(0.0, 0.0, 3.0))
    >>> loss_fn(model(data[0]), data[1]).item()
    0.0
"""
from .cnn import MnistCNN, mnist_cnn
from .losses import cross_entropy, mse_loss, sum_of_squares
from .mlp import MLP, digits_mlp, xor_mlp
from .preresnet import PreResNet, PreResNet20, preresnet20
from .toy import ToyQuadratic, toy_quadratic
from .training import accuracy, train, xor_minimum

__all__ = [
    # models
    "ToyQuadratic", "MLP", "MnistCNN", "PreResNet", "PreResNet20",
    # builders
    "toy_quadratic", "xor_mlp", "digits_mlp", "mnist_cnn", "preresnet20", "xor_minimum",
    # losses
    "mse_loss", "sum_of_squares", "cross_entropy",
    # training
    "train", "accuracy",
]
