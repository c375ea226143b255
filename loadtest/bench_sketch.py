"""Latency sketches for the slo service: our DDSketch beside exact sorting and PyPI's own.

All of them get the same 200,000 heavy-tailed latencies (lognormal body, Pareto tail) in
the same run: add rate (best of 5, the contestants taking turns), the merge of 10 sketches
of 20,000 values each, the serialized size and the worst relative error over
p50/p95/p99/p99.9 against exact lower nearest-rank quantiles. A dict-backed variant of our
sketch is measured beside it: that comparison chose the dense list
(docs/services/slo-sketch.md).

The competitors are installed for this benchmark only, pinned, into
``.cache/bench-extras`` (never into the project's venv) when that folder is missing; one
that does not install or import is skipped with the reason.

Writes ``loadtest/results/sketch.json``: ours_adds_per_s, ours_max_rel_error,
exact_sort_values_per_s, and ``<name>_adds_per_s``, ``<name>_max_rel_error``,
``<name>_merge10_ms``, ``<name>_bytes`` for every sketch that ran.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from math import ceil, log
from pathlib import Path
from typing import Any

from services.slo.sketch import ZERO_THRESHOLD, DDSketch

from .harness import best_rate, table, write_results

VALUES = 200_000
PARTS = 10
QUANTILES = (0.5, 0.95, 0.99, 0.999)
REPO = Path(__file__).resolve().parent.parent
EXTRAS = REPO / ".cache" / "bench-extras"
# Pinned with their runtime dependencies and installed with --no-deps, so a run is
# reproducible; numpy comes from the project's venv (river brings it).
PINS = {
    "ddsketch": ["ddsketch==3.0.1", "six==1.17.0", "protobuf==7.36.2"],
    "hdrhistogram": ["hdrhistogram==0.10.8"],
    "tdigest": ["tdigest==0.5.2.2", "accumulation-tree==0.6.4", "pyudorandom==1.0.0"],
    "pytdigest": ["pytdigest==0.1.4", "pandas==3.1.1", "python-dateutil==4.0.0", "tzdata==2026.6"],
}
# HdrHistogram counts integers in a range fixed up front: microseconds up to one hour.
HDR_HIGHEST_US = 3_600_000_000


def latencies(n: int = VALUES, seed: int = 42) -> list[float]:
    """Milliseconds: 90 % lognormal around 20 ms, 10 % a Pareto(1.2) tail from 100 ms."""
    rng = random.Random(seed)
    return [
        rng.lognormvariate(math.log(20.0), 1.0)
        if rng.random() < 0.9
        else 100.0 * rng.paretovariate(1.2)
        for _ in range(n)
    ]


def exact_quantile(ordered: list[float], q: float) -> float:
    return ordered[max(ceil(q * len(ordered)) - 1, 0)]


# -- the contestants -------------------------------------------------------------------


@dataclass
class Contestant:
    name: str  # key prefix in sketch.json
    label: str
    serialized: str  # what the size column measures
    new: Callable[[], Any]
    adder: Callable[[Any], Callable[[Any], object]]
    quantile: Callable[[Any, float], float]
    merge: Callable[[list[Any]], object]  # a new sketch of all the parts
    size: Callable[[Any], int]
    prepare: Callable[[list[float]], list] = list  # input conversion, not timed
    finish: Callable[[Any], object] = lambda sketch: None  # timed: what answering needs
    batch: Callable[[list], object] | None = None
    repeats: int = 5
    notes: str = ""


def _merge_ours(parts: list[DDSketch]) -> DDSketch:
    total = DDSketch()
    for part in parts:
        total.merge(part)
    return total


def _merge_sorted(parts: list[list[float]]) -> list[float]:
    total: list[float] = []
    for part in parts:
        total.extend(part)
    total.sort()
    return total


def _ours_batch(values: list[float]) -> DDSketch:
    sketch = DDSketch()
    sketch.add_many(values)
    return sketch


class DictStoreSketch:
    """The storage alternative: a dict of bucket index -> count, same keys, same care.

    Only what the choice needs (add, merge, quantile); it has no bound on its buckets,
    which would cost a ``len()`` per add or a lazy pass before every answer.
    """

    __slots__ = ("_bins", "_max", "_min", "_multiplier", "_n", "_sum", "_zero")

    def __init__(self) -> None:
        self._multiplier = 1.0 / log(1.01 / 0.99)
        self._bins: dict[int, int] = {}
        self._zero = self._n = 0
        self._sum = 0.0
        self._min, self._max = math.inf, -math.inf

    def add(self, value: float) -> None:
        if ZERO_THRESHOLD < value < math.inf:
            key = ceil(log(value) * self._multiplier)
            bins = self._bins
            bins[key] = bins.get(key, 0) + 1
        elif 0.0 <= value <= ZERO_THRESHOLD:
            self._zero += 1
        else:
            raise ValueError(value)
        self._n += 1
        self._sum += value
        if value < self._min:
            self._min = value
        if value > self._max:
            self._max = value

    def merge(self, other: DictStoreSketch) -> None:
        bins = self._bins
        get = bins.get
        for key, count in other._bins.items():
            bins[key] = get(key, 0) + count
        self._zero += other._zero
        self._n += other._n
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def quantile(self, q: float) -> float:
        rank = max(ceil(q * self._n) - 1, 0)
        seen = self._zero
        if rank < seen:
            return 0.0
        bins = self._bins
        key = 0
        for key in sorted(bins):  # the dict has no order: sorted on every answer
            seen += bins[key]
            if seen > rank:
                break
        value = 2.0 * (1.01 / 0.99) ** key / (1.01 / 0.99 + 1.0)
        return min(max(value, self._min), self._max)


def _merge_dict_store(parts: list[DictStoreSketch]) -> DictStoreSketch:
    total = DictStoreSketch()
    for part in parts:
        total.merge(part)
    return total


def _ours_and_baselines() -> list[Contestant]:
    return [
        Contestant(
            name="ours",
            label="ours: DDSketch, dense list",
            serialized="to_dict JSON",
            new=DDSketch,
            adder=lambda s: s.add,
            quantile=lambda s, q: s.quantile(q),
            merge=_merge_ours,
            size=lambda s: len(json.dumps(s.to_dict(), separators=(",", ":"))),
            batch=_ours_batch,
        ),
        Contestant(
            name="dictstore",
            label="DDSketch, dict store",
            serialized="JSON {index: count}",
            new=DictStoreSketch,
            adder=lambda s: s.add,
            quantile=lambda s, q: s.quantile(q),
            merge=_merge_dict_store,
            size=lambda s: len(json.dumps(s._bins, separators=(",", ":"))),
        ),
        Contestant(
            name="exact_sort",
            label="exact: keep all, sort",
            serialized="float64 array",
            new=list,
            adder=lambda s: s.append,
            quantile=exact_quantile,
            merge=_merge_sorted,
            size=lambda s: 8 * len(s),
            finish=lambda s: s.sort(),
        ),
    ]


def _install_extras() -> None:
    """pip install the pinned competitors into EXTRAS, once; failures are reported."""
    if EXTRAS.exists():
        return
    EXTRAS.mkdir(parents=True)
    for name, pins in PINS.items():
        print(f"   installing {name} for this benchmark: {' '.join(pins)}")
        try:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "--target",
                    str(EXTRAS),
                    *pins,
                ],
                capture_output=True,
                text=True,
                timeout=900,
            )
        except subprocess.TimeoutExpired:
            print(f"   {name}: pip install timed out; it will be skipped")
            continue
        if result.returncode:
            reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"   {name}: pip install failed ({reason}); it will be skipped")


def _competitors() -> list[Contestant]:
    _install_extras()
    # After the venv's own site-packages: the project's numpy wins over any copy here.
    if str(EXTRAS) not in sys.path:
        sys.path.append(str(EXTRAS))
    found = []
    for name, make in (
        ("ddsketch", _ddsketch),
        ("hdrhistogram", _hdrhistogram),
        ("tdigest", _tdigest),
        ("pytdigest", _pytdigest),
    ):
        try:
            found.append(make())
        except ImportError as exc:
            print(f"   {name} skipped: {exc} (delete {EXTRAS.relative_to(REPO)} to install again)")
    return found


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "?"


def _ddsketch() -> Contestant:
    ddsketch = importlib.import_module("ddsketch")
    proto = importlib.import_module("ddsketch.pb.proto")

    def merge(parts: list[Any]) -> Any:
        total = ddsketch.DDSketch(0.01)
        for part in parts:
            total.merge(part)
        return total

    return Contestant(
        name="ddsketch",
        label=f"ddsketch {_version('ddsketch')} (DataDog)",
        serialized="protobuf",
        new=lambda: ddsketch.DDSketch(0.01),
        adder=lambda s: s.add,
        quantile=lambda s, q: s.get_quantile_value(q),
        merge=merge,
        size=lambda s: len(proto.DDSketchProto.to_proto(s).SerializeToString()),
    )


def _hdrhistogram() -> Contestant:
    histogram = importlib.import_module("hdrh.histogram")

    def new() -> Any:
        return histogram.HdrHistogram(1, HDR_HIGHEST_US, 2)

    def merge(parts: list[Any]) -> Any:
        total = new()
        for part in parts:
            total.add(part)
        return total

    return Contestant(
        name="hdrhistogram",
        label=f"hdrhistogram {_version('hdrhistogram')}, 2 digits",
        serialized="encode() (zlib, base64)",
        new=new,
        adder=lambda s: s.record_value,
        quantile=lambda s, q: s.get_value_at_percentile(q * 100.0) / 1000.0,
        merge=merge,
        size=lambda s: len(s.encode()),
        # Integers only: microseconds, converted before the clock starts.
        prepare=lambda values: [round(v * 1000.0) for v in values],
        notes="range fixed: 1 us .. 1 h",
    )


def _tdigest() -> Contestant:
    tdigest = importlib.import_module("tdigest")
    return Contestant(
        name="tdigest",
        label=f"tdigest {_version('tdigest')} (pure Python)",
        serialized="to_dict JSON",
        new=tdigest.TDigest,
        adder=lambda s: s.update,
        quantile=lambda s, q: s.percentile(q * 100.0),
        merge=lambda parts: functools.reduce(lambda a, b: a + b, parts),
        size=lambda s: len(json.dumps(s.to_dict(), separators=(",", ":"))),
        repeats=1,  # about 5 s a pass
        notes="best of 1",
    )


def _pytdigest() -> Contestant:
    numpy = importlib.import_module("numpy")
    pytdigest = importlib.import_module("pytdigest")
    return Contestant(
        name="pytdigest",
        label=f"pytdigest {_version('pytdigest')} (C)",
        serialized="centroids float64",
        new=pytdigest.TDigest,
        adder=lambda s: s.update,
        quantile=lambda s, q: float(s.inverse_cdf(q)),
        merge=lambda parts: pytdigest.TDigest.combine(parts),
        size=lambda s: s.get_centroids().nbytes,
        batch=lambda values: pytdigest.TDigest.compute(numpy.asarray(values, dtype=float)),
    )


# -- measuring -------------------------------------------------------------------------


def _fill(contestant: Contestant, values: Iterable) -> Any:
    sketch = contestant.new()
    add = contestant.adder(sketch)
    for value in values:
        add(value)
    contestant.finish(sketch)
    return sketch


def _best_seconds(fn: Callable[[], object], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def add_rates(contestants: list[Contestant], data: dict[str, list]) -> dict[str, Any]:
    """Best add rate and batch rate of each, in rounds that take turns.

    Taking turns spreads whatever else the shared machine does over every contestant,
    where five runs in a row would hand one of them a bad patch.
    """
    rates: dict[str, Any] = {}
    for turn in range(max(c.repeats for c in contestants)):
        for contestant in contestants:
            if turn >= contestant.repeats:
                continue
            values = data[contestant.name]
            built: list[Any] = []

            def build(contestant=contestant, values=values, built=built) -> int:
                built.append(_fill(contestant, values))
                return len(values)

            rate = best_rate(build, repeats=1)
            best = rates.setdefault(contestant.name, {"adds_per_s": 0.0, "sketch": None})
            if rate > best["adds_per_s"]:
                best["adds_per_s"], best["sketch"] = rate, built[0]
            if contestant.batch is not None:

                def build_batch(batch=contestant.batch, values=values) -> int:
                    batch(values)
                    return len(values)

                batch_rate = best_rate(build_batch, repeats=1)
                best["batch_adds_per_s"] = max(best.get("batch_adds_per_s", 0.0), batch_rate)
    return rates


def measure(contestant: Contestant, data: list, sketch: Any, ordered: list[float]) -> dict:
    """Merge, answer and size figures of one contestant, on the sketch of all values."""
    size = len(data) // PARTS
    parts = [_fill(contestant, data[i * size : (i + 1) * size]) for i in range(PARTS)]
    merge_s = _best_seconds(lambda: contestant.merge(parts), contestant.repeats)
    errors = {}
    for q in QUANTILES:
        exact = exact_quantile(ordered, q)
        errors[q] = abs(contestant.quantile(sketch, q) - exact) / exact
    quantiles_s = _best_seconds(
        lambda: [contestant.quantile(sketch, q) for q in QUANTILES], contestant.repeats
    )
    return {
        "merge10_ms": merge_s * 1000.0,
        "quantiles_us": quantiles_s * 1e6,
        "bytes": contestant.size(sketch),
        "max_rel_error": max(errors.values()),
        "p99_rel_error": errors[0.99],
    }


def run(kafka_bootstrap: str | None = None) -> dict[str, float]:
    values = latencies()
    ordered = sorted(values)
    contestants = _ours_and_baselines() + _competitors()
    data = {c.name: c.prepare(values) for c in contestants}
    rates = add_rates(contestants, data)
    figures: dict[str, float] = {"values": float(VALUES)}
    rows = []
    for contestant in contestants:
        result = rates[contestant.name]
        result.update(measure(contestant, data[contestant.name], result.pop("sketch"), ordered))
        for key, value in result.items():
            # Exact quantiles add nothing up: every value is kept, then sorted.
            exact_rate = key == "adds_per_s" and contestant.name == "exact_sort"
            figures[f"{contestant.name}_{'values_per_s' if exact_rate else key}"] = value
        rows.append(
            [
                contestant.label,
                result["adds_per_s"],
                1e9 / result["adds_per_s"],
                result.get("batch_adds_per_s", "-"),
                result["merge10_ms"],
                result["quantiles_us"],
                f"{result['bytes']:,} ({contestant.serialized})",
                f"{100.0 * result['max_rel_error']:.2f} %",
                contestant.notes,
            ]
        )
    print(
        table(
            f"sketch: {VALUES:,} latencies (lognormal + Pareto tail), relative accuracy 1 %; "
            f"merge of {PARTS} x {VALUES // PARTS:,}; error = worst of p50/p95/p99/p99.9",
            [
                "sketch",
                "adds/s",
                "ns/add",
                "batch/s",
                "merge 10 ms",
                "4 quantiles us",
                "serialized B",
                "max rel err",
                "notes",
            ],
            rows,
        )
    )
    print(f"-> {write_results('sketch', figures)}")
    return figures
