"""``--contract quality.yaml``: the quality service's own contract and ``Checker``, judging
each prediction row on its own.

What a row can break, each a bad row with that reason (``dlq.error.kind`` ``contract``): a
**required** field that is missing (absent, null, NaN or empty; a model output such as
``score`` only on a successful prediction, as the service judges it), a value of the
**wrong type**, a value **out of range** or not in the **allowed** list, and a broken
**rule** across fields. What only a window can break (completeness *shares*, freshness,
duplicate ids, silence) is the quality service's job once the events are on the topic.

>>> from services.quality.contract import load_text, parse
>>> rows = RowContract(parse(load_text('''
... contracts:
...   fraud:
...     fields:
...       features.amount: {type: number, required: true, min: 0}
...     rules: ["latency_ms < 1000"]
... ''', "q.yaml")))
>>> rows.violations({"model": "fraud", "num_features": {"amount": -1.0}, "latency_ms": 5000.0})
['features.amount: out of range or not allowed', 'rule latency_ms < 1000 broken']
>>> rows.violations({"model": "fraud", "num_features": {}, "latency_ms": 5.0})
['features.amount: required, missing']
>>> rows.violations({"model": "other", "latency_ms": 5.0})
[]
"""

from __future__ import annotations

from typing import Any

from ..yamlconf import ConfigFileError


class RowContract:
    def __init__(self, contracts: Any) -> None:
        self.contracts = contracts
        self._checkers: dict[str, Any] = {}

    def _checker(self, model: str) -> Any:
        from services.quality.checks import Checker

        found = self._checkers.get(model)
        if found is None:
            found = self._checkers[model] = Checker(self.contracts.for_model(model))
        return found

    def violations(self, record: dict[str, Any]) -> list[str]:
        """Why ``record`` breaks its model's contract; empty when it does not."""
        checker = self._checker(str(record.get("model", "")))
        contract = checker.contract
        if not contract.fields and not contract.rules:
            return []
        view = {"num_features": {}, "cat_features": {}, "segments": {}, **record}
        counts = checker.new_counts()
        checker.check(view, counts)
        failed = view.get("status", "OK") != "OK"
        found = []
        for i, spec in enumerate(contract.fields):
            if counts.wrong_type[i]:
                found.append(f"{spec.path}: wrong type")
            elif counts.invalid[i]:
                found.append(f"{spec.path}: out of range or not allowed")
            elif spec.required and not counts.present[i] and not (spec.output and failed):
                found.append(f"{spec.path}: required, missing")
        for j, rule in enumerate(contract.rules):
            if counts.rules[j]:
                found.append(f"rule {rule.name} broken")
        return found


def load(path: str, target: str) -> RowContract:
    from services.quality import contract

    if target != "predictions":
        raise ConfigFileError(
            path,
            None,
            "--contract applies to --into predictions only "
            "(quality contracts describe PredictionEvents)",
        )
    return RowContract(contract.load(path))
