"""The gate on a gated alias: may this candidate take the alias from the version holding it?

>>> from services.registry.config import AliasPolicy
>>> policy = AliasPolicy(compare={"auc": "higher", "p99_ms": "lower"})
>>> held = {"version": "1", "metrics": {"auc": 0.84, "p99_ms": 40.0}}
>>> ok = {"passed": True}
>>> check_move(policy, "fraud", {"version": "2", "metrics": {"auc": 0.86, "p99_ms": 38.0},
...                              "validations": [ok]}, held) is None
True
>>> check_move(policy, "fraud", {"version": "2", "metrics": {"auc": 0.81, "p99_ms": 30.0},
...                              "validations": [ok]}, held)
'fraud version 2: auc 0.81 is worse than 0.84 of version 1 (higher is better)'
>>> check_move(policy, "fraud", {"version": "2", "metrics": {}, "validations": [ok]}, held)
'fraud version 2 has no metric auc to compare with version 1'
>>> check_move(policy, "fraud", {"version": "2", "validations": [{"passed": False}]}, None)
'fraud version 2: its latest validation failed'
"""

from __future__ import annotations

from typing import Any

from .config import AliasPolicy


def check_move(
    policy: AliasPolicy, model: str, candidate: dict[str, Any], held: dict[str, Any] | None
) -> str | None:
    """None when the move may go ahead, else the reason it may not."""
    name = f"{model} version {candidate['version']}"
    if policy.require_validation:
        validations = candidate.get("validations") or []
        if not validations:
            return f"{name} has no passing validation"
        if not validations[-1]["passed"]:
            return f"{name}: its latest validation failed"
    if held is None:
        return None
    metrics = {**candidate.get("metrics", {}), **_validated_metrics(candidate)}
    theirs = {**held.get("metrics", {}), **_validated_metrics(held)}
    for metric, direction in policy.compare.items():
        if metric not in theirs:
            continue  # the holder never measured it: nothing to be worse than
        if metric not in metrics:
            return f"{name} has no metric {metric} to compare with version {held['version']}"
        mine, other = metrics[metric], theirs[metric]
        worse = mine < other if direction == "higher" else mine > other
        if worse:
            return (
                f"{name}: {metric} {mine:g} is worse than {other:g} of version "
                f"{held['version']} ({direction} is better)"
            )
    return None


def _validated_metrics(version: dict[str, Any]) -> dict[str, float]:
    """Metrics measured by validations override the ones registered with the version, a
    later validation's over an earlier one's. A validation that did not measure a metric
    (a CI chain's staging or watch gate after its validate gate) leaves it as it was.

    >>> _validated_metrics({"validations": [{"metrics": {"auc": 0.9, "f1": 0.7}},
    ...                                     {"metrics": {"auc": 0.8}}, {"metrics": {}}]})
    {'auc': 0.8, 'f1': 0.7}
    """
    found: dict[str, float] = {}
    for validation in version.get("validations") or []:
        found.update(validation.get("metrics") or {})
    return found
