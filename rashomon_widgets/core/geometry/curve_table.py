"""The result of :func:`~.diagnostics.along_curve`: columns of diagnostics, one row per t."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..validation import check_int

#: what every column of a :class:`CurveTable` holds
COLUMNS = {
    "t": "curve parameter (0 = theta_a, 1 = theta_b)",
    "train_loss": "loss on the Landscape's data",
    "train_accuracy": "accuracy on the Landscape's data",
    "test_loss": "loss on test_data",
    "test_accuracy": "accuracy on test_data",
    "grad_norm": "|grad_theta L|, the parameter gradient's norm (near 0 on the ridge)",
    "input_jacobian_norm": "mean over samples of |d outputs / d inputs|_F (raw outputs)",
    "hvp_line": "|H u|, u the unit straight-line direction (theta_b - theta_a)",
    "hvp_detour": "|H d|, d the unit detour direction (main bend - midpoint, orthogonal to u)",
    "hvp_tangent": "|H tau|, tau the unit tangent of the curve",
    "hvp_line_std": "spread (std) of |H u| over the samples",
    "hvp_detour_std": "spread (std) of |H d| over the samples",
    "hvp_tangent_std": "spread (std) of |H tau| over the samples",
    "curvature_line": "u^T H u, the second derivative of the loss along u",
    "curvature_detour": "d^T H d",
    "curvature_tangent": "tau^T H tau (near 0 where the curve follows the ridge)",
    "trace": "trace of the Hessian (exact, or Hutch++)",
    "trace_error": "half-width of the Hutch++ trace's 95% interval (matrix-free only)",
    "slq_trace": "trace from the stochastic Lanczos quadrature (P * sum of weight * node)",
    "near_zero": "eigenvalues with |lambda| <= tol * max|lambda| (exact count, or SLQ estimate)",
}


@dataclass
class CurveTable:
    """Columns of diagnostics along a curve: ``table["hvp_tangent"]`` is a numpy array over ``table["t"]``.

    Attributes:
        columns: name -> 1-D float64 array, all of the same length (one entry per t).
        notes: how the numbers were obtained (methods, sample counts, tolerances).
        slq: the stochastic Lanczos quadrature ``(nodes, weights)`` at every t (None without curvature);
            :meth:`density` draws the eigenvalue density at a row from them without new products.
    """

    columns: dict[str, np.ndarray]
    notes: dict = field(default_factory=dict)
    slq: list | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        """The column ``name`` (see ``COLUMNS``).

        Raises:
            KeyError: no such column (the message lists the columns).
        """
        if name not in self.columns:
            raise KeyError(f"{name!r}: expected one of {', '.join(self.columns)}")
        return self.columns[name]

    def __contains__(self, name) -> bool:
        return name in self.columns

    def __len__(self) -> int:
        return len(self.columns["t"])

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return list(self.columns)

    def density(self, i: int, *, grid_size: int = 400, sigma: float | None = None):
        """The eigenvalue density at row ``i`` from its stored SLQ nodes and weights, Gaussian-broadened
        as :meth:`Landscape.density` does (no new Hessian products).

        Args:
            i: the row (negative counts from the end).
            grid_size: points of the eigenvalue grid.
            sigma: the Gaussian's width; default 1% of the nodes' range.

        Returns:
            ``(grid, density)``: numpy arrays; the density integrates to 1 over the grid.

        Raises:
            ValueError: the table has no SLQ runs (``curvature=False``), or a bad ``i``/``grid_size``.
        """
        if self.slq is None:
            raise ValueError("density: this table has no SLQ runs; call along_curve(..., curvature=True)")
        nodes, weights = self.slq[check_int(i, "i", -len(self.slq), len(self.slq) - 1)]
        lo, hi = float(nodes.min()), float(nodes.max())
        sigma = sigma or 0.01 * max(hi - lo, abs(hi), 1e-12)
        grid = np.linspace(lo - 6 * sigma, hi + 6 * sigma, check_int(grid_size, "grid_size", 2, 10**7))
        dens = (weights[None] * np.exp(-0.5 * ((grid[:, None] - nodes[None]) / sigma) ** 2)).sum(1)
        dens /= np.trapezoid(dens, grid)
        return grid, dens

    def to_dict(self) -> dict[str, list[float]]:
        """The columns as plain lists.

        Returns:
            ``{name: list of floats}``, JSON-ready.
        """
        return {k: v.tolist() for k, v in self.columns.items()}

    def to_markdown(self, columns: list[str] | None = None, fmt: str = ".3g") -> str:
        """The table as markdown, one row per t.

        Args:
            columns: the columns to show; default all but the ``*_std`` ones.
            fmt: the format of the numbers (``t`` has 3 decimals, near-zero counts are integers).

        Returns:
            the markdown text.

        Raises:
            KeyError: an unknown column.
        """
        names = columns or [n for n in self.columns if not n.endswith("_std")]
        for n in names:
            self[n]
        head = "| " + " | ".join(names) + " |"
        rule = "|" + "|".join("---:" for _ in names) + "|"
        rows = ["| " + " | ".join(_fmt(self.columns[n][i], n, fmt) for n in names) + " |" for i in range(len(self))]
        return "\n".join([head, rule, *rows])

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return f"CurveTable({len(self)} points; columns: {', '.join(self.columns)})"


def _fmt(value: float, name: str, fmt: str) -> str:
    if not np.isfinite(value):
        return "-"
    if name == "t":
        return f"{value:.3f}"
    if name == "near_zero" and float(value).is_integer():
        return f"{int(value)}"
    return format(value, fmt)
