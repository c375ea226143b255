"""fairness settings: the environment (``WK_FAIRNESS_*``) and a YAML file
(``WK_FAIRNESS_CONFIG``, default ``deploy/fairness.yaml``) with defaults and per-model
overrides. A model is monitored once it has protected attributes and a favourable
outcome (labels, or a score threshold).

>>> config = FairnessConfig(ServiceSettings("fairness")).with_text('''
... defaults: {protected: [gender], min_group_size: 50}
... models:
...   credit: {favorable: [approve], reference: {gender: male}, disparate_impact: 0.9}
... ''')
>>> credit = config.for_model("credit")
>>> credit.monitored, credit.protected, credit.min_group_size, credit.disparate_impact
(True, ('gender',), 50, 0.9)
>>> config.for_model("recommender").monitored   # no favourable outcome: not monitored
False
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from watchkeeper._paths import REPO_ROOT
from watchkeeper.kit import permodel
from watchkeeper.settings import ConfigError, ServiceSettings, env_float, env_int, env_str
from watchkeeper.yamlconf import ConfigFileError, Mapping, load_file, load_text, parse_duration

NAME = "fairness"
DEFAULT_HTTP_PORT = 8107
DEFAULT_CONFIG = REPO_ROOT / "deploy" / "fairness.yaml"
ALERTS = {
    # setting -> alertname
    "disparate_impact": "DisparateImpact",
    "parity_difference": "DemographicParityDifference",
    "equal_opportunity": "EqualOpportunityDifference",
    "equalized_odds": "EqualizedOddsDifference",
}


@dataclass(frozen=True)
class FairnessSettings:
    protected: tuple[str, ...] = ()  # segment labels holding protected attributes
    favorable: frozenset[str] = frozenset()  # prediction labels that are the favourable decision
    score_threshold: float | None = None  # ... or score (or value) >= this is favourable
    truth_favorable: frozenset[str] | None = None  # feedback labels meaning "deserved it"
    truth_threshold: float = 0.5  # ... or feedback value >= this
    reference: dict[str, str] = field(default_factory=dict)  # attribute -> reference group
    window_ms: int = 300_000
    min_group_size: int = 30
    confidence: float = 0.95
    disparate_impact: float | None = 0.8  # four-fifths rule
    parity_difference: float | None = 0.1
    equal_opportunity: float | None = 0.1
    equalized_odds: float | None = 0.1
    for_windows: int = 2  # windows in a row: squares the small chance of a false alarm
    max_groups: int = 20
    join_labels: bool = True
    severity: str = "ticket"
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def monitored(self) -> bool:
        return bool(self.protected) and (bool(self.favorable) or self.score_threshold is not None)

    def is_truth_favorable(self, label: str | None, value: float | None) -> bool | None:
        if label is not None:
            return label in (self.truth_favorable or self.favorable)
        if value is not None:
            return value >= self.truth_threshold
        return None


_YAML_KEYS = {f.name for f in fields(FairnessSettings)} - {"window_ms", "for_windows"}
_YAML_KEYS |= {"window", "for"}


def _error(doc: Mapping, key: str, reason: str) -> ConfigFileError:
    return doc.error(key, reason)


def _share(doc: Mapping, key: str, allow_null: bool) -> float | None:
    value = doc[key]
    if value is None and allow_null:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _error(doc, key, f"{key} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _strings(doc: Mapping, key: str) -> tuple[str, ...]:
    value = doc[key]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise _error(doc, key, f"{key} must be a list of names")
    return tuple(str(v) for v in value)


def _whole(doc: Mapping, key: str, minimum: int) -> int:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _error(doc, key, f"{key} must be a whole number >= {minimum}, got {value!r}")
    return value


def _settings(doc: Mapping, base: FairnessSettings) -> FairnessSettings:
    unknown = sorted(set(doc) - _YAML_KEYS)
    if unknown:
        known = ", ".join(sorted(_YAML_KEYS))
        raise _error(doc, unknown[0], f"unknown key {unknown[0]!r}; known: {known}")
    changes: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "window":
            try:
                changes["window_ms"] = int(parse_duration(str(value)) * 1000)
            except ValueError as exc:
                raise _error(doc, key, str(exc)) from None
            if changes["window_ms"] < 1000:
                raise _error(doc, key, "window must be at least 1s")
        elif key == "for":
            changes["for_windows"] = _whole(doc, key, 1)
        elif key in ("min_group_size", "max_groups"):
            changes[key] = _whole(doc, key, 1 if key == "min_group_size" else 2)
        elif key == "protected":
            changes[key] = _strings(doc, key)
        elif key in ("favorable", "truth_favorable"):
            changes[key] = frozenset(_strings(doc, key))
        elif key in ALERTS:
            changes[key] = _share(doc, key, allow_null=True)
        elif key == "confidence":
            changes[key] = _share(doc, key, allow_null=False)
            if not 0.5 <= changes[key] < 1:
                raise _error(doc, key, "confidence must be at least 0.5 and below 1")
        elif key in ("score_threshold", "truth_threshold"):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise _error(doc, key, f"{key} must be a number")
            changes[key] = None if value is None else float(value)
        elif key == "join_labels":
            if not isinstance(value, bool):
                raise _error(doc, key, "join_labels must be true or false")
            changes[key] = value
        elif key in ("reference", "labels"):
            if not isinstance(value, Mapping):
                raise _error(doc, key, f"{key} must map names to values")
            changes[key] = {**getattr(base, key), **{str(k): str(v) for k, v in value.items()}}
        else:  # severity
            changes[key] = str(value)
    return replace(base, **changes)


@dataclass(frozen=True)
class FairnessConfig:
    service: ServiceSettings
    defaults: FairnessSettings = FairnessSettings()
    models: dict[str, FairnessSettings] = field(default_factory=dict)
    grace_ms: int = 5_000
    idle_ms: int = 10_000
    max_future_ms: int = 60_000
    label_horizon_ms: int = 7 * 86_400_000
    max_pending: int = 500_000
    max_series: int = 1000

    def for_model(self, model: str) -> FairnessSettings:
        return self.models.get(model, self.defaults)

    @classmethod
    def from_env(cls) -> FairnessConfig:
        horizon = env_str("WK_FAIRNESS_LABEL_HORIZON") or "7d"
        try:
            horizon_ms = int(parse_duration(horizon) * 1000)
        except ValueError as exc:
            raise ConfigError(f"WK_FAIRNESS_LABEL_HORIZON: {exc}") from None
        config = cls(
            service=ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT),
            grace_ms=int(env_float("WK_FAIRNESS_GRACE_S", 5.0) * 1000),
            idle_ms=int(env_float("WK_FAIRNESS_IDLE_S", 10.0) * 1000),
            max_future_ms=int(env_float("WK_FAIRNESS_MAX_FUTURE_S", 60.0) * 1000),
            label_horizon_ms=horizon_ms,
            max_pending=env_int("WK_FAIRNESS_MAX_PENDING", 500_000),
            max_series=env_int("WK_FAIRNESS_MAX_SERIES", 1000),
        )
        return config.with_file(env_str("WK_FAIRNESS_CONFIG") or str(DEFAULT_CONFIG))

    def with_file(self, path: str) -> FairnessConfig:
        return self._with(load_file(path), path)

    def with_text(self, text: str, source: str = "<string>") -> FairnessConfig:
        return self._with(load_text(text, source), source)

    def _with(self, doc: Any, source: str) -> FairnessConfig:
        found = permodel.load(doc, source, _settings, self.defaults)
        return replace(self, defaults=found.defaults, models=found.models)
