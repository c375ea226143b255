"""fairness: selection rates, demographic parity, disparate impact, equal opportunity and
equalized odds per model version, protected attribute and window, with confidence
intervals so small groups raise no false alarms. Contract: docs/services/fairness.md."""
