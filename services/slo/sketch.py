"""Latency quantiles with a relative-error guarantee: DDSketch on a bounded dense store.

DDSketch (Masson, Rim and Lee, VLDB 2019) counts values in logarithmic buckets: bucket
``i`` holds the values in ``(gamma**(i-1), gamma**i]`` with ``gamma = (1+alpha)/(1-alpha)``,
so answering any value of a bucket with ``2*gamma**i/(gamma+1)`` is within ``alpha`` of it,
relatively. Quantiles inherit that bound whatever the distribution, counts merge and
subtract exactly, and the state is a short list of integers.

Why a dense list with an offset rather than a dict of index -> count, and the measured
figures behind it: ``docs/services/slo-sketch.md`` (``loadtest/bench_sketch.py``).

>>> import random
>>> rng = random.Random(7)
>>> latencies = [rng.lognormvariate(3.0, 1.2) for _ in range(50_000)]
>>> sketch = DDSketch(relative_accuracy=0.01)
>>> sketch.add_many(latencies)
>>> exact = sorted(latencies)[49_499]  # lower nearest rank of p99: sorted[ceil(q*n) - 1]
>>> p99 = sketch.quantile(0.99)
>>> round(exact, 2), round(p99, 2)
(320.68, 320.58)
>>> abs(p99 - exact) / exact <= 0.01
True
>>> sketch.max == max(latencies), sketch.count
(True, 50000)
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate
from math import ceil, log
from operator import add, sub
from typing import Any

# Values at or below this land in the zero bucket: log() is undefined at 0, and nothing
# measured in milliseconds is that short, so no resolution is lost there.
ZERO_THRESHOLD = 1e-9
DEFAULT_MAX_BUCKETS = 2048

_INF = math.inf


class DDSketch:
    """Mergeable quantile sketch with relative error at most ``relative_accuracy``.

    ``quantile(q)`` answers the lower nearest-rank quantile, ``sorted(values)[ceil(q*n)-1]``
    (the smallest value for ``q = 0``), within ``relative_accuracy`` of it, relatively,
    at every ``q`` and after any merge or subtract. It is clamped to ``[min, max]``, which
    only ever tightens it (a constant stream is answered exactly).

    Storage is one dense list of counts for the indices ``offset .. offset+len-1``, never
    wider than ``max_buckets``: when a new value would widen it past that, the lowest
    buckets fold into one (DDSketch's collapsing-lowest store). Only values more than
    ``max_buckets`` buckets below the highest one are overstated; every quantile above them
    keeps its bound. At 1 % and 2048 buckets that is a factor of 6e17 below the largest
    value: latencies from 1 ns to 60 s span 1 242 buckets (0.1 ms to 60 s: 667) and fold
    nothing. Folding depends on the highest index only, so adding and merging in any order
    give the same buckets.

    ``min`` and ``max`` are exact through ``add`` and ``merge``. After ``subtract`` they are
    bounds: the previous ``min`` (``max``) tightened by the lower (upper) edge of the lowest
    (highest) bucket still holding a count. They stay exact when the subtracted sketch's
    ``min`` (``max``) was strictly above (below) this one's, and ``max`` never understates
    the largest value left. (When the lowest buckets were folded, the folded bucket's edge
    may overstate ``min``.)

    Parameters
    ----------
    relative_accuracy
        ``alpha``: every quantile is within this fraction of the exact one.
    max_buckets
        The widest the list of counts may get.

    Examples
    --------
    >>> fast, slow = DDSketch(), DDSketch()
    >>> fast.add_many([1.0, 1.2, 0.9, 1.1])
    >>> slow.add_many([800.0, 950.0])
    >>> view = fast.copy()
    >>> view.merge(slow)
    >>> view.count, view.min, view.max, round(view.quantile(0.5), 2)  # exact p50: 1.1
    (6, 0.9, 950.0, 1.09)
    >>> view.subtract(fast)  # its min was view's: what is left is bounded by a bucket edge
    >>> view.count, round(view.min, 1), view.max, view.quantile(0.5) == slow.quantile(0.5)
    (2, 796.5, 950.0, True)
    >>> DDSketch.from_dict(view.to_dict()) == view
    True
    >>> DDSketch().quantile(0.99) is None
    True
    """

    __slots__ = (
        "_alpha",
        "_counts",
        "_gamma",
        "_max",
        "_max_buckets",
        "_min",
        "_multiplier",
        "_n",
        "_offset",
        "_sum",
        "_zero",
    )

    def __init__(
        self, relative_accuracy: float = 0.01, max_buckets: int = DEFAULT_MAX_BUCKETS
    ) -> None:
        if not 0.0 < relative_accuracy < 1.0:
            raise ValueError(f"relative_accuracy must be in (0, 1), got {relative_accuracy!r}")
        if max_buckets < 1:
            raise ValueError(f"max_buckets must be at least 1, got {max_buckets!r}")
        self._alpha = float(relative_accuracy)
        self._gamma = (1.0 + self._alpha) / (1.0 - self._alpha)
        # A multiplication instead of a division by log(gamma) on every add.
        self._multiplier = 1.0 / log(self._gamma)
        self._max_buckets = int(max_buckets)
        self._offset = 0  # index of _counts[0]; 0 while _counts is empty
        self._counts: list[int] = []  # invariant: empty, or first and last non-zero
        self._zero = 0
        self._n = 0
        self._sum = 0.0
        self._min = _INF
        self._max = -_INF

    # -- adding -------------------------------------------------------------------------

    def add(self, value: float) -> None:
        """Count one value (milliseconds); ``ValueError`` if negative, NaN or infinite."""
        if ZERO_THRESHOLD < value < _INF:
            key = ceil(log(value) * self._multiplier) - self._offset
            if key >= 0:
                # try costs nothing in 3.11 unless it raises, which only a value outside
                # the current range does; a negative key would wrap, hence the test above.
                try:
                    self._counts[key] += 1
                except IndexError:
                    self._insert(key + self._offset, 1)
            else:
                self._insert(key + self._offset, 1)
        elif 0.0 <= value <= ZERO_THRESHOLD:  # False for NaN
            self._zero += 1
        else:
            raise ValueError(f"a latency must be finite and >= 0, got {value!r}")
        self._n += 1
        self._sum += value
        if value < self._min:
            self._min = value
        if value > self._max:
            self._max = value

    def add_many(self, values: Iterable[float]) -> None:
        """Count every value: the same state as ``add`` on each, without a call per value.

        On an invalid value, ``ValueError``: the values before it are counted, the rest not.
        """
        multiplier = self._multiplier
        counts = self._counts
        offset = self._offset
        n = zero = 0
        total, low, high = self._sum, self._min, self._max
        try:
            for value in values:
                if ZERO_THRESHOLD < value < _INF:
                    key = ceil(log(value) * multiplier) - offset
                    if key >= 0:
                        try:
                            counts[key] += 1
                        except IndexError:
                            self._insert(key + offset, 1)
                            counts, offset = self._counts, self._offset
                    else:
                        self._insert(key + offset, 1)
                        counts, offset = self._counts, self._offset
                elif 0.0 <= value <= ZERO_THRESHOLD:
                    zero += 1
                else:
                    raise ValueError(f"a latency must be finite and >= 0, got {value!r}")
                n += 1
                total += value
                if value < low:
                    low = value
                if value > high:
                    high = value
        finally:
            self._n += n
            self._zero += zero
            self._sum, self._min, self._max = total, low, high

    def _insert(self, key: int, count: int) -> None:
        """Count at an index outside the current list: widen it, folding past the bound."""
        counts = self._counts
        if not counts:
            self._offset = key
            self._counts = [count]
            return
        low = self._offset
        high = low + len(counts) - 1
        if key > high:
            new_low = max(low, key - self._max_buckets + 1)
            self._counts = _spread(counts, low, new_low, key)
            self._offset = new_low
            self._counts[-1] += count
        else:
            new_low = max(key, high - self._max_buckets + 1)
            if new_low < low:
                self._counts = [0] * (low - new_low) + counts
                self._offset = new_low
            self._counts[max(key, new_low) - new_low] += count

    # -- algebra ------------------------------------------------------------------------

    def merge(self, other: DDSketch) -> None:
        """Add ``other``'s counts: the same buckets as adding its values here."""
        self._check_compatible(other)
        if other is self:
            other = other.copy()
        if not other._n:
            return
        if other._counts:
            o_low, o_counts = other._offset, other._counts
            o_high = o_low + len(o_counts) - 1
            counts = self._counts
            if counts:
                low = self._offset
                high = low + len(counts) - 1
                new_high = max(high, o_high)
                new_low = max(min(low, o_low), new_high - self._max_buckets + 1)
                if new_low != low or new_high != high:
                    counts = self._counts = _spread(counts, low, new_low, new_high)
                    self._offset = new_low
            else:
                new_low = max(o_low, o_high - self._max_buckets + 1)
                counts = self._counts = [0] * (o_high - new_low + 1)
                self._offset = new_low
            _combine(counts, self._offset, o_counts, o_low, add)
        self._zero += other._zero
        self._n += other._n
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def subtract(self, other: DDSketch) -> None:
        """Take out a sketch that was merged in (a window leaving a rolling view).

        ``ValueError``, and nothing changes, when a count would go negative: ``other`` was
        not merged in. (A sketch that was not merged in but whose counts fit is not caught.)
        """
        self._check_compatible(other)
        if not other._n:
            return
        if other._n > self._n or other._zero > self._zero:
            raise ValueError("cannot subtract a sketch that was not merged into this one")
        counts = list(self._counts)
        low = self._offset
        if other._counts:
            o_high = other._offset + len(other._counts) - 1
            if not counts or o_high > low + len(counts) - 1:
                raise ValueError("cannot subtract a sketch that was not merged into this one")
            # Indices below ours were folded into our lowest bucket, so they come out of it.
            _combine(counts, low, other._counts, other._offset, sub)
            if min(counts) < 0:
                raise ValueError("cannot subtract a sketch that was not merged into this one")
        start = 0
        while start < len(counts) and not counts[start]:
            start += 1
        end = len(counts)
        while end > start and not counts[end - 1]:
            end -= 1
        self._counts = counts[start:end]
        self._offset = low + start if self._counts else 0
        self._zero -= other._zero
        self._n -= other._n
        if not self._n:
            self._sum, self._min, self._max = 0.0, _INF, -_INF
            return
        # Cancellation can leave a tiny negative rest of a sum of non-negative values.
        self._sum = max(0.0, self._sum - other._sum)
        gamma = self._gamma
        lowest = 0.0 if self._zero else gamma ** (self._offset - 1)
        highest = (
            gamma ** (self._offset + len(self._counts) - 1) if self._counts else ZERO_THRESHOLD
        )
        # The previous min and max still bound what is left; each bucket edge may be tighter.
        self._min = max(self._min, lowest)
        self._max = min(self._max, highest)

    def _check_compatible(self, other: DDSketch) -> None:
        if not isinstance(other, DDSketch):
            raise TypeError(f"expected a DDSketch, got {type(other).__name__}")
        if other._alpha != self._alpha:
            raise ValueError(
                f"relative accuracies differ ({self._alpha} and {other._alpha}): "
                "their buckets do not line up"
            )

    # -- answers ------------------------------------------------------------------------

    def quantile(self, q: float) -> float | None:
        """The lower nearest-rank ``q``-quantile within ``relative_accuracy``; None if empty."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be in [0, 1], got {q!r}")
        n = self._n
        if not n:
            return None
        rank = max(ceil(q * n) - 1, 0)  # 0-based, as sorted(values)[ceil(q*n) - 1]
        seen = self._zero
        if rank < seen:
            value = 0.0
        else:
            # The first bucket whose running count passes the rank; accumulate and bisect
            # run in C, a Python loop over the buckets took as long for p99 alone.
            index = bisect_right(list(accumulate(self._counts)), rank - seen)
            value = self._value(self._offset + index)
        return min(max(value, self._min), self._max)

    def _value(self, index: int) -> float:
        # 2*gamma**i/(gamma+1) == (1+alpha)*gamma**(i-1): the second cannot overflow for
        # an index of a finite value.
        return (1.0 + self._alpha) * self._gamma ** (index - 1)

    @property
    def count(self) -> int:
        return self._n

    @property
    def sum(self) -> float:
        return self._sum

    @property
    def min(self) -> float | None:
        return self._min if self._n else None

    @property
    def max(self) -> float | None:
        return self._max if self._n else None

    @property
    def relative_accuracy(self) -> float:
        return self._alpha

    @property
    def max_buckets(self) -> int:
        return self._max_buckets

    # -- state --------------------------------------------------------------------------

    def copy(self) -> DDSketch:
        clone = object.__new__(type(self))
        for name in self.__slots__:
            setattr(clone, name, getattr(self, name))
        clone._counts = list(self._counts)
        return clone

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state: ``o`` is the index of ``c[0]``, ``z`` the zero bucket's count.

        >>> import json
        >>> sketch = DDSketch()
        >>> sketch.add_many([1.0, 1.01, 1.5, 0.0])
        >>> state = sketch.to_dict()
        >>> state["o"], state["c"][:3], len(state["c"]), state["z"], state["n"], state["mx"]
        (0, [1, 1, 0], 22, 1, 4, 1.5)
        >>> DDSketch.from_dict(json.loads(json.dumps(state))) == sketch
        True
        """
        empty = not self._n
        return {
            "a": self._alpha,
            "b": self._max_buckets,
            "o": self._offset,
            "c": list(self._counts),
            "z": self._zero,
            "n": self._n,
            "s": self._sum,
            # JSON has no infinities: an empty sketch has no min or max.
            "mn": None if empty else self._min,
            "mx": None if empty else self._max,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DDSketch:
        """The sketch ``to_dict`` described; ``ValueError`` if the state is inconsistent."""
        try:
            sketch = cls(data["a"], data.get("b", DEFAULT_MAX_BUCKETS))
            counts, offset, zero, n = list(data["c"]), data["o"], data["z"], data["n"]
            total = float(data["s"])
            low = None if data["mn"] is None else float(data["mn"])
            high = None if data["mx"] is None else float(data["mx"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a DDSketch state: {exc!r}") from exc
        if not all(
            isinstance(i, int) and not isinstance(i, bool) for i in (*counts, offset, zero, n)
        ):
            raise ValueError("inconsistent DDSketch state: counts and indices must be integers")
        if (
            any(c < 0 for c in counts)
            or zero < 0
            or n != zero + sum(counts)
            or len(counts) > sketch._max_buckets
            or (counts and not (counts[0] and counts[-1]))
        ):
            raise ValueError("inconsistent DDSketch state: counts")
        if not 0.0 <= total < _INF:
            raise ValueError("inconsistent DDSketch state: sum")
        if n and (low is None or high is None or not 0.0 <= low <= high):
            raise ValueError("inconsistent DDSketch state: min and max")
        sketch._counts = counts
        sketch._offset = offset if counts else 0
        sketch._zero, sketch._n, sketch._sum = zero, n, total
        if n:
            sketch._min, sketch._max = low, high
        return sketch

    def __eq__(self, other: object) -> bool:
        """Same buckets, count, min and max; sums equal but for rounding.

        The sum is accumulated in arrival order, so the sketch of a concatenation and the
        merge of its parts differ in its last bits.
        """
        if not isinstance(other, DDSketch):
            return NotImplemented
        return (
            self._alpha == other._alpha
            and self._max_buckets == other._max_buckets
            and self._offset == other._offset
            and self._counts == other._counts
            and self._zero == other._zero
            and self._n == other._n
            and self._min == other._min
            and self._max == other._max
            and math.isclose(self._sum, other._sum, rel_tol=1e-9, abs_tol=1e-9)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"DDSketch(relative_accuracy={self._alpha}, count={self._n}, "
            f"buckets={len(self._counts)}, min={self.min}, max={self.max})"
        )


def _spread(counts: list[int], offset: int, low: int, high: int) -> list[int]:
    """``counts`` (from index ``offset``) laid on ``low .. high``; those below fold into low.

    ``high`` must be at least the highest index of ``counts``.
    """
    out = [0] * (high - low + 1)
    below = low - offset
    if below > 0:
        out[0] = sum(counts[: below + 1])
        rest = counts[below + 1 :]
        out[1 : 1 + len(rest)] = rest
    else:
        out[-below : -below + len(counts)] = counts
    return out


def _combine(dst: list[int], dst_low: int, src: list[int], src_low: int, op: Any) -> None:
    """``dst[i] = op(dst[i], src[j])`` bucket by bucket; src below dst_low goes to dst[0].

    ``src`` must not reach above ``dst``.
    """
    below = dst_low - src_low
    if below > 0:
        dst[0] = op(dst[0], sum(src[:below]))
        src = src[below:]
        start = 0
    else:
        start = -below
    end = start + len(src)
    # map() over slices: one C loop instead of a Python loop per bucket.
    dst[start:end] = map(op, dst[start:end], src)
