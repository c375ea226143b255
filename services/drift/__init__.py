"""drift: data drift, prediction drift, concept drift and model performance with delayed
labels, per model version, with retrain requests. Contract: docs/services/drift.md."""
