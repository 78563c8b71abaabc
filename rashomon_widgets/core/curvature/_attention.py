"""Second derivatives through attention: PyTorch's fused attention kernels have none on a CPU.

``F.scaled_dot_product_attention`` picks a fused kernel (flash or memory-efficient) whose backward
cannot itself be differentiated on a CPU, so a Hessian-vector product through a ``TransformerEncoderLayer``
fails there. The math kernel computes the same attention from plain operations, which differentiate
any number of times. :func:`math_attention` selects it for the duration of second-order work.

PyTorch's backend flags are process-wide, not per thread, so entries are counted: the first entry
selects the math kernel, the last exit restores the previous flags. Meanwhile attention anywhere in the
process uses the math kernel (the same result, a little slower).
"""
from __future__ import annotations

import contextlib
import threading

from torch.nn.attention import SDPBackend, sdpa_kernel

_lock = threading.Lock()
_depth = 0
_active: contextlib.AbstractContextManager | None = None


@contextlib.contextmanager
def math_attention():
    """Context manager: scaled-dot-product attention uses its math kernel inside (re-entrant,
    thread-safe)."""
    global _depth, _active
    with _lock:
        if _depth == 0:
            _active = sdpa_kernel(SDPBackend.MATH)
            _active.__enter__()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _active.__exit__(None, None, None)
                _active = None
