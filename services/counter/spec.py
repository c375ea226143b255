"""counter, declared: predictions, telemetry and feedback in; Prometheus counts out, on Faust."""

from __future__ import annotations

from watchkeeper.kit import Parts, ServiceSpec, Setting

from .config import NAME, CounterConfig
from .task import CounterTask, EventCounter


def build(config: CounterConfig, codec) -> Parts:
    # One counter for the process: WK_COUNTER_MAX_SERIES caps the series this process
    # exports, not each partition's.
    counter = EventCounter(config.max_series)
    return Parts(tasks=lambda partition: CounterTask(counter))


SPEC = ServiceSpec(
    name=NAME,
    summary="counts events per topic, model, version and status (the smallest service)",
    inputs=("predictions", "telemetry", "feedback"),
    outputs=(),
    config=CounterConfig.from_env,
    build=build,
    engine="faust",
    settings=(
        Setting("WK_COUNTER_MAX_SERIES", "1000", "(model, version) pairs with their own series"),
    ),
    doc="docs/services/counter.md",
    surface="Prometheus counts (wk_counter_events_total)",
)
