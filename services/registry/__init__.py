"""The model registry (models, versions, aliases, datasets) and its MLflow interop."""
