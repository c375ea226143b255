"""The whole slice with real processes: predictions -> slo -> alerts -> router -> webhook.

A model starts failing, then recovers: the on-call receiver is told once that it fires and
once that it is resolved.
"""

from __future__ import annotations

import time

import pytest

from watchkeeper.devstack import WebhookReceiver
from watchkeeper.sdk import Emitter

pytestmark = pytest.mark.kafka

RULES = """
rules:
  - alert: HighErrorRate
    expr: error_rate > 10%
    min_count: 20
    severity: page
    labels: {team: risk}
    annotations: {summary: "{model} {version}: {value:.0%} of requests fail"}
"""
ROUTER = """
route:
  receiver: default
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['team="risk"']
      receiver: risk-oncall
receivers:
  - name: default
    webhook_configs:
      - url: {url}/default
  - name: risk-oncall
    webhook_configs:
      - url: {url}/risk
"""


def play(emitter: Emitter, seconds: float, error_every: int) -> float | None:
    """~400 predictions/s of two models; every ``error_every``-th fraud call fails.
    Returns the wall time of the first failing call."""
    first_error = None
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        failing = error_every and i % error_every == 0
        if failing and first_error is None:
            first_error = time.time()
        emitter.prediction(
            model="fraud", version="3", latency_ms=8.0, status="ERROR" if failing else "OK"
        )
        emitter.prediction(model="recommender", version="11", latency_ms=40.0)
        i += 1
        time.sleep(0.005)
    emitter.flush(10)
    return first_error


def test_a_failing_model_pages_once_and_resolves_once(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    receiver = WebhookReceiver().start()
    try:
        (tmp_path / "rules.yaml").write_text(RULES)
        (tmp_path / "router.yaml").write_text(ROUTER.format(url=receiver.url))
        start_service(
            "services.slo",
            prefix,
            WK_SLO_RULES=str(tmp_path / "rules.yaml"),
            WK_SLO_WINDOW_S="2",
            WK_SLO_GRACE_S="1",
            WK_SLO_IDLE_S="2",
        )
        start_service("services.router", prefix, WK_ROUTER_CONFIG=str(tmp_path / "router.yaml"))
        emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-slice")
        play(emitter, 3.0, error_every=0)
        failed_at = play(emitter, 4.0, error_every=3)  # a third of fraud's calls fail
        play(emitter, 6.0, error_every=0)
        assert emitter.close(10) == 0

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(receiver.delivered("/risk")) < 2:
            time.sleep(0.2)
        time.sleep(2.0)  # a duplicate would arrive within a few group intervals
        notifications = receiver.delivered("/risk")
        statuses = [n.body["status"] for n in notifications]
        assert statuses == ["firing", "resolved"], statuses
        firing, resolved = (n.body for n in notifications)
        (alert,) = firing["alerts"]
        assert alert["labels"]["alertname"] == "HighErrorRate"
        assert alert["labels"]["model"] == "fraud"
        assert alert["annotations"]["summary"].startswith("fraud 3: ")
        assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
        assert resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
        assert receiver.requests("/default") == []  # routed to the team, nowhere else
        # Detected within about a second of the first failing call (no window wait).
        assert notifications[0].at - failed_at < 3.0
    finally:
        receiver.stop()
