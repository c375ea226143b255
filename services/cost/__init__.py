"""cost: cost per inference (LLM tokens, compute share, or explicit), spend per scope per
window, day and month, budgets with overrun and forecast alerts, quotas, and advice, on the
batch engine with exactly-once state. Contract: docs/services/cost.md."""
