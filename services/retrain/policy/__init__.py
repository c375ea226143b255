"""The retrain policy per model (``deploy/retrain.yaml``): which triggers start a run, how
triggers merge, which launcher runs the pipeline, how the candidate is validated and
approved, and how it rolls out. Reference: docs/retrain-policy.md.

``defaults:`` applies to every model, ``models:`` overrides it key by key; ``triggers``
and ``approval`` merge key by key too, while ``launcher``, ``validation`` and ``rollout``
are replaced whole (half of one launcher and half of another is no launcher). A mistake
stops the load with ``file:line: reason``.

>>> policy = load_policy_text('''
... defaults:
...   debounce_s: 5m
...   launcher: {kind: local, command: [python, train.py]}
... models:
...   fraud:
...     triggers: {schedule: {cron: "0 3 * * 1", timezone: Europe/Paris}}
...     cooldown_s: 7200
... ''')
>>> fraud = policy.for_model("fraud")
>>> fraud.debounce_s, fraud.cooldown_s, fraud.triggers.drift, fraud.triggers.schedule.cron
(300.0, 7200.0, True, '0 3 * * 1')
>>> fraud.launcher.command, fraud.approval.mode, fraud.rollout
(('python', 'train.py'), 'manual', {'strategy': 'canary', 'steps': [10, 50, 100]})
>>> load_policy_text("defaults: {triggers: {schedule: {cron: '0 3 * * 1', timezone: Paris}}}")
... # doctest: +ELLIPSIS
Traceback (most recent call last):
...
watchkeeper.yamlconf.ConfigFileError: <string>:1: triggers.schedule: unknown time zone 'Paris' ...
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from watchkeeper.gates.metrics import HIGHER_IS_BETTER
from watchkeeper.kit import permodel
from watchkeeper.yamlconf import Mapping, load_file, load_text

from ..schedule import Schedule, check
from . import launcher as _launcher
from . import rollout as _rollout
from . import validation as _validation
from ._read import boolean, keys, mapping, names, number, seconds, text
from .launcher import PLACEHOLDERS, WEBHOOK_TEMPLATES, LocalLauncher, WebhookLauncher
from .rollout import DEFAULT_ROLLOUT
from .validation import HOLDOUT_PLACEHOLDERS, validate_request

__all__ = [
    "DEFAULT_ROLLOUT", "HOLDOUT_PLACEHOLDERS", "PLACEHOLDERS", "TRIGGER_KINDS",
    "WEBHOOK_TEMPLATES", "Approval", "LocalLauncher", "NewData", "RetrainPolicy", "Schedule",
    "Triggers", "WebhookLauncher", "load_policy", "load_policy_text", "validate_request",
]  # fmt: skip

TRIGGER_KINDS = ("drift", "performance", "schedule", "new_data", "manual")


@dataclass(frozen=True)
class NewData:
    """A run when the model's training ``dataset`` gets a version with at least
    ``min_new_rows`` rows more than the one the champion was trained on."""

    dataset: str
    min_new_rows: int = 1


@dataclass(frozen=True)
class Triggers:
    drift: bool = True
    performance: bool = True
    schedule: Schedule | None = None
    new_data: NewData | None = None
    manual: bool = True

    def enabled(self, kind: str) -> bool:
        """Whether triggers of ``kind`` start runs.

        >>> Triggers().enabled("drift"), Triggers().enabled("schedule")
        (True, False)
        """
        if kind not in TRIGGER_KINDS:
            raise ValueError(f"unknown trigger kind {kind!r} (known: {', '.join(TRIGGER_KINDS)})")
        value = getattr(self, kind)
        return bool(value) if isinstance(value, bool) else value is not None

    def any(self) -> bool:
        return any(self.enabled(kind) for kind in TRIGGER_KINDS)


@dataclass(frozen=True)
class Approval:
    """``auto``: approved when validation passed and every metric of ``margin`` beats the
    champion by at least its delta (in the metric's better direction); anything else, or
    ``manual``, waits for a person until ``expiry_s`` (then the run is rejected).
    ``approvers`` empty: anyone holding a write token."""

    mode: str = "manual"
    margin: dict[str, float] = field(default_factory=dict)
    expiry_s: float = 86400.0
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetrainPolicy:
    """One model's policy. At most one run is in flight per model, always: two runs of the
    same model would race to register versions and to roll out over each other, and a
    second pipeline on the same data teaches nothing the first will not. Triggers that
    arrive meanwhile merge into the next run (so it is not a setting).

    ``validation`` is the mapping :func:`validate_request` turns into the ``gate
    validate`` request; None when skipped. ``rollout`` is the rollout service's body
    without the model and versions. ``launcher`` None: the model is not retrained."""

    triggers: Triggers = Triggers()
    debounce_s: float = 300.0
    cooldown_s: float = 3600.0
    backoff_s: float = 600.0
    backoff_max_s: float = 86400.0
    launcher: LocalLauncher | WebhookLauncher | None = None
    validation: dict[str, Any] | None = None
    approval: Approval = Approval()
    rollout: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ROLLOUT))
    max_in_flight: int = field(default=1, init=False)

    @property
    def retrains(self) -> bool:
        """A trigger can start a run: one is enabled and a launcher is configured."""
        return self.launcher is not None and self.triggers.any()


# -- sections ---------------------------------------------------------------------------


def _triggers(doc: Mapping, base: Triggers) -> Triggers:
    keys(doc, TRIGGER_KINDS, "triggers: ")
    changes: dict[str, Any] = {}
    for key in ("drift", "performance", "manual"):
        if key in doc:
            changes[key] = boolean(doc, key, "triggers.")
    for key in ("schedule", "new_data"):
        if key in doc and doc[key] in (None, False):
            changes[key] = None
        elif key in doc:
            section = mapping(doc, key, "triggers.")
            changes[key] = (_schedule if key == "schedule" else _new_data)(section)
    return replace(base, **changes)


def _schedule(doc: Mapping) -> Schedule:
    keys(doc, ("cron", "timezone"), "triggers.schedule: ")
    if "cron" not in doc:
        raise doc.error(None, "triggers.schedule needs cron (e.g. '0 3 * * 1')")
    try:
        return check(doc["cron"], str(doc.get("timezone", "UTC")))
    except ValueError as exc:
        key = "timezone" if "time zone" in str(exc) else "cron"
        raise doc.error(key, f"triggers.schedule: {exc}") from None


def _new_data(doc: Mapping) -> NewData:
    keys(doc, ("dataset", "min_new_rows"), "triggers.new_data: ")
    if "dataset" not in doc:
        raise doc.error(None, "triggers.new_data needs dataset (the training dataset's name)")
    rows = doc.get("min_new_rows", 1)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise doc.error("min_new_rows", f"triggers.new_data.min_new_rows must be a whole "
                                        f"number of rows, at least 1, not {rows!r}")  # fmt: skip
    return NewData(text(doc, "dataset", "triggers.new_data."), rows)


def _approval(doc: Mapping, base: Approval) -> Approval:
    keys(doc, ("mode", "margin", "expiry_s", "approvers"), "approval: ")
    changes: dict[str, Any] = {}
    if "mode" in doc:
        if doc["mode"] not in ("auto", "manual"):
            raise doc.error("mode", f"approval.mode must be auto or manual, not {doc['mode']!r}")
        changes["mode"] = doc["mode"]
    if "margin" in doc:
        margin = mapping(doc, "margin", "approval.")
        for metric in margin:
            if metric not in HIGHER_IS_BETTER:
                raise margin.error(metric, f"approval.margin: unknown metric {metric!r} "
                                           f"(known: {', '.join(HIGHER_IS_BETTER)})")  # fmt: skip
        changes["margin"] = {m: number(margin, m, "approval.margin.") for m in margin}
    if "expiry_s" in doc:
        changes["expiry_s"] = seconds(doc, "expiry_s", "approval.", above=True)
    if "approvers" in doc:
        changes["approvers"] = names(doc, "approvers", "approval.") if doc["approvers"] else ()
    return replace(base, **changes)


_TOP = ("triggers", "debounce_s", "cooldown_s", "backoff_s", "backoff_max_s", "launcher",
        "validation", "approval", "rollout")  # fmt: skip


def _parse(doc: Mapping, base: RetrainPolicy) -> RetrainPolicy:
    if "max_in_flight" in doc:
        raise doc.error("max_in_flight", "max_in_flight is always 1 per model (not a setting: "
                        "triggers during a run merge into the next one)")  # fmt: skip
    keys(doc, _TOP, "")
    changes: dict[str, Any] = {}
    if "triggers" in doc:
        changes["triggers"] = _triggers(mapping(doc, "triggers", ""), base.triggers)
    for key in ("debounce_s", "cooldown_s", "backoff_s", "backoff_max_s"):
        if key in doc:
            changes[key] = seconds(doc, key, above=key.startswith("backoff"))
    if "launcher" in doc:
        changes["launcher"] = None if doc["launcher"] is None else _launcher.parse(
            mapping(doc, "launcher", ""))  # fmt: skip
    if "validation" in doc:
        changes["validation"] = _validation.parse(mapping(doc, "validation", ""))
    if "approval" in doc:
        changes["approval"] = _approval(mapping(doc, "approval", ""), base.approval)
    if "rollout" in doc:
        changes["rollout"] = _rollout.parse(mapping(doc, "rollout", ""))
    policy = replace(base, **changes)
    if policy.backoff_max_s < policy.backoff_s:
        raise doc.error("backoff_max_s" if "backoff_max_s" in doc else "backoff_s",
                        f"backoff_max_s ({policy.backoff_max_s:g}) is below backoff_s "
                        f"({policy.backoff_s:g})")  # fmt: skip
    if (
        policy.approval.mode == "auto"
        and policy.validation is None
        and ("approval" in doc or "validation" in doc)
    ):
        key = "approval" if "approval" in doc else "validation"
        raise doc.error(key, "approval.mode auto needs a validation (it approves what passed)")
    return policy


def _needs_launcher(doc: Any, found: permodel.PerModel[RetrainPolicy]) -> None:
    """A model named under ``models:`` with a trigger on, or defaults that set triggers,
    without a launcher is an error: nothing could run. Defaults without a launcher and
    without ``triggers:`` mean: only the models listed retrain."""
    defaults = doc.get("defaults") or Mapping()
    if "triggers" in defaults and found.defaults.triggers.any() and not found.defaults.launcher:
        reason = ("defaults enable triggers but set no launcher "
                  "(add launcher: {kind: local, command: [...]} or a webhook)")  # fmt: skip
        raise defaults.error("triggers", reason)
    models = doc.get("models") or Mapping()
    for name, policy in found.models.items():
        if policy.triggers.any() and policy.launcher is None:
            raise models.error(name, f"model {name}: triggers are on but no launcher is set "
                               "(set one, or turn its triggers off)")  # fmt: skip


def _load(doc: Any, source: str) -> permodel.PerModel[RetrainPolicy]:
    found = permodel.load(doc, source, _parse, RetrainPolicy())
    _needs_launcher(doc, found)
    return found


def load_policy_text(text: str, source: str = "<string>") -> permodel.PerModel[RetrainPolicy]:
    return _load(load_text(text, source), source)


def load_policy(path: str) -> permodel.PerModel[RetrainPolicy]:
    return _load(load_file(path), str(path))
