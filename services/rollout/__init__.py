"""rollout: canary, blue-green and A/B rollouts decided on the prediction and feedback
streams with always-valid statistics (a sequential test per check, a deadline for when
evidence never comes), and the live traffic split per model on the compacted ``routing``
topic that every SDK's ``emitter.assign`` reads; a control-plane service (event-sourced
on Kafka, HTTP API with scoped tokens). Contract: docs/services/rollout.md."""
