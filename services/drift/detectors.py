"""river's change detectors, chosen by name, and what is known about their cost.

ADWIN (river's Rust implementation) updates in about 0.3 microsecond and finds a one
standard deviation mean shift within ~50 events; with ``delta=1e-4`` it raised no false
alarm in 2 million stationary updates here (``delta=0.002``, river's default, raised two).
Page-Hinkley costs about 0.5 microsecond. KSWIN calls scipy on every update (about 3,000
updates/s) and is not offered on the stream.

>>> detector = numeric_detector("adwin", delta=1e-4)
>>> for x in [0.0] * 500 + [5.0] * 100:
...     detector.update(x)
...     if detector.drift_detected:
...         break
>>> detector.drift_detected
True
"""

from __future__ import annotations

from typing import Any

from river import drift
from river.drift import binary


class Stream:
    """A detector on a numeric stream with one cheap call per value: ``update(x) -> bool``.

    river's ``ADWIN.update`` is a Python wrapper around its Rust window that costs three
    times the Rust call, and resets the whole detector after a detection. On the hot path
    (20 features x 20,000 events/s) we call the Rust window directly and reset it the same
    way ourselves. This leans on river 0.26's ``ADWIN._helper`` (pinned in pyproject.toml;
    ``tests/test_drift_task.py`` would catch a change).

    >>> stream = Stream(numeric_detector("adwin", delta=1e-4))
    >>> any(stream.update(x) for x in [0.0] * 500 + [5.0] * 100)
    True
    """

    def __init__(self, detector: Any) -> None:
        self.detector = detector
        self.adwin = isinstance(detector, drift.ADWIN)
        # What ADWIN held right after its last detection (mean, values): the data on the
        # new side of the change, before the reset throws it away.
        self.after: tuple[float, int] | None = None
        # ``step(x)`` is the hot call: for ADWIN the Rust window's own update (no Python
        # frame in between); when it returns true, call ``signal()`` once.
        self.step = detector._helper.update if self.adwin else self._generic

    def signal(self) -> None:
        """The last ``step`` detected a change: keep what it saw, then start afresh."""
        if self.adwin:
            helper = self.detector._helper
            width = helper.get_width()
            self.after = (helper.get_total() / width if width else 0.0, int(width))
            self.detector._reset()  # as river's wrapper does after a change
            self.step = self.detector._helper.update

    def update(self, x: float) -> bool:
        if self.step(x):
            self.signal()
            return True
        return False

    def _generic(self, x: float) -> bool:
        self.detector.update(x)
        return self.detector.drift_detected


def numeric_detector(kind: str, delta: float = 1e-4) -> Any | None:
    if kind == "adwin":
        return drift.ADWIN(delta=delta)
    if kind == "page_hinkley":
        return drift.PageHinkley()
    if kind == "none":
        return None
    raise ValueError(f"unknown detector {kind!r}")


def error_detector(kind: str) -> Any:
    """A detector of the 0/1 error stream (classification) or absolute errors (ADWIN)."""
    if kind == "ddm":
        return binary.DDM()
    if kind == "hddm_a":
        return binary.HDDMA()
    if kind == "adwin":
        return drift.ADWIN(delta=1e-4)
    raise ValueError(f"unknown concept detector {kind!r}")
