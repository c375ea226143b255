"""quality: data contracts checked on the prediction stream (completeness, accuracy,
consistency, freshness per window), silent models and sources, and a gate that blocks
pipelines while quality is below threshold. Contract: docs/services/quality.md."""
