"""ModelDegraded on a real broker: slo fires it when a model's share of fallback or cached
answers stays above the threshold for ``degraded_for`` (the rule's ``for``), and resolves
it on the first window back to normal."""

from __future__ import annotations

import time

import pytest

from watchkeeper.codec import Codec
from watchkeeper.runtime import compacted
from watchkeeper.sdk import Emitter

from .helpers import consume

pytestmark = pytest.mark.kafka
CODEC = Codec()
WINDOW_MS = 10_000

RULES = """
rules:
  - alert: ModelDegraded
    expr: degraded_fraction > 50%
    for: 20s
    min_count: 10
    severity: ticket
    annotations:
      summary: "{model}: {value:.0%} degraded"
"""


def test_model_degraded_fires_then_resolves(kafka_settings, prefix, start_service, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    start_service(
        "services.slo",
        prefix,
        WK_SLO_RULES=str(rules),
        WK_SLO_WINDOW_S=str(WINDOW_MS // 1000),
        WK_SLO_GRACE_S="1",
        WK_SLO_IDLE_S="600",  # stream time moves with the events alone
        WK_INSTANCE_ID="it-degraded",
    )
    now_ms = int(time.time() * 1000)
    base = now_ms - now_ms % WINDOW_MS - 6 * WINDOW_MS
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-degraded")

    def window(index: int, degraded: int, total: int = 20, model: str = "fraud") -> None:
        for i in range(total):
            emitter.prediction(
                model=model,
                version="3",
                latency_ms=5.0,
                fallback_used=i < degraded and i % 2 == 0,
                cache_hit=i < degraded and i % 2 == 1,
                event_time_ms=base + index * WINDOW_MS + 100 + i,
            )

    window(0, degraded=15)  # 75 %: breached ...
    window(1, degraded=16)  # ... for 20 s (two windows): fires
    window(2, degraded=2)  # 10 %: the first clear window resolves it
    for index in range(3):
        window(index, degraded=0, model="recommender")  # a healthy model alongside: silent
    # One event past the third window's end + grace closes it.
    emitter.prediction(
        model="fraud", version="3", latency_ms=5.0, event_time_ms=base + 3 * WINDOW_MS + 1500
    )
    assert emitter.close(30) == 0

    alerts = [
        CODEC.decode_as("Alert", m.value())
        for m in consume(kafka_settings, prefix + "alerts", 2, 90)
    ]
    assert [(a["labels"]["alertname"], a["labels"]["model"], a["status"]) for a in alerts] == [
        ("ModelDegraded", "fraud", "FIRING"),
        ("ModelDegraded", "fraud", "RESOLVED"),
    ]
    # Fired early on the open second window or at its close: the share seen so far.
    assert alerts[0]["value"] > 0.5 and alerts[0]["threshold"] == 0.5
    assert alerts[0]["annotations"]["summary"] == f"fraud: {alerts[0]['value']:.0%} degraded"
    # Exactly those two: nothing for the healthy model, no flapping.
    everything = list(compacted.read(kafka_settings, prefix + "alerts", 30))
    assert len(everything) == 2
