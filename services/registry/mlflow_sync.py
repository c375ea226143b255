"""MLflow interop for the registry, both ways, idempotently: ``import_from(url, registry)``
reads an MLflow tracking server's registered models, versions, aliases, tags, params and
metrics into ours, ``export_to(url, registry)`` writes ours to one. Each returns a
``Summary``; running either twice changes nothing the second time.

Kafka-free and ``mlflow``-free: MLflow is reached over its REST API 2.0 (mlflow_rest.py).
docs/registry-mlflow.md has the field mapping and the limits.
"""

from .mlflow_export import export_to
from .mlflow_import import import_from
from .mlflow_mapping import Summary
from .mlflow_rest import MlflowError, MlflowUnreachable

__all__ = ["MlflowError", "MlflowUnreachable", "Summary", "export_to", "import_from"]
