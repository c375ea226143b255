"""The figures summed everywhere in cost, as a flat list (the hot path adds to lists, not
objects), and their names in the CostSpend and CostAggregate records.

>>> t = new()
>>> t[REQUESTS] += 2; t[COST] += 0.5; t[LLM] += 0.5
>>> add(t, t)
>>> as_fields(t)["cost_usd"], as_fields(t)["requests"]
(1.0, 4)
"""

from __future__ import annotations

from typing import Any

REQUESTS, UNPRICED, COST, LLM, COMPUTE, EXPLICIT, TOKENS_IN, TOKENS_OUT, TOKENS_CACHED = range(9)
SIZE = 9
FIELDS = (
    "requests",
    "unpriced",
    "cost_usd",
    "llm_cost_usd",
    "compute_cost_usd",
    "explicit_cost_usd",
    "tokens_in",
    "tokens_out",
    "tokens_cached",
)


def new() -> list[Any]:
    return [0, 0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0]


def add(into: list[Any], other: list[Any]) -> None:
    # Unrolled: at every commit it runs once per label combination and scope.
    into[0] += other[0]
    into[1] += other[1]
    into[2] += other[2]
    into[3] += other[3]
    into[4] += other[4]
    into[5] += other[5]
    into[6] += other[6]
    into[7] += other[7]
    into[8] += other[8]


def as_fields(totals: list[Any]) -> dict[str, Any]:
    return {name: totals[i] for i, name in enumerate(FIELDS)}


def from_fields(record: dict[str, Any]) -> list[Any]:
    return [record[name] for name in FIELDS]


def cost_per_inference(totals: list[Any]) -> float | None:
    priced = totals[REQUESTS] - totals[UNPRICED]
    return totals[COST] / priced if priced > 0 else None
