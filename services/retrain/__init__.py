"""retrain: the retraining loop, from a trigger to a promoted model (issue 14)."""
