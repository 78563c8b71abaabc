"""Verdicts decided by data: shares with 95% Wilson intervals, and trends across widths.

A trend between the smallest and the largest net counts as shown only when their 95% intervals do not
overlap; otherwise the verdict says it is not decided, with the intervals. The notebooks print these
verdicts instead of typing a conclusion, so more (or other) data can change them.

Example:
    >>> share = wilson(20, 2000)
    >>> round(share.low, 4), round(share.high, 4)
    (0.0065, 0.0154)
    >>> trend({2: (40, 2000), 6: (1, 2000)}).direction
    'falls'
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core.validation import check_int

__all__ = ["Share", "Trend", "trend", "wilson"]


@dataclass(frozen=True)
class Share:
    """``k`` of ``n`` with its 95% Wilson interval ``[low, high]``.

    Attributes:
        k: successes.
        n: trials.
        low, high: the 95% Wilson interval of ``k / n``.
    """
    k: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float:
        """``k / n`` (NaN for ``n == 0``)."""
        return self.k / self.n if self.n else float("nan")

    def __str__(self) -> str:
        return f"{self.k}/{self.n} = {self.value:.1%} [{self.low:.1%}, {self.high:.1%}]"


@dataclass(frozen=True)
class Trend:
    """Shares per width and the verdict from the smallest and the largest width.

    Attributes:
        shares: ``{width: Share}``, widths ascending (widths without runs left out).
        direction: ``"falls"``, ``"rises"`` or ``"not decided"``.
    """
    shares: dict
    direction: str

    @property
    def verdict(self) -> str:
        """The direction in words, with the two intervals it was decided from."""
        small, large = min(self.shares), max(self.shares)
        a, b = self.shares[small], self.shares[large]
        if self.direction == "not decided":
            return (f"is not decided by these runs: the 95% intervals at width {small} ({a}) and width {large} "
                    f"({b}) overlap")
        return f"{self.direction} with the width: {a} at width {small}, {b} at width {large} (no overlap)"


def wilson(k: int, n: int) -> Share:
    """``k`` successes of ``n`` with the 95% Wilson score interval (scipy's ``binomtest``).

    Args:
        k: successes, 0 to ``n``.
        n: trials (0 gives the interval [0, 1]).

    Returns:
        a :class:`Share`.
    """
    from scipy.stats import binomtest

    n = check_int(n, "n", 0)
    k = check_int(k, "k", 0, n)
    if n == 0:
        return Share(0, 0, 0.0, 1.0)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return Share(k, n, float(ci.low), float(ci.high))


def trend(counts: dict) -> Trend:
    """Decide whether a share falls or rises from the smallest to the largest width.

    Args:
        counts: ``{width: (k, n)}``; widths with ``n == 0`` are left out.

    Returns:
        a :class:`Trend`: ``"falls"`` when the smallest width's interval lies wholly above the largest's,
        ``"rises"`` when wholly below, else ``"not decided"``.

    Raises:
        ValueError: fewer than two widths with runs.
    """
    shares = {w: wilson(k, n) for w, (k, n) in sorted(counts.items()) if n}
    if len(shares) < 2:
        raise ValueError(f"counts: expected runs at two widths at least, got {counts!r}")
    a, b = shares[min(shares)], shares[max(shares)]
    direction = "falls" if a.low > b.high else "rises" if a.high < b.low else "not decided"
    return Trend(shares, direction)
