"""MLflow interop for the registry, both ways, idempotently: ``import_from(url, registry)``
reads an MLflow tracking server's registered models, versions, aliases, tags, params and
metrics into ours, ``export_to(url, registry)`` writes ours to one. Each returns a
``Summary``; running either twice changes nothing the second time.

Kafka-free and ``mlflow``-free: MLflow is reached over its REST API 2.0 (rest.py).
docs/registry-mlflow.md has the field mapping and the limits.
"""

from .exporter import export_to
from .importer import import_from
from .mapping import Summary
from .rest import MlflowError, MlflowUnreachable

__all__ = ["MlflowError", "MlflowUnreachable", "Summary", "export_to", "import_from"]
