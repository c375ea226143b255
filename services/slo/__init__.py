"""slo: latency, throughput, errors and availability per model in event-time windows,
alert rules on them (thresholds, baselines, SLO burn rates), on the batch engine with
exactly-once window state. Contract: docs/services/slo.md."""
