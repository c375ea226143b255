"""drift settings: the environment (``WK_DRIFT_*``) and an optional YAML file
(``WK_DRIFT_CONFIG``) with defaults and per-model overrides.

``deploy/drift.yaml`` lists every setting with its default, and a model's overrides:

```yaml
defaults:
  window: 1000            # events in the sliding window the distribution tests look at
  detector: adwin         # on every numeric feature: adwin | page_hinkley | none
models:
  fraud:
    positive_label: fraud
    features: {amount: {detector: page_hinkley}}
```
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from watchkeeper.kit import permodel
from watchkeeper.kit.permodel import PerModel
from watchkeeper.settings import ConfigError, ServiceSettings, env_int, env_str
from watchkeeper.yamlconf import Mapping, load_file, parse_duration

NAME = "drift"
DEFAULT_HTTP_PORT = 8104
DETECTORS = ("adwin", "page_hinkley", "none")
CONCEPT_DETECTORS = ("ddm", "hddm_a", "adwin")


@dataclass(frozen=True)
class MonitorSettings:
    window: int = 1000
    # Every 500 events: 250 cost a quarter of the worker's time in evaluations, for no
    # measured gain in delay (the detectors trigger an evaluation at once anyway).
    step: int = 500
    min_samples: int = 500
    psi_warn: float = 0.1
    psi_alert: float = 0.2
    distance: float = 0.1
    # 26 features x 4 evaluations per 1,000 events (step 250): 1e-4 let chance through about once
    # per 100,000 events (loadtest/drift_quality.py measured it); 1e-6 cost no delay there.
    p_value: float = 1e-6
    new_category_share: float = 0.05
    dataset_share: float = 0.5
    detector: str = "adwin"
    adwin_delta: float = 1e-4
    # A detector's change counts when the mean on its new side differs from the reference
    # mean by this many standard errors (p ~ 6e-5 for 4): a fixed effect size (0.5 std)
    # threw away half of the true 0.5-std shifts, a small one (0.25) let a false cut through.
    change_z: float = 4.0
    reference_events: int = 5000
    segment_by: tuple[str, ...] = ()
    positive_label: str | None = None
    label_window: int = 500
    min_labels: int = 200
    accuracy_drop: float = 0.05
    error_rise: float = 0.2
    # ADWIN on the 0/1 error: DDM raised a false ConceptDrift in most fresh starts (and a
    # restart is a fresh start), ADWIN in none, and found every concept drift measured.
    concept_detector: str = "adwin"
    retrain_cooldown_ms: int = 3_600_000
    features: dict[str, str] = field(default_factory=dict)  # feature -> detector

    def detector_for(self, feature: str) -> str:
        return self.features.get(feature, self.detector)


_KEYS = {f.name for f in fields(MonitorSettings)} - {"retrain_cooldown_ms", "features"}
_KEYS |= {"retrain_cooldown", "features"}


def _settings(doc: Mapping, base: MonitorSettings) -> MonitorSettings:
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        known = ", ".join(sorted(_KEYS))
        raise doc.error(unknown[0], f"unknown key {unknown[0]!r}; known: {known}")
    changes: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "retrain_cooldown":
            try:
                changes["retrain_cooldown_ms"] = int(parse_duration(str(value)) * 1000)
            except ValueError as exc:
                raise doc.error(key, str(exc)) from None
        elif key == "features":
            if not isinstance(value, Mapping):
                raise doc.error(key, "features must map feature names to {detector: ...}")
            detectors = dict(base.features)
            for feature, spec in value.items():
                detector = spec.get("detector") if isinstance(spec, dict) else None
                if detector not in DETECTORS:
                    raise value.error(feature, f"detector must be one of {', '.join(DETECTORS)}")
                detectors[feature] = detector
            changes["features"] = detectors
        elif key == "segment_by":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise doc.error(key, "segment_by must be a list of segment label names")
            changes[key] = tuple(value)
        else:
            expected = type(getattr(base, key))
            if key == "positive_label":
                changes[key] = None if value is None else str(value)
                continue
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
                raise doc.error(key, f"{key} must be a {expected.__name__}, got {value!r}")
            changes[key] = value
    settings = replace(base, **changes)
    if settings.detector not in DETECTORS:
        raise doc.error("detector", f"detector must be one of {', '.join(DETECTORS)}")
    if settings.concept_detector not in CONCEPT_DETECTORS:
        raise doc.error(
            "concept_detector", f"concept_detector must be one of {', '.join(CONCEPT_DETECTORS)}"
        )
    if not 0 < settings.step <= settings.window or settings.min_samples > settings.window:
        raise doc.error("step", "need 0 < step <= window and min_samples <= window")
    return settings


@dataclass(frozen=True)
class DriftConfig:
    service: ServiceSettings
    defaults: MonitorSettings = MonitorSettings()
    models: dict[str, MonitorSettings] = field(default_factory=dict)
    label_horizon_ms: int = 7 * 86_400_000
    max_pending: int = 500_000
    max_metric_series: int = 2000

    def for_model(self, model: str) -> MonitorSettings:
        return self.models.get(model, self.defaults)

    @classmethod
    def from_env(cls) -> DriftConfig:
        service = ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT)
        horizon = env_str("WK_DRIFT_LABEL_HORIZON") or "7d"
        try:
            horizon_ms = int(parse_duration(horizon) * 1000)
        except ValueError as exc:
            raise ConfigError(f"WK_DRIFT_LABEL_HORIZON: {exc}") from None
        config = cls(
            service=service,
            label_horizon_ms=horizon_ms,
            max_pending=env_int("WK_DRIFT_MAX_PENDING", 500_000),
            max_metric_series=env_int("WK_DRIFT_MAX_METRIC_SERIES", 2000),
        )
        path = env_str("WK_DRIFT_CONFIG")
        return config.with_file(path) if path else config

    def with_file(self, path: str) -> DriftConfig:
        found = load_settings(path, self.defaults)
        return replace(self, defaults=found.defaults, models=found.models)


def load_settings(
    path: str, base: MonitorSettings = MonitorSettings()
) -> PerModel[MonitorSettings]:
    """The defaults and per-model settings of a drift file (ConfigFileError: file:line)."""
    return permodel.load(load_file(path), path, _settings, base)
