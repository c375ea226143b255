"""The JSON schemas of the rollout API's request bodies (a wrong or unknown field is a 400
naming it; the OpenAPI document shows them)."""

from __future__ import annotations

from watchkeeper.control.schemas import NAME, TEXT, VERSION, closed

VARIANT = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_-]{0,31}$"}
POSITIVE = {"type": "number", "exclusiveMinimum": 0}
HOOK_TYPES = ("pre-rollout", "rollout", "confirm-promotion", "post-rollout", "rollback")


CHECK = closed(
    ["metric", "margin"],
    metric={"type": "string", "maxLength": 64},
    margin=POSITIVE,
    higher_is_better={"type": "boolean"},
    tau2=POSITIVE,
)
ANALYSIS = closed(
    [],
    min_samples={"type": "integer", "minimum": 1, "maximum": 10_000_000},
    min_duration_s={"type": "number", "minimum": 0},
    deadline_s={"type": "number", "exclusiveMinimum": 0, "maximum": 30 * 86_400},
    on_deadline={"enum": ["rollback", "advance"]},
    alpha={"type": "number", "exclusiveMinimum": 0, "maximum": 0.5},
)
HOOK = closed(
    ["name", "type", "url"],
    name={"type": "string", "maxLength": 128},
    type={"enum": list(HOOK_TYPES)},
    url={"type": "string", "pattern": "^https?://", "maxLength": 2_000},
    timeout_s={"type": "number", "exclusiveMinimum": 0, "maximum": 300},
)
VARIANT_SPEC = closed(
    ["name", "version", "weight"], name=VARIANT, version=VERSION, weight={"type": "number"}
)
FEEDBACK_METRIC = closed(
    ["name"],
    name={"type": "string", "maxLength": 64},
    field={"enum": ["value", "label"]},
    positive={"type": "string", "maxLength": 256},
)
GUARDRAIL = closed(
    ["metric", "margin"],
    metric={"type": "string", "maxLength": 64},
    margin={"type": "number", "minimum": 0},
    kind={"enum": ["conversion", "mean"]},
    higher_is_better={"type": "boolean"},
    mde=POSITIVE,
)
EXPERIMENT = closed(
    ["primary"],
    primary=closed(
        ["metric"],
        metric={"type": "string", "maxLength": 64},
        kind={"enum": ["conversion", "mean"]},
        higher_is_better={"type": "boolean"},
        mde=POSITIVE,
    ),
    guardrails={"type": "array", "maxItems": 20, "items": GUARDRAIL},
    alpha={"type": "number", "exclusiveMinimum": 0, "maximum": 0.5},
    min_samples={"type": "integer", "minimum": 1},
    deadline_s={"type": "number", "exclusiveMinimum": 0},
)
ROLLOUT_CREATE = closed(
    ["model", "strategy"],
    model=NAME,
    strategy={"enum": ["canary", "bluegreen", "ab"]},
    baseline=VERSION,
    candidate=VERSION,
    variants={"type": "array", "minItems": 2, "maxItems": 10, "items": VARIANT_SPEC},
    steps={"type": "array", "minItems": 1, "maxItems": 50, "items": {"type": "number"}},
    checks={"type": "array", "maxItems": 20, "items": CHECK},
    analysis=ANALYSIS,
    feedback_metrics={"type": "array", "maxItems": 10, "items": FEEDBACK_METRIC},
    experiment=EXPERIMENT,
    hooks={"type": "array", "maxItems": 20, "items": HOOK},
    alias={"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,63}$"},
    keep_ready_s={"type": "number", "minimum": 0, "maximum": 30 * 86_400},
    reason=TEXT,
)
REASON = closed([], reason=TEXT)
