"""Verdicts decided by data: shares with 95% Wilson intervals, and trends across widths.

A trend between the smallest and the largest net counts as shown only when their 95% intervals do not
overlap; otherwise the verdict says it is not decided, with the intervals. The notebooks print these
verdicts instead of typing a conclusion, so more (or other) data can change them.

Verdicts read from the shipped sweeps must not hang on fragile records (runs whose spectrum, say, moves on
another CPU; see :func:`~rashomon_widgets.experiments.shipped.fragility`): :func:`count_fragile` says how
many records are fragile and in which fields, and :func:`without_fragile` leaves them out, so a verdict can
be decided again without them and compared (:func:`side_by_side`).

Example:
    >>> share = wilson(20, 2000)
    >>> round(share.low, 4), round(share.high, 4)
    (0.0065, 0.0154)
    >>> trend({2: (40, 2000), 6: (1, 2000)}).direction
    'falls'
    >>> runs = [{"fragile": []}, {"fragile": ["spectrum"]}, {"fragile": ["loss", "spectrum"]}]
    >>> str(count_fragile(runs))
    '2/3 fragile (66.7%): spectrum 2, loss 1'
    >>> len(without_fragile(runs)), len(without_fragile(runs, reads=("loss",)))
    (1, 2)

A verdict that rests on a free choice of the analyst (a radius, a threshold, a tolerance, a seed) is decided
at every value of a stated range and summed up by :func:`over_choices`:

    >>> over_choices({"r 0.5": share_verdict(wilson(8, 100), 0.5), "r 0.05": share_verdict(wilson(76, 100), 0.5)},
    ...              "the radius")
    'depends on the radius: agrees for r 0.05; contradicts for r 0.5'
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ..core.validation import check_int

__all__ = ["Fragility", "Share", "Trend", "count_fragile", "over_choices", "share_verdict", "side_by_side",
           "trend", "trend_verdict", "wilson", "without_fragile"]


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

    The interval holds every share ``p`` that the score test does not reject:
    ``|k / n - p| <= z sqrt(p (1 - p) / n)`` with ``z = 1.96``. Unlike the normal approximation around
    ``k / n`` it never leaves [0, 1] and keeps a width at ``k = 0`` and ``k = n`` (Wilson 1927, "Probable
    inference, the law of succession, and statistical inference").

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


# ----------------------------------------------------------------------------- robustness to choices
AGREES, CONTRADICTS, UNDECIDED = "agrees", "contradicts", "not decided"


def share_verdict(share: Share, at_least: float) -> str:
    """Whether a share supports a claim "at least ``at_least`` of the cases", from its 95% interval.

    Args:
        share: a :class:`Share` (from :func:`wilson`).
        at_least: the share the claim needs, in [0, 1].

    Returns:
        ``"agrees"`` when the whole interval is at or above ``at_least``, ``"contradicts"`` when it is wholly
        below, else ``"not decided"``.

    Raises:
        ValueError: ``at_least`` outside [0, 1].
    """
    if not 0.0 <= at_least <= 1.0:
        raise ValueError(f"at_least: expected a share in [0, 1], got {at_least!r}")
    if share.n and share.low >= at_least:
        return AGREES
    if share.n and share.high < at_least:
        return CONTRADICTS
    return UNDECIDED


def trend_verdict(result: Trend, claimed: str) -> str:
    """Whether a decided :class:`Trend` supports a claimed direction.

    Args:
        result: the trend (from :func:`trend`).
        claimed: the direction a write-up claims, ``"falls"`` or ``"rises"``.

    Returns:
        ``"agrees"`` (the trend goes the claimed way), ``"contradicts"`` (it goes the other way, no overlap)
        or ``"not decided"`` (the intervals overlap).

    Raises:
        ValueError: a claimed direction other than ``"falls"`` or ``"rises"``.
    """
    if claimed not in ("falls", "rises"):
        raise ValueError(f"claimed: expected 'falls' or 'rises', got {claimed!r}")
    if result.direction == "not decided":
        return UNDECIDED
    return AGREES if result.direction == claimed else CONTRADICTS


def over_choices(outcomes: dict, choice: str) -> str:
    """One verdict from the verdicts decided at every value of an analyst's free choice.

    Args:
        outcomes: ``{value label: "agrees" | "contradicts" | "not decided"}``, one entry per value tried
            (e.g. ``{"radius 0.2, threshold 1e-2": "agrees", ...}``), in the order to report them.
        choice: what was varied, in words (``"the radius and the threshold"``).

    Returns:
        ``"agrees"`` or ``"contradicts"`` when every value gives that verdict, ``"not decided"`` when none
        decides, else ``"depends on <choice>: agrees for ...; contradicts for ...; not decided for ..."``
        (only the outcomes that occur, each with the values that gave it).

    Raises:
        ValueError: no outcomes, or an outcome that is not one of the three words.
    """
    if not outcomes:
        raise ValueError("outcomes: expected at least one value of the choice")
    groups: dict = {AGREES: [], CONTRADICTS: [], UNDECIDED: []}
    for label, outcome in outcomes.items():
        if outcome not in groups:
            raise ValueError(f"outcomes[{label!r}]: expected one of {list(groups)}, got {outcome!r}")
        groups[outcome].append(str(label))
    present = [word for word, labels in groups.items() if labels]
    if len(present) == 1:
        return present[0]
    return f"depends on {choice}: " + "; ".join(f"{word} for {', '.join(groups[word])}" for word in present)


# ----------------------------------------------------------------------------- fragile records
@dataclass(frozen=True)
class Fragility:
    """How many records are fragile, and in which fields.

    Attributes:
        total: records counted.
        fragile: records whose fragility probe changed at least one field (a non-empty ``"fragile"``).
        fields: ``{field: records in which the probe changed it}``, the most often changed first.
        unprobed: records without a ``"fragile"`` field (run here, not shipped: nothing is known of them).
    """
    total: int
    fragile: int
    fields: dict
    unprobed: int = 0

    @property
    def share(self) -> float:
        """``fragile / total`` (NaN for no records)."""
        return self.fragile / self.total if self.total else float("nan")

    def __str__(self) -> str:
        fields = "".join(f"{', ' if i else ': '}{f} {n}" for i, (f, n) in enumerate(self.fields.items()))
        unprobed = f"; {self.unprobed} not probed" if self.unprobed else ""
        return f"{self.fragile}/{self.total} fragile ({self.share:.1%}){fields}{unprobed}"


def count_fragile(records: Iterable[dict]) -> Fragility:
    """Count the fragile records and the fields their fragility probe changed.

    Args:
        records: sweep records; a shipped one has ``"fragile"``, the list of fields that a one-ulp move of
            its initial weights changed (``[]``: robust).

    Returns:
        a :class:`Fragility`; records without ``"fragile"`` are counted as ``unprobed``, not as fragile.
    """
    total = fragile = unprobed = 0
    fields: Counter = Counter()
    for r in records:
        total += 1
        if "fragile" not in r:
            unprobed += 1
        elif r["fragile"]:
            fragile += 1
            fields.update(r["fragile"])
    return Fragility(total, fragile, dict(fields.most_common()), unprobed)


def without_fragile(records: Iterable[dict], reads: Iterable[str] | None = None) -> list[dict]:
    """The records a verdict can rest on: those whose fragility probe changed none of the fields it reads.

    Args:
        records: sweep records (see :func:`count_fragile`).
        reads: the fields the verdict reads (of ``shipped.FIELDS``); ``None`` leaves out every fragile
            record, whatever field it is fragile in.

    Returns:
        the records kept, in their order; records without ``"fragile"`` (run here) are kept.
    """
    if reads is None:
        return [r for r in records if not r.get("fragile")]
    reads = set(reads)
    return [r for r in records if not reads.intersection(r.get("fragile", ()))]


def side_by_side(full: Trend, robust: Trend) -> str:
    """One line comparing a trend decided on all records with the same trend without the fragile ones.

    Args:
        full: the trend on all records.
        robust: the trend on the records kept by :func:`without_fragile`.

    Returns:
        e.g. ``"all: falls (w2 1.1%, w6 0.0%) | without fragile: falls (w2 1.1%, w6 0.0%)"``: the direction
        and the shares at the smallest and the largest width of each.
    """
    def brief(t: Trend) -> str:
        small, large = min(t.shares), max(t.shares)
        return f"{t.direction} (w{small} {t.shares[small].value:.1%}, w{large} {t.shares[large].value:.1%})"
    return f"all: {brief(full)} | without fragile: {brief(robust)}"
