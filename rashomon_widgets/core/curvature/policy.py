"""The one rule for what counts as a small model, and how large a dense matrix may grow."""
from __future__ import annotations

from dataclasses import dataclass

from ..validation import check_int

#: multiply-adds of one forward pass over all the data above which a model is heavy: its density estimate
#: defaults to :data:`HEAVY_DENSITY` and the explorers draw smaller grids and take curvature on a subsample
HEAVY_FORWARD = 1e9

#: the density's Lanczos budget on a heavy model when none is given: 60 deflation steps and 6 SLQ runs of 20
#: steps, 180 products (the light default is 400 + 20 x 20 = 800, cut to what ``max_vectors`` holds)
HEAVY_DENSITY = {"deflation_steps": 60, "num_vectors": 6, "num_steps": 20}


def is_heavy(ls) -> bool:
    """Whether one forward pass over ``ls``'s data costs more than :data:`HEAVY_FORWARD` multiply-adds: the one
    rule by which the density and the explorers pick their large-model defaults.

    Args:
        ls: a :class:`Landscape` (anything with ``forward_cost()``).

    Returns:
        a bool.
    """
    return ls.forward_cost() > HEAVY_FORWARD


@dataclass(frozen=True)
class SizePolicy:
    """When the core computes exactly (dense) and when matrix-free.

    * **small** (``P <= small_limit``, default 1,024: the write-ups' XOR nets and ~20-600-parameter
      MLPs): every curvature question is answered exactly from the dense Hessian: ``eigs`` and
      ``trace`` use it, null spaces and near-zero counts come from ``eigh``, explorers and
      ``along_curve`` compute exact spectra at every point, paths step along the exact null space.
    * **large** (``P > small_limit``): matrix-free by default (Lanczos, SLQ, Hutch++/XTrace, Jacobian
      projections). A dense Hessian can still be asked for explicitly while ``P <= dense_limit``
      (default 4,096, a 128 MiB float64 matrix); Jacobians are limited to ``dense_limit ** 2``
      entries. Beyond that a ``ValueError`` names the limit and the matrix-free alternative.

    Args:
        dense_limit: the largest P for which a dense P x P matrix is formed on request.
        small_limit: the largest P that counts as small (exact by default); capped at ``dense_limit``.

    Raises:
        TypeError, ValueError: a limit that is not a positive int.

    Example:
        >>> policy = SizePolicy(dense_limit=4096, small_limit=1024)
        >>> policy.is_small(9), policy.is_small(26_122)
        (True, False)
    """

    dense_limit: int = 4096
    small_limit: int = 1024

    def __post_init__(self):
        check_int(self.dense_limit, "dense_limit", 1, 10**9)
        check_int(self.small_limit, "small_limit", 1, 10**9)

    def is_small(self, num_params: int) -> bool:
        """Whether a model of ``num_params`` parameters gets exact dense answers by default.

        Args:
            num_params: P.

        Returns:
            ``P <= min(small_limit, dense_limit)``.
        """
        return num_params <= min(self.small_limit, self.dense_limit)

    def fits_dense(self, entries: int) -> bool:
        """Whether a dense matrix of ``entries`` entries may be formed (``<= dense_limit ** 2``).

        Args:
            entries: rows x columns.

        Returns:
            True when it fits.
        """
        return entries <= self.dense_limit ** 2

    def check_dense(self, what: str, entries: int, element_size: int = 8) -> None:
        """Refuse a dense matrix beyond the limit, with a message that names the way out.

        Args:
            what: the method that wants the matrix (for the message).
            entries: rows x columns.
            element_size: bytes per entry (for the message).

        Raises:
            ValueError: ``entries > dense_limit ** 2``.
        """
        if not self.fits_dense(entries):
            limit = self.dense_limit ** 2
            gib = entries * element_size / 2**30
            raise ValueError(
                f"{what}: the dense matrix would have {entries:,} entries ({gib:.1f} GiB); the limit is "
                f"{limit:,} entries (dense_limit={self.dense_limit}, a {self.dense_limit} x "
                f"{self.dense_limit} Hessian). Raise it with rw.Landscape(..., dense_limit=N), or use "
                "the matrix-free methods (hvp, eigs, density, trace, project_tangent).")
