"""cost metrics. Scope labels come from the cost file's roll-ups and budgets, and the
number of scopes a worker keeps is capped (WK_COST_MAX_SCOPES)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SPEND = Counter("wk_cost_usd_total", "Spend priced, by how it was priced.", ["model", "source"])
REQUESTS = Counter("wk_cost_requests_total", "Requests seen, priced or not.", ["model", "priced"])
UNPRICED = Counter(
    "wk_cost_unpriced_total",
    "Requests that could not be priced, by reason: unknown_provider_model, "
    "no_price_at_date, no_telemetry.",
    ["model", "reason"],
)
PERIOD_COST = Gauge(
    "wk_cost_period_usd",
    "Spend of the newest window, day or month of a scope.",
    ["scope", "period"],
)
PER_INFERENCE = Gauge(
    "wk_cost_per_inference_usd",
    "Spend / priced requests, newest window, day or month of a scope.",
    ["scope", "period"],
)
TREND = Gauge(
    "wk_cost_month_over_month",
    "Month-over-month change of the run rate: (month to date / elapsed share) / previous "
    "month - 1.",
    ["scope"],
)
BUDGET_SPEND = Gauge("wk_cost_budget_spend_usd", "Spend in the budget's period.", ["instance"])
BUDGET_PLAN = Gauge(
    "wk_cost_budget_plan_usd",
    "The prorated plan: amount x elapsed share of the period.",
    ["instance"],
)
BUDGET_FORECAST = Gauge(
    "wk_cost_budget_forecast_usd",
    "Period-end forecast: spend + trailing burn rate x time left.",
    ["instance"],
)
BUDGET_AMOUNT = Gauge("wk_cost_budget_amount_usd", "The budget for the period.", ["instance"])
QUOTA = Gauge("wk_cost_quota_exceeded", "1 while the budget's cap is reached.", ["instance"])
ALERTS = Counter("wk_cost_alerts_total", "Alert state changes published.", ["alertname", "status"])
ADVICE = Counter("wk_cost_advice_total", "Advice published.", ["kind"])
SAVINGS = Gauge(
    "wk_cost_advice_savings_usd",
    "Savings claimed by the newest advice of a kind for a model version (per day).",
    ["model", "version", "kind"],
)
LATE = Counter(
    "wk_cost_late_spend_total",
    "Spend records for a period already closed: kept out of budgets (budget) or of a "
    "window no longer held (window, day, month).",
    ["what"],
)
SCOPES_CAPPED = Counter(
    "wk_cost_scopes_capped_total", "Spend records of new scopes refused by WK_COST_MAX_SCOPES."
)
