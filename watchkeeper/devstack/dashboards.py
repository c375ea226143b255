"""Grafana dashboards, one per service, built from the metrics the code registers.

Each dashboard has a ``${datasource}`` variable (any Prometheus), a row of what every
service exports (build info; for consumers: consumed, processed, dead letters, lag, commits)
and a panel per metric of the service: counters as ``rate``, gauges as they are, histograms
as p50/p95/p99 by ``histogram_quantile``. ``EXTRA`` adds the panels a metric list cannot
say (the slo error rate). ``python -m watchkeeper.devstack.dashboards`` writes them to
``deploy/grafana/dashboards/``; tests/test_grafana_dashboards.py checks the files are what
this builds, and that every query parses (and returns data, against a real Prometheus).

>>> panel = metric_panel(Row("wk_x_total", "counter", ("model",), "—", "x", "X."), 1)
>>> panel["targets"][0]["expr"]
'sum by (model) (rate(wk_x_total[$__rate_interval]))'
>>> queries(build("counter"))[0]
'wk_build_info{service="counter"}'
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .metric_catalog import Row, rows

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
FOLDER = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
RATE = "$__rate_interval"
UNITS = {"s": "s", "ms": "ms", "USD": "currencyUSD", "bytes": "bytes", "ratio": "percentunit"}

# Extra panels: (title, unit, exprs). Counters alone do not say error rates.
_BY = "model, version, variant"
EXTRA: dict[str, list[tuple[str, str, list[str]]]] = {
    "slo": [
        (
            "Error rate (from wk_slo_predictions_total)",
            "percentunit",
            [
                f'sum by ({_BY}) (rate(wk_slo_predictions_total{{outcome="error"}}[{RATE}])) '
                f"/ sum by ({_BY}) (rate(wk_slo_predictions_total[{RATE}]))"
            ],
        ),
        (
            "Throughput (predictions per second)",
            "reqps",
            [f"sum by ({_BY}) (rate(wk_slo_latency_seconds_count[{RATE}]))"],
        ),
    ],
}


def _engine(name: str) -> str:
    from services import spec

    return getattr(spec(name), "engine", "batch")


def _target(expr: str, legend: str, ref: int) -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend,
        "refId": chr(ord("A") + ref),
    }


def _panel(
    pid: int, title: str, exprs: list[str], unit: str = "short", legends: list[str] | None = None
) -> dict[str, Any]:
    legends = legends or ["__auto"] * len(exprs)
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * ((pid - 1) % 2), "y": 8 * ((pid - 1) // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            _target(e, legend, i) for i, (e, legend) in enumerate(zip(exprs, legends, strict=True))
        ],
    }


def metric_panel(row: Row, pid: int) -> dict[str, Any]:
    """The panel of one metric, by its type."""
    labels = ", ".join(row.labels)
    by = f"sum by ({labels}) " if labels else "sum "
    unit = UNITS.get(row.unit, "short")
    if row.type == "counter":
        return _panel(pid, row.name, [f"{by}(rate({row.name}[{RATE}]))"], "ops")
    if row.type == "histogram":
        keep = ", ".join(["le", *row.labels])
        exprs = [
            f"histogram_quantile({q}, sum by ({keep}) (rate({row.name}_bucket[{RATE}])))"
            for q in ("0.5", "0.95", "0.99")
        ]
        return _panel(pid, f"{row.name} p50 / p95 / p99", exprs, unit, ["p50", "p95", "p99"])
    return _panel(pid, row.name, [row.name], unit)


def _common(name: str) -> list[tuple[str, str, list[str]]]:
    service = f'service="{name}"'
    panels = [("Build info", "short", [f"wk_build_info{{{service}}}"])]
    engine = _engine(name)
    if engine == "own":
        return panels

    def per_topic(metric: str) -> str:
        return f"sum by (topic) (rate({metric}{{{service}}}[{RATE}]))"

    panels += [
        ("Consumed", "ops", [per_topic("wk_messages_consumed_total")]),
        ("Processed", "ops", [per_topic("wk_events_processed_total")]),
        (
            "Dead letters",
            "short",
            [f"sum by (topic, reason) (increase(wk_dead_letters_total{{{service}}}[{RATE}]))"],
        ),
    ]  # fmt: skip
    if engine == "batch":
        panels += [
            (
                "Consumer lag (records)",
                "short",
                [f'sum by (topic, partition) (wk_consumer_lag_records{{group=~".*{name}"}})'],
            ),
            ("Commits", "ops", [f"sum (rate(wk_engine_commits_total{{{service}}}[{RATE}]))"]),
            (
                "Commit time p99",
                "s",
                [
                    "histogram_quantile(0.99, sum by (le) "
                    f"(rate(wk_engine_commit_seconds_bucket{{{service}}}[{RATE}])))"
                ],
            ),
        ]
    return panels


def build(name: str) -> dict[str, Any]:
    """The dashboard of service ``name``."""
    panels = []
    for title, unit, exprs in [*_common(name), *EXTRA.get(name, [])]:
        panels.append(_panel(len(panels) + 1, title, exprs, unit))
    for row in rows():
        if row.owner == name:
            panels.append(metric_panel(row, len(panels) + 1))
    return {
        "uid": f"watchkeeper-{name}",
        "title": f"watchkeeper / {name}",
        "tags": ["watchkeeper"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "time": {"from": "now-30m", "to": "now"},
        "refresh": "10s",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def render(name: str) -> str:
    return json.dumps(build(name), indent=2) + "\n"


def write(folder: Path = FOLDER) -> list[Path]:
    from services import NAMES

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in NAMES:
        path = folder / f"{name}.json"
        path.write_text(render(name))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER):
        print(path)
