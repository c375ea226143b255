"""Alertmanager's v2 API shapes, read and written (no HTTP, no Kafka): Prometheus's
postable alerts to ``Alert`` records, the router's silences and alerts to Alertmanager's
``gettableSilence`` / ``gettableAlert``, and v2 matchers (``name``, ``value``,
``isRegex``, ``isEqual``) to the router's own.

The fingerprint of an alert Prometheus sends (it sends none) is Alertmanager's: FNV-1a 64
over the sorted label names and values, each followed by the byte 0xff, as 16 hex digits
(``model.LabelSet.Fingerprint``), so that ``amtool alert query`` and an Alertmanager fed
the same alerts show the same ids.

>>> alertmanager_fingerprint({"alertname": "Up"})
'57fc0d42e24a6ea7'
>>> int(alertmanager_fingerprint({"name": "garland, briggs", "fear": "love is not enough"}), 16)
5799056148416392346

(the second is prometheus/common's own test vector for this hash).
>>> good, bad = from_postable([{"labels": {"alertname": "Up", "job": "api"},
...     "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-01T00:05:00Z",
...     "generatorURL": "http://prom/graph"}, {"labels": {}}], now_ms=1767225660000)
>>> good[0]["status"], good[0]["starts_at_ms"], good[0]["ends_at_ms"], good[0]["generator"]
('FIRING', 1767225600000, 1767225900000, 'prometheus')
>>> bad
[(1, 'alert 1: labels must be a non-empty map of strings')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .alert import Alert
from .ingest import parse_time
from .matchers import Matcher, MatcherError, matches_all, parse_matchers
from .silences import Silence

GENERATOR = "prometheus"
MAX_ALERTS = 1000
# Alertmanager 0.25 validates names as Prometheus does (its "legacy" rule).
_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_FNV_OFFSET, _FNV_PRIME, _MASK = 14695981039346656037, 1099511628211, (1 << 64) - 1


class V2Error(ValueError):
    """A request body or parameter the v2 API refuses (400 with this reason)."""


def alertmanager_fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's (Prometheus common's) label-set fingerprint."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                value = ((value ^ byte) * _FNV_PRIME) & _MASK
    return f"{value:016x}"


# -- alerts in --------------------------------------------------------------------------


def from_postable(body: Any, now_ms: int) -> tuple[list[dict], list[tuple[int, str]]]:
    """``POST /api/v2/alerts``: records for the sound alerts, ``(index, reason)`` for the
    others. As Alertmanager: an alert whose ``endsAt`` has passed is resolved; a firing
    one without ``startsAt`` starts now."""
    if not isinstance(body, list):
        raise V2Error("the body must be a JSON array of alerts (postableAlerts)")
    if len(body) > MAX_ALERTS:
        raise V2Error(f"at most {MAX_ALERTS} alerts per request, got {len(body)}")
    good: list[dict] = []
    bad: list[tuple[int, str]] = []
    for index, raw in enumerate(body):
        try:
            good.append(_postable(raw, now_ms))
        except ValueError as exc:
            bad.append((index, f"alert {index}: {exc}"))
    return good, bad


def _postable(raw: Any, now_ms: int) -> dict:
    if not isinstance(raw, dict):
        raise ValueError("an alert must be an object")
    labels = raw.get("labels")
    if not _string_map(labels):
        raise ValueError("labels must be a non-empty map of strings")
    labels = {k: v for k, v in labels.items() if v != ""}  # Alertmanager drops empty ones
    if not labels:
        raise ValueError("labels must be a non-empty map of strings")
    annotations = raw.get("annotations") or {}
    if not _string_map(annotations):
        raise ValueError("annotations must be a map of strings")
    for what, names in (("label", labels), ("annotation", annotations)):
        for name in names:
            if not _NAME.fullmatch(name):
                raise ValueError(f"{what} name {name[:40]!r} is not valid ([a-zA-Z_][a-zA-Z0-9_]*)")
    starts = parse_time(raw.get("startsAt"), "startsAt")
    ends = parse_time(raw.get("endsAt"), "endsAt")
    if starts is not None and ends is not None and ends < starts:
        raise ValueError("endsAt is before startsAt")
    generator_url = raw.get("generatorURL", "")
    if not isinstance(generator_url, str):
        raise ValueError("generatorURL must be a string")
    resolved = ends is not None and ends <= now_ms
    annotations = dict(annotations)
    if generator_url:
        annotations["generator_url"] = generator_url
    return {
        "fingerprint": alertmanager_fingerprint(labels),
        "status": "RESOLVED" if resolved else "FIRING",
        "labels": labels,
        "annotations": annotations,
        "value": None,
        "threshold": None,
        "starts_at_ms": starts if starts is not None else (ends if resolved else now_ms),
        # Firing with an endsAt: valid until then unless re-sent (validity.py).
        "ends_at_ms": ends,
        "event_time_ms": now_ms,
        "generator": GENERATOR,
    }


# -- matchers and filters -----------------------------------------------------------------


def matchers_from_v2(raw: Any) -> list[Matcher]:
    """``[{"name", "value", "isRegex", "isEqual"}]`` (``isEqual`` defaults to true).

    >>> [str(m) for m in matchers_from_v2([{"name": "a", "value": "x|y", "isRegex": True,
    ...     "isEqual": False}])]
    ['a!~"x|y"']
    """
    if not isinstance(raw, list) or not raw:
        raise V2Error("matchers must be a non-empty list of {name, value, isRegex, isEqual}")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise V2Error("each matcher must be an object")
        name, value = item.get("name"), item.get("value")
        regex, equal = item.get("isRegex", False), item.get("isEqual", True)
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise V2Error("a matcher needs a name and a value (strings)")
        if not isinstance(regex, bool) or not isinstance(equal, bool):
            raise V2Error("isRegex and isEqual must be booleans")
        op = ("=~" if equal else "!~") if regex else ("=" if equal else "!=")
        try:
            out.append(Matcher.of(name, op, value))
        except MatcherError as exc:
            raise V2Error(str(exc)) from None
    return out


def matcher_to_v2(m: Matcher) -> dict:
    return {
        "name": m.name,
        "value": m.value,
        "isRegex": m.op in ("=~", "!~"),
        "isEqual": m.op in ("=", "=~"),
    }


def parse_filter(values: Iterable[str]) -> list[Matcher]:
    """The ``filter=`` query parameters (each one matcher, or a ``{...}`` list).

    >>> [str(m) for m in parse_filter(['alertname="Up"', '{job=~"a.*"}'])]
    ['alertname="Up"', 'job=~"a.*"']
    """
    try:
        return [m for text in values for m in parse_matchers(text)]
    except MatcherError as exc:
        raise V2Error(f"filter: {exc}") from None


def flag(query: Mapping[str, str], name: str, default: bool = True) -> bool:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise V2Error(f"{name} must be true or false, got {raw[:20]!r}")


# -- silences out -------------------------------------------------------------------------


def gettable_silence(s: Silence, now_ms: int) -> dict:
    return {
        "id": s.id,
        "status": {"state": s.state(now_ms)},
        "updatedAt": rfc3339(s.updated_ms),
        "matchers": [matcher_to_v2(m) for m in s.matchers],
        "startsAt": rfc3339(s.starts_ms),
        "endsAt": rfc3339(s.ends_ms),
        "createdBy": s.created_by,
        "comment": s.comment,
    }


def silence_matches_filter(s: Silence, matchers: list[Matcher]) -> bool:
    """Alertmanager's rule: the filter is applied to the silence's matchers read as labels
    (name -> value), a filter on a name the silence lacks passes when its value is ""."""
    labels = {m.name: m.value for m in s.matchers}
    return all(
        (m.value == "" and (m.name in labels) != m.op.startswith("=")) or m.matches(labels)
        for m in matchers
    )


def silence_order(s: Silence, now_ms: int) -> tuple:
    """As Alertmanager lists them: active by end, pending by start, expired latest first."""
    state = s.state(now_ms)
    if state == "active":
        return (0, s.ends_ms)
    if state == "pending":
        return (1, s.starts_ms)
    return (2, -s.ends_ms)


# -- alerts out ---------------------------------------------------------------------------


def gettable_alert(alert: Alert, muted: Mapping[str, Any], receivers: Iterable[str]) -> dict:
    silenced = list(muted.get("silenced_by", []))
    inhibited = muted.get("inhibited_by")
    inhibited_by = [inhibited] if isinstance(inhibited, str) else list(inhibited or [])
    annotations = dict(alert.annotations)
    generator_url = annotations.pop("generator_url", "")
    return {
        "labels": dict(alert.labels),
        "annotations": annotations,
        "startsAt": rfc3339(alert.starts_at_ms),
        "endsAt": rfc3339(alert.ends_at_ms) if alert.ends_at_ms else "0001-01-01T00:00:00.000Z",
        "updatedAt": rfc3339(alert.event_time_ms),
        "fingerprint": alert.fingerprint,
        "receivers": [{"name": r} for r in sorted(receivers)],
        "status": {
            "state": "suppressed" if silenced or inhibited_by else "active",
            "silencedBy": silenced,
            "inhibitedBy": inhibited_by,
            "mutedBy": [],
        },
        "generatorURL": generator_url,
    }


def alert_wanted(view: dict, matchers: list[Matcher], query: Mapping[str, str]) -> bool:
    """The ``filter``, ``active``, ``silenced`` and ``inhibited`` parameters of
    ``GET /api/v2/alerts`` (each flag true by default, as Alertmanager's)."""
    status = view["status"]
    if status["silencedBy"] and not flag(query, "silenced"):
        return False
    if status["inhibitedBy"] and not flag(query, "inhibited"):
        return False
    if status["state"] == "active" and not flag(query, "active"):
        return False
    return matches_all(matchers, view["labels"])


def rfc3339(ms: int) -> str:
    """Epoch ms as Alertmanager writes times (UTC, milliseconds).

    >>> rfc3339(1767225600123)
    '2026-01-01T00:00:00.123Z'
    """
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )
