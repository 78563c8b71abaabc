"""Write-up 2's verdicts that need more than one number: notebook 02's "above 0.6, with one exception" and its
interval over seed pairs.

- :func:`floor_exception`: "generally a cosine similarity above the floor, with one exception whose loss had
  degraded", decided from a similarity matrix with a stated tolerance for stray pairs (low pairs that do not
  involve the exception), and "depends on the tolerance" when the stray share lies near it.
- :func:`hierarchical_bootstrap`: a 95% interval of a mean over seed pairs that combines the variation between
  seed pairs (resampled first) with the variation within each pair (its inputs resampled next).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["FloorException", "floor_exception", "hierarchical_bootstrap"]


@dataclass(frozen=True)
class FloorException:
    """Write-up 2's "generally above the floor, with one exception whose loss had degraded" (:func:`floor_exception`).

    Attributes:
        outcome: ``"agrees"``, ``"contradicts"`` or ``"depends"`` (on the tolerance for stray pairs).
        num_pairs: the pairs of variants compared.
        low_pairs: the pairs (i, j), i < j, whose similarity is below the floor.
        lowest: the lowest similarity of any pair.
        exception: the group (one fine-tuned model and its pruned copies) involved in the most low pairs; None
            when no pair is low.
        exception_name: its label.
        exception_ratio: its loss ratio.
        worst: whether that is the highest loss ratio of all groups.
        exception_pairs: how many low pairs involve it.
        stray_pairs: the low pairs that do not involve it.
        stray_names: their two variants' names.
        floor, generally, loss_factor, stray_tolerance, near: the stated choices (see :func:`floor_exception`).
        reasons: why it contradicts (empty otherwise).
    """

    outcome: str
    num_pairs: int
    low_pairs: tuple
    lowest: float
    exception: Hashable | None
    exception_name: str
    exception_ratio: float
    worst: bool
    exception_pairs: int
    stray_pairs: tuple
    stray_names: tuple
    floor: float
    generally: float
    loss_factor: float
    stray_tolerance: float
    near: float
    reasons: tuple

    @property
    def share_above(self) -> float:
        """The share of pairs at or above the floor."""
        return 1.0 - len(self.low_pairs) / self.num_pairs if self.num_pairs else 1.0

    @property
    def stray_share(self) -> float:
        """The share of all pairs that are low without involving the exception."""
        return len(self.stray_pairs) / self.num_pairs if self.num_pairs else 0.0

    def line(self) -> str:
        """The verdict as one printable phrase (to follow "write-up 2's '...'").

        Returns:
            a string starting with ``"agrees"``, ``"contradicts"`` or ``"depends on the tolerance"``.
        """
        head = (f"{self.share_above:.1%} of the {self.num_pairs:,} pairs are at or above {self.floor:g} "
                f"(lowest {self.lowest:.3f})")
        if not self.low_pairs:
            return f"{self.outcome}: {head}, and there is no exception here"
        strays = ", ".join(f"{a} vs {b}" for a, b in self.stray_names[:3]) + (
            f" and {len(self.stray_names) - 3} more" if len(self.stray_names) > 3 else "")
        exception = (f"{self.exception_pairs} of {len(self.low_pairs)} low pairs involve {self.exception_name} (or "
                     f"its pruned copies), whose training loss "
                     f"{'degraded' if self.exception_ratio >= self.loss_factor else 'did not degrade'} "
                     f"({self.exception_ratio:.3g}x its original's{', the worst of all' if self.worst else ''})")
        stray = (f"{len(self.stray_pairs)} stray pair{'s' if len(self.stray_pairs) != 1 else ''} "
                 f"({self.stray_share:.2%} of all pairs; the stated tolerance for stray pairs is "
                 f"{self.stray_tolerance:.0%})" + (f": {strays}" if strays else "")) if self.stray_pairs else \
            "no stray pairs"
        if self.outcome == "agrees":
            return f"agrees: {head}; {exception}; {stray}"
        if self.outcome == "depends":
            return (f"depends on the tolerance for stray pairs: agrees for a tolerance of at least "
                    f"{self.stray_share:.2%} of the pairs, contradicts below ({head}; {exception}; {stray})")
        return f"contradicts: {'; '.join(self.reasons)} ({head}; {exception}; {stray})"


def floor_exception(similarity: np.ndarray, names: Sequence[str], groups: Sequence[Hashable],
                    loss_ratios: Mapping[Hashable, float], labels: Mapping[Hashable, str] | None = None, *,
                    floor: float = 0.6, generally: float = 0.9, loss_factor: float = 2.0,
                    stray_tolerance: float = 0.01, near: float = 2.0) -> FloorException:
    """Decide write-up 2's "generally above ``floor``, with one exception whose loss had degraded".

    The exception is the group (a fine-tuned model with its pruned copies) involved in the most pairs below the
    floor (ties: the higher loss ratio). Low pairs that do not involve it are *stray*. The claim

    - **agrees** when at least ``generally`` of the pairs are at or above the floor, the exception's loss ratio
      is at least ``loss_factor``, and the stray pairs are at most ``stray_tolerance / near`` of all pairs;
    - **depends** on the tolerance when the first two hold and the stray share lies between
      ``stray_tolerance / near`` and ``stray_tolerance * near`` (agrees for a tolerance of at least the
      stray share, contradicts below);
    - **contradicts** otherwise, with the reasons.

    Args:
        similarity: (N, N) similarities of the N variants (a control left out).
        names: the N variants' names.
        groups: the N variants' groups (hashable; e.g. ``(model, l1, epochs)``).
        loss_ratios: each group's training loss over its original's (the unpruned member's).
        labels: each group's label in the line (default: the name of its first variant).
        floor: the similarity floor (the write-up's 0.6).
        generally: the share of pairs that must be at or above it.
        loss_factor: a loss ratio of at least this counts as degraded.
        stray_tolerance: the share of all pairs that may be low without involving the exception.
        near: the factor around the tolerance within which the verdict "depends" on it (>= 1).

    Returns:
        a :class:`FloorException`.

    Raises:
        ValueError: a matrix that is not square, names or groups of another length, a group without a loss
            ratio, or choices out of range.

    Example:
        >>> S = np.full((4, 4), 0.9); S[0, 1:] = S[1:, 0] = 0.5
        >>> v = floor_exception(S, list("abcd"), [0, 1, 2, 3], {0: 100.0, 1: 1.0, 2: 1.0, 3: 1.0}, generally=0.5)
        >>> v.outcome, v.exception, v.stray_pairs
        ('agrees', 0, ())
    """
    S = np.asarray(similarity, dtype=float)
    n = S.shape[0] if S.ndim == 2 else -1
    if S.ndim != 2 or S.shape[1] != n:
        raise ValueError(f"similarity: expected a square matrix, got shape {S.shape}")
    if len(names) != n or len(groups) != n:
        raise ValueError(f"names, groups: expected {n} each (one per variant), got {len(names)} and {len(groups)}")
    missing = {g for g in groups if g not in loss_ratios}
    if missing:
        raise ValueError(f"loss_ratios: no ratio for the groups {sorted(map(str, missing))}")
    for value, what, lo, hi in ((generally, "generally", 0.0, 1.0), (stray_tolerance, "stray_tolerance", 0.0, 1.0)):
        if not lo <= float(value) <= hi:
            raise ValueError(f"{what}: expected a number in [{lo:g}, {hi:g}], got {value!r}")
    if not float(near) >= 1.0:
        raise ValueError(f"near: expected a number >= 1, got {near!r}")
    labels = dict(labels or {})
    for k, g in enumerate(groups):
        labels.setdefault(g, names[k])
    upper = np.triu_indices(n, 1)
    num_pairs = len(upper[0])
    low = tuple((int(i), int(j)) for i, j in zip(*upper) if S[i, j] < floor)
    lowest = float(S[upper].min()) if num_pairs else float("nan")
    worst_ratio = max(float(loss_ratios[g]) for g in set(groups))
    share_above = 1.0 - len(low) / num_pairs if num_pairs else 1.0
    if not low:
        return FloorException(outcome="agrees" if share_above >= generally else "contradicts", num_pairs=num_pairs,
                              low_pairs=(), lowest=lowest, exception=None, exception_name="",
                              exception_ratio=float("nan"), worst=False, exception_pairs=0, stray_pairs=(),
                              stray_names=(), floor=float(floor),
                              generally=float(generally), loss_factor=float(loss_factor),
                              stray_tolerance=float(stray_tolerance), near=float(near), reasons=())
    counts = Counter(g for i, j in low for g in {groups[i], groups[j]})
    exception = max(counts, key=lambda g: (counts[g], float(loss_ratios[g])))
    involved = [p for p in low if exception in (groups[p[0]], groups[p[1]])]
    stray = tuple(p for p in low if exception not in (groups[p[0]], groups[p[1]]))
    ratio = float(loss_ratios[exception])
    stray_share = len(stray) / num_pairs
    reasons = []
    if share_above < generally:
        reasons.append(f"only {share_above:.1%} of the pairs are at or above {floor:g} (the stated 'generally': "
                       f"{generally:.0%})")
    if ratio < loss_factor:
        reasons.append(f"the model most low pairs involve, {labels[exception]}, did not degrade (loss ratio "
                       f"{ratio:.3g}x, below {loss_factor:g}x)")
    if not reasons and stray_share <= stray_tolerance / near:
        outcome = "agrees"
    elif not reasons and stray_share <= stray_tolerance * near:
        outcome = "depends"
    else:
        outcome = "contradicts"
        if stray_share > stray_tolerance * near:
            reasons.append(f"{len(stray)} low pairs ({stray_share:.2%} of all pairs) do not involve the exception, "
                           f"more than the tolerance of {stray_tolerance:.0%}: more than one exception")
    return FloorException(outcome=outcome, num_pairs=num_pairs, low_pairs=low, lowest=lowest, exception=exception,
                          exception_name=labels[exception], exception_ratio=ratio,
                          worst=ratio >= worst_ratio, exception_pairs=len(involved), stray_pairs=stray,
                          stray_names=tuple((names[i], names[j]) for i, j in stray), floor=float(floor),
                          generally=float(generally), loss_factor=float(loss_factor),
                          stray_tolerance=float(stray_tolerance), near=float(near), reasons=tuple(reasons))


def hierarchical_bootstrap(statistic: Callable[[int, np.ndarray], float], sizes: Sequence[int], *,
                           draws: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, np.ndarray]:
    """A bootstrap interval of the mean of a statistic over units (seed pairs), resampled at two levels.

    Each draw resamples the units with replacement, then, for every unit drawn, resamples its inputs with
    replacement and evaluates ``statistic(unit, indices)``; the draw's value is the mean over the drawn units. The
    spread of the draws so combines the variation between units with the variation within each unit.

    Args:
        statistic: ``statistic(unit, indices)``: the unit's statistic on its inputs at ``indices`` (a 1-D int
            array of length ``sizes[unit]``); NaN values are left out of a draw's mean.
        sizes: the number of inputs of each unit (at least one unit).
        draws: bootstrap draws.
        seed: seed of the resampling.
        level: the interval's coverage.

    Returns:
        ``(low, high, values)``: the interval's ends (percentiles of the draws, NaNs left out) and the draws.

    Raises:
        ValueError: no units, a unit without inputs, or a level outside (0, 1).

    Example:
        >>> data = [np.array([1.0, 1.1, 0.9]), np.array([2.0, 2.1, 1.9])]
        >>> low, high, _ = hierarchical_bootstrap(lambda u, idx: data[u][idx].mean(), [3, 3], draws=200)
        >>> 0.9 <= low < 1.5 < high <= 2.1
        True
    """
    sizes = [int(s) for s in sizes]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"sizes: expected at least one unit, each with at least one input, got {sizes}")
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level: expected a number in (0, 1), got {level!r}")
    rng = np.random.default_rng(seed)
    values = np.empty(int(draws))
    for d in range(int(draws)):
        units = rng.integers(len(sizes), size=len(sizes))
        per_unit = [statistic(int(u), rng.integers(sizes[u], size=sizes[u])) for u in units]
        values[d] = np.nanmean(per_unit) if np.isfinite(per_unit).any() else np.nan
    tail = 100 * (1 - float(level)) / 2
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high), values
