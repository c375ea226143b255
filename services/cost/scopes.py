"""Scopes: the sets of events spend is summed over.

A scope is a set of label values: ``model=chat``, ``tenant=acme``,
``model=chat,tenant=acme``, or ``all``. Each event adds to the roll-ups configured in the
cost file (``aggregate_by``: all, model, version, tenant, user, use_case, region) and to the
scope of every budget that applies to it. ``version`` is always per model.

>>> scopes = Scopes(("all", "model", "tenant"), ())
>>> [key for key, _ in scopes.of(("chat", "v2", "acme", None, None, None))]
['all', 'model=chat', 'tenant=acme']
>>> scope_key({"tenant": "a,b=c", "model": "m"})
'model=m,tenant=a\\\\,b\\\\=c'
"""

from __future__ import annotations

from .budgets import SCOPE_LABELS, Budget

ROLLUPS: dict[str, tuple[str, ...]] = {
    "all": (),
    "model": ("model",),
    "version": ("model", "version"),
    "tenant": ("tenant",),
    "user": ("user",),
    "use_case": ("use_case",),
    "region": ("region",),
}
DEFAULT_ROLLUPS = ("all", "model", "version", "tenant", "use_case", "region")
# The labels of an event, in this order: (model, version, tenant, user, use_case, region).
Combo = tuple[str, str, str | None, str | None, str | None, str | None]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def scope_key(labels: dict[str, str]) -> str:
    """A canonical, reversible name: sorted ``label=value`` pairs, or ``all``."""
    if not labels:
        return "all"
    return ",".join(f"{k}={_escape(v)}" for k, v in sorted(labels.items()))


class Scopes:
    """Which scopes an event's labels add to; cached, the labels repeat all the time."""

    def __init__(
        self, rollups: tuple[str, ...], budgets: tuple[Budget, ...], max_cached: int = 100_000
    ) -> None:
        self.rollups = tuple(ROLLUPS[r] for r in rollups)
        self.budgets = budgets
        self.max_cached = max_cached
        self._cache: dict[Combo, tuple[tuple[str, dict[str, str]], ...]] = {}
        used = {n for names in self.rollups for n in names}
        for budget in budgets:
            used |= set(budget.match) | set(budget.per)
        # Labels no scope looks at are left out of the sums: 500 users x 20 tenants
        # make 10,000 label combinations to add up at each commit, 20 tenants make 20.
        self.used = frozenset(used)

    def of(self, combo: Combo) -> tuple[tuple[str, dict[str, str]], ...]:
        found = self._cache.get(combo)
        if found is not None:
            return found
        labels = dict(zip(SCOPE_LABELS, combo, strict=True))
        result: dict[str, dict[str, str]] = {}
        for names in self.rollups:
            if all(labels[n] is not None for n in names):
                scope = {n: labels[n] for n in names}
                result[scope_key(scope)] = scope  # type: ignore[assignment]
        for budget in self.budgets:
            if budget.applies(labels):
                scope = budget.scope_labels(labels)
                result[scope_key(scope)] = scope
        if len(self._cache) >= self.max_cached:
            self._cache.clear()  # many users: start over rather than grow without bound
        found = self._cache[combo] = tuple(result.items())
        return found

    def budgets_of(self, labels: dict[str, str]) -> list[Budget]:
        """The budgets watching exactly the scope ``labels``."""
        return [
            b
            for b in self.budgets
            if set(labels) == set(b.match) | set(b.per)
            and all(labels.get(k) == v for k, v in b.match.items())
        ]
