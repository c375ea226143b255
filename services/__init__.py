"""watchkeeper's services, one package each, all of the same shape:

``spec.py`` declares the service (``watchkeeper.kit.ServiceSpec``: topics, configuration,
tasks, routes) and ``__main__.py`` runs it (``python -m services.<name>``, or
``watchkeeper serve <name>``) through ``watchkeeper.runtime.run``; ``config.py`` reads its
settings, ``task.py`` holds its domain logic per input partition (no Kafka: tested and
benchmarked alone, the modules beside it one concept each), ``metrics.py`` its Prometheus
series. ``docs/services/<name>.md`` is its contract, API and failure table.
"""

from __future__ import annotations

import importlib
from typing import Any

NAMES = (
    "counter", "slo", "cost", "quality", "drift", "fairness", "router", "registry", "rollout",
    "retrain", "replication", "ingest", "archive",
)  # fmt: skip


def spec(name: str) -> Any:
    """The ``ServiceSpec`` of service ``name`` (imports no Kafka client)."""
    if name not in NAMES:
        raise KeyError(f"no service {name!r}; known: {', '.join(NAMES)}")
    return importlib.import_module(f"services.{name}.spec").SPEC
