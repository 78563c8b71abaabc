"""PreResNet20: the pre-activation ResNet of Garipov et al.'s mode-connectivity experiments (~272k params).

The architecture follows their curve code (itself after He et al. 2016, "Identity mappings in deep
residual networks"): a 3x3 convolution, three stages of basic blocks with 16, 32 and 64 channels
(strides 1, 2, 2), each block BatchNorm-ReLU-conv3x3-BatchNorm-ReLU-conv3x3 plus a shortcut (a 1x1
convolution of the block input where the shape changes), then BatchNorm-ReLU, 8x8 average pooling and
a linear classifier. Convolutions are initialised from N(0, 2 / (k * k * out_channels)) as there.

Activations are not in place and the residual sum makes a new tensor, so the model composes with
``torch.func`` (``functional_call``, ``vmap``, ``jvp``). BatchNorm: evaluate in ``eval()`` mode, as the
Landscape does, so its running statistics are fixed constants of the loss.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..core.torch_state import seeded
from ..core.validation import check_int, describe


class _BasicBlock(nn.Module):
    """Pre-activation basic block: out = conv(relu(bn(conv(relu(bn(x)))))) + shortcut(x)."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return out + shortcut


class PreResNet(nn.Module):
    """Pre-activation ResNet for 3x32x32 images with basic blocks, depth ``6 n + 2``.

    Args:
        depth: 6 n + 2 layers (n basic blocks per stage): 20, 32, 38...
        num_classes: outputs (logits).

    Raises:
        TypeError: non-integer arguments.
        ValueError: a depth that is not 6 n + 2 with n >= 1, or ``num_classes < 1``.

    Example:
        >>> model = PreResNet(depth=20).eval()
        >>> model(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, depth: int = 20, num_classes: int = 10):
        super().__init__()
        depth = check_int(depth, "depth", 8)
        if (depth - 2) % 6:
            raise ValueError(f"depth: expected 6 n + 2 (8, 14, 20, 26, ...), got {depth}")
        num_classes = check_int(num_classes, "num_classes")
        n = (depth - 2) // 6
        self.depth, self.num_classes = depth, num_classes
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        stages, in_channels = [], 16
        for channels, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = [_BasicBlock(in_channels, channels, stride)]
            blocks += [_BasicBlock(channels, channels) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            in_channels = channels
        self.layer1, self.layer2, self.layer3 = stages
        self.bn = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of a batch of images.

        Args:
            x: images (N, 3, 32, 32).

        Returns:
            logits (N, num_classes).

        Raises:
            ValueError: input not of shape (N, 3, 32, 32).
        """
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != (3, 32, 32):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else describe(x)
            raise ValueError(f"PreResNet: expected images of shape (N, 3, 32, 32), got {got}")
        x = self.conv1(x)
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.relu(self.bn(x))
        x = F.avg_pool2d(x, 8).flatten(1)
        return self.fc(x)


class PreResNet20(PreResNet):
    """PreResNet of depth 20 (3 blocks per stage): 272,282 parameters for 10 classes.

    Args:
        num_classes: outputs (logits).

    Example:
        >>> sum(p.numel() for p in PreResNet20().parameters())
        272282
    """

    def __init__(self, num_classes: int = 10):
        super().__init__(depth=20, num_classes=num_classes)


def preresnet20(num_classes: int = 10, seed: int | None = None) -> PreResNet20:
    """Build a :class:`PreResNet20`, its initialisation seeded.

    Args:
        num_classes: outputs (logits).
        seed: seed of the initialisation (None: torch's global generator); the caller's generator
            state is left untouched when a seed is given.

    Returns:
        An untrained float32 PreResNet20 in training mode (call ``.eval()`` before analysis).

    Raises:
        TypeError / ValueError: bad ``num_classes`` or seed.

    Example:
        >>> a, b = preresnet20(seed=0), preresnet20(seed=0)
        >>> torch.equal(a.fc.weight, b.fc.weight)
        True
    """
    with seeded(seed):
        return PreResNet20(num_classes)
