"""registry: registered models, versions, datasets and aliases (gated moves), with their
full history, and the lineage graph from sources to live prediction streams; a
control-plane service (event-sourced on Kafka, HTTP API with scoped tokens).
Contract: docs/services/registry.md."""
