"""One monitored input (or the prediction): its window of recent values, its streaming
detector, its data-quality counts, and its verdict against the reference."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any

import numpy as np

from .config import MonitorSettings
from .detectors import Stream, numeric_detector
from .profile import CategoricalProfile, NumericProfile
from .statistics import (
    EPSILON,
    QUANTILE_GRID,
    chdtrc,
    chi_square_p,
    js_distance,
    psi,
    robust_wasserstein,
    sorted_bin_counts,
    sorted_quantiles,
)

NUMERIC, CATEGORICAL, PREDICTION = "NUMERIC", "CATEGORICAL", "PREDICTION"
RECENT = 64  # at least this many values behind a detector's alarm are tested


@dataclass
class Result:
    """A feature's verdict for one evaluation (one row of a drift report)."""

    feature: str
    kind: str
    samples: int
    psi: float
    distance: float
    p_value: float
    wasserstein: float | None
    drifted: bool
    statistic: str | None  # what made it drift: psi, distance, adwin, new_category
    missing: int
    invalid: int
    wrong_type: int
    new_categories: int
    clear: bool  # far enough below the thresholds to resolve a firing alert


class Quality:
    """Data-quality counts since the last report; never part of the statistics."""

    __slots__ = ("invalid", "missing", "new_categories", "wrong_type")

    def __init__(self) -> None:
        self.missing = self.invalid = self.wrong_type = self.new_categories = 0

    def take(self) -> tuple[int, int, int, int]:
        counts = (self.missing, self.invalid, self.wrong_type, self.new_categories)
        self.missing = self.invalid = self.wrong_type = self.new_categories = 0
        return counts


class NumericFeature:
    def __init__(
        self, name: str, profile: NumericProfile, settings: MonitorSettings, kind: str = NUMERIC
    ) -> None:
        self.name, self.kind, self.settings = name, kind, settings
        self.edges = np.asarray(profile.edges)
        self.reference = np.asarray(profile.proportions)
        self.ref_quantiles = np.asarray(profile.quantiles)
        self.ref_mean, self.ref_std = profile.mean, profile.std or 1.0
        self.ref_size = profile.count
        self.values: deque[float] = deque(maxlen=settings.window)
        detector = numeric_detector(
            settings.detector_for(name) if kind == NUMERIC else "none", settings.adwin_delta
        )
        self.stream = Stream(detector) if detector is not None else None
        self.append = self.values.append  # the hot loop in ModelMonitor.observe calls these
        self.changed = False  # the streaming detector fired since the last evaluation
        self.change_z = settings.change_z
        self.quality = Quality()

    def add(self, value: float) -> bool:
        """Take one value; True when it makes the streaming detector report a change.
        (ModelMonitor.observe inlines this for speed: keep both in step.)"""
        if not math.isfinite(value):
            self.quality.invalid += 1  # NaN and infinities never reach the statistics
            return False
        self.values.append(value)
        return self.stream is not None and self.stream.update(value) and self.detected()

    def detected(self) -> bool:
        """The detector fired. It counts only if the data on the new side of the change
        differs from the reference mean by ``change_z`` standard errors: a detector also
        cuts, rarely, between two stretches of one distribution (about once per 2 million
        stationary values here), and then the new side looks like the reference."""
        after = self.stream.after if self.stream is not None else None
        if after is None or after[1] < RECENT:
            recent = list(islice(reversed(self.values), RECENT))
            after = (sum(recent) / len(recent), len(recent))
        mean, count = after
        if abs(mean - self.ref_mean) * math.sqrt(count) >= self.change_z * self.ref_std:
            self.changed = True
        return self.changed

    def evaluate(self) -> Result:
        values = np.sort(np.fromiter(self.values, dtype=float, count=len(self.values)))
        counts = sorted_bin_counts(values, self.edges)
        stat_psi = psi(self.reference, counts)
        distance = js_distance(self.reference, counts)
        p_value = chi_square_p(self.reference, counts, self.ref_size)
        wasserstein = robust_wasserstein(self.ref_quantiles, sorted_quantiles(values))
        return self.verdict(len(values), stat_psi, distance, p_value, wasserstein)

    def verdict(
        self, samples: int, stat_psi: float, distance: float, p_value: float, wasserstein: float
    ) -> Result:
        s = self.settings
        statistic = None
        if stat_psi >= s.psi_alert:
            statistic = "psi"
        elif distance >= s.distance and p_value < s.p_value:
            statistic = "distance"
        elif self.changed:
            statistic = "adwin"
        self.changed = False
        missing, invalid, wrong_type, new = self.quality.take()
        return Result(
            self.name,
            self.kind,
            samples,
            stat_psi,
            distance,
            p_value,
            wasserstein,
            statistic is not None,
            statistic,
            missing,
            invalid,
            wrong_type,
            new,
            clear=stat_psi < s.psi_warn and distance < s.distance,
        )


class CategoricalFeature:
    def __init__(
        self,
        name: str,
        profile: CategoricalProfile,
        settings: MonitorSettings,
        kind: str = CATEGORICAL,
    ) -> None:
        self.name, self.kind, self.settings = name, kind, settings
        categories = list(profile.shares)
        self.index = {c: i for i, c in enumerate(categories)}
        self.other = len(categories)  # bin for everything beyond the reference's top
        # A category is provably new only when the reference listed every category it had.
        self.closed = profile.other == 0.0
        # One more bin after "other" for categories provably never seen: they count as other
        # in the statistics and on their own for the new-category share.
        self.new = self.other + 1 if self.closed else self.other
        self.reference = np.asarray([*profile.shares.values(), profile.other])
        self.ref_size = profile.count
        self.values: deque[int] = deque(maxlen=settings.window)
        self.append = self.values.append
        self.quality = Quality()

    def add(self, value: str) -> None:
        index = self.index.get(value)
        if index is None:
            index = self.new
            if self.closed:
                self.quality.new_categories += 1
        self.values.append(index)

    def evaluate(self) -> Result:
        s = self.settings
        counts = np.bincount(
            np.fromiter(self.values, dtype=np.int64, count=len(self.values)),
            minlength=self.other + 2,
        )
        new_share = counts[self.other + 1] / len(self.values) if self.values else 0.0
        counts = counts[: self.other + 1].copy()
        counts[self.other] += len(self.values) - counts.sum()
        stat_psi = psi(self.reference, counts)
        distance = js_distance(self.reference, counts)
        p_value = chi_square_p(self.reference, counts, self.ref_size)
        statistic = None
        if stat_psi >= s.psi_alert:
            statistic = "psi"
        elif distance >= s.distance and p_value < s.p_value:
            statistic = "distance"
        elif new_share >= s.new_category_share:
            statistic = "new_category"
        missing, invalid, wrong_type, new = self.quality.take()
        clear = stat_psi < s.psi_warn and distance < s.distance and new_share < s.new_category_share
        return Result(
            self.name,
            self.kind,
            len(self.values),
            stat_psi,
            distance,
            p_value,
            None,
            statistic is not None,
            statistic,
            missing,
            invalid,
            wrong_type,
            new,
            clear,
        )


def for_profile(name: str, profile: Any, settings: MonitorSettings, kind: str | None = None):
    if isinstance(profile, NumericProfile):
        return NumericFeature(name, profile, settings, kind or NUMERIC)
    return CategoricalFeature(name, profile, settings, kind or CATEGORICAL)


def evaluate_numeric(features: list[NumericFeature]) -> list[Result]:
    """``NumericFeature.evaluate`` for many features at once, with the same answers.

    Twenty features one by one cost ~20 small numpy calls each; stacked into one matrix
    they cost the same ~20 calls in all. Windows of unequal length (a feature with missing
    values) take the one-by-one path.
    """
    if not features:
        return []
    length = len(features[0].values)
    if any(len(f.values) != length for f in features) or length == 0:
        return [f.evaluate() for f in features]
    values = np.fromiter(
        chain.from_iterable(f.values for f in features), dtype=float, count=length * len(features)
    ).reshape(len(features), length)
    values.sort(axis=1)
    width = max(len(f.edges) for f in features)
    # Pad each feature's edges with +inf: padded bins stay empty on both sides.
    edges = np.full((len(features), width), np.inf)
    reference = np.zeros((len(features), width + 1))
    used = np.zeros((len(features), width + 1), dtype=bool)  # the real bins, not padding
    for row, feature in enumerate(features):
        edges[row, : len(feature.edges)] = feature.edges
        reference[row, : len(feature.reference)] = feature.reference
        used[row, : len(feature.reference)] = True
    # Values under each edge: the rows are sorted, so a binary search per row (20 small
    # calls) beats one broadcast comparison of every value with every edge by ten times.
    below = np.array([np.searchsorted(values[row], edges[row]) for row in range(len(features))])
    counts = np.diff(
        np.concatenate(
            (np.zeros((len(features), 1)), below, np.full((len(features), 1), length)), axis=1
        )
    )
    expected = np.where(used, np.maximum(reference, EPSILON), 1.0)
    actual = np.where(used, np.maximum(counts / length, EPSILON), 1.0)
    psis = np.sum((actual - expected) * np.log(actual / expected), axis=1)
    # Normalise over the used bins only: the 1.0 placeholders of padding must not count.
    p = np.where(used, expected, 0.0)
    p = p / p.sum(axis=1, keepdims=True)
    q = np.where(used, actual, 0.0)
    q = q / q.sum(axis=1, keepdims=True)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(used, p * np.log2(np.where(used, p / m, 1.0)), 0.0).sum(axis=1)
        kl_q = np.where(used, q * np.log2(np.where(used, q / m, 1.0)), 0.0).sum(axis=1)
    distances = np.sqrt(np.maximum(0.5 * kl_p + 0.5 * kl_q, 0.0))
    sizes = np.array([f.ref_size for f in features], dtype=float)[:, None]
    ref_counts = reference * sizes
    column = ref_counts + counts
    keep = column > 0
    total = sizes + length
    exp_ref = sizes * column / total
    exp_win = length * column / total
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.where(
            keep, (ref_counts - exp_ref) ** 2 / exp_ref + (counts - exp_win) ** 2 / exp_win, 0.0
        ).sum(axis=1)
    dof = keep.sum(axis=1) - 1
    p_values = np.where(dof > 0, chdtrc(np.maximum(dof, 1), statistic), 1.0)
    quantiles = values[:, np.rint(QUANTILE_GRID * (length - 1)).astype(np.int64)]
    results = []
    for row, feature in enumerate(features):
        wasserstein = robust_wasserstein(feature.ref_quantiles, quantiles[row])
        results.append(
            feature.verdict(
                length, float(psis[row]), float(distances[row]), float(p_values[row]), wasserstein
            )
        )
    return results
