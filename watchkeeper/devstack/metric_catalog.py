"""Every Prometheus metric the code registers, as the rows of the table in docs/metrics.md.

It imports every module of ``watchkeeper`` and ``services`` (not ``__main__``: that runs a
service) and keeps the metric objects they define, named by the module that holds them.
``python -m watchkeeper.devstack.metric_catalog`` prints the table; tests/test_metrics_docs.py
checks that the docs hold exactly it.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from prometheus_client.metrics import MetricWrapperBase

import services
import watchkeeper

HEADER = "| name | type | labels | unit | service | meaning |\n|---|---|---|---|---|---|"
UNITS = (
    ("_seconds", "s"),
    ("_seconds_total", "s"),
    ("_ms", "ms"),
    ("_usd", "USD"),
    ("_usd_total", "USD"),
    ("_bytes", "bytes"),
    ("_bytes_total", "bytes"),
    ("_records", "records"),
    ("_ratio", "ratio"),
    ("_rate", "ratio"),
    ("_per_s", "1/s"),
)
OWNERS = {
    "watchkeeper.runtime": "every service (runtime)",
    "watchkeeper.sdk": "SDK (the emitting process)",
    "watchkeeper.continuity": "continuity guards (the model server)",
    "watchkeeper.control": "control plane",
    "watchkeeper.tiers_cli": "watchkeeper replay (CLI)",
}


@dataclass(frozen=True)
class Row:
    name: str
    type: str
    labels: tuple[str, ...]
    unit: str
    owner: str
    meaning: str

    def line(self) -> str:
        labels = ", ".join(self.labels) or "—"
        meaning = self.meaning.replace("|", "\\|")
        return (
            f"| `{self.name}` | {self.type} | {labels} | {self.unit} | {self.owner} | {meaning} |"
        )


def _owner(module: str) -> str:
    if module.startswith("services."):
        return module.split(".")[1]
    for prefix, owner in OWNERS.items():
        if module.startswith(prefix):
            return owner
    return module


def _unit(name: str) -> str:
    return next((unit for suffix, unit in UNITS if name.endswith(suffix)), "—")


def metrics() -> dict[int, tuple[MetricWrapperBase, str]]:
    found: dict[int, tuple[MetricWrapperBase, str]] = {}
    for package in (watchkeeper, services):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if isinstance(value, MetricWrapperBase):
                    # Modules re-export within their own package: the owner stays the same.
                    found.setdefault(id(value), (value, info.name))
    return found


def rows() -> list[Row]:
    out = []
    for metric, module in metrics().values():
        kind = metric._type
        name = metric._name + ("_total" if kind == "counter" else "")
        owner = _owner(module)
        out.append(
            Row(name, kind, tuple(metric._labelnames), _unit(name), owner, metric._documentation)
        )
    return sorted(out, key=lambda r: (r.owner.startswith("every") is False, r.owner, r.name))


def table() -> str:
    return "\n".join([HEADER, *(r.line() for r in rows())])


if __name__ == "__main__":
    print(table())
