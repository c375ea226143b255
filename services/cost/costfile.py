"""The cost file (``WK_COST_CONFIG``, default ``deploy/cost.yaml``): prices, budgets, advice.

A mistake stops start-up with ``file:line: reason``. The format is documented in
``deploy/cost.yaml`` and docs/services/cost.md.

>>> book = parse(load_text('''
... llm:
...   small: {input: 0.15, output: 0.6, cached: 0.075}
... budgets:
...   - {name: chat, match: {model: chat}, monthly: 5000, cap: 120%}
... ''', "cost.yaml"))
>>> book.prices.cost("small", 0, 1_000_000, 0, 1_000_000), book.budgets[0].cap
(0.075, 6000.0)
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields, replace
from typing import Any

from watchkeeper.yamlconf import ConfigFileError, Mapping, load_file, load_text, parse_duration

from .advice import AdviceSettings
from .budgets import SCOPE_LABELS, Budget
from .periods import Calendar, zone
from .pricing import PriceBook, PriceEntry, Rates, Tier
from .scopes import DEFAULT_ROLLUPS, ROLLUPS

__all__ = ["ConfigFileError", "CostFile", "load", "load_text", "parse"]

ALWAYS = -(2**62)
_NAME = re.compile(r"^[A-Za-z0-9_.:/-]+$")
_TOP = {"timezone", "aggregate_by", "llm", "instances", "fleets", "budgets", "advice"}
_RATE_KEYS = {"input", "output", "cached"}
_BUDGET_KEYS = {
    "name",
    "match",
    "per",
    "monthly",
    "daily",
    "levels",
    "cap",
    "forecast",
    "forecast_over",
    "burn_window",
    "warmup",
    "labels",
}


@dataclass(frozen=True)
class CostFile:
    timezone: str
    rollups: tuple[str, ...]
    prices: PriceBook
    instances: dict[str, float]  # instance type -> USD per hour
    fleets: dict[str, tuple[float, int]]  # model -> (USD per hour per replica, replicas)
    budgets: tuple[Budget, ...]
    advice: AdviceSettings
    source: str


def _number(doc: Mapping, key: str, low: float = 0.0, value: Any = None) -> float:
    value = doc.get(key) if value is None else value
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        raise doc.error(key, f"{key} must be a number >= {low:g}, got {value!r}")
    return float(value)


def _share(doc: Mapping, key: str, value: Any) -> float:
    """``10%`` or ``0.1``."""
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise doc.error(key, f"{key} must be a share like 10% or 0.1, got {value!r}") from None
    if share < 0:
        raise doc.error(key, f"{key} must not be negative, got {value!r}")
    return share


def _duration_ms(doc: Mapping, key: str, default: int) -> int:
    if key not in doc:
        return default
    try:
        return int(parse_duration(str(doc[key])) * 1000)
    except ValueError as exc:
        raise doc.error(key, str(exc)) from None


def _mapping(parent: Mapping, key: str) -> Mapping:
    value = parent.get(key, Mapping())
    if not isinstance(value, Mapping):
        raise parent.error(key, f"{key} must be a mapping")
    return value


def _strings(doc: Mapping, key: str) -> dict[str, str]:
    value = _mapping(doc, key)
    if not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value.values()
    ):
        raise doc.error(key, f"{key} must map names to strings")
    return {k: str(v) for k, v in value.items()}


def _unknown(doc: Mapping, known: set[str], what: str) -> None:
    extra = sorted(set(doc) - known)
    if extra:
        raise doc.error(extra[0], f"unknown key {extra[0]!r} in {what} (known: {sorted(known)})")


def _from_ms(doc: Mapping, calendar: Calendar) -> int:
    value = doc.get("from")
    if value is None:
        return ALWAYS
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=calendar.zone)
        return int(value.timestamp() * 1000)
    try:
        return calendar.midnight(value.isoformat() if isinstance(value, dt.date) else str(value))
    except ValueError:
        raise doc.error("from", f"from must be a date like 2026-01-31, got {value!r}") from None


def _rates(doc: Mapping, base: Rates | None) -> Rates:
    if base is None:
        missing = [k for k in ("input", "output") if k not in doc]
        if missing:
            raise doc.error(None, f"a price needs {missing[0]} (USD per million tokens)")
        base = Rates(0.0, 0.0, -1.0)
    values = {k: _number(doc, k) if k in doc else getattr(base, k) for k in _RATE_KEYS}
    if values["cached"] < 0:  # no cached rate: cached tokens bill as input, never as zero
        values["cached"] = values["input"]
    return Rates(**values)


def _price_entry(doc: Any, where: Mapping, calendar: Calendar) -> PriceEntry:
    if not isinstance(doc, Mapping):
        raise where.error(None, "each price must be a mapping of input, output, cached ...")
    _unknown(doc, _RATE_KEYS | {"from", "tiers"}, "a price")
    rates = _rates(doc, None)
    tiers = []
    for tier in doc.get("tiers", []) or []:
        if not isinstance(tier, Mapping) or "above" not in tier:
            raise doc.error("tiers", "each tier needs above: <prompt tokens> and its rates")
        _unknown(tier, _RATE_KEYS | {"above"}, "a tier")
        above = tier["above"]
        if isinstance(above, bool) or not isinstance(above, int) or above < 0:
            raise tier.error("above", f"above must be a whole number of tokens, got {above!r}")
        tiers.append(Tier(above, _rates(tier, rates)))
    tiers.sort(key=lambda t: t.above)
    return PriceEntry(_from_ms(doc, calendar), rates, tuple(tiers))


def _prices(doc: Mapping, calendar: Calendar) -> PriceBook:
    llm = _mapping(doc, "llm")
    book: dict[str, list[PriceEntry]] = {}
    for name, value in llm.items():
        entries = value if isinstance(value, list) else [value]
        book[name] = [_price_entry(e, llm, calendar) for e in entries]
        starts = [e.from_ms for e in book[name]]
        if len(set(starts)) != len(starts):
            raise llm.error(name, f"{name}: two prices take effect at the same time")
    return PriceBook(book)


def _fleets(doc: Mapping) -> dict[str, tuple[float, int]]:
    fleets = _mapping(doc, "fleets")
    result = {}
    for model, fleet in fleets.items():
        if not isinstance(fleet, Mapping):
            raise fleets.error(model, f"{model}: a fleet is {{hourly_price_usd, replicas}}")
        _unknown(fleet, {"hourly_price_usd", "replicas"}, "a fleet")
        replicas = fleet.get("replicas", 1)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise fleet.error("replicas", f"replicas must be a whole number >= 1, got {replicas!r}")
        result[model] = (_number(fleet, "hourly_price_usd"), replicas)
    return result


def _budget(doc: Any, parent: Any, source: str, names: set[str]) -> Budget:
    if not isinstance(doc, Mapping):
        raise ConfigFileError(source, getattr(parent, "line", None), "each budget is a mapping")
    _unknown(doc, _BUDGET_KEYS, "a budget")
    name = doc.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or name in names:
        raise doc.error("name" if "name" in doc else None, "every budget needs a unique name")
    names.add(name)
    kinds = [k for k in ("monthly", "daily") if k in doc]
    if len(kinds) != 1:
        raise doc.error(None, f"budget {name}: give one amount, monthly: or daily:")
    period = "month" if kinds[0] == "monthly" else "day"
    amount = _number(doc, kinds[0])
    if amount <= 0:
        raise doc.error(kinds[0], f"budget {name}: the amount must be above 0")
    match = _strings(doc, "match")
    per = doc.get("per", [])
    per = [per] if isinstance(per, str) else per
    for label in [*match, *per]:
        if label not in SCOPE_LABELS:
            key = "match" if label in match else "per"
            raise doc.error(key, f"budget {name}: {label!r} is not one of {SCOPE_LABELS}")
    if set(per) & set(match):
        raise doc.error("per", f"budget {name}: a label is either matched or per, not both")
    levels = tuple(sorted(_share(doc, "levels", v) for v in doc.get("levels", [0.1, 0.25, 0.5])))
    cap = None
    if doc.get("cap") is not None:
        raw = str(doc["cap"]).strip()
        cap = _share(doc, "cap", raw) * amount if raw.endswith("%") else _number(doc, "cap")
    forecast = doc.get("forecast", True)
    if not isinstance(forecast, bool):
        raise doc.error("forecast", f"budget {name}: forecast must be true or false")
    burn, warmup = Budget.defaults(period)
    return Budget(
        name=name,
        period=period,
        amount=amount,
        match=match,
        per=tuple(per),
        levels=levels,
        cap=cap,
        forecast=forecast,
        forecast_over=_share(doc, "forecast_over", doc.get("forecast_over", 0)),
        burn_window_ms=max(_duration_ms(doc, "burn_window", burn), 1),
        warmup_ms=_duration_ms(doc, "warmup", warmup),
        labels=_strings(doc, "labels"),
        line=doc.line,
    )


def _advice(doc: Mapping) -> AdviceSettings:
    advice = _mapping(doc, "advice")
    known = {f.name for f in fields(AdviceSettings)} - {"cache_ttl_ms"} | {"cache_ttl"}
    _unknown(advice, known, "advice")
    settings = AdviceSettings()
    values: dict[str, Any] = {}
    for f in fields(AdviceSettings):
        key = "cache_ttl" if f.name == "cache_ttl_ms" else f.name
        if key not in advice:
            continue
        if f.name == "cache_ttl_ms":
            values[f.name] = _duration_ms(advice, key, settings.cache_ttl_ms)
        elif f.type == "bool":
            if not isinstance(advice[key], bool):
                raise advice.error(key, f"{key} must be true or false")
            values[f.name] = advice[key]
        elif f.type == "int":
            value = advice[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise advice.error(key, f"{key} must be a whole number >= 0, got {value!r}")
            values[f.name] = value
        else:
            values[f.name] = _share(advice, key, advice[key])
    return replace(settings, **values)


def parse(doc: Any, timezone: str | None = None) -> CostFile:
    """``timezone`` (``WK_COST_TIMEZONE``) wins over the file's."""
    if not isinstance(doc, Mapping):
        raise ConfigFileError(getattr(doc, "source", "<cost>"), None, "the file must be a mapping")
    _unknown(doc, _TOP, "the cost file")
    tz = timezone or str(doc.get("timezone", "UTC"))
    try:
        calendar = Calendar(tz)
        zone(tz)
    except ValueError as exc:
        raise doc.error("timezone", str(exc)) from None
    rollups = doc.get("aggregate_by", list(DEFAULT_ROLLUPS))
    if not isinstance(rollups, list) or any(r not in ROLLUPS for r in rollups):
        raise doc.error("aggregate_by", f"aggregate_by is a list of {sorted(ROLLUPS)}")
    instances = _mapping(doc, "instances")
    budgets = doc.get("budgets", []) or []
    if not isinstance(budgets, list):
        raise doc.error("budgets", "budgets is a list")
    names: set[str] = set()
    return CostFile(
        timezone=tz,
        rollups=tuple(rollups),
        prices=_prices(doc, calendar),
        instances={k: _number(instances, k) for k in instances},
        fleets=_fleets(doc),
        budgets=tuple(_budget(b, budgets, doc.source, names) for b in budgets),
        advice=_advice(doc),
        source=doc.source,
    )


def load(path: str, timezone: str | None = None) -> CostFile:
    return parse(load_file(path), timezone)
