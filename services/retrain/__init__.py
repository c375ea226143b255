"""retrain: the loop from a trigger (drift, performance, a schedule, new data, a person)
to a promoted model: runs launched, validated, approved and rolled out, each with its
timeline. Contract: docs/services/retrain.md."""
